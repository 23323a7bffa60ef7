// The thread-pool back end for per-lane env objects (envs/cpu_vec_env.h) on a toy env whose every step
// is predictable: auto-reset, time limits, thread-count independence, snapshots by replay, and errors
// that name the env and the lane.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/cpu_vec_env.h"
#include "envs/thread_pool.h"

namespace apiary::envs {
namespace {

// A walk on the integers: action 0 steps -1, 1 stays, 2 steps +1; the episode terminates at +-goal.
// Reset draws a random start offset in [0, 1) into obs[1]; step draws noise into the reward.
struct Walk {
  static constexpr const char* kId = "TestWalk-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;
  static constexpr std::int32_t kMaxEpisodeSteps = 20;
  static constexpr int kStateDim = 1;
  using Action = std::int32_t;
  struct Params {
    float goal = 3.0f;
    float throw_at = 1e9f;  // position at which step() throws (tests the error path)
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"goal", &Params::goal, 0.0f, 100.0f, true, "distance to the end"},
      {"throw_at", &Params::throw_at, -1e9f, 1e9f, false, "position that throws"}};
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-100.0f, 0.0f}, {100.0f, 1.0f});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit Walk(const Params& p) : params(p) {}
  void reset(LaneRng& rng) {
    position = 0.0f;
    offset = rng.uniform4(0.0f, 1.0f).v[0];
  }
  StepOut step(const Action* a, LaneRng& rng) {
    position += static_cast<float>(a[0] - 1);
    if (position == params.throw_at) throw std::runtime_error("walked into the wall");
    const float noise = rng.uniform4(0.0f, 0.001f).v[0];
    return StepOut{static_cast<float>(a[0] - 1) + noise, std::abs(position) >= params.goal};
  }
  void observe(float* obs) const {
    obs[0] = position;
    obs[1] = offset;
  }
  void get_state(float* s) const { s[0] = position; }
  void set_state(const float* s) { position = s[0]; }

  Params params;
  float position = 0.0f;
  float offset = 0.0f;
};

std::unique_ptr<CpuVecEnv<Walk>> make_walk(std::int32_t lanes, std::int32_t threads, Walk::Params params = {},
                                          std::int32_t limit = Walk::kMaxEpisodeSteps) {
  return std::make_unique<CpuVecEnv<Walk>>(params, limit, Walk::spec(params), lanes, threads);
}

TEST(ThreadPool, RunsEveryItemOnceAndRethrows) {
  for (const std::int32_t threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (const std::int64_t n : {1, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      pool.run(n, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)]++; }, 3);
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
    EXPECT_THROW(pool.run(100, [](std::int64_t i) { if (i == 42) throw std::runtime_error("42"); }),
                 std::runtime_error);
    std::atomic<int> after{0};
    pool.run(10, [&](std::int64_t) { after++; });  // still usable after an error
    EXPECT_EQ(after.load(), 10);
  }
}

TEST(CpuVecEnv, StepsAutoResetsAndRecordsTheFinalObservation) {
  auto env = make_walk(3, 1);
  env->reset(5);
  const BatchBuffers& b = env->buffers();
  const float offset0 = b.obs[1];
  std::vector<std::int32_t> actions = {2, 0, 1};
  for (int t = 1; t <= 3; ++t) {
    env->step(ActionBatch::discrete(actions.data(), 3));
    EXPECT_EQ(b.terminated[0], t == 3 ? 1 : 0);
    EXPECT_EQ(b.terminated[1], t == 3 ? 1 : 0);
    EXPECT_EQ(b.terminated[2], 0);
  }
  // Lanes 0 and 1 reached +-3 and were reset in the same step.
  EXPECT_EQ(b.final_obs[0], 3.0f);
  EXPECT_EQ(b.final_obs[2], -3.0f);
  EXPECT_EQ(b.obs[0], 0.0f);
  EXPECT_EQ(b.final_obs[1], offset0);
  EXPECT_NE(b.obs[1], offset0) << "a new episode draws a new offset";
  EXPECT_EQ(b.final_length[0], 3);
  EXPECT_NEAR(b.final_return[0], 3.0f, 0.01f);
  EXPECT_EQ(b.elapsed[0], 0);
  EXPECT_EQ(b.elapsed[2], 3);
  EXPECT_TRUE(std::isnan(b.final_obs[4])) << "lane 2 never finished: NaN until written";
}

// set_active_lanes: masked lanes keep their state and buffers while the others step; nullptr steps all.
TEST(CpuVecEnv, LanesMaskedOutDoNotMove) {
  auto env = make_walk(4, 2, Walk::Params{10.0f});  // no lane reaches the goal in these steps
  env->reset(3);
  const BatchBuffers& b = env->buffers();
  const std::vector<float> obs0(b.obs, b.obs + 4 * 2);
  std::vector<std::int32_t> actions = {2, 2, 0, 0};
  const std::vector<std::uint8_t> mask = {1, 0, 1, 0};
  env->set_active_lanes(mask.data());
  env->step(ActionBatch::discrete(actions.data(), 4));
  env->step(ActionBatch::discrete(actions.data(), 4));
  for (int lane = 0; lane < 4; ++lane) {
    EXPECT_EQ(b.elapsed[lane], mask[lane] ? 2 : 0) << "lane " << lane;
    if (mask[lane]) {
      EXPECT_NE(b.obs[lane * 2], obs0[lane * 2]) << "lane " << lane << " moved";
    } else {
      EXPECT_EQ(b.obs[lane * 2], obs0[lane * 2]) << "lane " << lane << " stayed";
      EXPECT_EQ(b.obs[lane * 2 + 1], obs0[lane * 2 + 1]);
    }
  }
  env->set_active_lanes(nullptr);
  env->step(ActionBatch::discrete(actions.data(), 4));
  for (int lane = 0; lane < 4; ++lane) EXPECT_EQ(b.elapsed[lane], mask[lane] ? 3 : 1) << "lane " << lane;
}

TEST(CpuVecEnv, TimeLimitTruncatesAlsoOnATerminalStep) {
  auto env = make_walk(2, 1, {}, 3);
  env->reset(1);
  std::vector<std::int32_t> actions = {2, 1};
  for (int t = 0; t < 3; ++t) env->step(ActionBatch::discrete(actions.data(), 2));
  const BatchBuffers& b = env->buffers();
  EXPECT_EQ(b.terminated[0], 1);
  EXPECT_EQ(b.truncated[0], 1) << "as Gymnasium's TimeLimit: both flags";
  EXPECT_EQ(b.terminated[1], 0);
  EXPECT_EQ(b.truncated[1], 1);
}

TEST(CpuVecEnv, AnyThreadCountGivesTheSameBits) {
  std::vector<float> first;
  for (const std::int32_t threads : {1, 2, 3}) {
    auto env = make_walk(37, threads);
    env->reset(99);
    std::vector<float> trace;
    std::vector<std::int32_t> actions(37);
    for (int t = 0; t < 50; ++t) {
      for (int lane = 0; lane < 37; ++lane) actions[lane] = (lane * 7 + t * 3) % 3;
      env->step(ActionBatch::discrete(actions.data(), 37));
      const BatchBuffers& b = env->buffers();
      trace.insert(trace.end(), b.obs, b.obs + 74);
      trace.insert(trace.end(), b.reward, b.reward + 37);
    }
    if (first.empty()) first = trace;
    EXPECT_EQ(trace, first) << threads << " threads";
  }
}

TEST(CpuVecEnv, SnapshotReplaysIntoFreshLanes) {
  auto a = make_walk(5, 2), b = make_walk(5, 1);
  a->reset(3);
  std::vector<std::int32_t> actions(5);
  for (int t = 0; t < 9; ++t) {
    for (int lane = 0; lane < 5; ++lane) actions[lane] = (lane + t) % 3;
    a->step(ActionBatch::discrete(actions.data(), 5));
  }
  b->load_snapshot(a->save_snapshot());
  EXPECT_EQ(b->get_states(), a->get_states());
  for (int t = 0; t < 30; ++t) {
    for (int lane = 0; lane < 5; ++lane) actions[lane] = (2 * lane + t) % 3;
    a->step(ActionBatch::discrete(actions.data(), 5));
    b->step(ActionBatch::discrete(actions.data(), 5));
    HostBatch ha, hb;
    a->copy_to_host(ha);
    b->copy_to_host(hb);
    ASSERT_EQ(ha.obs, hb.obs);
    ASSERT_EQ(ha.reward, hb.reward);
    ASSERT_EQ(0, std::memcmp(ha.final_obs.data(), hb.final_obs.data(), ha.final_obs.size() * sizeof(float)))
        << "final observations (NaN where a lane never finished) differ";
  }
  // A snapshot whose replay does not reach the saved stream position is refused.
  auto bytes = a->save_snapshot();
  bytes[5 * 8] ^= 1;  // header (40 bytes), then lane 0's stream position
  EXPECT_THROW(b->load_snapshot(bytes), std::invalid_argument);
  EXPECT_THROW(make_walk(4, 1)->load_snapshot(a->save_snapshot()), std::invalid_argument);
}

TEST(CpuVecEnv, AThrowingStepNamesTheEnvAndTheLane) {
  Walk::Params params;
  params.throw_at = 2.0f;
  auto env = make_walk(4, 2, params);
  env->reset(0);
  std::vector<std::int32_t> actions = {1, 1, 2, 1};
  env->step(ActionBatch::discrete(actions.data(), 4));
  try {
    env->step(ActionBatch::discrete(actions.data(), 4));
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("TestWalk-v0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lane 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("walked into the wall"), std::string::npos) << msg;
  }
}

TEST(CpuVecEnv, SetStatesWritesTheObservation) {
  auto env = make_walk(2, 1);
  env->reset(0);
  env->set_states({1.0f, -2.0f});
  EXPECT_EQ(env->buffers().obs[0], 1.0f);
  EXPECT_EQ(env->buffers().obs[2], -2.0f);
  EXPECT_THROW(env->set_states({1.0f}), std::invalid_argument);
  Scene scene;
  EXPECT_FALSE(env->describe(0, scene)) << "Walk has no describe()";
}

}  // namespace
}  // namespace apiary::envs
