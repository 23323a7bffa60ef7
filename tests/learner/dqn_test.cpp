// DQN as an Algorithm: no learning before learning_starts, the metric names, the hard and Polyak
// target updates at target_network_frequency, the refusal of a Box action space, a save/load round
// trip, and a CartPole-v1 learning smoke run (CleanRL's "tiny budget" test of the whole loop).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actors/actor.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "tests/common/algorithm_checks.h"
#include "tests/common/learning_smoke.h"
#include "learner/dqn/dqn.h"

namespace apiary::learner {
namespace {

using apiary::testing::as_map;
// A small DQN on CartPole's spaces, its weights drawn from `init_seed`.
std::unique_ptr<Dqn> make_small_dqn(const DqnConfig& dqn, std::uint64_t init_seed, std::int32_t num_envs = 1) {
  AlgorithmInit init;
  init.config.algo = "dqn";
  init.config.seed = 3;
  init.config.total_steps = 10000;
  init.config.env.num_envs = num_envs;
  init.config.policy.hidden_sizes = {16, 16};
  init.config.policy.activation = "relu";
  init.config.section<DqnConfig>("dqn") = dqn;
  init.spec = envs::env_spec("CartPole-v1");
  torch::manual_seed(init_seed);
  return std::make_unique<Dqn>(init);
}

// T steps of N lanes of CartPole-shaped random data; every 7th step of lane 0 terminates.
agents::TrajectoryChunk random_cartpole_chunk(std::int64_t steps, std::int64_t lanes, std::uint64_t seed) {
  torch::manual_seed(seed);
  agents::TrajectoryChunk chunk;
  chunk.obs = torch::randn({steps + 1, lanes, 4});
  chunk.next_obs = chunk.obs.slice(0, 1).clone();
  chunk.actions = torch::randint(2, {steps, lanes}, torch::kLong);
  chunk.rewards = torch::ones({steps, lanes});
  chunk.terminated = torch::zeros({steps, lanes});
  chunk.truncated = torch::zeros({steps, lanes});
  for (std::int64_t t = 6; t < steps; t += 7) chunk.terminated[t][0] = 1.0;
  return chunk;
}

bool same_parameters(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (!torch::equal(pa[i], pb[i])) return false;
  }
  return true;
}

class DqnTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(DqnTest, NoGradientStepBeforeLearningStartsThenMetrics) {
  DqnConfig dqn;
  dqn.learning_starts = 100;
  dqn.train_frequency = 10;
  dqn.gradient_steps = 3;
  dqn.batch_size = 16;
  auto algo = make_small_dqn(dqn, 1, /*num_envs=*/2);
  TrainConfig config;
  config.env.num_envs = 2;
  config.section<DqnConfig>("dqn") = dqn;
  EXPECT_EQ(find_algorithm("dqn").rollout_steps(config), 5);  // train_frequency 10 over 2 lanes
  EXPECT_FALSE(find_algorithm("dqn").chunk_log_probs);

  // 9 chunks of 5 steps x 2 lanes: 90 env steps, all before learning_starts.
  std::int64_t step = 0;
  for (int i = 0; i < 9; ++i) {
    const auto chunk = random_cartpole_chunk(5, 2, 10 + i);
    step += chunk.env_steps();
    EXPECT_TRUE(algo->update(chunk, UpdateContext{step, 10000}).empty()) << "at env step " << step;
  }
  EXPECT_EQ(algo->gradient_steps(), 0);
  EXPECT_EQ(algo->policy_version(), 0);
  EXPECT_EQ(algo->buffer_size(), 90);

  // Env step 100 reaches learning_starts and is a multiple of train_frequency: one phase.
  const auto chunk = random_cartpole_chunk(5, 2, 99);
  step += chunk.env_steps();
  const auto metrics = as_map(algo->update(chunk, UpdateContext{step, 10000}));
  const std::vector<std::string> names{"td_loss", "q_values", "epsilon", "learning_rate", "buffer_size",
                                       "gradient_steps"};
  EXPECT_EQ(metrics.size(), names.size());
  for (const auto& name : names) {
    ASSERT_EQ(metrics.count(name), 1u) << name;
    EXPECT_TRUE(std::isfinite(metrics.at(name))) << name;
  }
  EXPECT_EQ(metrics.at("gradient_steps"), 3.0);
  EXPECT_EQ(metrics.at("buffer_size"), 100.0);
  EXPECT_DOUBLE_EQ(metrics.at("learning_rate"), dqn.learning_rate);
  EXPECT_NEAR(metrics.at("epsilon"), 1.0 - 0.95 * 100.0 / 5000.0, 1e-9);
  EXPECT_EQ(algo->policy_version(), 1);

  // A chunk of 40 env steps covers 4 phases.
  const auto big = random_cartpole_chunk(20, 2, 123);
  step += big.env_steps();
  const auto more = as_map(algo->update(big, UpdateContext{step, 10000}));
  EXPECT_EQ(more.at("gradient_steps"), 3.0 + 4 * 3.0);
  EXPECT_EQ(algo->policy_version(), 2);
}

TEST_F(DqnTest, NStepAndPrioritizedReplayTrain) {
  DqnConfig dqn;
  dqn.learning_starts = 20;
  dqn.train_frequency = 4;
  dqn.batch_size = 8;
  dqn.n_step = 3;
  dqn.prioritized = true;
  dqn.loss = "mse";
  dqn.double_dqn = false;
  auto algo = make_small_dqn(dqn, 2, /*num_envs=*/2);
  std::int64_t step = 0;
  Metrics metrics;
  for (int i = 0; i < 5; ++i) {
    const auto chunk = random_cartpole_chunk(4, 2, 40 + i);
    step += chunk.env_steps();
    metrics = algo->update(chunk, UpdateContext{step, 1000});
  }
  EXPECT_FALSE(metrics.empty());
  EXPECT_GT(algo->gradient_steps(), 0);
  // Each lane's last n - 1 = 2 steps are still open windows.
  EXPECT_EQ(algo->buffer_size(), step - 2 * 2);
  EXPECT_TRUE(std::isfinite(as_map(metrics).at("td_loss")));
}

TEST_F(DqnTest, HardTargetUpdateExactlyAtTargetNetworkFrequency) {
  DqnConfig dqn;
  dqn.learning_starts = 0;
  dqn.train_frequency = 1;
  dqn.gradient_steps = 1;
  dqn.batch_size = 8;
  dqn.learning_rate = 1e-2;
  dqn.target_network_frequency = 5;
  auto algo = make_small_dqn(dqn, 3);
  EXPECT_TRUE(same_parameters(*algo->online(), *algo->target()));
  for (std::int64_t step = 1; step <= 12; ++step) {
    algo->update(random_cartpole_chunk(1, 1, 200 + step), UpdateContext{step, 10000});
    if (step % 5 == 0) {
      EXPECT_TRUE(same_parameters(*algo->online(), *algo->target())) << "at env step " << step;
      EXPECT_EQ(algo->last_target_update(), step);
    } else {
      EXPECT_FALSE(same_parameters(*algo->online(), *algo->target())) << "at env step " << step;
    }
  }
  EXPECT_EQ(algo->gradient_steps(), 12);
}

TEST_F(DqnTest, PolyakTargetUpdateMovesTauOfTheWay) {
  DqnConfig dqn;
  dqn.learning_starts = 0;
  dqn.train_frequency = 1;
  dqn.batch_size = 8;
  dqn.learning_rate = 1e-2;
  dqn.target_network_frequency = 3;
  dqn.tau = 0.25;
  auto algo = make_small_dqn(dqn, 4);
  algo->update(random_cartpole_chunk(2, 1, 300), UpdateContext{2, 10000});
  std::vector<torch::Tensor> before;
  for (const auto& p : algo->target()->parameters()) before.push_back(p.clone());
  algo->update(random_cartpole_chunk(1, 1, 301), UpdateContext{3, 10000});  // phase, then the update at step 3
  const auto online = algo->online()->parameters();
  const auto target = algo->target()->parameters();
  for (std::size_t i = 0; i < target.size(); ++i) {
    EXPECT_TRUE(torch::allclose(target[i], 0.75 * before[i] + 0.25 * online[i], 1e-5, 1e-6)) << "tensor " << i;
  }
}

TEST_F(DqnTest, Bf16ForwardTrainsWithFp32Parameters) {
  AlgorithmInit init;
  init.config.algo = "dqn";
  init.config.env.num_envs = 2;
  init.config.policy.hidden_sizes = {16, 16};
  init.config.section<DqnConfig>("dqn").learning_starts = 0;
  init.config.section<DqnConfig>("dqn").train_frequency = 4;
  init.config.section<DqnConfig>("dqn").batch_size = 8;
  init.spec = envs::env_spec("CartPole-v1");
  init.precision = Precision::kBf16;
  torch::manual_seed(7);
  Dqn algo(init);
  const auto metrics = as_map(algo.update(random_cartpole_chunk(8, 2, 600), UpdateContext{16, 10000}));
  EXPECT_EQ(algo.gradient_steps(), 4);
  EXPECT_TRUE(std::isfinite(metrics.at("td_loss")));
  EXPECT_EQ(metrics.count("loss_scale"), 0u);  // fp16 only
  for (const auto& p : algo.online()->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
}

TEST_F(DqnTest, RefusesBoxActionSpaceNamingTheEnv) {
  AlgorithmInit init;
  init.config.algo = "dqn";
  init.spec = envs::env_spec("Pendulum-v1");
  try {
    make_dqn(init);
    FAIL() << "make_dqn accepted a Box action space";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("Pendulum-v1"), std::string::npos) << message;
    EXPECT_NE(message.find("algo: ppo"), std::string::npos) << message;
  }
}

TEST_F(DqnTest, SaveLoadRoundTrip) {
  DqnConfig dqn;
  dqn.learning_starts = 0;
  dqn.train_frequency = 2;
  dqn.batch_size = 8;
  dqn.learning_rate = 1e-2;
  dqn.target_network_frequency = 6;
  auto algo = make_small_dqn(dqn, 5);
  std::int64_t step = 0;
  for (int i = 0; i < 4; ++i) {
    const auto chunk = random_cartpole_chunk(4, 1, 400 + i);
    step += chunk.env_steps();
    algo->update(chunk, UpdateContext{step, 10000});
  }
  // Trained past the last target update (12), so online and target differ.
  ASSERT_FALSE(same_parameters(*algo->online(), *algo->target()));

  const std::string state = apiary::testing::saved_state(*algo);
  auto fresh = make_small_dqn(dqn, 6);
  ASSERT_FALSE(same_parameters(*algo->online(), *fresh->online()));
  apiary::testing::load_state(*fresh, state);
  EXPECT_TRUE(same_parameters(*algo->online(), *fresh->online()));
  EXPECT_TRUE(same_parameters(*algo->target(), *fresh->target()));
  EXPECT_EQ(fresh->env_steps(), algo->env_steps());
  EXPECT_EQ(fresh->gradient_steps(), algo->gradient_steps());
  EXPECT_EQ(fresh->last_target_update(), algo->last_target_update());
  EXPECT_EQ(fresh->policy_version(), algo->policy_version());
  EXPECT_EQ(fresh->buffer_size(), 0);  // the replay buffer refills after a resume

  const auto obs = torch::randn({64, 4});
  agents::ActContext greedy;
  greedy.deterministic = true;
  EXPECT_TRUE(torch::equal(algo->policy()->act(obs, greedy).action, fresh->policy()->act(obs, greedy).action));
  // The policy acts with the loaded online network.
  EXPECT_TRUE(torch::equal(fresh->policy()->act(obs, greedy).action, fresh->online()->greedy(obs)));

  // Adam's state came along: the same batch gives the same step on both.
  const auto chunk = random_cartpole_chunk(16, 1, 500);
  algo = make_small_dqn(dqn, 5);
  apiary::testing::load_state(*algo, state);
  step = algo->env_steps() + chunk.env_steps();
  algo->update(chunk, UpdateContext{step, 10000});
  fresh->update(chunk, UpdateContext{step, 10000});
  EXPECT_TRUE(same_parameters(*algo->online(), *fresh->online()));
}

// Adam steps one flat buffer, but the checkpoint keeps one state per parameter tensor, the layout
// LibTorch's Adam over online()->parameters() reads: checkpoints of either layout stay interchangeable.
TEST_F(DqnTest, CheckpointKeepsAdamsStatePerParameterTensor) {
  DqnConfig dqn;
  dqn.learning_starts = 0;
  dqn.train_frequency = 2;
  dqn.batch_size = 8;
  auto algo = make_small_dqn(dqn, 5);
  const auto chunk = random_cartpole_chunk(8, 1, 77);
  algo->update(chunk, UpdateContext{chunk.env_steps(), 10000});
  ASSERT_GT(algo->gradient_steps(), 1);

  std::istringstream bytes(apiary::testing::saved_state(*algo));
  torch::serialize::InputArchive archive;
  archive.load_from(bytes);
  torch::serialize::InputArchive part;
  ASSERT_TRUE(archive.try_read("optimizer", part));
  const auto params = algo->online()->parameters();
  torch::optim::Adam per_tensor(params, torch::optim::AdamOptions(1e-3));
  per_tensor.load(part);
  ASSERT_EQ(per_tensor.state().size(), params.size());
  const AdamMoments moments = adam_moments(per_tensor, params);
  EXPECT_EQ(moments.step, algo->gradient_steps());
  std::int64_t offset = 0;
  for (const auto& p : params) {  // each tensor's own moments, not zeros
    EXPECT_GT(moments.exp_avg_sq.narrow(0, offset, p.numel()).sum().item<double>(), 0.0) << offset;
    offset += p.numel();
  }

  // And DQNs read it back into the flat layout: two loaded from it take the same next step (the
  // replay buffer is not in the checkpoint, so both start from an empty one).
  const std::string state = apiary::testing::saved_state(*algo);
  algo = make_small_dqn(dqn, 7);
  apiary::testing::load_state(*algo, state);
  auto other = make_small_dqn(dqn, 6);
  apiary::testing::load_state(*other, state);
  const AdamMoments loaded = adam_moments(other->optimizer(), other->optimizer().param_groups().front().params());
  EXPECT_EQ(loaded.step, moments.step);
  EXPECT_TRUE(torch::equal(loaded.exp_avg, moments.exp_avg));
  EXPECT_TRUE(torch::equal(loaded.exp_avg_sq, moments.exp_avg_sq));
  const auto next = random_cartpole_chunk(8, 1, 78);
  const std::int64_t step = algo->env_steps() + next.env_steps();
  algo->update(next, UpdateContext{step, 10000});
  other->update(next, UpdateContext{step, 10000});
  EXPECT_TRUE(same_parameters(*algo->online(), *other->online()));
}

// RL Zoo's CartPole-v1 DQN recipe made cheaper for one core: 4 lanes, a [64, 64] network, half the
// gradient steps per phase (64 per 256 env steps) at a higher learning rate, and a shorter epsilon
// decay. Solved (100-episode mean >= 475) within 26k-34k env steps in 4-6 s for seeds 1-5 on the
// 2-core dev machine.
TrainConfig cartpole_config() {
  TrainConfig config;
  config.algo = "dqn";
  config.seed = 1;
  config.total_steps = 50000;
  config.env.num_envs = 4;
  config.policy.hidden_sizes = {64, 64};
  config.policy.activation = "relu";
  DqnConfig& d = config.section<DqnConfig>("dqn");
  d.learning_rate = 4e-3;
  d.batch_size = 64;
  d.buffer_size = 100000;
  d.learning_starts = 1000;
  d.gamma = 0.99;
  d.target_network_frequency = 10;
  d.train_frequency = 256;
  d.gradient_steps = 64;
  d.exploration_fraction = 0.1;
  d.start_e = 1.0;
  d.end_e = 0.04;
  d.max_grad_norm = 10.0;
  return config;
}

// dqn.fused_update: the hand-written step (learner/dqn/fused_step.h) takes the same steps as autograd,
// to float rounding, for both losses, both activations, plain and Double DQN, prioritised replay (its
// weights and the TD errors that set the priorities), observation scaling and a frozen layer.
TEST_F(DqnTest, FusedStepTakesAutogradsSteps) {
  struct Case {
    const char* name;
    const char* loss;
    const char* activation;
    bool double_dqn, prioritized, scale_obs, freeze;
  };
  const Case cases[] = {{"huber relu double", "huber", "relu", true, false, false, false},
                        {"mse tanh plain", "mse", "tanh", false, false, false, false},
                        {"prioritised, scaled", "huber", "relu", true, true, true, false},
                        {"frozen first layer", "huber", "tanh", true, false, false, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto make = [&](bool fused) {
      AlgorithmInit init;
      init.config.algo = "dqn";
      init.config.seed = 3;
      init.config.total_steps = 10000;
      init.config.policy.hidden_sizes = {16, 16};
      init.config.policy.activation = c.activation;
      init.config.policy.scale_obs = c.scale_obs;
      DqnConfig& dqn = init.config.section<DqnConfig>("dqn");
      dqn.learning_starts = 8;
      dqn.train_frequency = 4;
      dqn.gradient_steps = 3;
      dqn.batch_size = 32;
      dqn.loss = c.loss;
      dqn.double_dqn = c.double_dqn;
      dqn.prioritized = c.prioritized;
      dqn.target_network_frequency = 12;
      dqn.max_grad_norm = 1.0;  // the clip engages
      dqn.fused_update = fused;
      init.spec = envs::env_spec("CartPole-v1");
      torch::manual_seed(11);
      auto algo = std::make_unique<Dqn>(init);
      if (c.freeze) algo->set_frozen([](const std::string& name) { return name.rfind("trunk.0.", 0) == 0; });
      return algo;
    };
    auto fused = make(true);
    auto autograd = make(false);
    Metrics mf, ma;
    for (int k = 0; k < 3; ++k) {
      const auto chunk = random_cartpole_chunk(16, 2, /*seed=*/40 + k);
      mf = fused->update(chunk, UpdateContext{32 * (k + 1), 10000});
      ma = autograd->update(chunk, UpdateContext{32 * (k + 1), 10000});
    }
    ASSERT_GT(fused->gradient_steps(), 10);
    const auto pf = fused->online()->named_parameters();
    const auto pa = autograd->online()->named_parameters();
    bool bitwise_equal = true;
    for (const auto& p : pf) {
      EXPECT_LT((p.value() - pa[p.key()]).abs().max().item<double>(), 2e-5) << p.key();
      bitwise_equal = bitwise_equal && torch::equal(p.value(), pa[p.key()]);
      if (c.freeze && p.key().rfind("trunk.0.", 0) == 0) {
        EXPECT_TRUE(torch::equal(p.value(), make(false)->online()->named_parameters()[p.key()])) << "frozen " << p.key();
      }
    }
    EXPECT_FALSE(bitwise_equal) << "dqn.fused_update made no difference: one path ran twice";
    const auto f = as_map(mf), a = as_map(ma);
    for (const char* name : {"td_loss", "q_values"}) EXPECT_NEAR(f.at(name), a.at(name), 1e-4 * std::max(1.0, std::abs(a.at(name)))) << name;
  }
}

TEST_F(DqnTest, LearnsCartPole) {
  AlgorithmInit init;
  init.config = cartpole_config();
  init.spec = envs::env_spec("CartPole-v1");
  torch::manual_seed(static_cast<std::uint64_t>(init.config.seed));
  auto algo = make_dqn(init);
  apiary::testing::SmokeOptions o = apiary::testing::smoke_options(init.config);
  o.record_log_probs = false;
  o.eval_lanes = 10;
  o.stop_return = 475.0;  // CartPole-v1's threshold: stop early once a quick eval reaches it
  o.final_episodes = 100;
  const apiary::testing::SmokeRun r = apiary::testing::learn_until(*algo, o);
  std::printf("DQN CartPole-v1: mean return %.1f over 100 episodes after %lld env steps, %.1f s\n",
              r.eval.mean_return, static_cast<long long>(r.env_steps), r.seconds);
  EXPECT_GE(r.eval.mean_return, 195.0);  // Gymnasium's CartPole-v0 threshold: the smoke test's bar
  EXPECT_LE(r.seconds, 60.0);
}

}  // namespace
}  // namespace apiary::learner
