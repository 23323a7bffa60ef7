// Every random stream of a training run, derived from the config's seed in this one place. Env lanes
// draw from Philox keyed by their seed (envs/rng.h): two lane streams with one seed would play the same
// episodes. Action sampling seeds LibTorch's generator. tests/core/test_seeds.cpp checks that no two
// streams of one run share a seed.
#pragma once

#include <cstdint>

namespace apiary::core::seeds {

// SplitMix64's finaliser: a bijection of 64-bit words that spreads neighbouring inputs apart.
constexpr std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Rank r's training lanes and action sampling: the run's seed itself on rank 0 (a one-rank run's), the
// golden-ratio stride apart on the others.
constexpr std::uint64_t rank_seed(std::uint64_t run, int rank) {
  return run + static_cast<std::uint64_t>(rank) * 0x9E3779B97F4A7C15ULL;
}

// The config seed a rank hands its actor processes (a config seed is a non-negative int64).
constexpr std::int64_t rank_config_seed(std::uint64_t run, int rank) {
  return static_cast<std::int64_t>(rank_seed(run, rank) & 0x7FFFFFFFFFFFFFFFULL);
}

// Rank r > 0's lanes and sampling after a resume at `steps` (the checkpoint holds rank 0's own).
constexpr std::uint64_t resumed_rank_seed(std::uint64_t run, int rank, std::int64_t steps) {
  return rank_seed(run, rank) + static_cast<std::uint64_t>(steps);
}

// The evaluation lanes (every evaluation of a run starts the same episodes).
constexpr std::uint64_t evaluation_seed(std::uint64_t run) { return run + 1000003ULL; }

// Actor process `actor`'s lanes and its action sampling; `run` is the config seed it was given. Mixed,
// not offset: an offset rule (run + 1000003 * (actor + 1)) gave actor 0 the evaluation's lanes.
constexpr std::uint64_t actor_lanes_seed(std::uint64_t run, std::int64_t actor) {
  return mix(mix(run ^ 0x6163746F726C616EULL) + static_cast<std::uint64_t>(actor));
}
constexpr std::uint64_t actor_sampling_seed(std::uint64_t run, std::int64_t actor) {
  return mix(mix(run ^ 0x6163746F7273616DULL) + static_cast<std::uint64_t>(actor));
}

}  // namespace apiary::core::seeds
