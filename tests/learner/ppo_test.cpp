// PPO as an Algorithm: one update on a fixed chunk, bit-exact resume from a checkpoint, the target-KL
// early stop, and CartPole-v1 learning smoke runs in fp32 and bf16 (CleanRL's "tiny budget" test of
// the whole loop).
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "actors/actor.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "tests/common/algorithm_checks.h"
#include "tests/common/learning_smoke.h"
#include "learner/ppo/ppo.h"
#include "tests/common/synthetic_chunk.h"

namespace apiary::learner {
namespace {

envs::EnvSpec cartpole_spec() { return envs::env_spec("CartPole-v1"); }

using apiary::testing::as_map;
// A small PPO on CartPole's spaces, its weights drawn from `init_seed`.
std::unique_ptr<Algorithm> make_small_ppo(PpoConfig ppo, std::uint64_t init_seed) {
  AlgorithmInit init;
  init.config.seed = 7;
  init.config.section<PpoConfig>("ppo") = ppo;
  init.spec = cartpole_spec();
  torch::manual_seed(init_seed);
  return make_ppo(init);
}

// A fixed T x N chunk on CartPole's spaces: random observations, actions and rewards, the behaviour
// log-probs and values of `policy` (so the first ratio is 1), one termination and one truncation.
using apiary::testing::synthetic_chunk;

std::vector<torch::Tensor> snapshot(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.detach().clone());
  return out;
}

class PpoTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(PpoTest, OneUpdateChangesWeightsAndReportsFiniteMetrics) {
  auto ppo = make_small_ppo(PpoConfig{}, /*init_seed=*/1);
  EXPECT_EQ(find_algorithm("ppo").rollout_steps(TrainConfig{}), PpoConfig{}.rollout_steps);
  EXPECT_TRUE(find_algorithm("ppo").chunk_log_probs);
  EXPECT_EQ(ppo->policy_version(), 0);
  const auto chunk = synthetic_chunk(*ppo->policy(), /*seed=*/3);
  const auto before = snapshot(ppo->policy()->module());

  const Metrics metrics = ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000});

  EXPECT_EQ(ppo->policy_version(), 1);
  const auto after = snapshot(ppo->policy()->module());
  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_FALSE(torch::equal(before[i], after[i])) << "param " << i;

  const std::set<std::string> expected{"pg_loss",       "v_loss",        "entropy",       "old_approx_kl",
                                       "approx_kl",     "clipfrac",      "explained_var", "learning_rate",
                                       "skipped_steps", "epochs_run"};
  std::set<std::string> names;
  for (const auto& [name, value] : metrics) {
    names.insert(name);
    EXPECT_TRUE(std::isfinite(value)) << name << " = " << value;
  }
  EXPECT_EQ(names, expected);
  const auto m = as_map(metrics);
  EXPECT_DOUBLE_EQ(m.at("learning_rate"), PpoConfig{}.learning_rate);  // first update: full rate
  EXPECT_EQ(m.at("epochs_run"), PpoConfig{}.update_epochs);
  EXPECT_EQ(m.at("skipped_steps"), 0.0);
  EXPECT_GT(m.at("approx_kl"), 0.0);
  EXPECT_NEAR(m.at("entropy"), std::log(2.0), 0.05);  // near-uniform initial policy (small actor gain)
}

using apiary::testing::lanes_of_both;
using apiary::testing::TwoRankAverager;

// Data parallelism through the gradient hook (issue 12): two ranks with N lanes each, whose hook
// averages their gradients, take the same update as one process with both chunks' 2N lanes (one
// minibatch, advantages not normalised per minibatch, so the losses are means over the same rows), to
// floating-point tolerance; and the two ranks' weights are bitwise equal. Without the hook a rank's
// update differs from the one process's: the test can fail.
TEST_F(PpoTest, GradientHookMakesTwoRanksEqualOneProcessWithBothChunks) {
  PpoConfig ppo;
  ppo.num_minibatches = 1;
  ppo.update_epochs = 3;
  ppo.norm_adv = false;
  ppo.anneal_lr = false;
  TwoRankAverager averager;
  auto make = [&](bool hook) {
    AlgorithmInit init;
    init.config.seed = 7;
    init.config.section<PpoConfig>("ppo") = ppo;
    init.spec = cartpole_spec();
    if (hook) init.reduce_gradients = [&averager](const std::vector<torch::Tensor>& g) { averager.average(g); };
    torch::manual_seed(1);  // the same initial weights for every instance
    return make_ppo(init);
  };
  auto rank0 = make(true), rank1 = make(true), single = make(false), alone = make(false);
  const auto chunk0 = synthetic_chunk(*single->policy(), /*seed=*/11);
  const auto chunk1 = synthetic_chunk(*single->policy(), /*seed=*/12);
  const auto both = lanes_of_both(chunk0, chunk1);

  std::thread t1([&] { rank1->update(chunk1, UpdateContext{both.env_steps(), 100000, 2}); });
  rank0->update(chunk0, UpdateContext{both.env_steps(), 100000, 2});
  t1.join();
  single->update(both, UpdateContext{both.env_steps(), 100000, 1});
  alone->update(chunk0, UpdateContext{chunk0.env_steps(), 100000, 1});
  EXPECT_EQ(averager.calls(), 3);  // one all-reduce per minibatch step

  const auto w0 = snapshot(rank0->policy()->module()), w1 = snapshot(rank1->policy()->module());
  const auto ws = snapshot(single->policy()->module()), wa = snapshot(alone->policy()->module());
  ASSERT_EQ(w0.size(), ws.size());
  double alone_gap = 0.0;
  for (std::size_t i = 0; i < w0.size(); ++i) {
    EXPECT_TRUE(torch::equal(w0[i], w1[i])) << "param " << i << " differs between the ranks";
    EXPECT_TRUE(torch::allclose(w0[i], ws[i], /*rtol=*/1e-4, /*atol=*/1e-6))
        << "param " << i << ": max gap " << (w0[i] - ws[i]).abs().max().item<double>();
    alone_gap = std::max(alone_gap, (wa[i] - ws[i]).abs().max().item<double>());
  }
  EXPECT_GT(alone_gap, 1e-4) << "one rank's own update should differ from the averaged one";
}

TEST_F(PpoTest, LearningRateAnnealsLinearlyOverTheBudget) {
  auto ppo = make_small_ppo(PpoConfig{}, 1);
  const auto chunk = synthetic_chunk(*ppo->policy(), 3);
  const std::int64_t total = 4 * chunk.env_steps();
  // Third chunk of four: half of the budget was spent before it.
  const auto m = as_map(ppo->update(chunk, UpdateContext{3 * chunk.env_steps(), total}));
  EXPECT_DOUBLE_EQ(m.at("learning_rate"), 0.5 * PpoConfig{}.learning_rate);
}

TEST_F(PpoTest, ResumeFromCheckpointIsExact) {
  PpoConfig config;
  config.num_minibatches = 4;
  auto original = make_small_ppo(config, /*init_seed=*/1);
  const auto chunk1 = synthetic_chunk(*original->policy(), 3);
  original->update(chunk1, UpdateContext{chunk1.env_steps(), 1000});

  const std::string state = apiary::testing::saved_state(*original);
  auto resumed = make_small_ppo(config, /*init_seed=*/99);  // different initial weights
  apiary::testing::load_state(*resumed, state);
  EXPECT_EQ(resumed->policy_version(), original->policy_version());

  agents::ActContext deterministic;
  deterministic.deterministic = true;
  const auto probe = torch::randn({64, 4});
  const auto a = original->policy()->act(probe, deterministic);
  const auto b = resumed->policy()->act(probe, deterministic);
  EXPECT_TRUE(torch::equal(a.action, b.action));
  EXPECT_TRUE(torch::equal(a.value, b.value));
  EXPECT_TRUE(torch::equal(a.log_prob, b.log_prob));

  // The same next update: same Adam moments, same minibatch shuffles, same weights after.
  const auto chunk2 = synthetic_chunk(*original->policy(), 5);
  const Metrics ma = original->update(chunk2, UpdateContext{2 * chunk2.env_steps(), 1000});
  const Metrics mb = resumed->update(chunk2, UpdateContext{2 * chunk2.env_steps(), 1000});
  ASSERT_EQ(ma.size(), mb.size());
  for (std::size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i].first, mb[i].first);
    if (std::isnan(ma[i].second)) {
      EXPECT_TRUE(std::isnan(mb[i].second)) << ma[i].first;
    } else {
      EXPECT_EQ(ma[i].second, mb[i].second) << ma[i].first;
    }
  }
  const auto wa = snapshot(original->policy()->module());
  const auto wb = snapshot(resumed->policy()->module());
  for (std::size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "param " << i;
  EXPECT_EQ(resumed->policy_version(), 2);
}

// The final observation of a truncated step is bootstrapped from; that of a terminated step, or the
// next_obs of a step that did not end, is not read.
TEST_F(PpoTest, BootstrapsOnlyThroughTruncation) {
  const auto run = [](const std::function<void(agents::TrajectoryChunk&)>& edit) {
    auto ppo = make_small_ppo(PpoConfig{}, 1);
    auto chunk = synthetic_chunk(*ppo->policy(), 3);
    edit(chunk);
    return as_map(ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000})).at("v_loss");
  };
  const double base = run([](agents::TrajectoryChunk&) {});
  EXPECT_NE(run([](agents::TrajectoryChunk& c) { c.next_obs[9][2] = torch::full({4}, 3.0f); }), base);
  EXPECT_EQ(run([](agents::TrajectoryChunk& c) { c.next_obs[3][1] = torch::full({4}, 3.0f); }), base);
  EXPECT_EQ(run([](agents::TrajectoryChunk& c) { c.next_obs[5][0] = torch::full({4}, 3.0f); }), base);
  // Terminated and truncated together: terminated wins, no bootstrap.
  EXPECT_EQ(run([](agents::TrajectoryChunk& c) {
              c.truncated[3][1] = 1.0f;
              c.next_obs[3][1] = torch::full({4}, 3.0f);
            }),
            run([](agents::TrajectoryChunk& c) { c.truncated[3][1] = 1.0f; }));
}

// ppo.reward_scale multiplies the rewards for the advantages and value targets only: a chunk whose
// rewards are 4x, learned with reward_scale 0.25, is the same update as the chunk as it is (powers of
// two, so the products are exact); the same chunk at another scale is another update.
TEST_F(PpoTest, RewardScaleMultipliesTheRewardsTheLearnerSees) {
  const auto run = [](double scale, float reward_factor) {
    PpoConfig config;
    config.reward_scale = scale;
    config.fused_update = false;
    auto ppo = make_small_ppo(config, 1);
    auto chunk = synthetic_chunk(*ppo->policy(), 3);
    chunk.rewards = chunk.rewards * reward_factor;
    return as_map(ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000}));
  };
  const auto plain = run(1.0, 1.0f), scaled = run(0.25, 4.0f), other = run(0.25, 1.0f);
  for (const char* key : {"v_loss", "pg_loss", "approx_kl"}) EXPECT_EQ(scaled.at(key), plain.at(key)) << key;
  EXPECT_NE(other.at("v_loss"), plain.at("v_loss"));
}

TEST_F(PpoTest, TinyTargetKlStopsAfterOneEpoch) {
  PpoConfig config;
  config.update_epochs = 10;
  config.num_minibatches = 4;  // the epoch's last minibatch sees weights moved by the first three
  config.target_kl = 1e-12;
  auto ppo = make_small_ppo(config, 1);
  const auto chunk = synthetic_chunk(*ppo->policy(), 3);
  const auto m = as_map(ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000}));
  EXPECT_EQ(m.at("epochs_run"), 1.0);
  EXPECT_EQ(ppo->policy_version(), 1);
}

TEST_F(PpoTest, RejectsMoreMinibatchesThanSamples) {
  PpoConfig config;
  config.num_minibatches = 1000;
  auto ppo = make_small_ppo(config, 1);
  const auto chunk = synthetic_chunk(*ppo->policy(), 3);  // 64 samples
  EXPECT_THROW(ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000}), std::invalid_argument);
}

TEST_F(PpoTest, Fp16ScalesTheLossWhereSupported) {
  AlgorithmInit init;
  init.spec = cartpole_spec();
  init.precision = Precision::kFp16;
#if TORCH_VERSION_MAJOR < 2
  // LibTorch 1.13's CPU autocast has no fp16: refused at construction, naming the precision.
  EXPECT_THROW(make_ppo(init), std::invalid_argument);
#else
  torch::manual_seed(1);
  auto ppo = make_ppo(init);
  const auto chunk = synthetic_chunk(*ppo->policy(), 3);
  const auto m = as_map(ppo->update(chunk, UpdateContext{chunk.env_steps(), 1000}));
  ASSERT_TRUE(m.count("loss_scale"));
  EXPECT_GT(m.at("loss_scale"), 0.0);
  EXPECT_TRUE(std::isfinite(m.at("pg_loss")));
#endif
}

// ---- CartPole-v1 smoke runs -----------------------------------------------------------------------

// PPO settings that solve CartPole-v1 in about a second on one core: RL Zoo's tuned set (gamma 0.98,
// gae_lambda 0.8, no entropy bonus, 8 lanes x 32 steps) with a higher annealed learning rate and 10
// epochs of one 256-sample minibatch, since LibTorch's per-call cost dominates on a 64x64 network
// and gradient steps are what costs. Measured (5 seeds, eval over 100 episodes every 2560 steps)
// to reach a mean return >= 475 in 7.7k-20k env steps, 0.5-1.5 s of training.
TrainConfig fast_cartpole_config() {
  TrainConfig config;
  config.seed = 1;
  config.env.num_envs = 8;
  config.total_steps = 100000;
  config.section<PpoConfig>("ppo").rollout_steps = 32;
  config.section<PpoConfig>("ppo").learning_rate = 2.5e-3;
  config.section<PpoConfig>("ppo").gamma = 0.98;
  config.section<PpoConfig>("ppo").gae_lambda = 0.8;
  config.section<PpoConfig>("ppo").num_minibatches = 1;
  config.section<PpoConfig>("ppo").update_epochs = 10;
  config.section<PpoConfig>("ppo").ent_coef = 0.0;
  return config;
}

// Trains until an evaluation (20 episodes) every 10 updates reaches `target_return` or the budget
// (config.total_steps) is spent. The tests aim at 475 (the project's bar) and require 195 (CartPole-v0's
// "solved"), so a LibTorch whose numerics take another path does not make them flaky.
apiary::testing::SmokeRun train_cartpole(const TrainConfig& config, Precision precision, double target_return) {
  torch::set_num_threads(1);
  AlgorithmInit init;
  init.config = config;
  init.spec = cartpole_spec();
  init.precision = precision;
  torch::manual_seed(static_cast<std::uint64_t>(config.seed));
  auto ppo = make_ppo(init);
  apiary::testing::SmokeOptions o = apiary::testing::smoke_options(config);
  o.eval_interval_steps = 10 * o.rollout_steps * config.env.num_envs;
  o.eval_seed = static_cast<std::uint64_t>(config.seed) + 1000;
  o.stop_return = target_return;
  return apiary::testing::learn_until(*ppo, o);
}

void expect_solves_cartpole(Precision precision, const char* label) {
  const apiary::testing::SmokeRun r = train_cartpole(fast_cartpole_config(), precision, /*target_return=*/475.0);
  std::cout << "[ PPO " << label << " ] eval mean return " << r.eval.mean_return << " after " << r.env_steps
            << " env steps, " << r.train_seconds << " s training, " << r.seconds << " s in all\n";
  EXPECT_GE(r.eval.mean_return, 195.0);
  EXPECT_LT(r.seconds, 60.0);
}

TEST_F(PpoTest, SolvesCartPoleFp32) { expect_solves_cartpole(Precision::kFp32, "fp32"); }

// bf16 autocast is slow on CPUs without native bf16 matmuls; the same settings still solve it well
// within the limit.
TEST_F(PpoTest, SolvesCartPoleBf16) { expect_solves_cartpole(Precision::kBf16, "bf16"); }

}  // namespace
}  // namespace apiary::learner
