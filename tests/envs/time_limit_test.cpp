// Time limits and same-step auto-reset through the public VecEnv API (envs/vec_env.h's contract):
// every step of every lane is checked against counts kept by the test itself, and each
// transition is replayed on a copy of the lane's state with the env's own one-lane functions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "envs/classic/acrobot.h"
#include "envs/classic/cartpole.h"
#include "envs/classic/mountain_car.h"
#include "envs/classic/pendulum.h"
#include "envs/registry.h"
#include "tests/common/checks.h"

namespace {

namespace envs = apiary::envs;
using apiary::testing::kPi;
using apiary::testing::same_bits;

bool close(float actual, float expected) {
  return std::fabs(actual - expected) <= 1e-5f * (1.0f + std::fabs(expected));
}

template <class Env>
envs::ActionBatch make_batch(const std::vector<typename Env::Action>& actions, std::int32_t num_envs) {
  if constexpr (Env::kDiscrete)
    return envs::ActionBatch::discrete(actions.data(), num_envs);
  else
    return envs::ActionBatch::continuous(actions.data(), num_envs, Env::kActionDim);
}

// Whether an observation lies in the env's documented reset distribution.
bool in_reset_range(const std::string& id, const float* obs) {
  if (id == "CartPole-v1") {
    for (int i = 0; i < 4; ++i)
      if (!(std::fabs(obs[i]) <= 0.05f)) return false;
    return true;
  }
  if (id == "Acrobot-v1") {
    const float min_cos = static_cast<float>(std::cos(0.1)) - 1e-6f;
    const float max_sin = static_cast<float>(std::sin(0.1)) + 1e-6f;
    return obs[0] >= min_cos && obs[2] >= min_cos && std::fabs(obs[1]) <= max_sin && std::fabs(obs[3]) <= max_sin &&
           std::fabs(obs[4]) <= 0.1f && std::fabs(obs[5]) <= 0.1f;
  }
  if (id == "MountainCar-v0" || id == "MountainCarContinuous-v0")
    return obs[0] >= -0.6f && obs[0] < -0.4f && obs[1] == 0.0f;
  if (id == "Pendulum-v1")
    return std::fabs(obs[0] * obs[0] + obs[1] * obs[1] - 1.0f) < 1e-5f && obs[2] >= -1.0f && obs[2] < 1.0f;
  if (id == "LunarLander-v3" || id == "LunarLanderContinuous-v3")  // one no-op step after the spawn at the top
    return std::fabs(obs[0]) < 0.02f && obs[1] > 1.35f && obs[1] < 1.45f && std::fabs(obs[2]) <= 0.85f &&
           std::fabs(obs[3]) <= 1.0f && std::fabs(obs[4]) < 0.05f && obs[6] == 0.0f && obs[7] == 0.0f;
  if (id == "BipedalWalker-v3" || id == "BipedalWalkerHardcore-v3") {  // one no-op step after the spawn
    if (!(std::fabs(obs[0]) < 0.1f)) return false;                       // hull angle
    for (int i = 14; i < 24; ++i)
      if (!(obs[i] >= 0.0f && obs[i] <= 1.0f)) return false;  // lidar fractions
    return true;
  }
  ADD_FAILURE() << "no reset range for " << id;
  return false;
}

struct RolloutStats {
  std::vector<int> truncations;   // per lane
  std::vector<int> terminations;  // per lane
  int both = 0;                   // steps with terminated && truncated
};

// Called for every lane whose episode ended: (lane, step, batch after the step, counted length).
using DoneHook = std::function<void(int, int, const envs::HostBatch&, int)>;

// Runs `steps` steps of `num_envs` lanes of Env under `policy` and checks every lane on every step:
// - the transition matches Env::step on a copy of the lane's state read before the step (reward,
//   terminated, and obs or, where done, final_obs);
// - truncated is set exactly when the length counted here reaches the limit;
// - where done: final_length and final_return equal the counted length and the sum of the rewards
//   seen, elapsed and episode_return restart at 0, obs is a fresh reset observation;
// - elsewhere: elapsed and episode_return follow the counts and final_* keep their older values.
template <class Env, class Policy>
RolloutStats run_checked(const envs::EnvOptions& options, std::int32_t num_envs, int steps, std::uint64_t seed,
                         Policy policy, const DoneHook& on_done = {}) {
  using Action = typename Env::Action;
  using State = typename Env::State;
  const std::string id = Env::kId;
  auto env = envs::make_env(id, num_envs, envs::Device::kCpu, options);
  const int limit = env->spec().max_episode_steps;
  const typename Env::Params params{};  // only max_episode_steps is overridden in this file
  const auto n = static_cast<std::size_t>(num_envs);
  const int obs_dim = Env::kObsDim;

  RolloutStats stats;
  stats.truncations.assign(n, 0);
  stats.terminations.assign(n, 0);
  std::vector<int> length(n, 0);
  std::vector<float> total(n, 0.0f);
  std::vector<Action> actions(n * Env::kActionDim);

  env->reset(seed);
  envs::HostBatch before, after;
  env->copy_to_host(before);
  for (std::size_t lane = 0; lane < n; ++lane)
    EXPECT_TRUE(in_reset_range(id, &before.obs[lane * obs_dim])) << id << " lane " << lane << " after reset";

  for (int t = 0; t < steps; ++t) {
    const std::vector<float> states = env->get_states();
    EXPECT_EQ(states.size(), n * Env::kStateDim);
    policy(t, before, actions);
    env->step(make_batch<Env>(actions, num_envs));
    env->copy_to_host(after);

    for (std::size_t lane = 0; lane < n; ++lane) {
      SCOPED_TRACE(id + " lane " + std::to_string(lane) + " step " + std::to_string(t));
      State s;
      std::memcpy(&s, &states[lane * Env::kStateDim], sizeof(State));
      envs::LaneRng rng{seed, lane, 0};  // no classic env draws in step() with default params
      const envs::StepOut expected = Env::step(params, s, &actions[lane * Env::kActionDim], rng);
      float expected_obs[Env::kObsDim];
      Env::observe(params, s, expected_obs);

      length[lane] += 1;
      total[lane] += after.reward[lane];
      const bool terminated = after.terminated[lane] != 0;
      const bool truncated = after.truncated[lane] != 0;
      EXPECT_TRUE(close(after.reward[lane], expected.reward)) << after.reward[lane] << " vs " << expected.reward;
      EXPECT_EQ(terminated, expected.terminated);
      EXPECT_EQ(truncated, length[lane] == limit) << "counted length " << length[lane] << ", limit " << limit;
      EXPECT_LE(length[lane], limit);

      if (terminated || truncated) {
        for (int i = 0; i < obs_dim; ++i)
          EXPECT_TRUE(close(after.final_obs[lane * obs_dim + i], expected_obs[i]))
              << "final_obs[" << i << "] " << after.final_obs[lane * obs_dim + i] << " vs " << expected_obs[i];
        EXPECT_EQ(after.final_length[lane], length[lane]);
        EXPECT_FLOAT_EQ(after.final_return[lane], total[lane]);
        EXPECT_EQ(after.elapsed[lane], 0);
        EXPECT_EQ(after.episode_return[lane], 0.0f);
        EXPECT_TRUE(in_reset_range(id, &after.obs[lane * obs_dim])) << "obs after the auto-reset";
        if (on_done) on_done(static_cast<int>(lane), t, after, length[lane]);
        stats.truncations[lane] += truncated;
        stats.terminations[lane] += terminated;
        stats.both += terminated && truncated;
        length[lane] = 0;
        total[lane] = 0.0f;
      } else {
        for (int i = 0; i < obs_dim; ++i)
          EXPECT_TRUE(close(after.obs[lane * obs_dim + i], expected_obs[i]))
              << "obs[" << i << "] " << after.obs[lane * obs_dim + i] << " vs " << expected_obs[i];
        EXPECT_EQ(after.elapsed[lane], length[lane]);
        EXPECT_FLOAT_EQ(after.episode_return[lane], total[lane]);
        for (int i = 0; i < obs_dim; ++i)
          EXPECT_TRUE(same_bits(after.final_obs[lane * obs_dim + i], before.final_obs[lane * obs_dim + i]))
              << "final_obs changed on a lane that is not done";
        EXPECT_TRUE(same_bits(after.final_return[lane], before.final_return[lane]));
        EXPECT_EQ(after.final_length[lane], before.final_length[lane]);
      }
    }
    if (::testing::Test::HasFailure()) return stats;  // one broken step is enough to read
    std::swap(before, after);
  }
  return stats;
}

// A linear controller that keeps the pole up far past 500 steps from any reset state.
void balance_cartpole(int, const envs::HostBatch& batch, std::vector<std::int32_t>& actions) {
  for (std::size_t lane = 0; lane < actions.size(); ++lane) {
    const float* o = &batch.obs[lane * 4];
    actions[lane] = 0.1f * o[0] + 0.5f * o[1] + o[2] + 0.5f * o[3] > 0.0f ? 1 : 0;
  }
}

template <class Action>
std::function<void(int, const envs::HostBatch&, std::vector<Action>&)> constant(Action value) {
  return [value](int, const envs::HostBatch&, std::vector<Action>& actions) {
    std::fill(actions.begin(), actions.end(), value);
  };
}

void expect_only_truncations(const RolloutStats& stats, int steps, int limit) {
  for (std::size_t lane = 0; lane < stats.truncations.size(); ++lane) {
    EXPECT_EQ(stats.terminations[lane], 0) << "lane " << lane;
    EXPECT_EQ(stats.truncations[lane], steps / limit) << "lane " << lane;
  }
}

TEST(TimeLimit, SpecLimitsAreGymnasiums) {
  EXPECT_EQ(envs::env_spec("CartPole-v1").max_episode_steps, 500);
  EXPECT_EQ(envs::env_spec("Acrobot-v1").max_episode_steps, 500);
  EXPECT_EQ(envs::env_spec("MountainCar-v0").max_episode_steps, 200);
  EXPECT_EQ(envs::env_spec("MountainCarContinuous-v0").max_episode_steps, 999);
  EXPECT_EQ(envs::env_spec("Pendulum-v1").max_episode_steps, 200);
  for (const auto& id : envs::Registry::global().ids())
    EXPECT_EQ(envs::make_env(id, 2)->spec().max_episode_steps, envs::env_spec(id).max_episode_steps) << id;
}

TEST(TimeLimit, CartPoleBalancedTruncatesAt500) {
  const int steps = 1100;
  const RolloutStats stats = run_checked<envs::CartPole>({}, 8, steps, 7, balance_cartpole);
  expect_only_truncations(stats, steps, 500);
}

TEST(TimeLimit, AcrobotWithoutTorqueTruncatesAt500) {
  const int steps = 1050;
  const RolloutStats stats = run_checked<envs::Acrobot>({}, 8, steps, 11, constant<std::int32_t>(1));
  expect_only_truncations(stats, steps, 500);
}

TEST(TimeLimit, MountainCarRandomTruncatesAt200) {
  std::mt19937 gen(3);
  std::uniform_int_distribution<std::int32_t> pick(0, 2);
  auto random = [&](int, const envs::HostBatch&, std::vector<std::int32_t>& actions) {
    for (auto& a : actions) a = pick(gen);
  };
  const int steps = 650;
  const RolloutStats stats = run_checked<envs::MountainCar>({}, 8, steps, 5, random);
  expect_only_truncations(stats, steps, 200);
}

TEST(TimeLimit, MountainCarContinuousIdleTruncatesAt999) {
  const int steps = 2000;
  const RolloutStats stats = run_checked<envs::MountainCarContinuous>({}, 4, steps, 9, constant<float>(0.0f));
  expect_only_truncations(stats, steps, 999);
}

TEST(TimeLimit, PendulumRandomTruncatesAt200) {
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> torque(-2.0f, 2.0f);
  auto random = [&](int, const envs::HostBatch&, std::vector<float>& actions) {
    for (auto& a : actions) a = torque(gen);
  };
  const int steps = 610;
  const RolloutStats stats = run_checked<envs::Pendulum>({}, 8, steps, 13, random);
  expect_only_truncations(stats, steps, 200);
}

TEST(TimeLimit, MaxEpisodeStepsOptionOverridesTheLimit) {
  const envs::EnvOptions seven{{"max_episode_steps", 7}};
  for (const auto& id : envs::Registry::global().ids()) {
    EXPECT_EQ(envs::env_spec(id, seven).max_episode_steps, 7) << id;
    EXPECT_EQ(envs::make_env(id, 1, envs::Device::kCpu, seven)->spec().max_episode_steps, 7) << id;
  }
  const int steps = 30;
  expect_only_truncations(run_checked<envs::CartPole>(seven, 3, steps, 1, balance_cartpole), steps, 7);
  expect_only_truncations(run_checked<envs::Acrobot>(seven, 3, steps, 1, constant<std::int32_t>(1)), steps, 7);
  expect_only_truncations(run_checked<envs::MountainCar>(seven, 3, steps, 1, constant<std::int32_t>(1)), steps, 7);
  expect_only_truncations(run_checked<envs::MountainCarContinuous>(seven, 3, steps, 1, constant<float>(0.0f)), steps,
                          7);
  expect_only_truncations(run_checked<envs::Pendulum>(seven, 3, steps, 1, constant<float>(0.0f)), steps, 7);
  // A longer limit than Gymnasium's is honoured too.
  const envs::EnvOptions long_limit{{"max_episode_steps", 600}};
  expect_only_truncations(run_checked<envs::CartPole>(long_limit, 2, 1250, 2, balance_cartpole), 1250, 600);
}

TEST(TimeLimit, CartPoleRandomActionsTerminateWithRewardOne) {
  const double theta_threshold = 12.0 * 2.0 * kPi / 360.0;
  std::mt19937 gen(17);
  std::uniform_int_distribution<std::int32_t> pick(0, 1);
  auto random = [&](int, const envs::HostBatch&, std::vector<std::int32_t>& actions) {
    for (auto& a : actions) a = pick(gen);
  };
  int checked = 0;
  auto on_done = [&](int lane, int, const envs::HostBatch& b, int length) {
    ++checked;
    ASSERT_TRUE(b.terminated[lane]);
    EXPECT_FALSE(b.truncated[lane]) << "random CartPole episodes end long before 500 steps";
    EXPECT_LT(length, 500);
    EXPECT_EQ(b.reward[lane], 1.0f) << "CartPole pays 1 on the terminating step too";
    EXPECT_FLOAT_EQ(b.final_return[lane], static_cast<float>(length));
    const float* last = &b.final_obs[lane * 4];
    EXPECT_TRUE(std::fabs(last[0]) > 2.4f || std::fabs(last[2]) > theta_threshold)
        << "final_obs x=" << last[0] << " theta=" << last[2] << " is within the limits";
    for (int i = 0; i < 4; ++i) EXPECT_LE(std::fabs(b.obs[lane * 4 + i]), 0.05f) << "new episode obs[" << i << "]";
  };
  const RolloutStats stats = run_checked<envs::CartPole>({}, 16, 400, 21, random, on_done);
  int terminations = 0;
  for (std::size_t lane = 0; lane < stats.terminations.size(); ++lane) {
    EXPECT_GE(stats.terminations[lane], 2) << "lane " << lane;
    EXPECT_EQ(stats.truncations[lane], 0) << "lane " << lane;
    terminations += stats.terminations[lane];
  }
  EXPECT_EQ(checked, terminations);
}

// A lane that terminates on the very step that reaches the limit is both terminated and truncated
// (Gymnasium's TimeLimit); a lane that only reaches the limit is truncated and not terminated.
TEST(TimeLimit, TerminationOnTheLimitStepSetsBothFlags) {
  const int limit = 5;
  auto env = envs::make_env("CartPole-v1", 3, envs::Device::kCpu, {{"max_episode_steps", limit}});
  env->reset(3);
  std::vector<std::int32_t> actions(3, 0);
  envs::HostBatch b;
  for (int t = 0; t < limit - 1; ++t) {
    env->copy_to_host(b);
    balance_cartpole(t, b, actions);
    env->step(envs::ActionBatch::discrete(actions.data(), 3));
  }
  env->copy_to_host(b);
  ASSERT_EQ(b.elapsed, (std::vector<std::int32_t>{limit - 1, limit - 1, limit - 1}));
  const float theta_threshold = envs::CartPole::Params{}.theta_threshold_radians;
  // Lane 0 falls on the next step; lanes 1 and 2 are upright and still.
  std::vector<float> states{0.0f, 0.0f, theta_threshold - 0.001f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f,
                            0.1f, 0.0f, 0.0f,                     0.0f};
  env->set_states(states);
  env->copy_to_host(b);
  EXPECT_EQ(b.elapsed, (std::vector<std::int32_t>{limit - 1, limit - 1, limit - 1})) << "set_states keeps counters";
  EXPECT_EQ(b.obs[2], theta_threshold - 0.001f) << "set_states rewrites obs";
  actions = {1, 0, 1};
  env->step(envs::ActionBatch::discrete(actions.data(), 3));
  env->copy_to_host(b);
  EXPECT_EQ(b.terminated, (std::vector<std::uint8_t>{1, 0, 0}));
  EXPECT_EQ(b.truncated, (std::vector<std::uint8_t>{1, 1, 1}));
  EXPECT_EQ(b.final_length, (std::vector<std::int32_t>{limit, limit, limit}));
  EXPECT_EQ(b.final_return, (std::vector<float>{5.0f, 5.0f, 5.0f}));
  EXPECT_GT(b.final_obs[2], theta_threshold);
  EXPECT_EQ(b.elapsed, (std::vector<std::int32_t>{0, 0, 0}));
  for (float v : b.obs) EXPECT_LE(std::fabs(v), 0.05f);
}

TEST(TimeLimit, EarlyTerminationIsNotTruncation) {
  auto env = envs::make_env("CartPole-v1", 2);
  env->reset(4);
  std::vector<float> states{0.0f, 0.0f, 0.2f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  env->set_states(states);
  std::vector<std::int32_t> actions{0, 1};
  env->step(envs::ActionBatch::discrete(actions.data(), 2));
  envs::HostBatch b;
  env->copy_to_host(b);
  EXPECT_EQ(b.terminated, (std::vector<std::uint8_t>{1, 0}));
  EXPECT_EQ(b.truncated, (std::vector<std::uint8_t>{0, 0}));
  EXPECT_EQ(b.final_length[0], 1);
  EXPECT_EQ(b.final_return[0], 1.0f);
  EXPECT_EQ(b.elapsed, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(b.episode_return, (std::vector<float>{0.0f, 1.0f}));
  EXPECT_EQ(b.final_length[1], -1) << "final_length of a lane that never finished";
  EXPECT_TRUE(std::isnan(b.final_obs[4])) << "final_obs of a lane that never finished";
}

TEST(TimeLimit, ResetGivesObservationsInTheDocumentedRanges) {
  const std::int32_t n = 256;
  for (const auto& id : envs::Registry::global().ids()) {
    // Float envs with Gymnasium's documented reset ranges; MinAtar's resets are the reference's (its
    // parity tests) and its observations 0/1 bytes (minatar_test.cpp).
    if (envs::env_spec(id).observation_space.is_uint8()) continue;
    auto env = envs::make_env(id, n);
    const auto obs_dim = static_cast<std::size_t>(env->spec().obs_dim());
    for (std::uint64_t seed : {0ull, 1ull, 12345ull, 0xFFFFFFFFFFFFull}) {
      SCOPED_TRACE(id + " seed " + std::to_string(seed));
      env->reset(seed);
      envs::HostBatch b;
      env->copy_to_host(b);
      ASSERT_EQ(b.obs.size(), n * obs_dim);
      int distinct = 0;
      for (std::int32_t lane = 0; lane < n; ++lane) {
        const float* row = &b.obs[lane * obs_dim];
        EXPECT_TRUE(in_reset_range(id, row)) << "lane " << lane << ": " << ::testing::PrintToString(
                                                    std::vector<float>(row, row + obs_dim));
        EXPECT_TRUE(env->spec().observation_space.contains(row)) << "lane " << lane;
        if (lane > 0 && std::memcmp(row, row - obs_dim, obs_dim * sizeof(float)) != 0) ++distinct;
      }
      EXPECT_GT(distinct, n / 2) << "lanes should start from different states";
      EXPECT_EQ(b.elapsed, std::vector<std::int32_t>(n, 0));
      EXPECT_EQ(b.episode_return, std::vector<float>(n, 0.0f));
      EXPECT_EQ(b.terminated, std::vector<std::uint8_t>(n, 0));
      EXPECT_EQ(b.truncated, std::vector<std::uint8_t>(n, 0));
      if (id == "Pendulum-v1") {
        const std::vector<float> states = env->get_states();
        const float pi = static_cast<float>(kPi);
        for (std::int32_t lane = 0; lane < n; ++lane) {
          EXPECT_GE(states[lane * 2], -pi) << "theta, lane " << lane;
          EXPECT_LT(states[lane * 2], pi) << "theta, lane " << lane;
          EXPECT_GE(states[lane * 2 + 1], -1.0f) << "theta_dot, lane " << lane;
          EXPECT_LT(states[lane * 2 + 1], 1.0f) << "theta_dot, lane " << lane;
        }
      }
      if (id == "Acrobot-v1") {
        for (float v : env->get_states()) EXPECT_LE(std::fabs(v), 0.1f);
      }
    }
  }
}

TEST(TimeLimit, ResetMidEpisodeRestartsTheCounters) {
  for (const auto& id : envs::Registry::global().ids()) {
    auto env = envs::make_env(id, 4);
    env->reset(5);
    const bool discrete = env->spec().action_space.is_discrete();
    std::vector<std::int32_t> discrete_actions(4, 1);
    const std::int64_t dim = env->spec().action_dim();
    std::vector<float> continuous_actions(static_cast<std::size_t>(4 * dim), 0.0f);
    const envs::ActionBatch batch = discrete ? envs::ActionBatch::discrete(discrete_actions.data(), 4)
                                             : envs::ActionBatch::continuous(continuous_actions.data(), 4, dim);
    for (int t = 0; t < 3; ++t) env->step(batch);
    envs::HostBatch b;
    env->copy_to_host(b);
    EXPECT_EQ(b.elapsed, std::vector<std::int32_t>(4, 3)) << id;
    env->reset(6);
    env->copy_to_host(b);
    EXPECT_EQ(b.elapsed, std::vector<std::int32_t>(4, 0)) << id;
    EXPECT_EQ(b.episode_return, std::vector<float>(4, 0.0f)) << id;
    env->step(batch);
    env->copy_to_host(b);
    EXPECT_EQ(b.elapsed, std::vector<std::int32_t>(4, 1)) << id;
    EXPECT_EQ(b.episode_return, b.reward) << id;
  }
}

}  // namespace
