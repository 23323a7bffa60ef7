// The env checker (envs/env_checker.h): every bundled env and both examples pass every check; planted
// faults (NaN observations, observations out of bounds, a non-deterministic reset, a missing
// auto-reset, a throwing step) fail the check that covers them, naming the step and the lane.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
    EXPECT_TRUE(static_cast<bool>(Registry::global().at(id).row_probe)) << id << " has no row probe";
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

// observe() writing a float past its row lands in the next lane's observation: the guard values of the
// row probe name it, instead of the determinism check's "state shared between lanes".
TEST(EnvChecker, CatchesObserveWritingPastItsRow) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultObsOverrun-v0");
  const CheckResult& c = result(r, "observations");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message,
            "observe() wrote obs_row[2], past its row of 2 floats (after reset; kObsDim is 2): it overwrites the "
            "next lane's observation; make kObsDim, the observation space and observe() agree");
  EXPECT_EQ(result(r, "determinism").message.find("state shared between lanes"), std::string::npos) << summary(r);
}

TEST(EnvChecker, CatchesAnObservationElementNeverWritten) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultObsGap-v0");
  const CheckResult& c = result(r, "observations");
  EXPECT_FALSE(c.passed) << summary(r);
  EXPECT_EQ(c.message.rfind("observe() left obs_row[1] unwritten (after reset; kObsDim is 2)", 0), 0u) << c.message;
}

// The guide's env without parameters (no kParamFields, an empty Params) and without a time limit
// (kMaxEpisodeSteps 0) registers, passes every check, refuses every option but max_episode_steps,
// and never truncates.
TEST(EnvChecker, AnEnvWithoutParametersOrTimeLimitPasses) {
  load_plugin(PLUGIN_TEST_PLUGIN_FAULTS);
  const CheckReport r = check_env("FaultFineNoParams-v0");
  EXPECT_TRUE(r.ok()) << summary(r);
  EXPECT_EQ(env_spec("FaultFineNoParams-v0").max_episode_steps, 0);
  try {
    env_spec("FaultFineNoParams-v0", {{"gravity", 1.0}});
    ADD_FAILURE() << "an option of an env without parameters was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gravity"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("max_episode_steps"), std::string::npos) << e.what();
  }
  auto env = make_env("FaultFineNoParams-v0", 3);
  env->reset(5);
  std::vector<std::int32_t> actions(3, 1);
  HostBatch h;
  for (int t = 0; t < 300; ++t) {
    env->step(ActionBatch::discrete(actions.data(), 3));
    env->copy_to_host(h);
    for (int lane = 0; lane < 3; ++lane) ASSERT_EQ(h.truncated[static_cast<std::size_t>(lane)], 0) << t;
  }
  EXPECT_EQ(h.elapsed[0], 300);
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
