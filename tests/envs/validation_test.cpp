// Bad input to the environment API gives a clear exception and never a wrong step: actions are
// validated before any lane moves, options and ids are checked when an env or spec is made, and
// continuous actions are clipped as Gymnasium clips them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/registry.h"
#include "tests/common/checks.h"

namespace {

namespace envs = apiary::envs;
using apiary::testing::contains;

const std::vector<std::string> kIds{"Acrobot-v1", "CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                    "Pendulum-v1"};

// Runs `f`, expects it to throw exactly `Exception`, and returns the message ("" when it did not).
template <class Exception, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Exception& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

// Everything a step could change, to compare before and after a refused step.
struct Snapshot {
  std::vector<float> states;
  envs::HostBatch batch;
};
Snapshot snapshot(const envs::VecEnv& env) {
  Snapshot s;
  s.states = env.get_states();
  env.copy_to_host(s.batch);
  return s;
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
void expect_unchanged(const Snapshot& before, const envs::VecEnv& env) {
  const Snapshot after = snapshot(env);
  EXPECT_TRUE(same_bits(before.states, after.states)) << "lane state moved on a refused step";
  EXPECT_TRUE(same_bits(before.batch.obs, after.batch.obs));
  EXPECT_TRUE(same_bits(before.batch.reward, after.batch.reward));
  EXPECT_EQ(before.batch.elapsed, after.batch.elapsed);
  EXPECT_EQ(before.batch.terminated, after.batch.terminated);
  EXPECT_EQ(before.batch.truncated, after.batch.truncated);
}

// --- discrete actions ---------------------------------------------------------------------------

TEST(Validation, DiscreteActionOutOfRangeNamesLaneAndValue) {
  struct Case {
    std::string id;
    std::int32_t num_actions;
  };
  for (const Case& c : {Case{"CartPole-v1", 2}, Case{"Acrobot-v1", 3}, Case{"MountainCar-v0", 3}}) {
    SCOPED_TRACE(c.id);
    auto env = envs::make_env(c.id, 5);
    env->reset(1);
    std::vector<std::int32_t> ok(5, 1);
    env->step(envs::ActionBatch::discrete(ok.data(), 5));  // one valid step first: counters at 1

    const Snapshot before = snapshot(*env);
    std::vector<std::int32_t> too_large{0, 1, 0, c.num_actions, 1};
    std::string what = message_of<std::out_of_range>([&] { env->step(envs::ActionBatch::discrete(too_large.data(), 5)); });
    EXPECT_TRUE(contains(what, "lane 3")) << what;
    EXPECT_TRUE(contains(what, std::to_string(c.num_actions))) << what;
    EXPECT_TRUE(contains(what, c.id)) << what;
    expect_unchanged(before, *env);

    std::vector<std::int32_t> negative{0, 0, -7, 1, 1};
    what = message_of<std::out_of_range>([&] { env->step(envs::ActionBatch::discrete(negative.data(), 5)); });
    EXPECT_TRUE(contains(what, "lane 2")) << what;
    EXPECT_TRUE(contains(what, "-7")) << what;
    expect_unchanged(before, *env);

    std::vector<std::int32_t> huge{1000000, 0, 0, 0, 0};
    what = message_of<std::out_of_range>([&] { env->step(envs::ActionBatch::discrete(huge.data(), 5)); });
    EXPECT_TRUE(contains(what, "lane 0")) << what;
    EXPECT_TRUE(contains(what, "1000000")) << what;
    expect_unchanged(before, *env);

    // The env still works, and the refused steps did not count.
    env->step(envs::ActionBatch::discrete(ok.data(), 5));
    envs::HostBatch b;
    env->copy_to_host(b);
    EXPECT_EQ(b.elapsed, std::vector<std::int32_t>(5, 2));
  }
}

TEST(Validation, EveryValidDiscreteActionIsAccepted) {
  for (const auto& [id, n] : std::vector<std::pair<std::string, std::int32_t>>{
           {"CartPole-v1", 2}, {"Acrobot-v1", 3}, {"MountainCar-v0", 3}}) {
    auto env = envs::make_env(id, n);
    env->reset(2);
    std::vector<std::int32_t> actions(static_cast<std::size_t>(n));
    for (std::int32_t a = 0; a < n; ++a) actions[static_cast<std::size_t>(a)] = a;
    EXPECT_NO_THROW(env->step(envs::ActionBatch::discrete(actions.data(), n))) << id;
  }
}

// --- shape, dtype, data, device -----------------------------------------------------------------

TEST(Validation, WrongShapeNamesTheExpectedShape) {
  for (const auto& id : kIds) {
    SCOPED_TRACE(id);
    auto env = envs::make_env(id, 4);
    env->reset(3);
    const Snapshot before = snapshot(*env);
    const bool discrete = env->spec().action_space.is_discrete();
    const envs::DType dtype = discrete ? envs::DType::kInt32 : envs::DType::kFloat32;
    std::vector<std::int32_t> ints(16, 0);
    std::vector<float> floats(16, 0.0f);
    const void* data = discrete ? static_cast<const void*>(ints.data()) : static_cast<const void*>(floats.data());
    for (const auto& [rows, cols] :
         std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 1}, {5, 1}, {0, 1}, {4, 2}, {4, 0}, {2, 2}}) {
      const envs::ActionBatch batch{data, dtype, rows, cols, envs::Device::kCpu};
      const std::string what = message_of<std::invalid_argument>([&] { env->step(batch); });
      EXPECT_TRUE(contains(what, "4, 1")) << "rows " << rows << " cols " << cols << ": " << what;
      expect_unchanged(before, *env);
    }
  }
}

TEST(Validation, WrongDtypeIsRefused) {
  auto cartpole = envs::make_env("CartPole-v1", 2);
  cartpole->reset(1);
  std::vector<float> floats{0.0f, 1.0f};
  std::string what =
      message_of<std::invalid_argument>([&] { cartpole->step(envs::ActionBatch::continuous(floats.data(), 2, 1)); });
  EXPECT_TRUE(contains(what, "int32")) << what;

  auto pendulum = envs::make_env("Pendulum-v1", 2);
  pendulum->reset(1);
  const Snapshot before = snapshot(*pendulum);
  std::vector<std::int32_t> ints{0, 1};
  what = message_of<std::invalid_argument>([&] { pendulum->step(envs::ActionBatch::discrete(ints.data(), 2)); });
  EXPECT_TRUE(contains(what, "float32")) << what;
  expect_unchanged(before, *pendulum);
}

TEST(Validation, NullDataIsRefused) {
  for (const auto& id : kIds) {
    auto env = envs::make_env(id, 3);
    env->reset(1);
    const Snapshot before = snapshot(*env);
    envs::ActionBatch batch = env->spec().action_space.is_discrete()
                                  ? envs::ActionBatch::discrete(nullptr, 3)
                                  : envs::ActionBatch::continuous(nullptr, 3, 1);
    const std::string what = message_of<std::invalid_argument>([&] { env->step(batch); });
    EXPECT_TRUE(contains(what, id)) << what;
    expect_unchanged(before, *env);
  }
}

TEST(Validation, ActionsOnAnotherDeviceAreRefused) {
  auto env = envs::make_env("CartPole-v1", 2);
  env->reset(1);
  std::vector<std::int32_t> actions{0, 1};
  const std::string what = message_of<std::invalid_argument>(
      [&] { env->step(envs::ActionBatch::discrete(actions.data(), 2, envs::Device::kCuda)); });
  EXPECT_TRUE(contains(what, "cuda")) << what;
}

// --- continuous actions -------------------------------------------------------------------------

TEST(Validation, NonFiniteContinuousActionsAreRefused) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::string id : {"MountainCarContinuous-v0", "Pendulum-v1"}) {
    SCOPED_TRACE(id);
    auto env = envs::make_env(id, 4);
    env->reset(8);
    const Snapshot before = snapshot(*env);
    for (float bad : {nan, inf, -inf}) {
      std::vector<float> actions{0.1f, -0.2f, bad, 0.3f};
      const std::string what =
          message_of<std::out_of_range>([&] { env->step(envs::ActionBatch::continuous(actions.data(), 4, 1)); });
      EXPECT_TRUE(contains(what, "lane 2")) << what;
      expect_unchanged(before, *env);
    }
    std::vector<float> first_bad{nan, 0.0f, 0.0f, nan};
    const std::string what =
        message_of<std::out_of_range>([&] { env->step(envs::ActionBatch::continuous(first_bad.data(), 4, 1)); });
    EXPECT_TRUE(contains(what, "lane 0")) << what;
    expect_unchanged(before, *env);
  }
}

// Gymnasium clips the force to [-1, 1] but charges the action given: reward -= 0.1 * action^2.
TEST(Validation, MountainCarContinuousClipsTheForceNotTheCost) {
  auto env = envs::make_env("MountainCarContinuous-v0", 4);
  env->reset(1);
  // Every lane in the same state, well away from the goal.
  std::vector<float> states;
  for (int lane = 0; lane < 4; ++lane) states.insert(states.end(), {-0.5f, 0.01f});
  env->set_states(states);
  std::vector<float> actions{5.0f, 1.0f, -5.0f, -1.0f};
  env->step(envs::ActionBatch::continuous(actions.data(), 4, 1));
  envs::HostBatch b;
  env->copy_to_host(b);
  const std::vector<float> after = env->get_states();
  EXPECT_EQ(after[0], after[2]) << "position under 5.0 and 1.0";
  EXPECT_EQ(after[1], after[3]) << "velocity under 5.0 and 1.0";
  EXPECT_EQ(after[4], after[6]) << "position under -5.0 and -1.0";
  EXPECT_EQ(after[5], after[7]) << "velocity under -5.0 and -1.0";
  EXPECT_NE(after[1], after[5]) << "pushing right and left must differ";
  EXPECT_EQ(b.terminated, (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(b.reward[0], -0.1f * 25.0f);
  EXPECT_FLOAT_EQ(b.reward[1], -0.1f);
  EXPECT_FLOAT_EQ(b.reward[2], -0.1f * 25.0f);
  EXPECT_FLOAT_EQ(b.reward[3], -0.1f);
}

// Gymnasium clips the torque to [-max_torque, max_torque] before both the dynamics and the cost.
TEST(Validation, PendulumClipsTheTorqueForMotionAndCost) {
  auto env = envs::make_env("Pendulum-v1", 4);
  env->reset(1);
  const float theta = 0.3f, theta_dot = -0.5f;
  std::vector<float> states;
  for (int lane = 0; lane < 4; ++lane) states.insert(states.end(), {theta, theta_dot});
  env->set_states(states);
  std::vector<float> actions{10.0f, 2.0f, -10.0f, -2.0f};
  env->step(envs::ActionBatch::continuous(actions.data(), 4, 1));
  envs::HostBatch b;
  env->copy_to_host(b);
  const std::vector<float> after = env->get_states();
  EXPECT_EQ(after[0], after[2]);
  EXPECT_EQ(after[1], after[3]);
  EXPECT_EQ(after[4], after[6]);
  EXPECT_EQ(after[5], after[7]);
  EXPECT_NE(after[1], after[5]);
  EXPECT_EQ(b.reward[0], b.reward[1]);
  EXPECT_EQ(b.reward[2], b.reward[3]);
  // The cost of the clipped torque (2^2), not of the torque given (10^2).
  const double cost = theta * theta + 0.1 * theta_dot * theta_dot + 0.001 * 4.0;
  EXPECT_NEAR(b.reward[0], -cost, 1e-5);
  EXPECT_NEAR(b.reward[2], -cost, 1e-5);

  // With a larger max_torque, 10 is within the limit and moves the pendulum further than 2.
  auto strong = envs::make_env("Pendulum-v1", 2, envs::Device::kCpu, {{"max_torque", 20.0}});
  strong->reset(1);
  strong->set_states({theta, theta_dot, theta, theta_dot});
  std::vector<float> two{10.0f, 2.0f};
  strong->step(envs::ActionBatch::continuous(two.data(), 2, 1));
  const std::vector<float> strong_after = strong->get_states();
  EXPECT_GT(strong_after[1], strong_after[3]);
  EXPECT_EQ(strong_after[3], after[3]) << "torque 2 within both limits moves alike";
}

// --- ids, options, num_envs, device -------------------------------------------------------------

TEST(Validation, UnknownIdListsTheRegisteredIds) {
  for (const std::string bad : {"CartPole-v0", "", "cartpole-v1"}) {
    std::string what = message_of<std::invalid_argument>([&] { envs::make_env(bad, 1); });
    EXPECT_TRUE(contains(what, "'" + bad + "'")) << what;
    for (const auto& id : kIds) EXPECT_TRUE(contains(what, id)) << what;
    what = message_of<std::invalid_argument>([&] { envs::env_spec(bad); });
    for (const auto& id : kIds) EXPECT_TRUE(contains(what, id)) << what;
  }
}

TEST(Validation, UnknownOptionIsNamedWithTheValidOnes) {
  std::string what = message_of<std::invalid_argument>(
      [&] { envs::make_env("CartPole-v1", 1, envs::Device::kCpu, {{"gravityy", 9.8}}); });
  EXPECT_TRUE(contains(what, "gravityy")) << what;
  for (const char* valid : {"gravity", "masscart", "masspole", "length", "force_mag", "tau", "max_episode_steps"})
    EXPECT_TRUE(contains(what, valid)) << valid << " missing from: " << what;

  // Options of one env are not options of another.
  what = message_of<std::invalid_argument>([&] { envs::env_spec("Pendulum-v1", {{"masspole", 1.0}}); });
  EXPECT_TRUE(contains(what, "masspole")) << what;
  EXPECT_TRUE(contains(what, "max_speed")) << what;
  EXPECT_TRUE(contains(what, "Pendulum-v1")) << what;
}

TEST(Validation, OptionOutOfRangeGivesTheRange) {
  struct Case {
    std::string id, option;
    double value;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Case& c : {Case{"CartPole-v1", "masspole", -1.0}, Case{"CartPole-v1", "length", 0.0},
                        Case{"Pendulum-v1", "m", 0.0}, Case{"Pendulum-v1", "dt", 5.0},
                        Case{"Acrobot-v1", "link_mass_1", -2.0}, Case{"CartPole-v1", "gravity", nan},
                        Case{"MountainCar-v0", "force", std::numeric_limits<double>::infinity()}}) {
    SCOPED_TRACE(c.id + " " + c.option);
    const envs::EnvOptions options{{c.option, c.value}};
    std::string what = message_of<std::invalid_argument>([&] { envs::make_env(c.id, 1, envs::Device::kCpu, options); });
    EXPECT_TRUE(contains(what, "'" + c.option + "'")) << what;
    EXPECT_TRUE(contains(what, "range")) << what;
    EXPECT_TRUE(contains(what, c.id)) << what;
    what = message_of<std::invalid_argument>([&] { envs::env_spec(c.id, options); });
    EXPECT_TRUE(contains(what, "'" + c.option + "'")) << what;
  }
  // Masses and lengths must stay positive: the range shown is open at 0.
  std::string what = message_of<std::invalid_argument>(
      [&] { envs::make_env("CartPole-v1", 1, envs::Device::kCpu, {{"masspole", -1.0}}); });
  EXPECT_TRUE(contains(what, "-1")) << what;
  EXPECT_TRUE(contains(what, "(0, ")) << what;
  what = message_of<std::invalid_argument>([&] { envs::make_env("Pendulum-v1", 1, envs::Device::kCpu, {{"m", 0.0}}); });
  EXPECT_TRUE(contains(what, "(0, ")) << what;
  // A value in range is accepted.
  EXPECT_NO_THROW(envs::make_env("CartPole-v1", 1, envs::Device::kCpu, {{"masspole", 0.5}}));
  EXPECT_NO_THROW(envs::make_env("Pendulum-v1", 1, envs::Device::kCpu, {{"m", 2.0}}));
}

// A positive option value so small that it becomes 0 as a float would break the physics that the
// open range (0, high] protects: it must be refused, or at least give a working env.
TEST(Validation, PositiveOptionsStayPositiveAsFloats) {
  struct Case {
    std::string id, option;
  };
  for (const Case& c : {Case{"CartPole-v1", "length"}, Case{"CartPole-v1", "masscart"},
                        Case{"Acrobot-v1", "link_moi"}}) {
    SCOPED_TRACE(c.id + " " + c.option + " = 1e-50");
    std::unique_ptr<envs::VecEnv> env;
    try {
      env = envs::make_env(c.id, 2, envs::Device::kCpu, {{c.option, 1e-50}});
    } catch (const std::invalid_argument&) {
      continue;  // refused: fine
    }
    env->reset(1);
    std::vector<std::int32_t> actions{0, 1};
    env->step(envs::ActionBatch::discrete(actions.data(), 2));
    envs::HostBatch b;
    env->copy_to_host(b);
    for (float v : b.obs) EXPECT_TRUE(std::isfinite(v)) << "accepted, but the env steps to " << v;
  }
}

TEST(Validation, MaxEpisodeStepsMustBeAPositiveWholeNumber) {
  for (double bad : {0.0, 2.5, -1.0, -500.0, 1e12, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(bad);
    for (const auto& id : kIds) {
      const envs::EnvOptions options{{"max_episode_steps", bad}};
      const std::string what =
          message_of<std::invalid_argument>([&] { envs::make_env(id, 1, envs::Device::kCpu, options); });
      EXPECT_TRUE(contains(what, "max_episode_steps")) << what;
      message_of<std::invalid_argument>([&] { envs::env_spec(id, options); });
    }
  }
  EXPECT_NO_THROW(envs::make_env("CartPole-v1", 1, envs::Device::kCpu, {{"max_episode_steps", 1}}));
}

TEST(Validation, NumEnvsAndThreadsMustBeValid) {
  for (std::int32_t bad : {0, -1, -1000}) {
    const std::string what = message_of<std::invalid_argument>([&] { envs::make_env("CartPole-v1", bad); });
    EXPECT_TRUE(contains(what, "num_envs")) << what;
  }
  envs::VecEnvConfig config;
  config.num_envs = 2;
  config.threads = -1;
  const std::string what = message_of<std::invalid_argument>([&] { envs::make_env("Acrobot-v1", config); });
  EXPECT_TRUE(contains(what, "threads")) << what;
}

TEST(Validation, CudaWithoutAGpuIsAClearError) {
  if (envs::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is available";
  for (const auto& id : kIds) {
    const std::string what = message_of<std::invalid_argument>([&] { envs::make_env(id, 4, envs::Device::kCuda); });
    EXPECT_TRUE(contains(what, "CUDA") || contains(what, "cuda")) << what;
    EXPECT_TRUE(contains(what, id)) << what;
  }
  EXPECT_EQ(envs::parse_device("cuda"), envs::Device::kCuda);
  EXPECT_EQ(envs::parse_device("cpu"), envs::Device::kCpu);
  const std::string what = message_of<std::invalid_argument>([&] { envs::parse_device("gpu"); });
  EXPECT_TRUE(contains(what, "gpu")) << what;
}

TEST(Validation, SetStatesChecksItsSize) {
  auto env = envs::make_env("CartPole-v1", 3);
  env->reset(1);
  const Snapshot before = snapshot(*env);
  const std::string what = message_of<std::invalid_argument>([&] { env->set_states(std::vector<float>(11, 0.0f)); });
  EXPECT_TRUE(contains(what, "11")) << what;
  expect_unchanged(before, *env);
}

}  // namespace

// A non-finite or far-off angle (only set_states can produce one) must not hang Acrobot's wrap.
TEST(Validation, AcrobotStepTerminatesOnNonFiniteAndHugeAngles) {
  auto env = apiary::envs::make_env("Acrobot-v1", 4);
  env->reset(1);
  const float inf = std::numeric_limits<float>::infinity();
  env->set_states({inf, 0, 0, 0, -inf, 0, 0, 0, 1e30f, 0, 0, 0, 1000.0f, 0, 0, 0});
  std::vector<std::int32_t> actions(4, 1);
  env->step(apiary::envs::ActionBatch::discrete(actions.data(), 4));  // returns at all: no endless loop
  const auto states = env->get_states();
  EXPECT_GE(states[12], -3.1416f);  // 1000 rad wraps into [-pi, pi]
  EXPECT_LE(states[12], 3.1416f);
}
