// Per-lane counter-based random streams. Every lane draws from Philox4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC'11) keyed by the run's seed, with the lane index and a
// per-lane draw counter as the counter. There is no global random state: a lane's numbers depend only
// on (seed, lane, draw), so results are the same for any thread count and on CPU and GPU alike.
#pragma once

#include <cstdint>

#include "envs/hd.h"

namespace apiary::envs {

struct Uint4 {
  std::uint32_t x, y, z, w;
};

// Philox4x32 with 10 rounds: counter (c0..c3) and key (k0, k1) to four 32-bit words.
APIARY_HD Uint4 philox4x32(Uint4 c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * c.x;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * c.z;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c = Uint4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// Four uniform floats in [0, 1) from one Philox block: 24 random bits each, so every value is exact.
struct Uniform4 {
  float v[4];
};

// The random stream of one lane. Cheap to construct: the backend rebuilds it from (seed, lane, draws)
// whenever a lane needs numbers and stores `draws` back afterwards.
struct LaneRng {
  std::uint64_t seed;   // the run's seed (Philox key)
  std::uint64_t lane;   // lane index (upper half of the Philox counter)
  std::uint64_t draws;  // blocks drawn so far (lower half of the counter)

  APIARY_HD Uint4 next_bits() {
    const Uint4 counter{static_cast<std::uint32_t>(draws), static_cast<std::uint32_t>(draws >> 32),
                        static_cast<std::uint32_t>(lane), static_cast<std::uint32_t>(lane >> 32)};
    ++draws;
    return philox4x32(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  }

  // A uniform integer in [0, n) for n >= 1 (0 when n is 0), Gymnasium's `np_random.integers(n)`. One
  // Philox block per attempt; Lemire's multiply-shift with rejection makes every value equally likely
  // (an attempt is rejected with probability below n / 2^32, so almost never).
  APIARY_HD std::uint32_t uniform_int(std::uint32_t n) {
    if (n == 0) return 0;
    const std::uint32_t threshold = (0u - n) % n;  // 2^32 mod n: the low products that would bias
    for (;;) {
      const std::uint64_t m = static_cast<std::uint64_t>(next_bits().x) * n;
      if (static_cast<std::uint32_t>(m) >= threshold) return static_cast<std::uint32_t>(m >> 32);
    }
  }
  // A uniform integer in [low, high) for low < high (low when not).
  APIARY_HD std::int32_t uniform_int(std::int32_t low, std::int32_t high) {
    if (high <= low) return low;
    const auto span = static_cast<std::uint32_t>(static_cast<std::int64_t>(high) - low);
    return static_cast<std::int32_t>(static_cast<std::int64_t>(low) + uniform_int(span));
  }

  // Four uniforms in [low, high), one Philox block. Gymnasium's `np_random.uniform(low, high)`.
  APIARY_HD Uniform4 uniform4(float low, float high) {
    const Uint4 b = next_bits();
    const float scale = (high - low) * (1.0f / 16777216.0f);
    return Uniform4{{low + static_cast<float>(b.x >> 8) * scale, low + static_cast<float>(b.y >> 8) * scale,
                     low + static_cast<float>(b.z >> 8) * scale, low + static_cast<float>(b.w >> 8) * scale}};
  }
};

}  // namespace apiary::envs
