// Transfer learning (runner/transfer.h) and freezing: what is copied bitwise and what stays a fresh
// initialisation, strict refusals, frozen parts that do not move until policy.freeze_steps, a discrete
// policy's trunk under a continuous head, and the `apiary` program's handling of init.checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/factory.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/dqn/dqn_config.h"
#include "learner/ppo/ppo_config.h"
#include "runner/checkpoint.h"
#include "runner/train.h"
#include "runner/transfer.h"
#include "tests/common/cli.h"

namespace apiary::runner {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;

class Transfer : public testing::ScratchTest {
 protected:
  Transfer() : ScratchTest("apiary_transfer_") {}

  // A short PPO run on `env`, returning its latest checkpoint.
  std::string trained(const std::string& env, const std::string& name, std::int64_t steps = 2048,
                      const std::string& encoder = "mlp") {
    TrainConfig config;
    config.policy.encoder = encoder;
    if (encoder != "mlp") {  // CleanRL's image agents: one network under both heads
      config.policy.hidden_sizes.clear();
      config.policy.shared_trunk = true;
    }
    config.env.id = env;
    shorten(config, name, steps);
    TrainOptions options;
    options.quiet = true;
    options.progress = false;
    const TrainResult r = train(config, options);
    return (fs::path(r.run_dir) / "checkpoints" / "latest.pt").string();
  }

  // A short run of `config` named `name` in the scratch folder: 4 lanes, `steps` env steps, one tiny
  // evaluation at the end.
  void shorten(TrainConfig& config, const std::string& name, std::int64_t steps) const {
    config.name = name;
    config.out_dir = (dir_ / "runs").string();
    config.env.num_envs = 4;
    config.total_steps = steps;
    config.section<learner::PpoConfig>("ppo").rollout_steps = 64;
    config.eval.episodes = 2;
    config.eval.num_envs = 2;
    config.eval.interval_steps = 0;
  }

  // The policy network a run of `algo` on `env` starts with, from `seed`.
  static std::shared_ptr<agents::Policy> fresh(const std::string& env, std::uint64_t seed, const std::string& algo = "ppo",
                                               const std::string& encoder = "mlp") {
    TrainConfig config;
    config.algo = algo;
    config.policy.encoder = encoder;
    if (encoder != "mlp") {  // CleanRL's image agents: one network under both heads
      config.policy.hidden_sizes.clear();
      config.policy.shared_trunk = true;
    }
    torch::manual_seed(seed);
    const envs::EnvSpec spec = envs::env_spec(env);
    return learner::find_algorithm(algo).make_behaviour_policy(config, spec);
  }
};

std::map<std::string, torch::Tensor> params_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

TEST_F(Transfer, CopiesExactlyTheMatchingTensorsAndLeavesTheRestFresh) {
  const std::string source_path = trained("CartPole-v1", "source");
  const LoadedPolicy source = load_policy(source_path);
  const auto source_params = params_of(source.policy->module());

  // Acrobot: 6 observations (the first layers differ) and 3 actions (the actor head differs).
  auto target = fresh("Acrobot-v1", 11);
  const auto untouched = params_of(fresh("Acrobot-v1", 11)->module());
  learner::InitSection init;
  init.checkpoint = source_path;
  const TransferReport report = load_init(init, source_path, target->module());
  const auto after = params_of(target->module());
  int loaded = 0, kept = 0;
  for (const auto& [name, value] : after) {
    const auto it = source_params.find(name);
    if (it != source_params.end() && it->second.sizes() == value.sizes()) {
      EXPECT_TRUE(torch::equal(value, it->second)) << name << " should be the checkpoint's, bitwise";
      ++loaded;
    } else {
      EXPECT_TRUE(torch::equal(value, untouched.at(name))) << name << " should keep the seed's initialisation";
      ++kept;
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(kept, 0);
  EXPECT_EQ(report.loaded.size(), static_cast<std::size_t>(loaded));
  EXPECT_NE(report.checkpoint_hash, 0u);
  bool listed = false;
  for (const auto& line : report.lines()) listed = listed || line.find("fresh  actor_body.0.weight") != std::string::npos;
  EXPECT_TRUE(listed) << "the log names every fresh parameter";
}

TEST_F(Transfer, StrictRefusesNamingTheParametersAndBothShapes) {
  const std::string source_path = trained("CartPole-v1", "source");
  auto target = fresh("Acrobot-v1", 3);
  const auto before = params_of(target->module());
  learner::InitSection init;
  init.strict = true;
  try {
    load_init(init, source_path, target->module());
    FAIL() << "strict init accepted a mismatch";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("actor_body.0.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("[64, 4]"), std::string::npos) << what;
    EXPECT_NE(what.find("[64, 6]"), std::string::npos) << what;
    EXPECT_NE(what.find(source_path), std::string::npos) << what;
  }
  for (const auto& [name, value] : params_of(target->module()))
    EXPECT_TRUE(torch::equal(value, before.at(name))) << "a refusal leaves " << name << " as it was";
}

TEST_F(Transfer, PartsSelectTrunkActorAndCritic) {
  EXPECT_TRUE(in_part("actor_body.0.weight", "trunk"));
  EXPECT_TRUE(in_part("obs_scaling.scale", "trunk"));  // the scaling travels with the trunk
  EXPECT_FALSE(in_part("actor_head.weight", "trunk"));
  EXPECT_TRUE(in_part("actor_head.weight", "actor"));
  EXPECT_TRUE(in_part("log_std", "actor"));
  EXPECT_FALSE(in_part("critic_head.weight", "actor"));
  EXPECT_TRUE(in_part("critic_body.2.bias", "critic"));
  EXPECT_TRUE(in_part("critic_body.2.bias", "critic_trunk"));
  EXPECT_FALSE(in_part("actor_body.2.bias", "critic_trunk"));
  EXPECT_TRUE(in_part("trunk.0.weight", "trunk"));  // DQN's and a shared trunk
  EXPECT_FALSE(in_part("q_head.weight", "trunk"));
  EXPECT_THROW(in_part("x", "wings"), std::invalid_argument);
}

TEST_F(Transfer, AnImageEncoderMovesBetweenMinAtarGamesWithPartsEncoder) {
  // Breakout and Asterix both observe (10, 10, 4): the MinAtar encoder fits both, the heads do not
  // (3 and 5 actions), and parts: encoder takes the encoder alone.
  const std::string source_path = trained("MinAtar/Breakout-v1", "breakout", 2048, "minatar");
  const auto source_params = params_of(load_policy(source_path).policy->module());
  auto target = fresh("MinAtar/Asterix-v1", 5, "ppo", "minatar");
  const auto untouched = params_of(fresh("MinAtar/Asterix-v1", 5, "ppo", "minatar")->module());
  learner::InitSection init;
  init.parts = "encoder";
  const TransferReport report = load_init(init, source_path, target->module());
  int encoders = 0;
  for (const auto& [name, value] : params_of(target->module())) {
    if (in_part(name, "encoder")) {
      ++encoders;
      EXPECT_TRUE(torch::equal(value, source_params.at(name))) << name << " is the Breakout policy's encoder";
      EXPECT_FALSE(torch::equal(value, untouched.at(name))) << name << " changed from its fresh initialisation";
    } else {
      EXPECT_TRUE(torch::equal(value, untouched.at(name))) << name << " is not in parts: encoder";
    }
  }
  EXPECT_EQ(encoders, 4) << "conv0 and fc, weight and bias, of the shared encoder";
  EXPECT_EQ(report.loaded.size(), 4u);
  EXPECT_TRUE(in_part("actor_encoder.conv0.weight", "encoder"));
  EXPECT_TRUE(in_part("actor_encoder.conv0.weight", "actor_trunk"));
  EXPECT_FALSE(in_part("critic_encoder.fc.bias", "actor"));
  EXPECT_FALSE(in_part("trunk.0.weight", "encoder"));
  // policy.freeze: [encoder] names exactly those parameters.
  EXPECT_EQ(frozen_names({"encoder"}, target->module()).size(), 4u);
}

// A recurrent core moves to a new head: an LSTM trained on CartPole without velocities (2 inputs)
// starts a Pendulum policy without velocities (2 inputs, a Gaussian head): init.parts: core takes the
// cores alone, trunk everything before the heads (hidden layers and cores); the heads stay fresh, and
// the run that starts from it trains.
TEST_F(Transfer, ARecurrentCoreMovesToANewHead) {
  const auto recurrent = [](TrainConfig& config, const std::string& env) {
    config.env.id = env;
    config.env.options["observe_velocity"] = 0.0;
    config.policy.hidden_sizes = {16};
    config.policy.recurrent.cell = "lstm";
    config.policy.recurrent.hidden = 16;
  };
  TrainConfig source;
  recurrent(source, "CartPole-v1");
  shorten(source, "cartpole_nov", 1024);
  TrainOptions options;
  options.quiet = true;
  options.progress = false;
  const std::string source_path = (fs::path(train(source, options).run_dir) / "checkpoints" / "latest.pt").string();
  const auto source_params = params_of(load_policy(source_path).policy->module());

  TrainConfig target_config;
  recurrent(target_config, "Pendulum-v1");
  const envs::EnvSpec pendulum = envs::env_spec("Pendulum-v1", target_config.env.options);
  for (const std::string parts : {"core", "trunk"}) {
    torch::manual_seed(5);
    auto target = learner::find_algorithm("ppo").make_behaviour_policy(target_config, pendulum);
    const auto untouched = params_of(target->module());
    learner::InitSection init;
    init.parts = parts;
    load_init(init, source_path, target->module());
    int taken = 0;
    for (const auto& [name, value] : params_of(target->module())) {
      const bool core = name.rfind("actor_core.", 0) == 0 || name.rfind("critic_core.", 0) == 0;
      const bool body = name.rfind("actor_body.", 0) == 0 || name.rfind("critic_body.", 0) == 0;
      if (core || (parts == "trunk" && body)) {
        ++taken;
        EXPECT_TRUE(torch::equal(value, source_params.at(name))) << parts << ": " << name << " is CartPole's";
      } else {
        EXPECT_TRUE(torch::equal(value, untouched.at(name))) << parts << ": " << name << " stays fresh";
      }
    }
    EXPECT_EQ(taken, parts == "core" ? 8 : 12) << parts;  // 2 cores x 4 tensors, + 2 bodies x 2
  }
  EXPECT_TRUE(in_part("core.lstm.weight_hh", "core"));
  EXPECT_TRUE(in_part("actor_core.gru.bias_ih", "actor"));
  EXPECT_FALSE(in_part("critic_core.gru.bias_ih", "actor"));
  EXPECT_TRUE(in_part("critic_core.gru.bias_ih", "critic_trunk"));
  EXPECT_FALSE(in_part("actor_body.0.weight", "core"));

  // A Pendulum run that starts from the core (and freezes it) trains with it unchanged.
  TrainConfig fine = target_config;
  shorten(fine, "pendulum_from_core", 512);
  fine.init.checkpoint = source_path;
  fine.init.parts = "core";
  fine.policy.freeze = {"core"};
  const TrainResult r = train(fine, options);
  EXPECT_GE(r.steps, 512);
  const auto tuned = params_of(load_policy((fs::path(r.run_dir) / "checkpoints" / "latest.pt").string()).policy->module());
  EXPECT_TRUE(torch::equal(tuned.at("actor_core.lstm.weight_hh"), source_params.at("actor_core.lstm.weight_hh")));
}

// A frozen trunk does not move under PPO or DQN updates; once unfrozen it does; frozen again, its Adam
// moments do not carry it on.
void check_freezing(const std::string& algo_name) {
  TrainConfig config;
  config.algo = algo_name;
  config.env.num_envs = 4;
  config.section<learner::DqnConfig>("dqn").learning_starts = 64;  // DQN learns from the start
  const envs::EnvSpec spec = envs::env_spec("CartPole-v1");
  torch::manual_seed(5);
  learner::AlgorithmInit init;
  init.config = config;
  init.spec = spec;
  auto algo = learner::make_algorithm(init);
  auto& module = algo->policy()->module();
  const auto names = frozen_names({"trunk"}, module);
  ASSERT_FALSE(names.empty());
  ASSERT_TRUE(algo->set_frozen([&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); }));
  const auto before = params_of(module);
  actors::ActorOptions options;
  options.record_log_probs = learner::find_algorithm(algo_name).chunk_log_probs;
  envs::VecEnvConfig ec;
  ec.num_envs = 4;
  actors::Actor actor(envs::make_env("CartPole-v1", ec), algo->policy(), options);
  actor.reset(1);
  std::int64_t steps = 0;
  int updates = 0;
  auto run = [&](int wanted) {
    for (int i = 0; updates < wanted && i < 5000; ++i) {
      const auto& chunk = actor.collect(learner::find_algorithm(algo_name).rollout_steps(config), {}, algo->policy_version());
      steps += chunk.env_steps();
      if (!algo->update(chunk, learner::UpdateContext{steps, 20000}).empty()) ++updates;
    }
  };
  run(3);
  ASSERT_GE(updates, 3) << algo_name;
  bool heads_moved = false;
  for (const auto& [name, value] : params_of(module)) {
    const bool frozen = std::find(names.begin(), names.end(), name) != names.end();
    if (frozen) EXPECT_TRUE(torch::equal(value, before.at(name))) << algo_name << ": frozen " << name << " moved";
    else heads_moved = heads_moved || !torch::equal(value, before.at(name));
  }
  EXPECT_TRUE(heads_moved) << algo_name << ": the unfrozen parameters should learn";
  algo->set_frozen([](const std::string&) { return false; });
  run(updates + 3);
  bool trunk_moved = false;
  for (const auto& n : names) trunk_moved = trunk_moved || !torch::equal(params_of(module).at(n), before.at(n));
  EXPECT_TRUE(trunk_moved) << algo_name << ": after unfreezing the trunk learns";

  // Frozen again after it learned, the trunk has Adam moments of its own: they must not carry it on.
  algo->set_frozen([&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); });
  const auto refrozen = params_of(module);
  run(updates + 2);
  for (const auto& n : names)
    EXPECT_TRUE(torch::equal(params_of(module).at(n), refrozen.at(n))) << algo_name << ": refrozen " << n << " moved";
}

TEST_F(Transfer, AFrozenTrunkStaysBitwiseUnderPpoAndDqnUntilUnfrozen) {
  check_freezing("ppo");
  check_freezing("dqn");
}

TEST_F(Transfer, DiscreteTrunkUnderANewGaussianHeadTrains) {
  const std::string lander = trained("LunarLander-v3", "lander", 1024);
  const std::string config_path = write("continuous.yaml", "name: cont\nout_dir: " + (dir_ / "runs").string() +
                                                                "\nenv: {id: LunarLanderContinuous-v3, num_envs: 4}\n"
                                                                "total_steps: 1024\nppo: {rollout_steps: 64}\n"
                                                                "eval: {interval_steps: 0, episodes: 2, num_envs: 2}\n"
                                                                "init: {checkpoint: " + lander + ", parts: trunk}\n");
  const CmdResult r = testing::run_apiary("train " + config_path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("loaded actor_body.0.weight")) << r.output;
  EXPECT_TRUE(r.has("fresh  actor_head.weight")) << r.output;  // a Gaussian head for 2 actions
  EXPECT_TRUE(r.has("fresh  log_std")) << r.output;
  // The run's config records where it started: the absolute path and the file's hash.
  std::stringstream yaml;
  yaml << std::ifstream(dir_ / "runs" / "cont" / "config.yaml").rdbuf();
  EXPECT_NE(yaml.str().find(fs::absolute(lander).lexically_normal().string()), std::string::npos) << yaml.str();
  EXPECT_NE(yaml.str().find("checkpoint_fnv1a: \""), std::string::npos) << yaml.str();
  EXPECT_EQ(yaml.str().find("checkpoint_fnv1a: \"\""), std::string::npos) << yaml.str();
}

TEST_F(Transfer, AFrozenTrunkFromACheckpointEndsTheRunAsItStarted) {
  const std::string source = trained("CartPole-v1", "source");
  const std::string config_path = write("frozen.yaml", "name: frozen\nout_dir: " + (dir_ / "runs").string() +
                                                            "\nenv: {id: CartPole-v1, num_envs: 4}\ntotal_steps: 2048\n"
                                                            "ppo: {rollout_steps: 64}\npolicy: {freeze: [trunk]}\n"
                                                            "eval: {interval_steps: 0, episodes: 2, num_envs: 2}\n"
                                                            "init: {checkpoint: " + source + "}\n");
  const CmdResult r = testing::run_apiary("train " + config_path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("frozen (")) << r.output;
  const auto before = params_of(load_policy(source).policy->module());
  const auto after = params_of(load_policy((dir_ / "runs" / "frozen" / "checkpoints" / "latest.pt").string()).policy->module());
  for (const auto& [name, value] : after) {
    if (in_part(name, "trunk")) {
      EXPECT_TRUE(torch::equal(value, before.at(name))) << name;
    }
  }
  EXPECT_FALSE(torch::equal(after.at("actor_head.weight"), before.at("actor_head.weight")));
}

// A run from init.checkpoint evaluates the loaded policy before it trains: "eval step 0" in the log
// and the metrics; when that already reaches stop.mean_return the run ends at step 0, solved.
TEST_F(Transfer, ARunFromACheckpointIsEvaluatedBeforeItTrains) {
  const std::string source = trained("CartPole-v1", "source");
  const std::string base = "out_dir: " + (dir_ / "runs").string() +
                           "\nenv: {id: CartPole-v1, num_envs: 4}\ntotal_steps: 1024\nppo: {rollout_steps: 64}\n"
                           "eval: {interval_steps: 512, episodes: 4, num_envs: 4}\ninit: {checkpoint: " + source + "}\n";
  // A threshold any policy reaches (CartPole's returns are at least 1): solved at step 0.
  CmdResult r = testing::run_apiary("train " + write("easy.yaml", "name: easy\n" + base + "stop: {mean_return: 1}\n"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("eval step 0 mean_return")) << r.output;
  EXPECT_TRUE(r.has("solved_steps: 0 ")) << r.output;
  // An unreachable threshold: the step-0 evaluation is logged, then training goes on to total_steps.
  r = testing::run_apiary("train " + write("hard.yaml", "name: hard\n" + base + "stop: {mean_return: 1000}\n"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(r.has("eval step 0 mean_return")) << r.output;
  EXPECT_TRUE(r.has("eval step 512 mean_return")) << r.output;
  EXPECT_TRUE(r.has("solved_steps: -1 ")) << r.output;
  // A run from random weights has no step-0 evaluation.
  const std::string scratch = write("scratch.yaml", "name: scratch\nout_dir: " + (dir_ / "runs").string() +
                                                          "\nenv: {id: CartPole-v1, num_envs: 4}\ntotal_steps: 512\n"
                                                          "ppo: {rollout_steps: 64}\neval: {interval_steps: 256, episodes: 2, num_envs: 2}\n");
  r = testing::run_apiary("train " + scratch);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(r.has("eval step 0 ")) << r.output;
}

TEST_F(Transfer, BadInitCheckpointsAreRefusedNamingThem) {
  const std::string base = "name: x\nout_dir: " + (dir_ / "runs").string() + "\ntotal_steps: 1000\n";
  const std::string missing = (dir_ / "nope.pt").string();
  CmdResult r = testing::run_apiary("train " + write("a.yaml", base + "init: {checkpoint: " + missing + "}\n"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has(missing)) << r.output;
  const std::string junk = write("junk.pt", "not a checkpoint");
  r = testing::run_apiary("train " + write("b.yaml", base + "init: {checkpoint: " + junk + "}\n"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has(junk)) << r.output;
  r = testing::run_apiary("eval zoo:NoSuchEnv-v9");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("NoSuchEnv-v9")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "runs" / "x")) << "a refused run leaves no folder";
}

// A resumed run whose config.yaml now asks for another network ([64, 64, 64] where the checkpoint holds
// [64, 64]): refused, naming the policy key that differs and every layer with both shapes, not only
// the first missing submodule.
TEST_F(Transfer, AResumeWithAnotherNetworkNamesTheLayersAndShapes) {
  trained("CartPole-v1", "grown");
  const fs::path run = dir_ / "runs" / "grown";
  std::string yaml = testing::read_text(run / "config.yaml");
  const std::string from = "hidden_sizes: [64, 64]";
  ASSERT_NE(yaml.find(from), std::string::npos) << yaml;
  yaml.replace(yaml.find(from), from.size(), "hidden_sizes: [64, 64, 64]");
  std::ofstream(run / "config.yaml") << yaml;
  const CmdResult r = testing::run_apiary("train --resume " + run.string() + " --quiet");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("does not fit the run's ppo on CartPole-v1, trained with policy.hidden_sizes [64, 64] where the "
                    "run has [64, 64, 64]"))
      << r.output;
  EXPECT_TRUE(r.has("'actor_body.4.weight' [64, 64]: not in the checkpoint")) << r.output;
  EXPECT_TRUE(r.has("'critic_body.4.bias' [64]: not in the checkpoint")) << r.output;
  EXPECT_FALSE(r.has("has no submodule")) << r.output;
}

}  // namespace
}  // namespace apiary::runner
