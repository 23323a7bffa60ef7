// The env checker (envs/env_checker.h): every bundled env and both examples pass every check; planted
// faults (NaN observations, observations out of bounds, a non-deterministic reset, a missing
// auto-reset, a throwing step) fail the check that covers them, naming the step and the lane.
#include <gtest/gtest.h>

#include <string>

#include "envs/env_checker.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"

namespace apiary::envs {
namespace {

std::string summary(const CheckReport& r) {
  std::string s;
  for (const auto& c : r.checks) s += "  " + c.name + (c.passed ? " ok " : " FAIL ") + c.message + "\n";
  return r.env_id + ":\n" + s;
}

const CheckResult& result(const CheckReport& r, const std::string& name) {
  for (const auto& c : r.checks)
    if (c.name == name) return c;
  throw std::out_of_range("no check " + name);
}

TEST(EnvChecker, EveryBundledEnvPasses) {
  int checked = 0;
  for (const auto& id : Registry::global().ids()) {
    if (Registry::global().at(id).origin != "builtin") continue;
    const CheckReport r = check_env(id);
    EXPECT_TRUE(r.ok()) << summary(r);
    EXPECT_EQ(r.checks.size(), 9u);
    ++checked;
  }
  EXPECT_GE(checked, 9);
}

// Many lanes of random actions spin some landers past a full turn: LunarLander's angle leaves its
// declared +-2 pi as in Gymnasium, which the spec declares (EnvSpec::unbounded_obs), so it still passes.
TEST(EnvChecker, LunarLanderPassesWithManyLanes) {
  CheckOptions options;
  options.num_envs = 64;
  const CheckReport r = check_env("LunarLander-v3", options);
  EXPECT_TRUE(r.ok()) << summary(r);
}

TEST(EnvChecker, TheExamplesPass) {
  load_plugin(PLUGIN_EXAMPLE_GRIDWORLD);
  load_plugin(PLUGIN_EXAMPLE_REACHER);
  for (const char* id : {"GridWorld-v0", "PointReacher-v0"}) {
    const CheckReport r = check_env(id);
    EXPECT_TRUE(r.ok()) << summary(r);
  }
}

TEST(EnvChecker, TheControlEnvPasses) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultFine-v0");
  EXPECT_TRUE(r.ok()) << summary(r);
}

TEST(EnvChecker, CatchesNanObservations) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultNanObs-v0");
  const CheckResult& c = result(r, "observations");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message, "step 7 lane 0: obs[0] = nan is not finite");
  EXPECT_TRUE(result(r, "determinism").passed) << summary(r);
}

TEST(EnvChecker, CatchesObservationsOutOfBounds) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultBounds-v0");
  const CheckResult& c = result(r, "observations");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message, "step 6 lane 0: obs[0] = 1.2 is outside the observation space [0, 1]");
}

TEST(EnvChecker, CatchesANonDeterministicReset) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultNondetReset-v0");
  const CheckResult& c = result(r, "determinism");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message.rfind("reset lane 0: the same seed gave another reset observation", 0), 0u) << c.message;
  EXPECT_TRUE(result(r, "observations").passed) << summary(r);
}

TEST(EnvChecker, CatchesAMissingAutoReset) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultNoAutoReset-v0");
  const CheckResult& c = result(r, "auto_reset");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message.rfind("step 5 lane 0: the episode ended (terminated) but the lane was not reset", 0), 0u)
      << c.message;
}

TEST(EnvChecker, NamesTheLaneOfAThrowingStep) {
  load_plugin(PLUGIN_TEST_PLUGIN_WALK);
  CheckOptions options;
  options.options = {{"throw_lane", 3}, {"throw_after", 10}};
  const CheckReport r = check_env("PluginWalk-v0", options);
  EXPECT_FALSE(r.ok());
  const CheckResult& c = result(r, "observations");
  EXPECT_NE(c.message.find("PluginWalk-v0: lane 3: the walker fell off the plugin"), std::string::npos) << c.message;
}

TEST(EnvChecker, SeedingNeedsRandomnessUnlessAllowed) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  CheckReport r = check_env("FaultNoRandom-v0");
  EXPECT_FALSE(result(r, "seeding").passed) << summary(r);
  EXPECT_EQ(result(r, "seeding").message.rfind("seeds 1 and 2 gave the same 500 steps on every lane", 0), 0u)
      << summary(r);
  EXPECT_EQ(r.failed(), 1) << summary(r);
  CheckOptions options;
  options.allow_deterministic = true;
  r = check_env("FaultNoRandom-v0", options);
  EXPECT_TRUE(r.ok()) << summary(r);
}

}  // namespace
}  // namespace apiary::envs
