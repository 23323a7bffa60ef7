// Holding lanes and resetting single lanes (envs/vec_env.h: set_active_lanes with holds_lanes(), and
// reset_lanes), on every registered env: a held lane keeps its state, counters and buffer rows
// bit for bit while the others move, and never finishes on that step; a reset lane begins a new
// episode (counters and flags zeroed) while the others keep theirs. Python's next-step and disabled
// autoreset modes and reset(options={"reset_mask": ...}) are built on these.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"
#include "tests/common/checks.h"

namespace {

namespace envs = apiary::envs;
using apiary::testing::same_bits;

constexpr std::int32_t kLanes = 8;

envs::HostBatch host_of(const envs::VecEnv& env) {
  envs::HostBatch h;
  env.copy_to_host(h);
  return h;
}

// Lane `lane`'s observation row as bytes, whichever dtype.
std::vector<std::uint8_t> obs_bytes(const envs::HostBatch& h, std::int64_t lane, std::int64_t dim) {
  if (!h.obs_u8.empty()) return {h.obs_u8.begin() + lane * dim, h.obs_u8.begin() + (lane + 1) * dim};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(dim) * sizeof(float));
  std::memcpy(out.data(), h.obs.data() + lane * dim, out.size());
  return out;
}

class LaneControl : public ::testing::TestWithParam<std::string> {};

TEST_P(LaneControl, HeldLanesStayAndResetLanesBeginAnew) {
  envs::VecEnvConfig config;
  config.num_envs = kLanes;
  config.threads = 1;
  auto env = envs::make_env(GetParam(), config);
  ASSERT_TRUE(env->holds_lanes()) << "every bundled back end holds lanes exactly";
  const std::int64_t dim = env->spec().obs_dim();
  const std::int32_t state_dim = env->state_dim();
  envs::RandomActions random(env->spec(), kLanes, 3);
  env->reset(11);
  for (int t = 0; t < 12; ++t) env->step(random.next());

  // Lanes 1 and 3 held for three steps.
  const std::vector<std::uint8_t> active{1, 0, 1, 0, 1, 1, 1, 1};
  const envs::HostBatch before = host_of(*env);
  const std::vector<float> states_before = env->get_states();
  env->set_active_lanes(active.data());
  for (int t = 0; t < 3; ++t) env->step(random.next());
  env->set_active_lanes(nullptr);
  const envs::HostBatch held = host_of(*env);
  const std::vector<float> states_held = env->get_states();
  int moved = 0;
  for (std::int64_t lane = 0; lane < kLanes; ++lane) {
    SCOPED_TRACE("lane " + std::to_string(lane));
    const bool same_obs = obs_bytes(before, lane, dim) == obs_bytes(held, lane, dim);
    if (active[lane]) {
      moved += !same_obs || before.elapsed[lane] != held.elapsed[lane];
      continue;
    }
    EXPECT_TRUE(same_obs);
    EXPECT_TRUE(same_bits(before.reward[lane], held.reward[lane]));
    EXPECT_TRUE(same_bits(before.episode_return[lane], held.episode_return[lane]));
    EXPECT_EQ(before.elapsed[lane], held.elapsed[lane]);
    EXPECT_EQ(before.terminated[lane], held.terminated[lane]);
    EXPECT_EQ(before.truncated[lane], held.truncated[lane]);
    for (std::int32_t i = 0; i < state_dim; ++i)
      EXPECT_TRUE(same_bits(states_before[lane * state_dim + i], states_held[lane * state_dim + i])) << "state " << i;
  }
  EXPECT_EQ(moved, 6) << "every lane that was not held moved";

  // Lanes 0 and 5 begin new episodes; the rest keep theirs.
  const std::vector<std::uint8_t> reset_mask{1, 0, 0, 0, 0, 1, 0, 0};
  env->reset_lanes(reset_mask.data());
  const envs::HostBatch after = host_of(*env);
  for (std::int64_t lane = 0; lane < kLanes; ++lane) {
    SCOPED_TRACE("lane " + std::to_string(lane));
    if (reset_mask[lane]) {
      EXPECT_EQ(after.elapsed[lane], 0);
      EXPECT_EQ(after.reward[lane], 0.0f);
      EXPECT_EQ(after.episode_return[lane], 0.0f);
      EXPECT_EQ(after.terminated[lane], 0);
      EXPECT_EQ(after.truncated[lane], 0);
    } else {
      EXPECT_TRUE(obs_bytes(held, lane, dim) == obs_bytes(after, lane, dim));
      EXPECT_EQ(held.elapsed[lane], after.elapsed[lane]);
      EXPECT_TRUE(same_bits(held.episode_return[lane], after.episode_return[lane]));
    }
  }
  // The env goes on stepping from there, the reset lanes counting from one.
  env->step(random.next());
  const envs::HostBatch next = host_of(*env);
  for (std::int64_t lane : {0, 5})
    EXPECT_TRUE(next.elapsed[lane] == 1 || next.terminated[lane] || next.truncated[lane]) << "lane " << lane;
}

INSTANTIATE_TEST_SUITE_P(EveryEnv, LaneControl, ::testing::ValuesIn(envs::Registry::global().ids()),
                         apiary::testing::EnvIdName());

}  // namespace
