// The registry and the specs it gives: ids, spaces, time limits and reward thresholds as Gymnasium 1.x
// registers them (gymnasium/envs/__init__.py and the classic_control envs), options applied to specs,
// and refusals of duplicate ids and unknown options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/registry.h"
#include "tests/common/checks.h"

namespace {

namespace envs = apiary::envs;
using apiary::testing::kPi;
using apiary::testing::contains;

std::vector<float> negated(const std::vector<float>& v) {
  std::vector<float> out;
  for (float x : v) out.push_back(-x);
  return out;
}

// Gymnasium stores bounds as float32 arrays: compare with the float32 value of each double.
void expect_bounds(const std::vector<float>& actual, const std::vector<double>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_FLOAT_EQ(actual[i], static_cast<float>(expected[i])) << what << "[" << i << "]";
}

void expect_box(const envs::Space& space, const std::vector<std::int64_t>& shape, const std::vector<double>& low,
                const std::vector<double>& high, const std::string& what) {
  EXPECT_EQ(space.kind, envs::SpaceKind::kBox) << what;
  EXPECT_FALSE(space.is_discrete()) << what;
  EXPECT_EQ(space.shape, shape) << what;
  expect_bounds(space.low, low, what + " low");
  expect_bounds(space.high, high, what + " high");
}

void expect_discrete(const envs::Space& space, std::int64_t n, const std::string& what) {
  EXPECT_EQ(space.kind, envs::SpaceKind::kDiscrete) << what;
  EXPECT_TRUE(space.is_discrete()) << what;
  EXPECT_EQ(space.n, n) << what;
  EXPECT_EQ(space.start, 0) << what;
  EXPECT_EQ(space.flat_size(), 1) << what;
}

TEST(Registry, HoldsExactlyTheBundledSuite) {
  const std::vector<std::string> ids = envs::Registry::global().ids();
  const std::set<std::string> got(ids.begin(), ids.end());
  EXPECT_EQ(got.size(), ids.size()) << "an id is listed twice";
  EXPECT_EQ(got, (std::set<std::string>{"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                        "Pendulum-v1", "LunarLander-v3", "LunarLanderContinuous-v3",
                                        "BipedalWalker-v3", "BipedalWalkerHardcore-v3", "CarRacing-v3",
                                        "MinAtar/Asterix-v0", "MinAtar/Asterix-v1", "MinAtar/Breakout-v0", "MinAtar/Breakout-v1",
                                        "MinAtar/Freeway-v0", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v0",
                                        "MinAtar/Seaquest-v1", "MinAtar/SpaceInvaders-v0", "MinAtar/SpaceInvaders-v1"}));
  for (const auto& id : ids) {
    const envs::EnvEntry* entry = envs::Registry::global().find(id);
    ASSERT_NE(entry, nullptr) << id;
    EXPECT_EQ(entry->id, id);
    EXPECT_EQ(entry->origin, "builtin") << id;
    EXPECT_EQ(entry->makers.count(envs::Device::kCpu), 1u) << id << " has no CPU back end";
    EXPECT_EQ(&envs::Registry::global().at(id), entry) << id;
  }
  EXPECT_EQ(envs::Registry::global().find("CartPole-v0"), nullptr);
  EXPECT_THROW(envs::Registry::global().at("CartPole-v0"), std::invalid_argument);
}

TEST(Registry, CartPoleSpecIsGymnasiums) {
  const envs::EnvSpec spec = envs::env_spec("CartPole-v1");
  EXPECT_EQ(spec.id, "CartPole-v1");
  const std::vector<double> high{4.8, FLT_MAX, 0.41887903, FLT_MAX};
  std::vector<double> low;
  for (double h : high) low.push_back(-h);
  expect_box(spec.observation_space, {4}, low, high, "observation");
  // theta's bound is 2 * 12 degrees.
  EXPECT_NEAR(spec.observation_space.high[2], 2.0 * 12.0 * 2.0 * kPi / 360.0, 1e-7);
  expect_discrete(spec.action_space, 2, "action");
  EXPECT_EQ(spec.obs_dim(), 4);
  EXPECT_EQ(spec.action_dim(), 1);
  EXPECT_EQ(spec.max_episode_steps, 500);
  ASSERT_TRUE(spec.reward_threshold.has_value());
  EXPECT_EQ(*spec.reward_threshold, 475.0);
}

TEST(Registry, AcrobotSpecIsGymnasiums) {
  const envs::EnvSpec spec = envs::env_spec("Acrobot-v1");
  EXPECT_EQ(spec.id, "Acrobot-v1");
  const std::vector<double> high{1, 1, 1, 1, 4 * kPi, 9 * kPi};
  std::vector<double> low;
  for (double h : high) low.push_back(-h);
  expect_box(spec.observation_space, {6}, low, high, "observation");
  expect_discrete(spec.action_space, 3, "action");
  EXPECT_EQ(spec.obs_dim(), 6);
  EXPECT_EQ(spec.max_episode_steps, 500);
  ASSERT_TRUE(spec.reward_threshold.has_value());
  EXPECT_EQ(*spec.reward_threshold, -100.0);
}

TEST(Registry, MountainCarSpecIsGymnasiums) {
  const envs::EnvSpec spec = envs::env_spec("MountainCar-v0");
  EXPECT_EQ(spec.id, "MountainCar-v0");
  expect_box(spec.observation_space, {2}, {-1.2, -0.07}, {0.6, 0.07}, "observation");
  expect_discrete(spec.action_space, 3, "action");
  EXPECT_EQ(spec.max_episode_steps, 200);
  ASSERT_TRUE(spec.reward_threshold.has_value());
  EXPECT_EQ(*spec.reward_threshold, -110.0);
}

TEST(Registry, MountainCarContinuousSpecIsGymnasiums) {
  const envs::EnvSpec spec = envs::env_spec("MountainCarContinuous-v0");
  EXPECT_EQ(spec.id, "MountainCarContinuous-v0");
  expect_box(spec.observation_space, {2}, {-1.2, -0.07}, {0.6, 0.07}, "observation");
  expect_box(spec.action_space, {1}, {-1.0}, {1.0}, "action");
  EXPECT_EQ(spec.action_dim(), 1);
  EXPECT_EQ(spec.max_episode_steps, 999);
  ASSERT_TRUE(spec.reward_threshold.has_value());
  EXPECT_EQ(*spec.reward_threshold, 90.0);
}

TEST(Registry, PendulumSpecIsGymnasiums) {
  const envs::EnvSpec spec = envs::env_spec("Pendulum-v1");
  EXPECT_EQ(spec.id, "Pendulum-v1");
  expect_box(spec.observation_space, {3}, {-1, -1, -8}, {1, 1, 8}, "observation");
  expect_box(spec.action_space, {1}, {-2.0}, {2.0}, "action");
  EXPECT_EQ(spec.obs_dim(), 3);
  EXPECT_EQ(spec.action_dim(), 1);
  EXPECT_EQ(spec.max_episode_steps, 200);
  EXPECT_FALSE(spec.reward_threshold.has_value()) << "Gymnasium registers no threshold for Pendulum-v1";
}

TEST(Registry, EnvSpecAgreesWithTheBuiltEnv) {
  for (const auto& id : envs::Registry::global().ids()) {
    SCOPED_TRACE(id);
    const envs::EnvSpec from_registry = envs::env_spec(id);
    auto env = envs::make_env(id, 3);
    const envs::EnvSpec& built = env->spec();
    EXPECT_EQ(built.id, id);
    EXPECT_EQ(built.observation_space.to_string(), from_registry.observation_space.to_string());
    EXPECT_EQ(built.observation_space.low, from_registry.observation_space.low);
    EXPECT_EQ(built.observation_space.high, from_registry.observation_space.high);
    EXPECT_EQ(built.action_space.to_string(), from_registry.action_space.to_string());
    EXPECT_EQ(built.max_episode_steps, from_registry.max_episode_steps);
    EXPECT_EQ(built.reward_threshold, from_registry.reward_threshold);
    EXPECT_EQ(env->num_envs(), 3);
    EXPECT_EQ(env->device(), envs::Device::kCpu);
    // Observations fill [num_envs, obs_dim] in the space's dtype.
    env->reset(0);
    envs::HostBatch b;
    env->copy_to_host(b);
    const bool bytes = built.observation_space.is_uint8();
    EXPECT_EQ(static_cast<std::int64_t>(bytes ? b.obs_u8.size() : b.obs.size()), 3 * built.obs_dim());
    EXPECT_EQ(static_cast<std::int64_t>(bytes ? b.final_obs_u8.size() : b.final_obs.size()), 3 * built.obs_dim());
    EXPECT_EQ(bytes ? b.obs.size() : b.obs_u8.size(), 0u) << "one dtype of observation buffers";
    EXPECT_EQ(b.reward.size(), 3u);
  }
}

// Gymnasium prints a Box whose bounds are all equal with one float32 scalar: numpy prints 2.0 as
// "2.0" (Gymnasium's own docs: "Box(-1.0, 1.0, (1,), float32)" for MountainCarContinuous-v0).
TEST(Registry, SpacesPrintAsGymnasiumPrintsThem) {
  EXPECT_EQ(envs::env_spec("CartPole-v1").action_space.to_string(), "Discrete(2)");
  EXPECT_EQ(envs::env_spec("Acrobot-v1").action_space.to_string(), "Discrete(3)");
  EXPECT_EQ(envs::env_spec("MountainCar-v0").action_space.to_string(), "Discrete(3)");
  EXPECT_EQ(envs::Space::discrete(4, 1).to_string(), "Discrete(4, start=1)");
  EXPECT_EQ(envs::env_spec("MountainCarContinuous-v0").action_space.to_string(), "Box(-1.0, 1.0, (1,), float32)");
  EXPECT_EQ(envs::env_spec("Pendulum-v1").action_space.to_string(), "Box(-2.0, 2.0, (1,), float32)");
  const float inf = INFINITY;
  EXPECT_EQ(envs::Space::box({-inf, -inf, -inf, -inf}, {inf, inf, inf, inf}).to_string(),
            "Box(-inf, inf, (4,), float32)");
  EXPECT_EQ(envs::Space::box({-1.5f, -1.5f}, {0.25f, 0.25f}).to_string(), "Box(-1.5, 0.25, (2,), float32)");
  // Per-element bounds are printed as arrays, with the shape and dtype after them.
  const std::string obs = envs::env_spec("MountainCar-v0").observation_space.to_string();
  EXPECT_EQ(obs.rfind("Box([-1.2", 0), 0u) << obs;
  EXPECT_TRUE(contains(obs, "], [0.6")) << obs;
  EXPECT_TRUE(contains(obs, "0.07], (2,), float32)")) << obs;
}

TEST(Registry, OptionsChangeTheSpecWhereTheyShould) {
  // Pendulum: max_speed bounds the observed angular velocity, max_torque the action.
  envs::EnvSpec spec = envs::env_spec("Pendulum-v1", {{"max_speed", 12.0}, {"max_torque", 3.0}});
  expect_box(spec.observation_space, {3}, {-1, -1, -12}, {1, 1, 12}, "observation");
  expect_box(spec.action_space, {1}, {-3.0}, {3.0}, "action");
  // The same through make_env.
  auto env = envs::make_env("Pendulum-v1", 1, envs::Device::kCpu, {{"max_speed", 12.0}});
  EXPECT_EQ(env->spec().observation_space.high[2], 12.0f);

  // CartPole: the observation bound is twice the failure thresholds.
  spec = envs::env_spec("CartPole-v1", {{"x_threshold", 3.0}, {"theta_threshold_radians", 0.5}});
  EXPECT_FLOAT_EQ(spec.observation_space.high[0], 6.0f);
  EXPECT_FLOAT_EQ(spec.observation_space.high[2], 1.0f);
  EXPECT_EQ(spec.observation_space.high[1], FLT_MAX);
  EXPECT_EQ(spec.observation_space.low, negated(spec.observation_space.high));

  // Acrobot: the joint speed limits bound the observation.
  spec = envs::env_spec("Acrobot-v1", {{"max_vel_1", 5.0}, {"max_vel_2", 7.0}});
  expect_box(spec.observation_space, {6}, {-1, -1, -1, -1, -5, -7}, {1, 1, 1, 1, 5, 7}, "observation");

  // Physics-only options leave the spaces alone; the time limit option changes only the limit.
  for (const auto& [id, options] : std::vector<std::pair<std::string, envs::EnvOptions>>{
           {"CartPole-v1", {{"gravity", 3.7}, {"masspole", 0.2}}},
           {"Pendulum-v1", {{"g", 9.81}}},
           {"MountainCar-v0", {{"force", 0.002}}},
           {"MountainCarContinuous-v0", {{"power", 0.003}}},
           {"Acrobot-v1", {{"max_episode_steps", 123}}}}) {
    SCOPED_TRACE(id);
    const envs::EnvSpec base = envs::env_spec(id);
    const envs::EnvSpec changed = envs::env_spec(id, options);
    EXPECT_EQ(changed.observation_space.low, base.observation_space.low);
    EXPECT_EQ(changed.observation_space.high, base.observation_space.high);
    EXPECT_EQ(changed.action_space.to_string(), base.action_space.to_string());
    EXPECT_EQ(changed.reward_threshold, base.reward_threshold);
    EXPECT_EQ(changed.max_episode_steps, options.count("max_episode_steps") ? 123 : base.max_episode_steps);
  }
}

TEST(Registry, DuplicateIdIsRefusedWithItsName) {
  envs::Registry registry;
  envs::EnvEntry entry;
  entry.id = "Toy-v0";
  entry.spec = [](const envs::EnvOptions&) { return envs::env_spec("CartPole-v1"); };
  entry.origin = "first";
  registry.add(entry);
  envs::EnvEntry again = entry;
  again.origin = "second";
  try {
    registry.add(again);
    ADD_FAILURE() << "a duplicate id was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "Toy-v0")) << what;
    EXPECT_TRUE(contains(what, "first")) << what;
    EXPECT_TRUE(contains(what, "second")) << what;
  }
  EXPECT_EQ(registry.ids(), std::vector<std::string>{"Toy-v0"});
  EXPECT_EQ(registry.at("Toy-v0").origin, "first") << "the first registration stays";

  // The global registry refuses a second CartPole-v1 and keeps the built-in one.
  envs::EnvEntry clash;
  clash.id = "CartPole-v1";
  clash.origin = "libclash.so";
  try {
    envs::Registry::global().add(clash);
    ADD_FAILURE() << "CartPole-v1 was registered twice";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "CartPole-v1")) << e.what();
    EXPECT_TRUE(contains(e.what(), "libclash.so")) << e.what();
  }
  EXPECT_EQ(envs::Registry::global().at("CartPole-v1").origin, "builtin");
  EXPECT_EQ(envs::Registry::global().ids().size(), 20u);

  // A maker for an id nobody registered is refused too.
  EXPECT_THROW(registry.add_maker("Nobody-v0", envs::Device::kCpu, envs::VecEnvMaker{}), std::invalid_argument);
}

TEST(Registry, EnvSpecWithAnUnknownOptionThrows) {
  for (const auto& id : envs::Registry::global().ids()) {
    try {
      envs::env_spec(id, {{"no_such_option", 1.0}});
      ADD_FAILURE() << id << " accepted an unknown option";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), "no_such_option")) << e.what();
      EXPECT_TRUE(contains(e.what(), "max_episode_steps")) << e.what();
    }
  }
}

}  // namespace

namespace {

// Every spec lists the parameters env.options can set (`apiary envs` and apiary.envs() in Python show
// them) with their defaults, ranges and meaning; every listed option is accepted at its default, and a
// value past a closed end is refused.
TEST(Registry, SpecsListTheirOptions) {
  for (const auto& id : envs::Registry::global().ids()) {
    const envs::EnvEntry& entry = envs::Registry::global().at(id);
    const std::vector<envs::EnvOptionInfo> options = entry.spec({}).options;
    for (const auto& o : options) {
      EXPECT_FALSE(o.doc.empty()) << id << " " << o.name;
      EXPECT_LE(o.low, o.default_value) << id << " " << o.name;
      EXPECT_GE(o.high, o.default_value) << id << " " << o.name;
      EXPECT_NO_THROW(entry.spec({{o.name, o.default_value}})) << id << " " << o.name;
      if (!o.high_open && o.high < 1e9) {
        EXPECT_THROW(entry.spec({{o.name, o.high + 1.0}}), std::invalid_argument) << id << " " << o.name;
      }
    }
  }
  const auto lunar = envs::Registry::global().at("LunarLander-v3").spec({}).options;
  const auto gravity = std::find_if(lunar.begin(), lunar.end(), [](const auto& o) { return o.name == "gravity"; });
  ASSERT_NE(gravity, lunar.end());
  EXPECT_EQ(gravity->default_value, -10.0);
  EXPECT_EQ(gravity->low, -12.0);
  EXPECT_EQ(gravity->high, 0.0);
  EXPECT_TRUE(gravity->low_open && gravity->high_open);
  const auto cartpole = envs::Registry::global().at("CartPole-v1").spec({}).options;
  std::vector<std::string> names;
  for (const auto& o : cartpole) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{"gravity", "masscart", "masspole", "length", "force_mag", "tau",
                                             "theta_threshold_radians", "x_threshold", "reset_noise"}));
  EXPECT_EQ(cartpole[0].default_value, static_cast<double>(9.8f));
}

}  // namespace
