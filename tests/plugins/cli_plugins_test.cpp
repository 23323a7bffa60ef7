// `--plugin` (envs, rollout, bench, check-env, train, eval, play) and `check-env` through the `apiary`
// program as a user runs it: exit status 2 and a message naming the plugin for every refusal; status 1
// naming the plugin, env id and lane for a throwing step during training (its checkpoints stay, and
// eval reloads the plugin from the run's config); check-env's report of planted faults.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/version.h"
#include "tests/common/cli.h"
#include "test_paths.h"

namespace fs = std::filesystem;

namespace {

using plugin_test::canonical;

using apiary::testing::CmdResult;

CmdResult apiary(const std::string& args, const std::string& cwd = "") {
  return apiary::testing::run_apiary(args, "", cwd);
}

std::string plugin(const char* path) { return " --plugin " + std::string(path); }

class PluginCli : public apiary::testing::ScratchTest {
 protected:
  PluginCli() : ScratchTest("apiary_plugin_cli_") {}
};

TEST_F(PluginCli, EnvsListsAPluginsIdsWithItsPath) {
  const CmdResult r = apiary("envs" + plugin(PLUGIN_EXAMPLE_GRIDWORLD));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("GridWorld-v0\n  observation_space: Box(0.0, 1.0, (4,), float32)")) << r.output;
  EXPECT_TRUE(r.has("  origin:            " + canonical(PLUGIN_EXAMPLE_GRIDWORLD))) << r.output;
  EXPECT_TRUE(r.has("  origin:            builtin")) << r.output;
}

TEST_F(PluginCli, RolloutAndBenchTakeThePluginFlag) {
  CmdResult r = apiary("rollout --env GridWorld-v0 --num-envs 8 --steps 200 --seed 2" + plugin(PLUGIN_EXAMPLE_GRIDWORLD));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("episodes:")) << r.output;
  r = apiary("bench envs --env PointReacher-v0 --num-envs 64 --threads 1 --seconds 0.05 --repeats 1" +
             plugin(PLUGIN_EXAMPLE_REACHER));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("env: PointReacher-v0")) << r.output;
  // Without the flag the id is unknown: a usage error.
  r = apiary("rollout --env GridWorld-v0 --steps 10");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("unknown environment id 'GridWorld-v0'")) << r.output;
}

TEST_F(PluginCli, EveryRefusalExitsWithTwoNamingThePlugin) {
  CmdResult r = apiary("envs --plugin /nonexistent/libnothing.so");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("plugin /nonexistent/libnothing.so: no such file")) << r.output;

  r = apiary("envs" + plugin(PLUGIN_TEST_PLUGIN_OTHER_VERSION));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has(canonical(PLUGIN_TEST_PLUGIN_OTHER_VERSION) + ": built against Apiary 0.0.0-test, but this is Apiary " +
                    apiary::kVersion))
      << r.output;

  r = apiary("check-env CartPole-v1" + plugin(PLUGIN_TEST_PLUGIN_NO_REGISTER));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("exports no apiary_plugin_register")) << r.output;

  r = apiary("rollout --env CartPole-v1 --steps 10" + plugin(PLUGIN_TEST_PLUGIN_DUPLICATE_BUILTIN));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("environment id 'CartPole-v1' is already registered by builtin")) << r.output;

  r = apiary("envs" + plugin(PLUGIN_TEST_PLUGIN_WALK) + plugin(PLUGIN_TEST_PLUGIN_DUPLICATE));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("'PluginWalk-v0' is already registered by " + canonical(PLUGIN_TEST_PLUGIN_WALK))) << r.output;

  const std::string cfg = write("walk.yaml", "env: {id: PluginWalk-v0, plugins: [/nonexistent/libwalk.so]}\n");
  r = apiary("train " + cfg + " --quiet");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has(cfg + ": env.plugins: plugin /nonexistent/libwalk.so: no such file")) << r.output;
}

TEST_F(PluginCli, CheckEnvPassesABundledEnvAndAnExample) {
  CmdResult r = apiary("check-env CartPole-v1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("env: CartPole-v1 checks: 9 failed: 0 steps:")) << r.output;
  r = apiary("check-env PointReacher-v0 --num-envs 3 --steps 120" + plugin(PLUGIN_EXAMPLE_REACHER));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("  ok    snapshot")) << r.output;
  EXPECT_TRUE(r.has("env: PointReacher-v0 checks: 9 failed: 0")) << r.output;
}

TEST_F(PluginCli, CheckEnvNamesTheFailingCheckStepAndLane) {
  CmdResult r = apiary("check-env FaultNanObs-v0" + plugin(PLUGIN_TEST_PLUGIN_FAULTS));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(r.has("  FAIL  observations step 7 lane 0: obs[0] = nan is not finite")) << r.output;
  EXPECT_TRUE(r.has("env: FaultNanObs-v0 checks: 9 failed:")) << r.output;
  EXPECT_TRUE(r.has("check-env: FaultNanObs-v0 failed")) << r.output;

  r = apiary("check-env FaultNoAutoReset-v0" + plugin(PLUGIN_TEST_PLUGIN_FAULTS));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(r.has("  FAIL  auto_reset   step 5 lane 0: the episode ended (terminated)")) << r.output;

  r = apiary("check-env FaultObsOverrun-v0" + plugin(PLUGIN_TEST_PLUGIN_FAULTS));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(r.has("  FAIL  observations observe() wrote obs_row[2], past its row of 2 floats")) << r.output;
  EXPECT_FALSE(r.has("state shared between lanes")) << r.output;

  r = apiary("check-env NoSuchEnv-v0");
  EXPECT_EQ(r.status, 2) << r.output;
}

// A spec of Discrete(4) against kNumActions 3 never reaches a step (where "action 3 is outside
// Discrete(4)" would contradict itself): the plugin is refused, naming both.
TEST_F(PluginCli, ASpecThatDisagreesWithItsSizesIsRefusedNamingBoth) {
  const CmdResult r = apiary("check-env MismatchActions-v0" + plugin(PLUGIN_TEST_PLUGIN_ACTION_MISMATCH));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has(canonical(PLUGIN_TEST_PLUGIN_ACTION_MISMATCH))) << r.output;
  EXPECT_TRUE(r.has("the spec's action space is Discrete(4), but kNumActions is 3")) << r.output;
  EXPECT_FALSE(r.has("is outside Discrete(4)")) << r.output;
}

TEST_F(PluginCli, PlayDrawsAPluginEnv) {
  const fs::path frames = dir_ / "frames";
  const CmdResult r = apiary("play --env PointReacher-v0 --headless --episodes 1 --record " + frames.string() +
                             plugin(PLUGIN_EXAMPLE_REACHER));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("env: PointReacher-v0 episodes: 1")) << r.output;
  EXPECT_TRUE(fs::exists(frames / "frame_000050.png")) << r.output;  // 50 steps and the first frame
}

// A tiny PPO run on the walk plugin whose lane 2 throws after 60 steps: checkpoints every 64 env steps
// (4 lanes) are written before that.
const char* kThrowingRun = R"(name: walk
algo: ppo
seed: 3
total_steps: 4096
threads: 1
checkpoint_interval_steps: 64
eval: {interval_steps: 0, episodes: 2, num_envs: 2}
env: {id: PluginWalk-v0, num_envs: 4, options: {throw_lane: 2, throw_after: 60}}
ppo: {rollout_steps: 16, update_epochs: 1, num_minibatches: 1}
)";

TEST_F(PluginCli, AThrowingStepEndsTheRunButKeepsItsCheckpoints) {
  const std::string cfg = write("walk.yaml", std::string(kThrowingRun) + "out_dir: " + (dir_ / "runs").string() + "\n");
  // A relative --plugin path, as a user types it.
  const fs::path walk = fs::path(PLUGIN_TEST_PLUGIN_WALK);
  CmdResult r = apiary("train " + cfg + " --quiet --plugin ./" + walk.filename().string(), walk.parent_path().string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(r.has("plugin " + canonical(PLUGIN_TEST_PLUGIN_WALK) + ": PluginWalk-v0: lane 2: the walker fell off")) << r.output;
  const fs::path run = dir_ / "runs" / "walk";
  ASSERT_TRUE(fs::exists(run / "checkpoints" / "latest.pt")) << r.output;
  // The run's config names the plugin by its absolute path, so eval finds it from anywhere.
  std::ifstream in(run / "config.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("plugins: [\"" + walk.string() + "\"]"), std::string::npos) << text.str();
  r = apiary("eval " + (run / "checkpoints" / "latest.pt").string() + " --episodes 2 --num-envs 2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("PluginWalk-v0: 2 episodes")) << r.output;
}

TEST_F(PluginCli, ResumeFindsThePluginInTheRunsConfig) {
  const std::string cfg = write("grid.yaml", "name: grid\nalgo: ppo\nthreads: 1\ntotal_steps: 2048\n"
                                             "eval: {interval_steps: 0, episodes: 4, num_envs: 4}\n"
                                             "env: {id: GridWorld-v0, num_envs: 4}\n"
                                             "ppo: {rollout_steps: 64, update_epochs: 1, num_minibatches: 1}\n"
                                             "out_dir: " + (dir_ / "runs").string() + "\n");
  CmdResult r = apiary("train " + cfg + " --quiet --session-steps 1024" + plugin(PLUGIN_EXAMPLE_GRIDWORLD));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("steps: 1024")) << r.output;
  r = apiary("train --resume " + (dir_ / "runs" / "grid").string() + " --quiet");  // no --plugin
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("steps: 2048")) << r.output;
}

}  // namespace
