// The zoo shipped in zoo/ (runner/zoo.h): every entry of zoo/index.tsv is a small checkpoint that loads,
// whose stored config names the env and algorithm the index gives and whose weights fit the network
// that config describes; zoo/README.md lists every entry; `zoo:NAME` and `zoo:ENV_ID` resolve next to
// the program whatever the working directory; `zoo:ENV_ID` picks by algorithm or by evaluation; and the
// entries whose evaluations lie closest to their thresholds still reach them on an evaluation seed that
// was not among those that scored them for the index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/config.h"
#include "envs/registry.h"
#include "runner/checkpoint.h"
#include "runner/train.h"
#include "runner/zoo.h"
#include "tests/common/cli.h"

namespace apiary::runner {
namespace {

namespace fs = std::filesystem;
const fs::path kZoo = fs::path(APIARY_SOURCE_DIR) / "zoo";

class Zoo : public testing::ScratchTest {
 protected:
  Zoo() : ScratchTest("apiary_zoo_") { ::setenv("APIARY_ZOO_DIR", kZoo.c_str(), 1); }
  ~Zoo() override { ::unsetenv("APIARY_ZOO_DIR"); }
};

TEST_F(Zoo, EveryEntryLoadsAndFitsItsConfig) {
  const auto entries = zoo_entries();
  ASSERT_GE(entries.size(), 8u) << "zoo/index.tsv lists too few entries (bash bench/zoo.sh build regenerates them)";
  std::stringstream readme;
  readme << std::ifstream(kZoo / "README.md").rdbuf();
  for (const ZooEntry& e : entries) {
    SCOPED_TRACE(e.name);
    ASSERT_TRUE(fs::exists(e.path)) << e.path;
    const LoadedPolicy loaded = load_policy(e.path);  // throws when weights and config disagree
    // Weights and the config only: the policy network's float32 tensors (PPO's holds its critic) and 64 KB
    // for the rest (no optimizer, target networks or replay). Tens of kilobytes for the classic envs, ~300 KB
    // for Box2D's networks, 1.3-2.6 MB for MinAtar's 256x256 MLPs on 400-1000 inputs.
    std::uintmax_t tensor_bytes = 0;
    for (const auto& t : loaded.policy->module().parameters()) tensor_bytes += t.numel() * sizeof(float);
    for (const auto& t : loaded.policy->module().buffers()) tensor_bytes += t.numel() * sizeof(float);
    EXPECT_LT(fs::file_size(e.path), tensor_bytes + 64u * 1024u) << e.path << ": more than its policy's weights";
    EXPECT_EQ(loaded.config.env.id, e.env_id);
    EXPECT_EQ(loaded.config.algo, e.algo);
    EXPECT_EQ(loaded.spec.id, e.env_id);
    EXPECT_TRUE(fs::exists(fs::path(APIARY_SOURCE_DIR) / "configs" / (e.name + ".yaml")))
        << "a zoo entry is named after the config it was trained from";
    EXPECT_NE(readme.str().find("| " + e.name + " | " + e.env_id + " |"), std::string::npos)
        << "zoo/README.md does not list " << e.name;
  }
  // zoo:NAME and zoo:ENV_ID name entries; an unknown one is refused naming it.
  EXPECT_EQ(fs::path(resolve_checkpoint("zoo:cartpole_ppo")), kZoo / "cartpole_ppo.pt");
  EXPECT_EQ(load_policy(resolve_checkpoint("zoo:CartPole-v1")).config.env.id, "CartPole-v1");
  try {
    resolve_checkpoint("zoo:no_such_entry");
    FAIL() << "zoo:no_such_entry resolved";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_entry"), std::string::npos) << e.what();
  }
}

// The program finds the zoo next to itself (build/zoo), not in the working directory: eval of a zoo
// entry from an unrelated folder, without APIARY_ZOO_DIR, reaches CartPole's threshold.
TEST_F(Zoo, AnEntryEvaluatedFromAnotherFolderReachesItsThreshold) {
  ::unsetenv("APIARY_ZOO_DIR");
  const testing::CmdResult r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 20 --seed 99", "", dir_.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto at = r.output.find("mean_return: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const double mean = std::stod(r.output.substr(at + 13));
  EXPECT_GE(mean, *envs::env_spec("CartPole-v1").reward_threshold) << r.output;
}

// zoo:ENV_ID where the env has several entries: init.checkpoint takes the entry of the run's algorithm,
// eval and play the best by the index's evaluation; an algorithm with no entry is refused, listing the
// env's entries.
TEST_F(Zoo, AnEnvIdPicksTheEntryOfTheRunsAlgorithm) {
  EXPECT_EQ(fs::path(resolve_checkpoint("zoo:LunarLander-v3", "ppo")), kZoo / "lunarlander_ppo.pt");
  EXPECT_EQ(fs::path(resolve_checkpoint("zoo:LunarLander-v3", "dqn")), kZoo / "lunarlander_dqn.pt");
  const auto entries = zoo_entries();  // `best` points into it
  const ZooEntry* best = nullptr;
  for (const ZooEntry& e : entries)
    if (e.env_id == "LunarLander-v3" && (best == nullptr || e.mean_return > best->mean_return)) best = &e;
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(resolve_checkpoint("zoo:LunarLander-v3"), best->path);
  try {
    resolve_checkpoint("zoo:LunarLander-v3", "sac");
    FAIL() << "a sac run took a zoo entry of another algorithm";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no sac entry for LunarLander-v3"), std::string::npos) << what;
    EXPECT_NE(what.find("lunarlander_dqn (dqn)"), std::string::npos) << what;
    EXPECT_NE(what.find("lunarlander_ppo (ppo)"), std::string::npos) << what;
  }
  // Through the program, as the user ran it: a PPO run initialised from zoo:LunarLander-v3.
  const testing::CmdResult r = testing::run_apiary(
      "train " + (fs::path(APIARY_SOURCE_DIR) / "configs" / "lunarlander_ppo.yaml").string() +
      " --quiet --set init.checkpoint=zoo:LunarLander-v3 --set total_steps=2048 --set eval.episodes=1"
      " --set eval.num_envs=1 --set out_dir=" + dir_.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string log = testing::read_text(dir_ / "lunarlander_ppo" / "train.log");
  EXPECT_NE(log.find("lunarlander_ppo.pt"), std::string::npos) << log;
}

// `apiary eval --option`: the checkpoint's policy on a variant of its env. CartPole's pole falls out of
// bounds at once with x_threshold 0.05, so the trained policy's 500 drops far; a name the env does not
// have is refused naming it.
TEST_F(Zoo, EvalScoresAPolicyOnAnEnvVariant) {
  testing::CmdResult r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("mean_return: 500.000")) << r.output;
  r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 5 --option x_threshold=0.05");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto at = r.output.find("mean_return: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_LT(std::stod(r.output.substr(at + 13)), 100.0) << r.output;
  r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 5 --option no_such_parameter=1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("no_such_parameter")) << r.output;
  r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 5 --option x_threshold");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("expected NAME=VALUE")) << r.output;
}

// The zoo's index scores each entry on three evaluation seeds and keeps it only when all three reach
// the env's threshold (bench/zoo.sh). Here the entries that pass by the least margin, evaluated on a
// fourth seed, 99, that scored none of them, still reach it over 100 episodes.
TEST_F(Zoo, TheClosestEntriesReachTheirThresholdsOnAnUnseenSeed) {
  for (const char* name : {"mountaincarcontinuous_ppo", "acrobot_ppo", "mountaincar_dqn"}) {
    SCOPED_TRACE(name);
    const testing::CmdResult r = testing::run_apiary("eval zoo:" + std::string(name) + " --episodes 100 --seed 99");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto at = r.output.find("mean_return: ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const LoadedPolicy loaded = load_policy(resolve_checkpoint("zoo:" + std::string(name)));
    EXPECT_GE(std::stod(r.output.substr(at + 13)), *envs::env_spec(loaded.config.env.id).reward_threshold)
        << r.output;
  }
}

// Every shipped config that stops at a return judges it as the zoo does, over at least 100 evaluation
// episodes (issue 29: every time to solve in bench/RESULTS.md counts 100), so no figure rests on a lucky
// small evaluation. bipedalwalker_ppo judged 20 until the sixth session of 2026-12-07 found it: over 100,
// two of its three seeds never reach 300.
TEST_F(Zoo, EveryShippedThresholdIsJudgedOverAHundredEpisodes) {
  int judged = 0;
  for (const auto& file : fs::directory_iterator(fs::path(APIARY_SOURCE_DIR) / "configs")) {
    if (file.path().extension() != ".yaml") continue;
    learner::TrainConfig config;
    core::load_config(config, file.path().string());
    if (!std::isfinite(config.stop.mean_return)) continue;
    ++judged;
    EXPECT_GE(config.eval.episodes, 100) << file.path().filename().string() << " stops at "
                                         << config.stop.mean_return << " judged over " << config.eval.episodes;
  }
  EXPECT_GE(judged, 20) << "configs/ holds fewer configs with a threshold than it ships";
}

}  // namespace
}  // namespace apiary::runner
