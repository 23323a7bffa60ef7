// The seeds of one training run's random streams (core/seeds.h): no two streams share a seed, for
// several run seeds, up to 8 data-parallel ranks with 8 actor processes each, and resumes.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "core/seeds.h"

namespace apiary::core::seeds {
namespace {

// Inserts `seed` for `stream`; fails naming both streams where another already has it.
void add(std::map<std::uint64_t, std::string>& seen, std::uint64_t seed, const std::string& stream) {
  const auto [it, fresh] = seen.emplace(seed, stream);
  EXPECT_TRUE(fresh) << stream << " shares seed " << seed << " with " << it->second;
}

TEST(Seeds, NoTwoStreamsOfARunShareASeed) {
  for (const std::uint64_t run : {0ULL, 1ULL, 7ULL, 1000003ULL, 0x7FFFFFFFFFFFFFFFULL}) {
    SCOPED_TRACE("run seed " + std::to_string(run));
    std::map<std::uint64_t, std::string> lanes, sampling;  // Philox keys; LibTorch generator seeds
    add(lanes, evaluation_seed(run), "evaluation lanes");
    for (int rank = 0; rank < 8; ++rank) {
      const std::string r = "rank " + std::to_string(rank);
      add(lanes, rank_seed(run, rank), r + " lanes");
      add(sampling, rank_seed(run, rank), r + " sampling");
      if (rank > 0) {
        for (const std::int64_t steps : {1LL, 4096LL, 1000003LL, 5000000LL})
          add(lanes, resumed_rank_seed(run, rank, steps), r + " lanes resumed at " + std::to_string(steps));
      }
      const auto actors_seed = static_cast<std::uint64_t>(rank_config_seed(run, rank));
      for (std::int64_t actor = 0; actor < 8; ++actor) {
        const std::string a = r + " actor process " + std::to_string(actor);
        add(lanes, actor_lanes_seed(actors_seed, actor), a + " lanes");
        add(sampling, actor_sampling_seed(actors_seed, actor), a + " sampling");
      }
    }
  }
}

TEST(Seeds, RankZeroKeepsTheRunsSeedAndConfigSeedsStayNonNegative) {
  EXPECT_EQ(rank_seed(42, 0), 42u);  // a one-rank run's lanes are the config's seed, as before ranks
  for (int rank = 0; rank < 64; ++rank) EXPECT_GE(rank_config_seed(0x7FFFFFFFFFFFFFFFULL, rank), 0);
  EXPECT_NE(actor_lanes_seed(1, 0), actor_lanes_seed(2, 0));  // another run, other actors
}

}  // namespace
}  // namespace apiary::core::seeds
