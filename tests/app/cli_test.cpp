// Runs the `apiary` program as a user would and checks what it prints, the exit status (0, 2 for
// usage and configuration errors, 1 otherwise) and the files it writes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/tensorboard.h"
#include "tests/common/cli.h"

namespace fs = std::filesystem;

namespace {

using apiary::testing::CmdResult;
using apiary::testing::parse_pairs;

CmdResult apiary(const std::string& args) { return apiary::testing::run_apiary(args); }

class Scratch : public apiary::testing::ScratchTest {
 protected:
  Scratch() : ScratchTest("apiary_cli_") {}
};

const char* kTinyPpo = R"(name: tiny
algo: ppo
seed: 3
total_steps: 4096
threads: 1
checkpoint_interval_steps: 2048
env: {id: CartPole-v1, num_envs: 4}
ppo: {rollout_steps: 64, update_epochs: 2, num_minibatches: 2}
eval: {interval_steps: 2048, episodes: 4, num_envs: 4}
)";

TEST(Cli, EnvsListsTheBundledEnvs) {
  const CmdResult r = apiary("envs");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* id : {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
                         "LunarLander-v3", "LunarLanderContinuous-v3", "BipedalWalker-v3", "BipedalWalkerHardcore-v3",
                         "CarRacing-v3", "MinAtar/Breakout-v0", "MinAtar/Breakout-v1", "MinAtar/Seaquest-v1"})
    EXPECT_NE(r.output.find(id), std::string::npos) << id;
  EXPECT_NE(r.output.find("Discrete(2)"), std::string::npos);
  EXPECT_NE(r.output.find("Box(-2.0, 2.0, (1,), float32)"), std::string::npos);
  EXPECT_NE(r.output.find("Box(0, 1, (10, 10, 10), uint8)"), std::string::npos) << "Seaquest's image";
  EXPECT_NE(r.output.find("sticky_action_prob"), std::string::npos) << "MinAtar's options";
  EXPECT_NE(r.output.find("Box(0, 255, (96, 96, 3), uint8)"), std::string::npos) << "CarRacing's picture";
  EXPECT_EQ(r.last_line(), "envs: 20");
}

TEST(Cli, RolloutReportsEpisodes) {
  const CmdResult r = apiary("rollout --env CartPole-v1 --num-envs 8 --steps 500 --seed 2");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_EQ(kv.at("env"), "CartPole-v1");
  EXPECT_EQ(kv.at("steps"), "4000");
  EXPECT_GT(std::stoi(kv.at("episodes")), 50);                 // random CartPole episodes last ~22 steps
  EXPECT_GT(std::stod(kv.at("mean_return")), 10.0);
  EXPECT_LT(std::stod(kv.at("mean_return")), 60.0);
}

TEST(Cli, BenchPrintsStepsPerSecondLast) {
  const CmdResult r = apiary("bench envs --env Pendulum-v1 --num-envs 64 --threads 1 --seconds 0.05 --repeats 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_EQ(r.last_line().rfind("steps_per_second:"), r.last_line().find("steps_per_second:"));
  EXPECT_GT(std::stod(kv.at("steps_per_second")), 1e5);
}

TEST(Cli, DoctorFindsAFastBlas) {
  const CmdResult r = apiary("doctor");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_GE(std::stoi(kv.at("cores")), 1);
  EXPECT_FALSE(kv.at("torch").empty());
  // The project installs OpenBLAS; the reference BLAS would make LibTorch about ten times slower.
  EXPECT_NE(kv.at("blas"), "reference") << r.output;
}

TEST(Cli, UsageErrorsExitWithTwoAndNameTheCulprit) {
  CmdResult r = apiary("rollout --env NoSuchEnv-v0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("NoSuchEnv-v0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CartPole-v1"), std::string::npos) << "the message lists the known ids: " << r.output;
  r = apiary("rollout --num-envs 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--num-envs"), std::string::npos) << r.output;
  r = apiary("rollout --option gravity");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("NAME=VALUE"), std::string::npos) << r.output;
  r = apiary("rollout --option masspole=-1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("masspole"), std::string::npos) << r.output;
  r = apiary("no-such-command");
  EXPECT_EQ(r.status, 2);
  r = apiary("train");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("CONFIG"), std::string::npos) << r.output;
}

TEST_F(Scratch, ConfigErrorsNameTheFileAndKey) {
  struct Case {
    std::string yaml, expect_key, expect_text;
  };
  const std::vector<Case> cases = {
      {"algo: ppo\nppo: {learnig_rate: 0.1}\n", "ppo.learnig_rate", "learning_rate"},  // suggests the real key
      {"total_steps: lots\n", "total_steps", "integer"},
      {"ppo: {clip_coef: -1}\n", "ppo.clip_coef", "range"},
      {"algo: a2c\n", "algo", "ppo"},
      {"env: {num_envs: [1, 2]}\n", "env.num_envs", ""},
      {"env: {id: CartPole-v1\n", "", "YAML"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string path = write("bad" + std::to_string(i++) + ".yaml", c.yaml + "out_dir: " + dir_.string() + "\n");
    const CmdResult r = apiary("train " + path);
    EXPECT_EQ(r.status, 2) << c.yaml << r.output;
    EXPECT_NE(r.output.find(path), std::string::npos) << "names the file: " << r.output;
    EXPECT_NE(r.output.find(c.expect_key), std::string::npos) << "names the key: " << r.output;
    EXPECT_NE(r.output.find(c.expect_text), std::string::npos) << r.output;
  }
  // Unknown env option, --set errors and impossible combinations are refused before any work.
  const std::string good = write("good.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  CmdResult r = apiary("train " + good + " --set ppo.nope=1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("ppo.nope"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--set"), std::string::npos) << r.output;
  r = apiary("train " + good + " --set env.options={gravity: -3}");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("gravity"), std::string::npos) << r.output;
  r = apiary("train " + good + " --set algo=dqn --set env.id=Pendulum-v1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("Pendulum-v1"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "tiny")) << "nothing is written for a refused config";
}

TEST_F(Scratch, TrainWritesTheRunFolderAndEvalReadsItsCheckpoint) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const CmdResult r = apiary("train " + config);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_EQ(kv.at("steps"), "4096");
  EXPECT_TRUE(kv.count("eval_mean_return"));
  EXPECT_GT(std::stod(kv.at("wall_seconds")), 0.0);
  const fs::path run = dir_ / "tiny";
  for (const char* f : {"config.yaml", "metrics.csv", "train.log", "checkpoints/latest.pt", "checkpoints/best.pt"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  // TensorBoard reads the event file: records framed with valid CRCs, scalars by tag.
  bool found_eval = false, found_return = false;
  for (const auto& entry : fs::directory_iterator(run)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
    for (const auto& e : apiary::core::read_event_file(entry.path().string())) {
      found_eval |= e.tag == "eval/mean_return";
      found_return |= e.tag == "charts/episodic_return";
    }
  }
  EXPECT_TRUE(found_eval);
  EXPECT_TRUE(found_return);
  // A second run with the same name gets its own folder: nothing is overwritten.
  ASSERT_EQ(apiary("train " + config + " --set total_steps=256 --quiet").status, 0);
  EXPECT_TRUE(fs::exists(dir_ / "tiny_2" / "config.yaml"));

  const CmdResult e = apiary("eval " + (run / "checkpoints" / "latest.pt").string() + " --episodes 5");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_EQ(e.last_line().rfind("mean_return: ", 0), 0u) << e.last_line();
  EXPECT_NE(e.last_line().find(" std: "), std::string::npos);

  const std::string junk = write("junk.pt", "not a checkpoint");
  const CmdResult bad = apiary("eval " + junk);
  EXPECT_EQ(bad.status, 2);  // a checkpoint of a wrong format is bad input (issue 11)
  EXPECT_NE(bad.output.find(junk), std::string::npos) << bad.output;
}

// Metrics rows as text, without the columns that measure time.
std::vector<std::string> metric_rows(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> columns;
  std::stringstream header(line);
  for (std::string c; std::getline(header, c, ',');) columns.push_back(c);
  std::vector<std::string> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell, kept;
    for (std::size_t i = 0; std::getline(ss, cell, ','); ++i) {
      const std::string& c = columns[i];
      if (c.find("seconds") != std::string::npos || c == "steps_per_second") continue;
      kept += c + "=" + cell + ",";
    }
    rows.push_back(kept);
  }
  return rows;
}

TEST_F(Scratch, ResumeContinuesExactly) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  ASSERT_EQ(apiary("train " + config + " --quiet --set name=straight").status, 0);
  const CmdResult first = apiary("train " + config + " --quiet --set name=resumed --session-steps 2048");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_EQ(parse_pairs(first.last_line()).at("steps"), "2048");
  const CmdResult second = apiary("train --resume " + (dir_ / "resumed").string() + " --quiet");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_EQ(parse_pairs(second.last_line()).at("steps"), "4096");
  const auto straight = metric_rows(dir_ / "straight" / "metrics.csv");
  const auto resumed = metric_rows(dir_ / "resumed" / "metrics.csv");
  ASSERT_GT(straight.size(), 4u);
  EXPECT_EQ(straight, resumed) << "losses, returns and counters continue as if never stopped";
  const CmdResult ea = apiary("eval " + (dir_ / "straight" / "checkpoints" / "latest.pt").string() + " --episodes 8");
  const CmdResult eb = apiary("eval " + (dir_ / "resumed" / "checkpoints" / "latest.pt").string() + " --episodes 8");
  EXPECT_EQ(ea.last_line(), eb.last_line());
  // --resume of a folder that is not a run is refused.
  const CmdResult bad = apiary("train --resume " + dir_.string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("config.yaml"), std::string::npos) << bad.output;
}

}  // namespace

namespace {

// A recurrent policy's run (an LSTM on CartPole without velocities): a resumed session continues
// exactly as the uninterrupted run (the lanes' memory is in the checkpoint), eval and play take its
// checkpoint, it trains with actor processes (data-parallel ranks: RecurrentPpo.UpdatesDataParallelRanksAndResume),
// and what cannot carry a core's state is refused naming policy.recurrent.
TEST_F(Scratch, RecurrentRunsResumeExactlyAndRunWithActorProcesses) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n" +
                                   "policy: {hidden_sizes: [16], recurrent: {cell: lstm, hidden: 16}}\n");
  const std::string nov = " --set env.options.observe_velocity=0";
  ASSERT_EQ(apiary("train " + config + nov + " --quiet --set name=straight").status, 0);
  const CmdResult first = apiary("train " + config + nov + " --quiet --set name=resumed --session-steps 2048");
  ASSERT_EQ(first.status, 0) << first.output;
  const CmdResult second = apiary("train --resume " + (dir_ / "resumed").string() + " --quiet");
  ASSERT_EQ(second.status, 0) << second.output;
  const auto straight = metric_rows(dir_ / "straight" / "metrics.csv");
  ASSERT_GT(straight.size(), 4u);
  EXPECT_EQ(straight, metric_rows(dir_ / "resumed" / "metrics.csv")) << "the lanes' memory continues too";
  const std::string checkpoint = (dir_ / "straight" / "checkpoints" / "latest.pt").string();
  const CmdResult eval = apiary("eval " + checkpoint + " --episodes 4");
  ASSERT_EQ(eval.status, 0) << eval.output;
  const CmdResult play = apiary("play --checkpoint " + checkpoint + " --headless --episodes 1");
  ASSERT_EQ(play.status, 0) << play.output;

  const CmdResult spread = apiary("train " + config + nov + " --quiet --set name=spread --set actors.count=1" +
                                  " --set total_steps=2048 --set eval.interval_steps=0");
  ASSERT_EQ(spread.status, 0) << spread.output;
  EXPECT_GE(std::stoll(parse_pairs(spread.last_line()).at("steps")), 2048) << spread.last_line();
  // Every chunk of the actor processes passed the gate, which checks that the episode starts follow
  // the done flags and that a lane beginning an episode carries a zero memory into it.
  EXPECT_NE(spread.output.find(" chunks_rejected 0 "), std::string::npos) << spread.output;
  EXPECT_EQ(spread.output.find("transport_chunks 0 "), std::string::npos) << spread.output;

  for (const auto& [set, named] : {std::pair<std::string, std::string>{" --set algo=dqn", "algo dqn has no recurrent"},
                                   {" --set learner.world_size=2 --set learner.pipeline_stages=2", "pipeline"}}) {
    const CmdResult refused = apiary("train " + config + set + " --set name=refused");
    EXPECT_EQ(refused.status, 2) << set << "\n" << refused.output;
    EXPECT_NE(refused.output.find("policy.recurrent"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find(named), std::string::npos) << refused.output;
  }
}

// stop.mean_return ends the run at the first evaluation that reaches it; the summary says when.
TEST_F(Scratch, StopMeanReturnEndsTheRunAtTheFirstEvaluationReachingIt) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const CmdResult r = apiary("train " + config + " --quiet --set stop.mean_return=1");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_EQ(kv.at("steps"), "2048");  // the first evaluation, at eval.interval_steps
  EXPECT_EQ(kv.at("solved_steps"), "2048");
  EXPECT_GE(std::stod(kv.at("eval_mean_return")), 1.0);
  // Unreachable: the run goes to total_steps and reports no solve.
  const CmdResult full = apiary("train " + config + " --quiet --set stop.mean_return=1e9 --set name=full");
  ASSERT_EQ(full.status, 0) << full.output;
  EXPECT_EQ(parse_pairs(full.last_line()).at("steps"), "4096");
  EXPECT_EQ(parse_pairs(full.last_line()).at("solved_steps"), "-1");
}

}  // namespace

namespace {

// The shipped configs learn: PPO with a Gaussian policy on Pendulum-v1 and the default `make run`
// config on CartPole-v1, each within seconds on one core.
TEST_F(Scratch, ShippedConfigsLearnContinuousAndDiscreteControl) {
  const std::string configs = std::string(APIARY_SOURCE_DIR) + "/configs/";
  CmdResult r = apiary("train " + configs + "pendulum_ppo.yaml --quiet --set out_dir=" + dir_.string() +
                       " --set stop.mean_return=-400");
  ASSERT_EQ(r.status, 0) << r.output;
  auto kv = parse_pairs(r.last_line());
  EXPECT_GE(std::stod(kv.at("best_eval_mean_return")), -400.0) << r.last_line();  // random policy: about -1200
  EXPECT_NE(kv.at("solved_steps"), "-1");
  r = apiary("train " + configs + "cartpole_ppo.yaml --quiet --set out_dir=" + dir_.string());
  ASSERT_EQ(r.status, 0) << r.output;
  kv = parse_pairs(r.last_line());
  EXPECT_GE(std::stod(kv.at("best_eval_mean_return")), 475.0) << r.last_line();
}

}  // namespace

namespace {

// Every shipped Box2D config parses and trains: a short session of each (2048 steps, one tiny
// evaluation) exits 0 and reports the env it was written for.
TEST_F(Scratch, ShippedBox2DConfigsRun) {
  const std::string configs = std::string(APIARY_SOURCE_DIR) + "/configs/";
  const std::pair<const char*, const char*> cases[] = {{"lunarlander_ppo", "LunarLander-v3"},
                                                       {"lunarlander_dqn", "LunarLander-v3"},
                                                       {"lunarlandercontinuous_ppo", "LunarLanderContinuous-v3"},
                                                       {"bipedalwalker_ppo", "BipedalWalker-v3"}};
  for (const auto& [name, id] : cases) {
    const CmdResult r = apiary("train " + configs + name + ".yaml --quiet --set out_dir=" + dir_.string() +
                               " --set total_steps=2048 --set eval.interval_steps=0 --set eval.episodes=2" +
                               " --set eval.num_envs=2 --set env.options.max_episode_steps=200");
    ASSERT_EQ(r.status, 0) << name << "\n" << r.output;
    const auto kv = parse_pairs(r.last_line());
    EXPECT_GE(std::stoll(kv.at("steps")), 2048) << name;
    std::ifstream config(kv.at("run_dir") + "/config.yaml");
    std::stringstream text;
    text << config.rdbuf();
    EXPECT_NE(text.str().find(id), std::string::npos) << name << " trains " << id;
  }
}

// The pixel config (CarRacing-v3's 96x96 frames, 4 stacked, the Nature CNN) trains as shipped, in
// miniature: a CNN PPO update on uint8 frames through the whole program.
TEST_F(Scratch, ShippedCarRacingConfigTrains) {
  const CmdResult r = apiary("train " + std::string(APIARY_SOURCE_DIR) + "/configs/carracing_ppo.yaml --quiet --set out_dir=" +
                             dir_.string() + " --set total_steps=128 --set env.num_envs=2 --set ppo.rollout_steps=64" +
                             " --set ppo.num_minibatches=2 --set ppo.update_epochs=1 --set eval.interval_steps=0" +
                             " --set eval.episodes=1 --set eval.num_envs=1 --set eval.background=false" +
                             " --set env.options.max_episode_steps=40");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_EQ(std::stoll(kv.at("steps")), 128);
  EXPECT_TRUE(std::isfinite(std::stod(kv.at("eval_mean_return")))) << r.output;
}

}  // namespace

namespace {

// An unknown command is named, with the closest one and the list; no command at all says so.
TEST(Cli, UnknownCommandsAreNamedWithTheCommandsThereAre) {
  CmdResult r = apiary("fooo");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("unknown command 'fooo'; commands: envs, rollout, bench, doctor, train, eval")) << r.output;
  EXPECT_TRUE(r.has("config")) << r.output;
  EXPECT_FALSE(r.has("A subcommand is required")) << r.output;
  r = apiary("trian configs/cartpole_ppo.yaml");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("unknown command 'trian' (did you mean 'train'?)")) << r.output;
  r = apiary("");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("a command is required; commands: envs, rollout")) << r.output;
  EXPECT_EQ(apiary("--version").status, 0);
}

// Numbers on the command line are held to ranges as config keys are: refused with the flag, the
// value and the range (exit status 2), never taken as a default or left to fail later.
TEST_F(Scratch, CommandLineNumbersAreRangeChecked) {
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"rollout --num-envs 100000000", "--num-envs: value 100000000 is out of range [1, 16777216]"},
      {"rollout --num-envs -3", "--num-envs: value -3 is out of range [1, 16777216]"},
      {"rollout --threads -1", "--threads: value -1 is out of range [0, 1024]"},
      {"rollout --steps 0", "--steps: value 0 is out of range [1, 1e+12]"},
      {"rollout --option gravity=nan", "--option gravity: 'nan' is not a finite number"},
      {"bench envs --seconds nan", "--seconds: value nan is not a number"},
      {"bench envs --repeats 0", "--repeats: value 0 is out of range [1, 1000]"},
      {"check-env CartPole-v1 --num-envs 0", "--num-envs: value 0 is out of range [1, 16777216]"},
      {"check-env CartPole-v1 --steps 1", "--steps: value 1 is out of range [2, 1000000000]"},
      {"play --env CartPole-v1 --headless --fps 0", "--fps: value 0 is out of range (0, 1000]"},
      {"play --env CartPole-v1 --headless --episodes -2", "--episodes: value -2 is out of range [0, 16777216]"},
      {"play --env CartPole-v1 --headless --episodes 0", "--headless needs --episodes N (N >= 1) or --max-steps N"},
      {"plot x -o y.png --width 10", "--width: value 10 is out of range [320, 8192]"},
      {"train x.yaml --session-steps -1", "--session-steps: value -1 is out of range [0, inf)"},
      {"actor --connect tcp://127.0.0.1:1 --id -7", "--id: value -7 is out of range [-1, 1048576]"},
  };
  for (const Case& c : cases) {
    const CmdResult r = apiary(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(r.has(c.expect)) << c.args << "\n" << r.output;
  }
  // eval checks its numbers before it opens the checkpoint: -5 lanes is not "the default".
  const std::string ckpt = write("none.pt", "not read");
  CmdResult r = apiary("eval " + ckpt + " --num-envs -5");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--num-envs: value -5 is out of range [0, 16777216]")) << r.output;
  r = apiary("eval " + ckpt + " --num-envs 100000000");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("out of range [0, 16777216]")) << r.output;
  r = apiary("eval " + ckpt + " --episodes -1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--episodes: value -1 is out of range")) << r.output;
}

// Config files that are empty, folders, not mappings, NaN where a number is needed, or a config whose
// env id, env options or actor settings are impossible: refused naming the file and the key, before
// any run folder exists.
TEST_F(Scratch, BadConfigsAreRefusedNamingFileAndKeyBeforeAnyFolder) {
  const std::string out = "out_dir: " + dir_.string() + "\nname: refused\n";
  struct Case {
    std::string name, yaml, expect;
  };
  const std::vector<Case> cases = {
      {"empty.yaml", "", "the config file is empty"},
      {"comments.yaml", "# nothing yet\n", "the config file is empty"},
      {"list.yaml", "- env\n", "expected a mapping of keys at the top level"},
      {"nan.yaml", out + "stop: {mean_return: .nan}\n", "stop.mean_return: value nan is not a number"},
      {"nan_option.yaml", out + "env: {id: CartPole-v1, options: {gravity: .nan}}\n",
       "env.options.gravity: value nan is not a number"},
      {"unknown_env.yaml", out + "env: {id: NoSuchEnv-v0}\n", "env.id: unknown environment id 'NoSuchEnv-v0'"},
      {"bad_option.yaml", out + "env: {id: LunarLander-v3, options: {gravity: -20}}\n", "env.options: "},
      {"unknown_option.yaml", out + "env: {id: CartPole-v1, options: {gravty: 9}}\n", "env.options: "},
      {"bind.yaml", out + "learner: {bind: 'tcp://0.0.0.0:5999'}\n", "learner.bind: tcp://0.0.0.0:5999 is not loopback"},
      {"nstep.yaml", out + "algo: dqn\ndqn: {n_step: 3}\nactors: {count: 1}\n", "dqn.n_step"},
  };
  for (const Case& c : cases) {
    const std::string path = write(c.name, c.yaml);
    const CmdResult r = apiary("train " + path + " --quiet");
    EXPECT_EQ(r.status, 2) << c.name << "\n" << r.output;
    EXPECT_TRUE(r.has(path)) << "names the file: " << r.output;
    EXPECT_TRUE(r.has(c.expect)) << c.name << "\n" << r.output;
  }
  const CmdResult folder = apiary("train " + dir_.string());
  EXPECT_EQ(folder.status, 2) << folder.output;
  EXPECT_TRUE(folder.has(dir_.string() + ": is a folder, not a config file")) << folder.output;
  // A billion-laughs config is refused at once with a message, not after gigabytes.
  const std::string laughs = std::string(APIARY_SOURCE_DIR) + "/tests/core/malformed_configs/billion_laughs.yaml";
  const auto start = std::chrono::steady_clock::now();
  const CmdResult bomb = apiary("train " + laughs);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_EQ(bomb.status, 2) << bomb.output;
  EXPECT_TRUE(bomb.has("more than 100000 values after expanding its aliases")) << bomb.output;
  EXPECT_FALSE(fs::exists(dir_ / "refused")) << "nothing is created for a refused config";
}

// `apiary config`: every key with its type, default, range and description, from the parser's own
// declarations; with a CONFIG, the values it resolves to.
TEST_F(Scratch, ConfigListsEveryKeyAndTheValuesAFileResolvesTo) {
  CmdResult r = apiary("config");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* part : {"ppo.learning_rate", "(0, 1]", "Adam step size", "env.num_envs", "[1, 16777216]",
                           "stop.mean_return", ".inf", "one of: dqn, ppo, sac", "actors.max_policy_lag"})
    EXPECT_TRUE(r.has(part)) << part;
  const auto kv = parse_pairs(r.last_line());
  EXPECT_GT(std::stoi(kv.at("keys")), 60);

  const std::string cfg = write("c.yaml", "algo: ppo\nppo: {learning_rate: 0.001}\nenv: {num_envs: 4}\n");
  r = apiary("config " + cfg + " --set seed=9");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("0.001 *")) << r.output;
  EXPECT_TRUE(r.has("9 *")) << r.output;
  const auto resolved = parse_pairs(r.last_line());
  EXPECT_EQ(resolved.at("changed"), "3");
  EXPECT_EQ(resolved.at("config"), cfg);

  r = apiary("config " + write("bad.yaml", "ppo: {learning_rate: 7}\n"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("ppo.learning_rate: value 7 is out of range (0, 1]")) << r.output;

  r = apiary("train --help");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("apiary config")) << r.output;
}

// docs/configs.md is what `apiary config --markdown` prints today.
TEST_F(Scratch, DocsConfigsMdIsCurrent) {
  const fs::path generated = dir_ / "configs.md";
  const CmdResult r = apiary("config --markdown -o " + generated.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string doc = apiary::testing::read_text(fs::path(APIARY_SOURCE_DIR) / "docs" / "configs.md");
  const std::string now = apiary::testing::read_text(generated);
  EXPECT_NE(now.find("| `ppo.learning_rate` | double | `0.00025` | (0, 1] | Adam step size |"), std::string::npos)
      << now;
  EXPECT_TRUE(doc == now) << "docs/configs.md is stale: regenerate it with\n"
                          << "  build/apiary config --markdown -o docs/configs.md";
}

}  // namespace

namespace {

// `apiary bench learner` times PPO's update for the network it is given: the parameter count and the
// FLOPs per update follow from the shapes (obs 8, hidden 32,32, 4 actions, actor and critic:
// 2853 parameters; 2720 multiply-adds a row, x2 x3 x64 rows), and its flags are range-checked.
TEST(Cli, BenchLearnerTimesTheUpdateOfTheNetworkItIsGiven) {
  CmdResult r = apiary("bench learner --hidden 32,32 --obs-dim 8 --actions 4 --batch 64 --seconds 0.05 --repeats 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("2853 parameters; batch 64; fp32 on cpu")) << r.output;
  EXPECT_TRUE(r.has("flops_per_update: 1.044e+06")) << r.output;
  const auto at = r.output.find("updates_per_second: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_GT(std::stod(r.output.substr(at + 20)), 10.0) << r.output;
  r = apiary("bench learner --hidden 64,0");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--hidden: value 0 is out of range")) << r.output;
  r = apiary("bench learner --precision fp64");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("fp64")) << r.output;
  r = apiary("bench learner --device tpu --seconds 0.01 --repeats 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--device: 'tpu' is not a device")) << r.output;
  // The algorithm comes from the registry: one without an update benchmark, or none of that name.
  r = apiary("bench learner --algo dqn --seconds 0.01 --repeats 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--algo dqn: no update benchmark for this algorithm (offered: ppo)")) << r.output;
  r = apiary("bench learner --algo nope --seconds 0.01 --repeats 1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("--algo: 'nope' is not a registered algorithm")) << r.output;
}

}  // namespace

namespace {

// env.in_place: the policy reads the env's buffers in place (the GPU path, here with host pointers).
// The run is the copying path's, update for update: the same losses, returns and evaluations.
TEST_F(Scratch, InPlaceTrainingIsTheCopyingPathsRunUpdateForUpdate) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  for (const char* env : {"CartPole-v1", "Pendulum-v1"}) {
    const std::string base = std::string(" --quiet --set env.id=") + env;
    const CmdResult a = apiary("train " + config + base + " --set name=copied_" + env + " --set env.in_place=false");
    const CmdResult b = apiary("train " + config + base + " --set name=in_place_" + env + " --set env.in_place=true");
    ASSERT_EQ(a.status, 0) << a.output;
    ASSERT_EQ(b.status, 0) << b.output;
    const auto copied = metric_rows(dir_ / (std::string("copied_") + env) / "metrics.csv");
    const auto in_place = metric_rows(dir_ / (std::string("in_place_") + env) / "metrics.csv");
    ASSERT_GT(copied.size(), 4u) << env;
    EXPECT_EQ(copied, in_place) << env;
    EXPECT_NE(apiary::testing::read_text(dir_ / (std::string("in_place_") + env) / "config.yaml").find("in_place: true"), std::string::npos);
  }
}

// env.num_envs: auto takes one lane per core on the CPU, says so in the log, and the run's config
// records the number (a resumed run, or an actor process, gets the same lanes).
TEST_F(Scratch, NumEnvsAutoTakesALanePerCoreAndTheRunRecordsTheNumber) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const CmdResult r = apiary("train " + config + " --quiet --set name=auto --set env.num_envs=auto --set total_steps=512");
  ASSERT_EQ(r.status, 0) << r.output;
  const CmdResult doctor = apiary("doctor");
  const auto kv = parse_pairs(doctor.last_line());
  const std::string cores = kv.at("cores");
  const std::string saved = apiary::testing::read_text(dir_ / "auto" / "config.yaml");
  EXPECT_NE(saved.find("\n  num_envs: " + cores + "  #"), std::string::npos) << saved;
  EXPECT_EQ(saved.find("num_envs: auto"), std::string::npos) << saved;
  const std::string log = apiary::testing::read_text(dir_ / "auto" / "train.log");
  EXPECT_NE(log.find("env on cpu (env.device auto: "), std::string::npos) << log;
  EXPECT_NE(log.find(", " + cores + " lanes (env.num_envs auto: one per core)"), std::string::npos) << log;
  // 0 is not a count, and words other than auto are not either.
  for (const std::string& bad : {std::string("0"), std::string("many"), std::string("-3")}) {
    const CmdResult refused = apiary("train " + config + " --quiet --set name=bad --set env.num_envs=" + bad);
    EXPECT_EQ(refused.status, 2) << refused.output;
    EXPECT_TRUE(refused.has("env.num_envs")) << refused.output;
    EXPECT_TRUE(refused.has("or auto, got '" + bad + "'")) << refused.output;
  }
}

// device: cuda without a LibTorch that has CUDA, or without a GPU, is refused saying which is missing
// (exit status 2); env.device: cuda likewise names what it lacks. Where LibTorch sees a GPU, the
// same command trains.
TEST_F(Scratch, GpuPlacementIsRefusedNamingWhatIsMissing) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const bool torch_gpu = apiary("doctor").has("LibTorch CUDA: available");
  const CmdResult cuda = apiary("train " + config + " --quiet --set name=gpu --set device=cuda --set total_steps=512");
  if (torch_gpu) {
    EXPECT_EQ(cuda.status, 0) << cuda.output;
    EXPECT_NE(apiary::testing::read_text(dir_ / "gpu" / "train.log").find("device cuda (as configured)"), std::string::npos);
  } else {
    std::printf("LibTorch sees no GPU here: device: cuda must be refused\n");
    EXPECT_EQ(cuda.status, 2) << cuda.output;
    EXPECT_TRUE(cuda.has("device: cuda, but this LibTorch") || cuda.has("device: cuda, but no GPU is visible"))
        << cuda.output;
    EXPECT_TRUE(cuda.has("has no CUDA support") || cuda.has("it has CUDA support")) << "says which: " << cuda.output;
    EXPECT_FALSE(fs::exists(dir_ / "gpu"));
  }
  // A GPU env is read in place by a policy on the GPU: with device: cpu it is refused whatever the machine.
  const CmdResult env_cuda = apiary("train " + config + " --quiet --set name=env_gpu --set device=cpu --set env.device=cuda");
  EXPECT_EQ(env_cuda.status, 2) << env_cuda.output;
  EXPECT_TRUE(env_cuda.has("env.device: cuda, but ")) << env_cuda.output;
  EXPECT_TRUE(env_cuda.has("no CUDA env back end") || env_cuda.has("sees no GPU") || env_cuda.has("the policy is on cpu"))
      << env_cuda.output;
  // auto settles on the CPU for a learner on the CPU and says why.
  const CmdResult env_auto = apiary("train " + config + " --quiet --set name=env_auto --set device=cpu --set env.device=auto --set total_steps=512");
  ASSERT_EQ(env_auto.status, 0) << env_auto.output;
  EXPECT_NE(apiary::testing::read_text(dir_ / "env_auto" / "train.log").find("env on cpu (env.device auto: the learner is on the CPU)"),
            std::string::npos);
  EXPECT_NE(apiary::testing::read_text(dir_ / "env_auto" / "config.yaml").find("\n  device: \"cpu\"  # where the lanes step"), std::string::npos)
      << "the run's config records the pick";
}

}  // namespace

namespace {

// eval.background: evaluations play a copy of the policy on their own thread while training goes on.
// They report what evaluations in the foreground do, at the same steps (only their rows' places in
// metrics.csv may differ), best.pt holds the evaluated policy, and stop.mean_return still ends the run
// at the first evaluation that reaches it, naming that evaluation's step.
TEST_F(Scratch, BackgroundEvaluationsReportWhatForegroundOnesDo) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const CmdResult fg = apiary("train " + config + " --quiet --set name=fg --set total_steps=8192");
  const CmdResult bg = apiary("train " + config + " --quiet --set name=bg --set total_steps=8192 --set eval.background=true");
  ASSERT_EQ(fg.status, 0) << fg.output;
  ASSERT_EQ(bg.status, 0) << bg.output;
  auto sorted_rows = [](const fs::path& csv) {
    auto rows = metric_rows(csv);
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  const auto a = sorted_rows(dir_ / "fg" / "metrics.csv");
  const auto b = sorted_rows(dir_ / "bg" / "metrics.csv");
  const auto evals = std::count_if(a.begin(), a.end(), [](const std::string& r) {
    return r.find("eval_mean_return=,") == std::string::npos && r.find("eval_mean_return=") != std::string::npos;
  });
  EXPECT_EQ(evals, 4) << "evaluations at 2048, 4096, 6144 and 8192";
  EXPECT_EQ(a, b) << "the same training rows and the same evaluations at the same steps";
  EXPECT_EQ(parse_pairs(fg.last_line()).at("best_eval_mean_return"), parse_pairs(bg.last_line()).at("best_eval_mean_return"));
  const CmdResult ea = apiary("eval " + (dir_ / "fg" / "checkpoints" / "best.pt").string() + " --episodes 8");
  const CmdResult eb = apiary("eval " + (dir_ / "bg" / "checkpoints" / "best.pt").string() + " --episodes 8");
  ASSERT_EQ(eb.status, 0) << eb.output;
  EXPECT_EQ(ea.last_line(), eb.last_line()) << "best.pt holds the evaluated policy, not a later one";

  // The stop: a threshold every evaluation reaches ends the run at the first, named by its step.
  const CmdResult stop = apiary("train " + config + " --quiet --set name=stop --set total_steps=8192 "
                                "--set eval.background=true --set stop.mean_return=1");
  ASSERT_EQ(stop.status, 0) << stop.output;
  const auto kv = parse_pairs(stop.last_line());
  EXPECT_EQ(kv.at("solved_steps"), "2048");
  EXPECT_LT(std::stoll(kv.at("steps")), 8192) << "the run ended early";
}

// An evaluation that falls due while the one before still plays is postponed, not skipped, and does
// not hold training up: here each evaluation (400 one-lane CartPole episodes) lasts many intervals of
// training (512 steps). Every evaluation the foreground run makes is still made, at the same step and
// with the same result; some result is taken two or more intervals after its step (waiting, as before
// postponement, would have taken it at the next one); and none waits more than the queue allows
// (4 postponed snapshots: 5 intervals).
TEST_F(Scratch, BackgroundEvaluationsThatFallDueWhileOnePlaysArePostponed) {
  const std::string config = write("tiny.yaml", std::string(kTinyPpo) + "out_dir: " + dir_.string() + "\n");
  const std::string slow = " --quiet --set total_steps=6144 --set eval.interval_steps=512 --set eval.episodes=400"
                           " --set eval.num_envs=1 --set checkpoint_interval_steps=0";
  const CmdResult fg = apiary("train " + config + slow + " --set name=fg");
  const CmdResult bg = apiary("train " + config + slow + " --set name=bg --set eval.background=true");
  ASSERT_EQ(fg.status, 0) << fg.output;
  ASSERT_EQ(bg.status, 0) << bg.output;
  auto eval_rows = [](const fs::path& csv) {
    std::vector<std::string> evals;
    for (const std::string& r : metric_rows(csv))
      if (r.find("eval_mean_return=,") == std::string::npos && r.find("eval_mean_return=") != std::string::npos)
        evals.push_back(r);
    std::sort(evals.begin(), evals.end());
    return evals;
  };
  const auto a = eval_rows(dir_ / "fg" / "metrics.csv");
  EXPECT_EQ(a.size(), 12u) << "evaluations every 512 steps to 6144";
  EXPECT_EQ(a, eval_rows(dir_ / "bg" / "metrics.csv")) << "the same evaluations at the same steps";

  // "eval step S ... (in the background, taken at step T)" in the run's log.
  const std::string log = apiary::testing::read_text(dir_ / "bg" / "train.log");
  static const std::regex re("eval step ([0-9]+) .*taken at step ([0-9]+)\\)");
  std::int64_t most_late = 0;
  int taken = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it, ++taken) {
    const std::int64_t late = std::stoll((*it)[2].str()) - std::stoll((*it)[1].str());
    EXPECT_LE(late, 5 * 512) << "a result waited longer than 4 postponed evaluations allow\n" << log;
    most_late = std::max(most_late, late);
  }
  EXPECT_GT(taken, 0) << log;
  EXPECT_GE(most_late, 2 * 512) << "no evaluation was postponed behind a playing one\n" << log;
}

}  // namespace
