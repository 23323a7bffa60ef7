// SAC as an Algorithm: the critic, actor and temperature losses on a tiny fixed batch against a hand
// computation from the formulas (plain tensor ops on the networks' own weights), the Polyak target
// update, the direction and size of the temperature step, the schedule and warm-up, the refusal of a
// Discrete action space, the actor-process policy, a bitwise save/load round trip, bf16 / fp16, and a
// Pendulum-v1 learning smoke run (CleanRL's "tiny budget" test of the whole loop).
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "actors/actor.h"
#include "agents/weights.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "tests/common/algorithm_checks.h"
#include "tests/common/learning_smoke.h"
#include "learner/sac/sac.h"

namespace apiary::learner {
namespace {

constexpr double kPi = 3.14159265358979323846;

using apiary::testing::as_map;
// Pendulum's observations with a two-element action Box of unequal bounds, so that the rescaling and
// its log-scale term matter: a0 in [-2, 2] (scale 2, bias 0), a1 in [0, 1] (scale 0.5, bias 0.5).
envs::EnvSpec test_spec() {
  envs::EnvSpec spec = envs::env_spec("Pendulum-v1");
  spec.id = "TwoTorques-test";
  spec.action_space = envs::Space::box({-2.0f, 0.0f}, {2.0f, 1.0f}, {2});
  return spec;
}

TrainConfig small_config(const SacConfig& sac, std::int32_t num_envs = 1) {
  TrainConfig config;
  config.algo = "sac";
  config.seed = 3;
  config.total_steps = 10000;
  config.env.num_envs = num_envs;
  config.policy.hidden_sizes = {8, 8};
  config.policy.activation = "relu";
  config.section<SacConfig>("sac") = sac;
  return config;
}

std::unique_ptr<Sac> make_small_sac(const SacConfig& sac, std::uint64_t init_seed, std::int32_t num_envs = 1,
                                    Precision precision = Precision::kFp32) {
  AlgorithmInit init;
  init.config = small_config(sac, num_envs);
  init.spec = test_spec();
  init.precision = precision;
  torch::manual_seed(init_seed);
  return std::make_unique<Sac>(init);
}

// T steps of N lanes of random data in test_spec()'s spaces; every 5th step of lane 0 terminates.
agents::TrajectoryChunk random_sac_chunk(std::int64_t steps, std::int64_t lanes, std::uint64_t seed) {
  torch::manual_seed(seed);
  agents::TrajectoryChunk chunk;
  chunk.obs = torch::randn({steps + 1, lanes, 3});
  chunk.next_obs = chunk.obs.slice(0, 1).clone();
  chunk.actions = torch::stack({torch::rand({steps, lanes}) * 4 - 2, torch::rand({steps, lanes})}, 2);
  chunk.rewards = torch::randn({steps, lanes});
  chunk.terminated = torch::zeros({steps, lanes});
  chunk.truncated = torch::zeros({steps, lanes});
  for (std::int64_t t = 4; t < steps; t += 5) chunk.terminated[t][0] = 1.0;
  return chunk;
}

// A fixed batch of 5 transitions, the third terminal (discount 0).
ReplaySample fixed_batch() {
  torch::manual_seed(11);
  ReplaySample b;
  b.obs = torch::randn({5, 3});
  b.actions = torch::stack({torch::rand({5}) * 4 - 2, torch::rand({5})}, 1);
  b.returns = torch::randn({5});
  b.next_obs = torch::randn({5, 3});
  b.discounts = torch::tensor({0.99f, 0.99f, 0.0f, 0.99f, 0.99f});
  return b;
}

std::map<std::string, torch::Tensor> params_of(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  for (const auto& b : m.named_buffers()) out[b.key()] = b.value().detach().clone();
  return out;
}

bool same_tensors(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = params_of(a), pb = params_of(b);
  if (pa.size() != pb.size()) return false;
  for (const auto& [name, t] : pa)
    if (!pb.count(name) || !torch::equal(t, pb.at(name))) return false;
  return true;
}

// ---- the formulas, by hand -------------------------------------------------------------------------

// The actor's (mean, log_std) from its weights: relu MLP, then CleanRL's
// log_std = LOG_STD_MIN + 0.5 (LOG_STD_MAX - LOG_STD_MIN) (tanh(x) + 1).
std::pair<torch::Tensor, torch::Tensor> hand_actor(const torch::nn::Module& actor, const torch::Tensor& obs,
                                                   double log_std_min, double log_std_max) {
  auto p = params_of(actor);
  torch::Tensor h = torch::relu(torch::matmul(obs, p.at("body.0.weight").t()) + p.at("body.0.bias"));
  h = torch::relu(torch::matmul(h, p.at("body.2.weight").t()) + p.at("body.2.bias"));
  const torch::Tensor out = torch::matmul(h, p.at("head.weight").t()) + p.at("head.bias");
  const torch::Tensor mean = out.slice(1, 0, 2);
  const torch::Tensor log_std =
      log_std_min + 0.5 * (log_std_max - log_std_min) * (torch::tanh(out.slice(1, 2, 4)) + 1.0);
  return {mean, log_std};
}

// CleanRL's Actor.get_action with the given noise: x_t = mean + std * noise, y_t = tanh(x_t),
// action = y_t * scale + bias, log_prob = sum(Normal(mean, std).log_prob(x_t) - log(scale (1 - y_t^2))).
std::pair<torch::Tensor, torch::Tensor> hand_sample(const torch::Tensor& mean, const torch::Tensor& log_std,
                                                    const torch::Tensor& noise) {
  const torch::Tensor scale = torch::tensor({2.0f, 0.5f}), bias = torch::tensor({0.0f, 0.5f});
  const torch::Tensor std = torch::exp(log_std);
  const torch::Tensor x = mean + std * noise;
  const torch::Tensor y = torch::tanh(x);
  const torch::Tensor normal = -(x - mean).pow(2) / (2 * std.pow(2)) - log_std - 0.5 * std::log(2 * kPi);
  const torch::Tensor log_prob = (normal - torch::log(scale * (1 - y.pow(2)))).sum(1);
  return {y * scale + bias, log_prob};
}

// Critic k of the stacked twin critics, one plain MLP: relu([obs, a] W0 + b0) ... W2 + b2.
torch::Tensor hand_q(const torch::nn::Module& critic, std::int64_t k, const torch::Tensor& obs, const torch::Tensor& a) {
  auto p = params_of(critic);
  torch::Tensor h = torch::cat({obs, a}, 1);
  for (int i = 0; i < 3; ++i) {
    h = torch::matmul(h, p.at("weight_" + std::to_string(i))[k]) + p.at("bias_" + std::to_string(i))[k][0];
    if (i < 2) h = torch::relu(h);
  }
  return h.squeeze(1);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const char* what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
      << what << "\nactual\n" << actual << "\nexpected\n" << expected;
}

class SacTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

// Moves every critic weight a little, so that the critics and their targets differ.
void perturb(torch::nn::Module& module, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& p : module.parameters()) p.add_(torch::randn_like(p) * 0.1);
}

TEST_F(SacTest, CriticLossMatchesTheFormula) {
  SacConfig sac;
  sac.init_alpha = 0.5;
  auto algo = make_small_sac(sac, 1);
  perturb(*algo->critic(), 2);
  const ReplaySample batch = fixed_batch();
  torch::manual_seed(12);
  const torch::Tensor next_noise = torch::randn({5, 2});
  const SacCriticLoss loss = algo->critic_loss(batch, next_noise);

  torch::NoGradGuard no_grad;
  const auto [mean, log_std] = hand_actor(*algo->actor(), batch.next_obs, sac.log_std_min, sac.log_std_max);
  const auto [next_action, next_log_prob] = hand_sample(mean, log_std, next_noise);
  const double alpha = 0.5;
  const torch::Tensor min_q_next = torch::min(hand_q(*algo->target_critic(), 0, batch.next_obs, next_action),
                                              hand_q(*algo->target_critic(), 1, batch.next_obs, next_action));
  const torch::Tensor next_q_value = batch.returns + batch.discounts * (min_q_next - alpha * next_log_prob);
  const torch::Tensor q1 = hand_q(*algo->critic(), 0, batch.obs, batch.actions);
  const torch::Tensor q2 = hand_q(*algo->critic(), 1, batch.obs, batch.actions);
  const torch::Tensor qf1_loss = (q1 - next_q_value).pow(2).mean();
  const torch::Tensor qf2_loss = (q2 - next_q_value).pow(2).mean();

  expect_close(loss.next_q_value, next_q_value, "next_q_value");
  EXPECT_FLOAT_EQ(loss.next_q_value[2].item<float>(), batch.returns[2].item<float>());  // terminal: r only
  expect_close(loss.q_values, torch::stack({q1, q2}), "q_values");
  expect_close(loss.qf_losses, torch::stack({qf1_loss, qf2_loss}), "qf_losses");
  expect_close(loss.qf_loss, qf1_loss + qf2_loss, "qf_loss");
  // The loss reaches the critics only.
  EXPECT_TRUE(loss.qf_loss.requires_grad());
  EXPECT_FALSE(loss.next_q_value.requires_grad());
}

TEST_F(SacTest, ActorAndAlphaLossesMatchTheFormula) {
  SacConfig sac;
  sac.init_alpha = 0.3;
  sac.log_std_min = -4.0;
  sac.log_std_max = 1.0;
  auto algo = make_small_sac(sac, 3);
  const ReplaySample batch = fixed_batch();
  torch::manual_seed(13);
  const torch::Tensor noise = torch::randn({5, 2});
  const SacActorLoss loss = algo->actor_loss(batch.obs, noise);

  torch::NoGradGuard no_grad;
  const auto [mean, log_std] = hand_actor(*algo->actor(), batch.obs, sac.log_std_min, sac.log_std_max);
  const auto [action, log_prob] = hand_sample(mean, log_std, noise);
  EXPECT_TRUE((action.select(1, 0).abs() <= 2).all().item<bool>());
  const torch::Tensor min_q = torch::min(hand_q(*algo->critic(), 0, batch.obs, action),
                                         hand_q(*algo->critic(), 1, batch.obs, action));
  const double alpha = 0.3;
  expect_close(loss.log_pi, log_prob, "log_pi");
  expect_close(loss.actor_loss, (alpha * log_prob - min_q).mean(), "actor_loss");

  // alpha_loss = mean(-alpha (log_pi + target_entropy)), target entropy -|A| = -2.
  EXPECT_DOUBLE_EQ(algo->target_entropy(), -2.0);
  expect_close(algo->alpha_loss(loss.log_pi), (-alpha * (log_prob - 2.0)).mean(), "alpha_loss");
}

TEST_F(SacTest, LogProbIsTheSquashedGaussianDensity) {
  // One element, mean 0.3, std 0.5, scale 2: the density of a = 2 tanh(u) by the change of variables,
  // p(a) = N(u) / |da/du| = N(u) / (2 (1 - tanh(u)^2)), at a point where tanh saturates a little.
  SquashedGaussian g;
  g.mean = torch::tensor({{0.3f}});
  g.log_std = torch::log(torch::tensor({{0.5f}}));
  const torch::Tensor noise = torch::tensor({{1.7f}});
  const SquashedSample s = squashed_gaussian_sample(g, noise, torch::tensor({2.0f}), torch::tensor({0.0f}));
  const double u = 0.3 + 0.5 * 1.7;
  const double normal = std::exp(-0.5 * 1.7 * 1.7) / (0.5 * std::sqrt(2 * kPi));
  const double density = normal / (2.0 * (1.0 - std::tanh(u) * std::tanh(u)));
  EXPECT_NEAR(s.action.item<double>(), 2.0 * std::tanh(u), 1e-6);
  EXPECT_NEAR(s.log_prob.item<double>(), std::log(density), 1e-5);
  // Far in the tail tanh(u) rounds to 1 in fp32; the log-probability stays finite.
  const SquashedSample tail =
      squashed_gaussian_sample(g, torch::tensor({{40.0f}}), torch::tensor({2.0f}), torch::tensor({0.0f}));
  EXPECT_TRUE(std::isfinite(tail.log_prob.item<double>()));
}

TEST_F(SacTest, TemperatureRisesWhenEntropyIsBelowTargetAndFallsAbove) {
  SacConfig sac;
  sac.init_alpha = 0.2;
  sac.alpha_lr = 0.01;
  auto algo = make_small_sac(sac, 4);
  // log_pi = 3 > -target_entropy = 2: the entropy -log_pi is below the target, alpha must grow. The
  // gradient of the loss in log alpha is g = -alpha mean(log_pi + target_entropy) = -0.2; Adam's first
  // step moves by lr g / (|g| + eps), i.e. log alpha += lr (up to eps).
  const torch::Tensor low_entropy = torch::full({5}, 3.0f);
  const double g_low = -0.2 * (3.0 - 2.0);
  algo->alpha_step(low_entropy);
  const double expected_up = std::exp(std::log(0.2) - 0.01 * g_low / (std::fabs(g_low) + 1e-8));
  EXPECT_NEAR(algo->alpha(), expected_up, 1e-6);
  EXPECT_GT(algo->alpha(), 0.2);

  // A high-entropy policy (log_pi = -6) on a fresh learner: alpha falls by the same factor.
  auto other = make_small_sac(sac, 4);
  other->alpha_step(torch::full({5}, -6.0f));
  const double g_high = -0.2 * (-6.0 - 2.0);
  const double expected_down = std::exp(std::log(0.2) - 0.01 * g_high / (std::fabs(g_high) + 1e-8));
  EXPECT_NEAR(other->alpha(), expected_down, 1e-6);
  EXPECT_LT(other->alpha(), 0.2);

  // Without autotune the temperature is the configured constant.
  SacConfig fixed = sac;
  fixed.autotune = false;
  fixed.alpha = 0.07;
  auto constant = make_small_sac(fixed, 4);
  constant->alpha_step(low_entropy);
  EXPECT_DOUBLE_EQ(constant->alpha(), 0.07);
}

TEST_F(SacTest, PolyakMovesTheTargetsTauOfTheWay) {
  SacConfig sac;
  sac.tau = 0.25;
  auto algo = make_small_sac(sac, 5);
  ASSERT_TRUE(same_tensors(*algo->critic(), *algo->target_critic()));  // the targets start as copies
  perturb(*algo->critic(), 6);
  const auto online = params_of(*algo->critic());
  const auto before = params_of(*algo->target_critic());
  algo->update_target_networks();
  const auto after = params_of(*algo->target_critic());
  for (const auto& [name, old] : before) {
    const torch::Tensor expected = old + 0.25 * (online.at(name) - old);
    EXPECT_TRUE(torch::allclose(after.at(name), expected, 1e-6, 1e-7)) << name;
    EXPECT_FALSE(torch::equal(after.at(name), old)) << name;
  }
  for (const auto& [name, t] : params_of(*algo->critic())) EXPECT_TRUE(torch::equal(t, online.at(name))) << name;
}

TEST_F(SacTest, LearnsOnlyFromLearningStartsWithDelayedActorAndTargetUpdates) {
  SacConfig sac;
  sac.learning_starts = 40;
  sac.train_frequency = 4;
  sac.gradient_steps = 3;
  sac.batch_size = 16;
  sac.policy_frequency = 2;
  sac.target_network_frequency = 1000;  // no target update in this test
  auto algo = make_small_sac(sac, 7, /*num_envs=*/2);
  EXPECT_EQ(find_algorithm("sac").rollout_steps(small_config(sac, 2)), 2);  // a chunk per train_frequency
  EXPECT_FALSE(find_algorithm("sac").chunk_log_probs);
  const auto target_before = params_of(*algo->target_critic());

  std::int64_t step = 0;
  for (int i = 0; i < 9; ++i) {  // 9 chunks of 2 steps x 2 lanes: 36 env steps
    const auto chunk = random_sac_chunk(2, 2, 20 + i);
    step += chunk.env_steps();
    EXPECT_TRUE(algo->update(chunk, UpdateContext{step, 10000}).empty()) << "at env step " << step;
  }
  EXPECT_EQ(algo->gradient_steps(), 0);
  EXPECT_EQ(algo->buffer_size(), 36);

  const auto chunk = random_sac_chunk(2, 2, 99);  // env steps 37-40: step 40 is a phase
  step += chunk.env_steps();
  const auto m = as_map(algo->update(chunk, UpdateContext{step, 10000}));
  const std::vector<std::string> names{"qf1_values", "qf2_values", "qf1_loss", "qf2_loss", "qf_loss",
                                       "actor_loss", "alpha",      "alpha_loss", "buffer_size", "gradient_steps"};
  EXPECT_EQ(m.size(), names.size());
  for (const auto& name : names) {
    ASSERT_EQ(m.count(name), 1u) << name;
    EXPECT_TRUE(std::isfinite(m.at(name))) << name;
  }
  EXPECT_EQ(m.at("gradient_steps"), 3.0);
  EXPECT_EQ(algo->actor_steps(), 2);  // after critic step 2: two actor steps; step 3 none
  EXPECT_EQ(m.at("buffer_size"), 40.0);
  EXPECT_NEAR(m.at("qf_loss"), 0.5 * (m.at("qf1_loss") + m.at("qf2_loss")), 1e-9);
  EXPECT_LT(m.at("alpha"), 1.0);  // the random start has high entropy: alpha falls from init_alpha 1
  EXPECT_EQ(algo->policy_version(), 1);
  for (const auto& [name, t] : params_of(*algo->target_critic())) EXPECT_TRUE(torch::equal(t, target_before.at(name)));

  // 3 chunks more: 12 env steps, 3 phases of 3 critic steps; 9 + 3 = 12 critic steps, 12 actor steps.
  for (int i = 0; i < 3; ++i) {
    const auto c = random_sac_chunk(2, 2, 200 + i);
    step += c.env_steps();
    algo->update(c, UpdateContext{step, 10000});
  }
  EXPECT_EQ(algo->gradient_steps(), 12);
  EXPECT_EQ(algo->actor_steps(), 12);
  EXPECT_EQ(algo->policy_version(), 4);
}

// The hand-written step (sac.fused_update, learner/sac/fused_step.h) against autograd's: from the same
// weights and chunks, both draw the same replay rows and noise, so after updates with delayed and
// repeated actor steps, the temperature's and the target's, networks, temperature and metrics agree
// to float rounding. Both activations; tanh with observation scaling and gradient clipping.
TEST_F(SacTest, FusedStepIsAutogradsStep) {
  for (const bool tanh : {false, true}) {
    SCOPED_TRACE(tanh ? "tanh, scaled observations, clipped" : "relu");
    SacConfig sac;
    sac.learning_starts = 8;
    sac.batch_size = 16;
    sac.gradient_steps = 2;
    sac.policy_frequency = 2;
    sac.tau = 0.2;
    if (tanh) sac.max_grad_norm = 0.5;
    const auto make = [&](bool fused) {
      SacConfig c = sac;
      c.fused_update = fused;
      AlgorithmInit init;
      init.config = small_config(c);
      init.config.policy.activation = tanh ? "tanh" : "relu";
      init.config.policy.scale_obs = tanh;
      init.spec = test_spec();
      torch::manual_seed(21);
      return std::make_unique<Sac>(init);
    };
    auto fused = make(true), autograd = make(false);
    ASSERT_TRUE(fused->fused());
    ASSERT_FALSE(autograd->fused());
    ASSERT_TRUE(same_tensors(*fused->actor(), *autograd->actor()));
    std::int64_t step = 0;
    for (int i = 0; i < 8; ++i) {
      const auto chunk = random_sac_chunk(4, 1, 700 + i);
      step += chunk.env_steps();
      const auto a = as_map(fused->update(chunk, UpdateContext{step, 10000}));
      const auto b = as_map(autograd->update(chunk, UpdateContext{step, 10000}));
      ASSERT_EQ(a.size(), b.size());
      for (const auto& [name, value] : b) {
        if (std::isnan(value)) {
          EXPECT_TRUE(std::isnan(a.at(name))) << name;
          continue;
        }
        EXPECT_NEAR(a.at(name), value, 1e-4 * (1.0 + std::fabs(value))) << name << " at update " << i;
      }
    }
    EXPECT_EQ(fused->gradient_steps(), autograd->gradient_steps());
    EXPECT_EQ(fused->actor_steps(), autograd->actor_steps());
    EXPECT_GT(fused->actor_steps(), 8);
    EXPECT_EQ(fused->policy_version(), autograd->policy_version());
    EXPECT_NEAR(fused->alpha(), autograd->alpha(), 1e-5);
    const auto close = [](const torch::nn::Module& x, const torch::nn::Module& y, const char* what) {
      const auto px = params_of(x), py = params_of(y);
      for (const auto& [name, t] : py) {
        const double diff = (px.at(name) - t).abs().max().item<double>();
        EXPECT_LT(diff, 1e-4) << what << " " << name;
      }
    };
    close(*fused->actor(), *autograd->actor(), "actor");
    close(*fused->critic(), *autograd->critic(), "critic");
    close(*fused->target_critic(), *autograd->target_critic(), "target critic");
    // And the step moved them: the comparison is not between two untouched networks.
    auto untouched = make(true);
    EXPECT_FALSE(same_tensors(*untouched->actor(), *fused->actor()));
    EXPECT_FALSE(same_tensors(*untouched->critic(), *fused->critic()));
  }
}

// Acting on the dense kernels (SacActor::dense_act, without autograd on the CPU): the actions are the
// operators' to float rounding, deterministic and drawn (from the same generator draw), with relu and
// with tanh and scaled observations; with autograd recording, the operators run.
TEST_F(SacTest, DenseActingIsTheOperatorsActing) {
  for (const bool tanh : {false, true}) {
    SCOPED_TRACE(tanh ? "tanh, scaled observations" : "relu");
    AlgorithmInit init;
    init.config = small_config(SacConfig{});
    init.config.policy.activation = tanh ? "tanh" : "relu";
    init.config.policy.scale_obs = tanh;
    init.spec = test_spec();
    torch::manual_seed(31);
    Sac sac(init);
    SacActor actor = sac.actor();
    perturb(*actor, 8);  // means and log-stds away from the initial ones
    const torch::Tensor obs = torch::randn({7, 3}) * 2;
    const auto operators = [&](const torch::Tensor* noise) {
      const SquashedGaussian g = actor->forward(obs);  // autograd on: the operators
      return actor->squash(noise ? g.mean + torch::exp(g.log_std) * *noise : g.mean).detach();
    };
    torch::Tensor dense;
    EXPECT_FALSE(actor->dense_act(obs, nullptr, dense));  // autograd recording
    const torch::Tensor expected_mean = operators(nullptr);
    torch::manual_seed(5);
    const torch::Tensor noise = torch::randn({7, 2});
    const torch::Tensor expected_draw = operators(&noise);
    ASSERT_GT((expected_draw - expected_mean).abs().max().item<double>(), 1e-2);  // the noise matters

    torch::NoGradGuard no_grad;
    ASSERT_TRUE(actor->dense_act(obs, nullptr, dense));
    EXPECT_TRUE(torch::allclose(dense, expected_mean, 1e-5, 1e-5)) << dense << expected_mean;
    EXPECT_TRUE(torch::allclose(actor->deterministic_action(obs), expected_mean, 1e-5, 1e-5));
    // The policy's draw: the same generator draw as randn_like(mean) made.
    auto policy = std::dynamic_pointer_cast<SacPolicy>(sac.policy());
    ASSERT_NE(policy, nullptr);
    agents::ActContext ctx;
    ctx.global_step = 1 << 30;  // past the uniform warm-up
    torch::manual_seed(5);
    const torch::Tensor drawn = policy->act(obs, ctx).action;
    EXPECT_TRUE(torch::allclose(drawn, expected_draw, 1e-5, 1e-5)) << drawn << expected_draw;
  }
}

TEST_F(SacTest, WarmupActsUniformlyThenSamplesInsideTheBounds) {
  SacConfig sac;
  sac.learning_starts = 100;
  auto algo = make_small_sac(sac, 8);
  const torch::Tensor obs = torch::randn({4000, 3});
  agents::ActContext ctx;
  ctx.global_step = 99;
  torch::manual_seed(9);
  const torch::Tensor random = algo->policy()->act(obs, ctx).action;
  ASSERT_EQ(random.sizes(), (std::vector<std::int64_t>{4000, 2}));
  // Uniform over [-2, 2] x [0, 1]: means 0 and 0.5, variances 16/12 and 1/12.
  EXPECT_NEAR(random.select(1, 0).mean().item<double>(), 0.0, 0.1);
  EXPECT_NEAR(random.select(1, 1).mean().item<double>(), 0.5, 0.03);
  EXPECT_NEAR(random.select(1, 0).var().item<double>(), 16.0 / 12.0, 0.1);
  EXPECT_NEAR(random.select(1, 1).var().item<double>(), 1.0 / 12.0, 0.01);

  ctx.global_step = 100;
  const torch::Tensor sampled = algo->policy()->act(obs, ctx).action;
  EXPECT_FALSE(algo->policy()->act(obs, ctx).log_prob.defined());
  EXPECT_TRUE((sampled.select(1, 0).abs() <= 2).all().item<bool>());
  EXPECT_TRUE((sampled.select(1, 1) >= 0).logical_and(sampled.select(1, 1) <= 1).all().item<bool>());
  // Deterministic: the squashed mean, which is also what play's panel shows.
  ctx.deterministic = true;
  const torch::Tensor mean_action = algo->policy()->act(obs, ctx).action;
  EXPECT_TRUE(torch::allclose(mean_action, algo->actor()->squash(algo->actor()->forward(obs).mean)));
  const agents::PolicyView view = algo->policy()->view(obs.slice(0, 0, 3));
  EXPECT_EQ(view.kind, agents::PolicyView::Kind::kActionMean);
  EXPECT_TRUE(torch::allclose(view.scores, mean_action.slice(0, 0, 3)));
}

// sac.noise_correlation: the behaviour noise of each lane is an AR(1) process, N(0, 1) at every step
// with correlation rho between consecutive steps (recovered here from the actions: eps = (atanh of the
// unsquashed action - mean) / std); 0 keeps white noise.
TEST_F(SacTest, CorrelatedNoiseIsAnAr1ProcessPerLane) {
  for (const double rho : {0.0, 0.9}) {
    SacConfig sac;
    sac.learning_starts = 0;
    sac.noise_correlation = rho;
    auto algo = make_small_sac(sac, 8, 256);
    torch::manual_seed(4);
    const torch::Tensor obs = torch::randn({256, 3});
    const SquashedGaussian g = algo->actor()->forward(obs);
    const torch::Tensor mean = g.mean.detach().to(torch::kDouble), std = g.log_std.detach().exp().to(torch::kDouble);
    const torch::Tensor scale = algo->actor()->action_scale().to(torch::kDouble);
    const torch::Tensor bias = algo->actor()->action_bias().to(torch::kDouble);
    agents::ActContext ctx;
    std::vector<torch::Tensor> eps;
    for (int t = 0; t < 400; ++t) {
      const torch::Tensor a = algo->policy()->act(obs, ctx).action.to(torch::kDouble);
      const torch::Tensor u = torch::atanh(((a - bias) / scale).clamp(-1 + 1e-12, 1 - 1e-12));
      eps.push_back((u - mean) / std);
    }
    const torch::Tensor e = torch::stack(eps);  // [T, lanes, A]
    const auto lag = [&](int k) {
      return (e.slice(0, k) * e.slice(0, 0, e.size(0) - k)).mean().item<double>() / e.pow(2).mean().item<double>();
    };
    EXPECT_NEAR(e.var().item<double>(), 1.0, 0.06) << "rho " << rho << ": still N(0, 1) at each step";
    EXPECT_NEAR(e.mean().item<double>(), 0.0, 0.06) << rho;
    EXPECT_NEAR(lag(1), rho, 0.03) << "step-to-step correlation";
    EXPECT_NEAR(lag(2), rho * rho, 0.04);
    // Lanes are independent of each other.
    EXPECT_NEAR((e.select(1, 0) * e.select(1, 1)).mean().item<double>(), 0.0, 0.35);
  }
  SacConfig bad;
  bad.noise_correlation = 1.0;
  EXPECT_THROW(make_small_sac(bad, 8), std::exception) << "rho = 1 never forgets its first draw";
}

TEST_F(SacTest, RefusesDiscreteActionsNamingTheEnv) {
  const AlgorithmSpec& spec = find_algorithm("sac");
  TrainConfig config;
  config.algo = "sac";
  try {
    spec.check(config, envs::env_spec("CartPole-v1"), RunContext{"cartpole_sac.yaml", false});
    FAIL() << "sac accepted a Discrete action space";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("CartPole-v1"), std::string::npos) << message;
    EXPECT_NE(message.find("cartpole_sac.yaml"), std::string::npos) << message;
    EXPECT_NE(message.find("algo: ppo"), std::string::npos) << message;
    EXPECT_NE(message.find("algo: dqn"), std::string::npos) << message;
  }
  AlgorithmInit init;
  init.config = config;
  init.spec = envs::env_spec("Acrobot-v1");
  EXPECT_THROW(make_sac(init), std::invalid_argument);
  // Fields of the policy section SAC has no use for are refused, not ignored.
  config.policy.init_log_std = -0.5;
  EXPECT_THROW(spec.check(config, envs::env_spec("Pendulum-v1"), RunContext{}), std::invalid_argument);
}

TEST_F(SacTest, ActorProcessPolicyTakesTheLearnersWeights) {
  const AlgorithmSpec& spec = find_algorithm("sac");
  SacConfig sac;
  sac.learning_starts = 0;
  TrainConfig config = small_config(sac);
  config.policy.scale_obs = true;
  AlgorithmInit init;
  init.config = config;
  init.spec = test_spec();
  torch::manual_seed(10);
  auto learner = make_sac(init);
  torch::manual_seed(11);
  auto behaviour = spec.make_behaviour_policy(config, init.spec);
  const agents::Weights weights = agents::export_weights(learner->policy()->module(), 1);
  ASSERT_EQ(weights.bytes.size(), agents::weights_nbytes(behaviour->module()));
  agents::import_weights(behaviour->module(), weights);
  agents::ActContext greedy;
  greedy.deterministic = true;
  const torch::Tensor obs = torch::randn({16, 3});
  EXPECT_TRUE(torch::equal(learner->policy()->act(obs, greedy).action, behaviour->act(obs, greedy).action));
  EXPECT_EQ(spec.policy_key, "actor");
  EXPECT_FALSE(spec.chunk_log_probs);
}

TEST_F(SacTest, SaveLoadRoundTripIsBitwise) {
  SacConfig sac;
  sac.learning_starts = 0;
  sac.batch_size = 8;
  sac.tau = 0.1;
  auto algo = make_small_sac(sac, 12);
  std::int64_t step = 0;
  for (int i = 0; i < 6; ++i) {
    const auto chunk = random_sac_chunk(4, 1, 300 + i);
    step += chunk.env_steps();
    algo->update(chunk, UpdateContext{step, 10000});
  }
  ASSERT_FALSE(same_tensors(*algo->critic(), *algo->target_critic()));
  ASSERT_NE(algo->alpha(), 1.0);

  const std::string state = apiary::testing::saved_state(*algo);
  auto fresh = make_small_sac(sac, 13);
  ASSERT_FALSE(same_tensors(*algo->actor(), *fresh->actor()));
  apiary::testing::load_state(*fresh, state);
  EXPECT_TRUE(same_tensors(*algo->actor(), *fresh->actor()));
  EXPECT_TRUE(same_tensors(*algo->critic(), *fresh->critic()));
  EXPECT_TRUE(same_tensors(*algo->target_critic(), *fresh->target_critic()));
  EXPECT_EQ(fresh->alpha(), algo->alpha());
  EXPECT_EQ(fresh->env_steps(), algo->env_steps());
  EXPECT_EQ(fresh->gradient_steps(), algo->gradient_steps());
  EXPECT_EQ(fresh->actor_steps(), algo->actor_steps());
  EXPECT_EQ(fresh->policy_version(), algo->policy_version());
  EXPECT_EQ(fresh->buffer_size(), 0);  // the replay buffer refills after a resume

  // Adam's states, log alpha and the generator came along: the same chunks give bitwise the same
  // networks on both (the original also starts from an empty replay buffer, as the loaded one does).
  algo = make_small_sac(sac, 12);
  apiary::testing::load_state(*algo, state);
  for (int i = 0; i < 3; ++i) {
    const auto chunk = random_sac_chunk(4, 1, 500 + i);
    step += chunk.env_steps();
    const auto a = as_map(algo->update(chunk, UpdateContext{step, 10000}));
    const auto b = as_map(fresh->update(chunk, UpdateContext{step, 10000}));
    EXPECT_EQ(a.at("qf_loss"), b.at("qf_loss"));
  }
  EXPECT_TRUE(same_tensors(*algo->actor(), *fresh->actor()));
  EXPECT_TRUE(same_tensors(*algo->critic(), *fresh->critic()));
  EXPECT_TRUE(same_tensors(*algo->target_critic(), *fresh->target_critic()));
  EXPECT_EQ(algo->alpha(), fresh->alpha());
}

TEST_F(SacTest, Bf16ForwardTrainsWithFp32Parameters) {
  SacConfig sac;
  sac.learning_starts = 0;
  sac.batch_size = 16;
  auto algo = make_small_sac(sac, 14, 1, Precision::kBf16);
  std::int64_t step = 0;
  Metrics metrics;
  for (int i = 0; i < 3; ++i) {
    const auto chunk = random_sac_chunk(4, 1, 600 + i);
    step += chunk.env_steps();
    metrics = algo->update(chunk, UpdateContext{step, 10000});
  }
  const auto m = as_map(metrics);
  EXPECT_TRUE(std::isfinite(m.at("qf_loss")));
  EXPECT_TRUE(std::isfinite(m.at("actor_loss")));
  EXPECT_EQ(m.count("loss_scale"), 0u);  // fp16 only
  for (auto* module : std::vector<torch::nn::Module*>{algo->actor().get(), algo->critic().get()})
    for (const auto& p : module->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
}

TEST_F(SacTest, Fp16ScalesTheLossesWhereSupported) {
  SacConfig sac;
  sac.learning_starts = 0;
  sac.batch_size = 16;
#if TORCH_VERSION_MAJOR < 2
  // LibTorch 1.13's CPU autocast has no fp16: refused at construction.
  EXPECT_THROW(make_small_sac(sac, 15, 1, Precision::kFp16), std::invalid_argument);
#else
  auto algo = make_small_sac(sac, 15, 1, Precision::kFp16);
  const auto chunk = random_sac_chunk(8, 1, 700);
  const auto m = as_map(algo->update(chunk, UpdateContext{chunk.env_steps(), 1000}));
  ASSERT_TRUE(m.count("loss_scale"));
  EXPECT_GT(m.at("loss_scale"), 0.0);
  EXPECT_TRUE(std::isfinite(m.at("qf_loss")));
#endif
}

// ---- Pendulum-v1 smoke run ---------------------------------------------------------------------------

// configs/pendulum_sac.yaml's settings, made cheaper still for a test that must pass on a busy machine.
TrainConfig pendulum_config() {
  TrainConfig config;
  config.algo = "sac";
  config.seed = 1;
  config.total_steps = 20000;
  config.env.id = "Pendulum-v1";
  config.env.num_envs = 4;
  config.policy.hidden_sizes = {64, 64};
  config.policy.activation = "relu";
  SacConfig& s = config.section<SacConfig>("sac");
  s.buffer_size = 20000;
  s.batch_size = 128;
  s.learning_starts = 1000;
  s.train_frequency = 4;
  s.gradient_steps = 2;
  s.policy_lr = 2e-3;
  s.q_lr = 2e-3;
  s.alpha_lr = 2e-3;
  s.policy_frequency = 1;
  s.tau = 0.01;
  s.gamma = 0.98;
  return config;
}

TEST_F(SacTest, LearnsPendulum) {
  AlgorithmInit init;
  init.config = pendulum_config();
  init.spec = envs::env_spec("Pendulum-v1");
  torch::manual_seed(static_cast<std::uint64_t>(init.config.seed));
  auto algo = make_sac(init);
  apiary::testing::SmokeOptions o = apiary::testing::smoke_options(init.config);
  o.record_log_probs = false;
  o.stop_return = -200.0;  // stop early once an evaluation reaches the project's bar
  o.max_seconds = 50.0;
  o.final_episodes = 100;
  const apiary::testing::SmokeRun r = apiary::testing::learn_until(*algo, o);
  std::printf("SAC Pendulum-v1: mean return %.1f over 100 episodes after %lld env steps, %.1f s\n",
              r.eval.mean_return, static_cast<long long>(r.env_steps), r.seconds);
  EXPECT_GE(r.eval.mean_return, -400.0);  // the smoke test's bar (random play: about -1200)
  EXPECT_LE(r.seconds, 60.0);
}

}  // namespace
}  // namespace apiary::learner
