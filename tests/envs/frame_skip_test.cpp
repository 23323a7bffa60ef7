// The generic frame skip (env.options frame_skip, envs/frame_skip.h): each step plays the action K
// frames and sums their rewards; a lane whose episode ends on one of them stops there while the others
// play on. Held against the plain env stepped frame by frame, on one lane (no holding involved) and on
// many lanes of each kind of back end (Thrust's CPU form, the thread pool, uint8 MinAtar); snapshots,
// held lanes, the spec's time limit and bad values.
#include <gtest/gtest.h>

#include <cctype>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/cpu_vec_env.h"
#include "envs/frame_skip.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/common/checks.h"
#include "tests/common/pixels_env.h"

namespace apiary::envs {
namespace {

using apiary::testing::contains;

HostBatch skip_host(const VecEnv& env) {
  HostBatch h;
  env.copy_to_host(h);
  return h;
}

// Lane `lane`'s row of `obs` (or `final_obs`) as bytes, whichever dtype the env observes.
std::vector<std::uint8_t> skip_row(const HostBatch& h, std::int64_t lane, std::int64_t dim, bool final) {
  const auto& u8 = final ? h.final_obs_u8 : h.obs_u8;
  const auto& f32 = final ? h.final_obs : h.obs;
  if (!u8.empty()) return {u8.begin() + lane * dim, u8.begin() + (lane + 1) * dim};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(dim) * sizeof(float));
  std::memcpy(out.data(), f32.data() + lane * dim, out.size());
  return out;
}

// One decision of the plain env, frame by frame: every lane in `playing` steps until its episode ends
// or `k` frames are played. What the wrapper's step must give.
struct Decision {
  std::vector<float> reward;
  std::vector<std::uint8_t> terminated, truncated, ended;
};
Decision play_frames(VecEnv& plain, const ActionBatch& actions, std::int32_t k, std::vector<std::uint8_t> playing) {
  const auto n = static_cast<std::size_t>(plain.num_envs());
  Decision d{std::vector<float>(n, 0.0f), std::vector<std::uint8_t>(n, 0), std::vector<std::uint8_t>(n, 0),
             std::vector<std::uint8_t>(n, 0)};
  for (std::int32_t frame = 0; frame < k; ++frame) {
    plain.set_active_lanes(playing.data());
    plain.step(actions);
    const HostBatch h = skip_host(plain);
    for (std::size_t lane = 0; lane < n; ++lane) {
      if (!playing[lane]) continue;
      d.reward[lane] += h.reward[lane];
      if (h.terminated[lane] || h.truncated[lane]) {
        d.terminated[lane] = h.terminated[lane];
        d.truncated[lane] = h.truncated[lane];
        d.ended[lane] = 1;
        playing[lane] = 0;
      }
    }
  }
  plain.set_active_lanes(nullptr);
  return d;
}

TEST(FrameSkip, OneLanePlaysEachActionKFramesAndStopsWhereTheEpisodeEnds) {
  // A time limit of 50 frames with K = 3: every truncation falls on the second frame of a decision.
  const EnvOptions limit{{"max_episode_steps", 50.0}};
  EnvOptions skip = limit;
  skip[kFrameSkipOption] = 3.0;
  auto env = make_env("CartPole-v1", 1, Device::kCpu, skip);
  auto plain = make_env("CartPole-v1", 1, Device::kCpu, limit);
  EXPECT_EQ(env->spec().max_episode_steps, 17);  // ceil(50 / 3) decisions
  env->reset(5);
  plain->reset(5);
  RandomActions random(env->spec(), 1, 9);
  const std::int64_t dim = env->spec().obs_dim();
  int ended = 0, truncations = 0;
  std::int32_t decisions = 0;
  float episode_return = 0.0f;
  for (int t = 0; t < 600; ++t) {
    const ActionBatch a = random.next();
    const std::int32_t action = *static_cast<const std::int32_t*>(a.data);
    // The plain env by hand: the same action until three frames are played or the episode ends.
    float sum = 0.0f;
    bool term = false, trunc = false;
    for (int f = 0; f < 3 && !term && !trunc; ++f) {
      plain->step(ActionBatch::discrete(&action, 1));
      sum += plain->buffers().reward[0];
      term = plain->buffers().terminated[0] != 0;
      trunc = plain->buffers().truncated[0] != 0;
    }
    env->step(a);
    ++decisions;
    episode_return += sum;
    const HostBatch got = skip_host(*env), want = skip_host(*plain);
    ASSERT_EQ(got.reward[0], sum) << "decision " << t;
    ASSERT_EQ(got.terminated[0], term ? 1 : 0) << "decision " << t;
    ASSERT_EQ(got.truncated[0], trunc ? 1 : 0) << "decision " << t;
    ASSERT_EQ(skip_row(got, 0, dim, false), skip_row(want, 0, dim, false)) << "decision " << t;
    if (term || trunc) {
      ++ended;
      truncations += trunc && !term;
      EXPECT_EQ(skip_row(got, 0, dim, true), skip_row(want, 0, dim, true)) << "decision " << t;
      EXPECT_EQ(got.final_length[0], decisions) << "episode lengths count decisions";
      EXPECT_EQ(got.final_return[0], want.final_return[0]);
      EXPECT_FLOAT_EQ(got.final_return[0], episode_return);
      EXPECT_EQ(got.elapsed[0], 0);
      decisions = 0;
      episode_return = 0.0f;
    } else {
      ASSERT_EQ(got.elapsed[0], decisions);
    }
  }
  EXPECT_GT(ended, 10);
  EXPECT_GT(truncations, 0) << "no episode reached the time limit: its mid-decision end went untested";
}

class FrameSkipLanes : public ::testing::TestWithParam<std::string> {};

TEST_P(FrameSkipLanes, LanesThatEndMidDecisionWaitWhileTheOthersPlayOn) {
  constexpr std::int32_t kLanes = 6, kSkip = 4;
  VecEnvConfig config;
  config.num_envs = kLanes;
  config.threads = 2;
  config.options = {{"max_episode_steps", 30.0}};
  auto plain = make_env(GetParam(), config);
  config.options[kFrameSkipOption] = kSkip;
  auto env = make_env(GetParam(), config);
  ASSERT_TRUE(env->holds_lanes());
  env->reset(21);
  plain->reset(21);
  RandomActions random(env->spec(), kLanes, 4);
  const std::int64_t dim = env->spec().obs_dim();
  std::vector<std::int32_t> decisions(kLanes, 0);
  int mid_decision_ends = 0;
  std::vector<std::uint8_t> active(kLanes, 1);
  for (int t = 0; t < 120; ++t) {
    // Lane L waits (held by the caller) for the first L decisions, so that lanes reach the time limit
    // on different decisions, while others still have frames to play.
    for (std::int32_t lane = 0; lane < kLanes; ++lane) active[static_cast<std::size_t>(lane)] = t >= lane;
    const ActionBatch a = random.next();
    env->set_active_lanes(active.data());
    env->step(a);
    env->set_active_lanes(nullptr);
    const Decision want = play_frames(*plain, a, kSkip, active);
    const HostBatch got = skip_host(*env), ref = skip_host(*plain);
    for (std::int32_t lane = 0; lane < kLanes; ++lane) {
      if (!active[static_cast<std::size_t>(lane)]) continue;
      ++decisions[static_cast<std::size_t>(lane)];
      ASSERT_EQ(got.reward[lane], want.reward[lane]) << "lane " << lane << " decision " << t;
      ASSERT_EQ(got.terminated[lane], want.terminated[lane]) << "lane " << lane << " decision " << t;
      ASSERT_EQ(got.truncated[lane], want.truncated[lane]) << "lane " << lane << " decision " << t;
      ASSERT_EQ(skip_row(got, lane, dim, false), skip_row(ref, lane, dim, false)) << "lane " << lane << " decision " << t;
      ASSERT_EQ(got.episode_return[lane], ref.episode_return[lane]);
      if (want.ended[lane]) {
        // 30 frames is 7.5 decisions: a truncation is always mid-decision, and with the lanes' late
        // starts other lanes still have frames to play then; terminations may fall anywhere.
        mid_decision_ends += ref.final_length[lane] % kSkip != 0;
        EXPECT_EQ(skip_row(got, lane, dim, true), skip_row(ref, lane, dim, true)) << "lane " << lane;
        EXPECT_EQ(got.final_return[lane], ref.final_return[lane]);
        EXPECT_EQ(got.final_length[lane], decisions[static_cast<std::size_t>(lane)]);
        decisions[static_cast<std::size_t>(lane)] = 0;
      }
      ASSERT_EQ(got.elapsed[lane], decisions[static_cast<std::size_t>(lane)]);
    }
  }
  EXPECT_GT(mid_decision_ends, 5) << "too few episodes ended mid-decision to test the lanes that wait";
}

INSTANTIATE_TEST_SUITE_P(BackEnds, FrameSkipLanes,
                         ::testing::Values("CartPole-v1", "LunarLander-v3", "MinAtar/Breakout-v1"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(FrameSkip, SnapshotsResumeExactlyAndHeldLanesStay) {
  const EnvOptions options{{kFrameSkipOption, 2.0}, {"max_episode_steps", 25.0}};
  auto env = make_env("CartPole-v1", 4, Device::kCpu, options);
  RandomActions random(env->spec(), 4, 8);
  env->reset(3);
  for (int t = 0; t < 17; ++t) env->step(random.next());
  const auto snapshot = env->save_snapshot();
  std::vector<ActionBatch> later;
  std::vector<std::vector<std::int32_t>> kept;
  for (int t = 0; t < 20; ++t) {
    const ActionBatch a = random.next();
    kept.emplace_back(static_cast<const std::int32_t*>(a.data), static_cast<const std::int32_t*>(a.data) + 4);
  }
  const auto run = [&](VecEnv& e) {
    std::vector<HostBatch> out;
    for (const auto& a : kept) {
      e.step(ActionBatch::discrete(a.data(), 4));
      out.push_back(skip_host(e));
    }
    return out;
  };
  const auto first = run(*env);
  auto resumed = make_env("CartPole-v1", 4, Device::kCpu, options);
  resumed->load_snapshot(snapshot);
  const auto second = run(*resumed);
  for (std::size_t t = 0; t < first.size(); ++t) {
    EXPECT_EQ(first[t].obs, second[t].obs) << t;
    EXPECT_EQ(first[t].reward, second[t].reward) << t;
    EXPECT_EQ(first[t].elapsed, second[t].elapsed) << t;
    EXPECT_EQ(first[t].terminated, second[t].terminated) << t;
    EXPECT_EQ(first[t].truncated, second[t].truncated) << t;
  }
  // A snapshot of another frame skip, or of the plain env, is refused by name.
  auto other = make_env("CartPole-v1", 4, Device::kCpu, {{kFrameSkipOption, 3.0}, {"max_episode_steps", 25.0}});
  try {
    other->load_snapshot(snapshot);
    ADD_FAILURE() << "a frame skip of 2's snapshot loaded into a frame skip of 3";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "frame skip")) << e.what();
  }
  // A lane held by the caller keeps its rows and counters; the others move.
  const HostBatch before = skip_host(*env);
  const std::vector<std::uint8_t> active{1, 0, 1, 1};
  env->set_active_lanes(active.data());
  env->step(random.next());
  env->set_active_lanes(nullptr);
  const HostBatch after = skip_host(*env);
  const std::int64_t dim = env->spec().obs_dim();
  EXPECT_EQ(skip_row(after, 1, dim, false), skip_row(before, 1, dim, false));
  EXPECT_EQ(after.elapsed[1], before.elapsed[1]);
  EXPECT_EQ(after.reward[1], before.reward[1]);
  EXPECT_NE(skip_row(after, 0, dim, false), skip_row(before, 0, dim, false));
}

// TestPixels-v0 counting its observe() calls: the frames before a decision's last are not drawn.
struct CountedPixels : testing_envs::Pixels {
  static constexpr const char* kId = "TestCountedPixels-v0";
  static inline std::atomic<int> observed{0};
  using Pixels::Pixels;
  void observe(std::uint8_t* obs) const {
    ++observed;
    Pixels::observe(obs);
  }
};

TEST(FrameSkip, OnlyTheDecisionsLastFrameIsObserved) {
  static constexpr std::int32_t kLanes = 4;
  const auto make = [] {
    return std::make_unique<CpuVecEnv<CountedPixels>>(CountedPixels::Params{}, CountedPixels::kMaxEpisodeSteps,
                                                      CountedPixels::spec({}), kLanes, 2);
  };
  auto env = make_frame_skip(make(), 3);
  auto plain = make();
  env->reset(1);
  plain->reset(1);
  const std::vector<std::int32_t> stay(kLanes, 0);  // no episode ends: 3 frames for every lane
  CountedPixels::observed = 0;
  env->step(ActionBatch::discrete(stay.data(), kLanes));
  EXPECT_EQ(CountedPixels::observed.load(), kLanes) << "each lane drew its picture once, on the last frame";
  for (int f = 0; f < 3; ++f) plain->step(ActionBatch::discrete(stay.data(), kLanes));
  const std::int64_t dim = env->spec().obs_dim();
  const HostBatch got = skip_host(*env), want = skip_host(*plain);
  for (std::int32_t lane = 0; lane < kLanes; ++lane)
    EXPECT_EQ(skip_row(got, lane, dim, false), skip_row(want, lane, dim, false)) << "lane " << lane;
}

TEST(FrameSkip, TheSpecAndBadValues) {
  EXPECT_EQ(env_spec("CarRacing-v3", {{kFrameSkipOption, 3.0}}).max_episode_steps, 334);
  EXPECT_EQ(env_spec("CarRacing-v3", {{kFrameSkipOption, 1.0}}).max_episode_steps, 1000);
  const EnvSpec stacked = env_spec("CarRacing-v3", {{kFrameSkipOption, 4.0}, {"frame_stack", 2.0}});
  EXPECT_EQ(stacked.observation_space.shape, (std::vector<std::int64_t>{96, 96, 6}));
  EXPECT_EQ(stacked.max_episode_steps, 250);
  for (const double bad : {0.0, 2.5, -1.0, 1001.0}) {
    try {
      make_env("CartPole-v1", 1, Device::kCpu, {{kFrameSkipOption, bad}});
      ADD_FAILURE() << "frame_skip " << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), "frame_skip")) << e.what();
      EXPECT_TRUE(contains(e.what(), "CartPole-v1")) << e.what();
    }
  }
}

}  // namespace
}  // namespace apiary::envs
