// The generic option observe_velocity (envs/observation_select.h): with it false, an env observes its
// full observation less the velocity elements, and nothing else changes. Every env that has velocities
// is stepped beside its full twin (same seed, same actions, auto-resets, single-lane resets) and must
// agree bit for bit; the velocity elements are written out here rather than read from the spec, so a
// spec that declared the wrong ones fails too. Also: the refusals, composition with frame_stack,
// snapshots, and check-env on the option.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/env_checker.h"
#include "envs/frame_stack.h"
#include "envs/observation_select.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"

namespace apiary::envs {
namespace {

struct VelocityCase {
  std::string id;
  std::vector<std::int32_t> velocities;  // Gymnasium's observation elements that are velocities
};

// Gymnasium's observation layouts: CartPole (x, x_dot, theta, theta_dot), Pendulum (cos, sin, th_dot),
// Acrobot (cos1, sin1, cos2, sin2, dtheta1, dtheta2), MountainCar (position, velocity), LunarLander
// (x, y, vx, vy, angle, angular velocity, leg1, leg2).
const std::vector<VelocityCase>& velocity_cases() {
  static const std::vector<VelocityCase> cases{
      {"CartPole-v1", {1, 3}},          {"Pendulum-v1", {2}},
      {"Acrobot-v1", {4, 5}},           {"MountainCar-v0", {1}},
      {"MountainCarContinuous-v0", {1}}, {"LunarLander-v3", {2, 3, 5}},
      {"LunarLanderContinuous-v3", {2, 3, 5}},
  };
  return cases;
}

const VelocityCase& velocity_case(const std::string& id) {
  for (const VelocityCase& c : velocity_cases())
    if (c.id == id) return c;
  throw std::invalid_argument("no velocity case for " + id);
}

std::vector<std::string> velocity_case_ids() {
  std::vector<std::string> ids;
  for (const VelocityCase& c : velocity_cases()) ids.push_back(c.id);
  return ids;
}

const EnvOptions kWithoutVelocity{{kObserveVelocityOption, 0.0}};

bool is_velocity(const VelocityCase& c, std::int64_t e) {
  for (const std::int32_t v : c.velocities)
    if (v == e) return true;
  return false;
}

// `rows` lanes of `dim` floats with the velocity elements of `c` taken out.
std::vector<float> without_velocities(const VelocityCase& c, const float* full, std::int64_t rows, std::int64_t dim) {
  std::vector<float> out;
  for (std::int64_t lane = 0; lane < rows; ++lane)
    for (std::int64_t e = 0; e < dim; ++e)
      if (!is_velocity(c, e)) out.push_back(full[lane * dim + e]);
  return out;
}

// Bitwise, so that NaN (final_obs before any episode ended) equals NaN.
template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(T)) == 0;
}

class ObserveVelocity : public ::testing::TestWithParam<std::string> {};

TEST_P(ObserveVelocity, SpecDropsTheVelocitiesWithTheirBounds) {
  const VelocityCase& c = velocity_case(GetParam());
  const EnvSpec full = env_spec(c.id);
  const EnvSpec without = env_spec(c.id, kWithoutVelocity);
  ASSERT_EQ(full.velocity_elements, c.velocities) << c.id << " declares other velocity elements than Gymnasium's";
  const std::int64_t d = full.obs_dim(), kept = d - static_cast<std::int64_t>(c.velocities.size());
  EXPECT_EQ(without.observation_space.shape, (std::vector<std::int64_t>{kept})) << c.id;
  std::vector<float> low, high;
  for (std::int64_t e = 0; e < d; ++e)
    if (!is_velocity(c, e)) {
      low.push_back(full.observation_space.low[static_cast<std::size_t>(e)]);
      high.push_back(full.observation_space.high[static_cast<std::size_t>(e)]);
    }
  EXPECT_EQ(without.observation_space.low, low) << c.id;
  EXPECT_EQ(without.observation_space.high, high) << c.id;
  EXPECT_TRUE(without.velocity_elements.empty()) << c.id;
  // LunarLander's unbounded angle (element 4) is element 2 once vx and vy are gone.
  EXPECT_EQ(without.unbounded_obs, (c.id.rfind("LunarLander", 0) == 0 ? std::vector<std::int32_t>{2}
                                                                       : std::vector<std::int32_t>{}))
      << c.id;
  EXPECT_EQ(without.action_space.to_string(), full.action_space.to_string());
  EXPECT_EQ(without.max_episode_steps, full.max_episode_steps);
  EXPECT_EQ(without.reward_threshold, full.reward_threshold);
  // `apiary envs` and apiary.envs() list the option from spec.options, default true.
  bool listed = false;
  for (const EnvOptionInfo& o : full.options)
    if (o.name == kObserveVelocityOption) {
      listed = true;
      EXPECT_EQ(o.default_value, 1.0);
      EXPECT_EQ(o.low, 0.0);
      EXPECT_EQ(o.high, 1.0);
      EXPECT_FALSE(o.doc.empty());
    }
  EXPECT_TRUE(listed) << c.id << " does not list " << kObserveVelocityOption;
}

// Steps the env without velocities beside the full one for several hundred steps on `threads` threads,
// with auto-resets (short time limits, terminations), single-lane resets and held lanes: the observations
// and final observations are the full ones less the velocities, and every other buffer is the same.
void expect_same_episodes_less_velocities(const VelocityCase& c, std::int32_t threads) {
  constexpr std::int32_t kLanes = 5;
  constexpr int kSteps = 400;
  VecEnvConfig config;
  config.num_envs = kLanes;
  config.threads = threads;
  config.options = {{kMaxEpisodeStepsOption, 60.0}};  // ends episodes often, and goes to the back end
  auto full = make_env(c.id, config);
  config.options[kObserveVelocityOption] = 0.0;
  auto without = make_env(c.id, config);
  ASSERT_EQ(without->threads(), full->threads());
  const std::int64_t d = full->spec().obs_dim(), kept = without->spec().obs_dim();
  ASSERT_EQ(kept, d - static_cast<std::int64_t>(c.velocities.size()));
  ASSERT_EQ(without->spec().max_episode_steps, 60);
  RandomActions random(full->spec(), kLanes, 17);
  full->reset(5);
  without->reset(5);
  const BatchBuffers& a = full->buffers();
  const BatchBuffers& b = without->buffers();
  ASSERT_EQ(without_velocities(c, a.obs, kLanes, d), std::vector<float>(b.obs, b.obs + kLanes * kept))
      << c.id << " after reset";
  std::vector<std::uint8_t> mask(kLanes, 0), active(kLanes, 1);
  int ended = 0;
  for (int t = 0; t < kSteps; ++t) {
    const ActionBatch actions = random.next();
    const bool hold = t % 13 == 6;  // lane t % kLanes stays where it is for this step
    active.assign(kLanes, 1);
    active[static_cast<std::size_t>(t % kLanes)] = 0;
    full->set_active_lanes(hold ? active.data() : nullptr);
    without->set_active_lanes(hold ? active.data() : nullptr);
    full->step(actions);
    without->step(actions);
    full->set_active_lanes(nullptr);
    without->set_active_lanes(nullptr);
    if (t % 37 == 20) {  // lane t % kLanes starts a new episode by itself
      mask.assign(kLanes, 0);
      mask[static_cast<std::size_t>(t % kLanes)] = 1;
      full->reset_lanes(mask.data());
      without->reset_lanes(mask.data());
    }
    const std::string where = c.id + " threads " + std::to_string(threads) + " step " + std::to_string(t);
    const std::vector<float> obs = without_velocities(c, a.obs, kLanes, d);
    const std::vector<float> final_obs = without_velocities(c, a.final_obs, kLanes, d);
    ASSERT_TRUE(same_bits(obs.data(), b.obs, obs.size())) << where;
    ASSERT_TRUE(same_bits(final_obs.data(), b.final_obs, final_obs.size())) << where;
    ASSERT_TRUE(same_bits(a.reward, b.reward, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.terminated, b.terminated, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.truncated, b.truncated, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.elapsed, b.elapsed, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.episode_return, b.episode_return, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.final_return, b.final_return, kLanes)) << where;
    ASSERT_TRUE(same_bits(a.final_length, b.final_length, kLanes)) << where;
    for (std::int32_t lane = 0; lane < kLanes; ++lane) ended += a.terminated[lane] | a.truncated[lane];
  }
  EXPECT_GE(ended, 2 * kLanes) << c.id << ": too few episodes ended to check auto-resets";
  EXPECT_EQ(full->get_states(), without->get_states()) << c.id;
  HostBatch host;
  without->copy_to_host(host);
  EXPECT_EQ(host.obs, std::vector<float>(b.obs, b.obs + kLanes * kept)) << c.id;
  EXPECT_EQ(host.final_obs.size(), static_cast<std::size_t>(kLanes * kept)) << c.id;
}

TEST_P(ObserveVelocity, SameEpisodesLessTheVelocitiesOnOneThread) {
  expect_same_episodes_less_velocities(velocity_case(GetParam()), 1);
}
TEST_P(ObserveVelocity, SameEpisodesLessTheVelocitiesOnTwoThreads) {
  expect_same_episodes_less_velocities(velocity_case(GetParam()), 2);
}

TEST_P(ObserveVelocity, TrueChangesNothing) {
  const VelocityCase& c = velocity_case(GetParam());
  auto plain = make_env(c.id, 3, Device::kCpu, {});
  auto with = make_env(c.id, 3, Device::kCpu, {{kObserveVelocityOption, 1.0}});
  EXPECT_EQ(with->spec().observation_space.to_string(), plain->spec().observation_space.to_string());
  EXPECT_EQ(with->spec().observation_space.low, plain->spec().observation_space.low);
  EXPECT_EQ(with->spec().velocity_elements, plain->spec().velocity_elements);
  RandomActions random(plain->spec(), 3, 2);
  plain->reset(9);
  with->reset(9);
  const std::size_t n = static_cast<std::size_t>(3 * plain->spec().obs_dim());
  for (int t = 0; t < 50; ++t) {
    const ActionBatch actions = random.next();
    plain->step(actions);
    with->step(actions);
    ASSERT_TRUE(same_bits(plain->buffers().obs, with->buffers().obs, n)) << c.id << " step " << t;
    ASSERT_TRUE(same_bits(plain->buffers().reward, with->buffers().reward, 3)) << c.id << " step " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Envs, ObserveVelocity, ::testing::ValuesIn(velocity_case_ids()), testing::EnvIdName());

TEST(ObserveVelocityOption, EnvsWithoutVelocitiesRefuseFalseNamingTheEnvAndTheOption) {
  for (const std::string id : {"MinAtar/Breakout-v1", "BipedalWalker-v3"}) {
    EXPECT_TRUE(env_spec(id).velocity_elements.empty()) << id;
    for (const auto& o : env_spec(id).options) EXPECT_NE(o.name, kObserveVelocityOption) << id << " lists the option";
    for (int build = 0; build < 2; ++build) {
      try {
        if (build) make_env(id, 2, Device::kCpu, kWithoutVelocity);
        else env_spec(id, kWithoutVelocity);
        FAIL() << id << " accepted observe_velocity: false";
      } catch (const std::invalid_argument& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(id), std::string::npos) << m;
        EXPECT_NE(m.find("observe_velocity"), std::string::npos) << m;
      }
    }
    // true is what every env observes anyway.
    EXPECT_EQ(make_env(id, 1, Device::kCpu, {{kObserveVelocityOption, 1.0}})->spec().obs_dim(), env_spec(id).obs_dim());
  }
}

// What env_spec() lists (`apiary envs`, apiary.envs()), env_spec() and make_env accept at its default and
// refuse past its range: the env's own parameters, and observe_velocity where it applies.
TEST(ObserveVelocityOption, EveryListedOptionIsAcceptedAtItsDefault) {
  for (const std::string& id : Registry::global().ids()) {
    for (const EnvOptionInfo& o : env_spec(id).options) {
      EXPECT_NO_THROW(env_spec(id, {{o.name, o.default_value}})) << id << " " << o.name;
      EXPECT_NO_THROW(make_env(id, 1, Device::kCpu, {{o.name, o.default_value}})) << id << " " << o.name;
      if (!o.high_open && o.high < 1e9) {
        EXPECT_THROW(env_spec(id, {{o.name, o.high + 1.0}}), std::invalid_argument) << id << " " << o.name;
      }
    }
  }
}

TEST(ObserveVelocityOption, ValuesOtherThanFalseAndTrueAreRefusedNamingTheValue) {
  for (const double value : {0.5, 2.0, -1.0}) {
    for (int build = 0; build < 2; ++build) {
      try {
        if (build) make_env("CartPole-v1", 1, Device::kCpu, {{kObserveVelocityOption, value}});
        else env_spec("CartPole-v1", {{kObserveVelocityOption, value}});
        FAIL() << "observe_velocity = " << value << " was accepted";
      } catch (const std::invalid_argument& e) {
        const std::string m = e.what();
        std::ostringstream shown;
        shown << "= " << value;
        EXPECT_NE(m.find("CartPole-v1"), std::string::npos) << m;
        EXPECT_NE(m.find("observe_velocity"), std::string::npos) << m;
        EXPECT_NE(m.find(shown.str()), std::string::npos) << m;
      }
    }
  }
}

TEST(ObserveVelocityOption, FrameStackStacksTheObservationsWithoutVelocities) {
  const VelocityCase& cartpole = velocity_cases()[0];
  EnvOptions options = kWithoutVelocity;
  options[kFrameStackOption] = 3.0;
  const EnvSpec spec = env_spec("CartPole-v1", options);
  const EnvSpec full = env_spec("CartPole-v1");
  EXPECT_EQ(spec.observation_space.shape, (std::vector<std::int64_t>{6}));
  const std::vector<float> low{full.observation_space.low[0], full.observation_space.low[2]};
  std::vector<float> stacked_low;
  for (int f = 0; f < 3; ++f) stacked_low.insert(stacked_low.end(), low.begin(), low.end());
  EXPECT_EQ(spec.observation_space.low, stacked_low);
  constexpr std::int32_t kLanes = 3;
  auto env = make_env("CartPole-v1", kLanes, Device::kCpu, options);
  auto plain = make_env("CartPole-v1", kLanes, Device::kCpu, {});
  EXPECT_EQ(env->spec().observation_space.to_string(), spec.observation_space.to_string());
  env->reset(11);
  plain->reset(11);
  // Per lane, the last three observations (x, theta) of the plain env, oldest first; a new episode's
  // stack is its first observation three times.
  std::vector<std::vector<std::vector<float>>> history(kLanes);
  auto observe_plain = [&](bool after_reset_of_all) {
    const BatchBuffers& p = plain->buffers();
    for (std::int32_t lane = 0; lane < kLanes; ++lane) {
      const std::vector<float> frame = without_velocities(cartpole, p.obs + lane * 4, 1, 4);
      const bool ended = !after_reset_of_all && (p.terminated[lane] | p.truncated[lane]);
      if (after_reset_of_all || ended) {
        if (ended) {
          std::vector<float> final_stack;
          history[lane].push_back(without_velocities(cartpole, p.final_obs + lane * 4, 1, 4));
          for (std::size_t f = history[lane].size() - 3; f < history[lane].size(); ++f)
            final_stack.insert(final_stack.end(), history[lane][f].begin(), history[lane][f].end());
          EXPECT_TRUE(same_bits(final_stack.data(), env->buffers().final_obs + lane * 6, 6)) << "lane " << lane;
        }
        history[lane].assign(3, frame);
      } else {
        history[lane].push_back(frame);
      }
    }
  };
  observe_plain(true);
  std::vector<std::int32_t> actions(kLanes);
  int ended = 0;
  for (int t = 0; t < 300; ++t) {
    for (std::int32_t lane = 0; lane < kLanes; ++lane) actions[lane] = (t * 7 + lane * 3) % 5 < 2;
    env->step(ActionBatch::discrete(actions.data(), kLanes));
    plain->step(ActionBatch::discrete(actions.data(), kLanes));
    observe_plain(false);
    for (std::int32_t lane = 0; lane < kLanes; ++lane) {
      ended += plain->buffers().terminated[lane];
      std::vector<float> stack;
      for (std::size_t f = history[lane].size() - 3; f < history[lane].size(); ++f)
        stack.insert(stack.end(), history[lane][f].begin(), history[lane][f].end());
      ASSERT_TRUE(same_bits(stack.data(), env->buffers().obs + lane * 6, 6)) << "step " << t << " lane " << lane;
    }
  }
  EXPECT_GT(ended, 3) << "too few episodes ended to check the stacks across resets";
}

TEST(ObserveVelocityOption, SnapshotsRestoreExactlyAndRefuseTheFullObservation) {
  auto env = make_env("LunarLander-v3", 3, Device::kCpu, kWithoutVelocity);
  RandomActions random(env->spec(), 3, 4);
  env->reset(2);
  for (int t = 0; t < 40; ++t) env->step(random.next());
  const auto snapshot = env->save_snapshot();
  HostBatch expected, after;
  env->copy_to_host(expected);
  for (int t = 0; t < 30; ++t) env->step(random.next());
  env->load_snapshot(snapshot);
  env->copy_to_host(after);
  EXPECT_EQ(after.obs, expected.obs);
  EXPECT_TRUE(same_bits(after.final_obs.data(), expected.final_obs.data(), expected.final_obs.size()));
  EXPECT_EQ(after.elapsed, expected.elapsed);
  auto full = make_env("LunarLander-v3", 3, Device::kCpu, {});
  full->reset(2);
  EXPECT_THROW(env->load_snapshot(full->save_snapshot()), std::invalid_argument);
  EXPECT_THROW(full->load_snapshot(snapshot), std::invalid_argument);
}

TEST(ObserveVelocityOption, CheckEnvPassesWithTheOption) {
  for (const std::string id : {"CartPole-v1", "LunarLander-v3"}) {
    CheckOptions options;
    options.num_envs = 3;
    options.steps = 200;
    options.options = kWithoutVelocity;
    const CheckReport report = check_env(id, options);
    for (const CheckResult& r : report.checks) EXPECT_TRUE(r.passed) << id << ": " << r.name << ": " << r.message;
  }
}

}  // namespace
}  // namespace apiary::envs
