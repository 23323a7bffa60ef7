// ActorCritic: shapes, action selection, distributions against closed forms, initialisation.
#include <cmath>
#include <stdexcept>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/distributions.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "test_helpers.h"

namespace apiary::agents {
namespace {

using testing::cartpole_like_spec;
using testing::pendulum_like_spec;
using testing::random_obs;
using testing::two_dim_box_spec;

// Sets the actor head to weight 0 and the given bias, so every row's logits (or mean) equal `bias`.
void set_actor_head(ActorCritic& policy, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  auto params = policy->named_parameters();
  params["actor_head.weight"].zero_();
  params["actor_head.bias"].copy_(bias);
}

TEST(ActorCritic, DiscreteShapesAndDtypes) {
  ActorCritic policy = make_actor_critic(cartpole_like_spec());
  const torch::Tensor obs = random_obs(8, 4, 1);
  for (bool deterministic : {false, true}) {
    const ActOut out = policy->act(obs, deterministic);
    EXPECT_EQ(out.action.sizes(), torch::IntArrayRef({8}));
    EXPECT_EQ(out.action.scalar_type(), torch::kLong);
    EXPECT_TRUE(((out.action >= 0) & (out.action < 2)).all().item<bool>());
    EXPECT_EQ(out.log_prob.sizes(), torch::IntArrayRef({8}));
    EXPECT_EQ(out.log_prob.scalar_type(), torch::kFloat);
    EXPECT_EQ(out.value.sizes(), torch::IntArrayRef({8}));
    EXPECT_FALSE(out.log_prob.requires_grad());
  }
  const EvalOut eval = policy->evaluate(obs, torch::zeros({8}, torch::kInt));
  EXPECT_EQ(eval.log_prob.sizes(), torch::IntArrayRef({8}));
  EXPECT_EQ(eval.entropy.sizes(), torch::IntArrayRef({8}));
  EXPECT_EQ(eval.value.sizes(), torch::IntArrayRef({8}));
  EXPECT_TRUE(eval.log_prob.requires_grad());
  EXPECT_EQ(policy->value(obs).sizes(), torch::IntArrayRef({8}));
  EXPECT_TRUE(policy->is_discrete());
  EXPECT_EQ(policy->action_dim(), 2);
  EXPECT_FALSE(policy->log_std().defined());
}

TEST(ActorCritic, ContinuousShapesAndDtypes) {
  for (const auto& spec : {pendulum_like_spec(), two_dim_box_spec()}) {
    ActorCritic policy = make_actor_critic(spec);
    const std::int64_t a_dim = spec.action_dim();
    const torch::Tensor obs = random_obs(8, spec.obs_dim(), 2);
    const ActOut out = policy->act(obs, /*deterministic=*/false);
    EXPECT_EQ(out.action.sizes(), torch::IntArrayRef({8, a_dim}));
    EXPECT_EQ(out.action.scalar_type(), torch::kFloat);
    EXPECT_EQ(out.log_prob.sizes(), torch::IntArrayRef({8}));
    EXPECT_EQ(out.value.sizes(), torch::IntArrayRef({8}));
    const EvalOut eval = policy->evaluate(obs, out.action);
    EXPECT_EQ(eval.log_prob.sizes(), torch::IntArrayRef({8}));
    EXPECT_EQ(eval.entropy.sizes(), torch::IntArrayRef({8}));
    EXPECT_EQ(policy->log_std().sizes(), torch::IntArrayRef({a_dim}));
  }
}

TEST(ActorCritic, ActionsAreNotClipped) {
  ActorCritic policy = make_actor_critic(pendulum_like_spec());
  set_actor_head(policy, torch::tensor({5.0f}));  // mean far outside [-2, 2]
  const ActOut out = policy->act(random_obs(16, 3, 3), /*deterministic=*/true);
  EXPECT_TRUE(torch::allclose(out.action, torch::full({16, 1}, 5.0f)));
}

TEST(ActorCritic, DeterministicActIsArgmaxAndMean) {
  ActorCritic discrete = make_actor_critic(cartpole_like_spec());
  const torch::Tensor obs = random_obs(32, 4, 4);
  const ActOut first = discrete->act(obs, /*deterministic=*/true);
  const ActOut second = discrete->act(obs, /*deterministic=*/true);
  EXPECT_TRUE(torch::equal(first.action, discrete->forward(obs).logits.argmax(-1)));
  EXPECT_TRUE(torch::equal(first.action, second.action));
  EXPECT_TRUE(torch::equal(first.log_prob, second.log_prob));

  ActorCritic continuous = make_actor_critic(two_dim_box_spec());
  const torch::Tensor obs_c = random_obs(32, 5, 5);
  const ActOut mean_act = continuous->act(obs_c, /*deterministic=*/true);
  EXPECT_TRUE(torch::equal(mean_act.action, continuous->forward(obs_c).mean.detach()));
  EXPECT_TRUE(torch::equal(mean_act.action, continuous->act(obs_c, /*deterministic=*/true).action));
}

TEST(ActorCritic, SeededStochasticActIsRepeatable) {
  for (const auto& spec : {cartpole_like_spec(), two_dim_box_spec()}) {
    ActorCritic policy = make_actor_critic(spec);
    const torch::Tensor obs = random_obs(64, spec.obs_dim(), 6);
    auto gen_a = at::make_generator<at::CPUGeneratorImpl>(123);
    auto gen_b = at::make_generator<at::CPUGeneratorImpl>(123);
    const ActOut a = policy->act(obs, /*deterministic=*/false, &gen_a);
    const ActOut b = policy->act(obs, /*deterministic=*/false, &gen_b);
    EXPECT_TRUE(torch::equal(a.action, b.action)) << spec.id;
    EXPECT_TRUE(torch::equal(a.log_prob, b.log_prob)) << spec.id;
    // The generator advanced: a second draw differs (64 rows make a coincidence negligible).
    const ActOut c = policy->act(obs, /*deterministic=*/false, &gen_a);
    EXPECT_FALSE(torch::equal(a.action, c.action)) << spec.id;
  }
}

TEST(ActorCritic, SampleFrequenciesMatchSoftmax) {
  envs::EnvSpec spec = cartpole_like_spec();
  spec.action_space = envs::Space::discrete(4);
  ActorCritic policy = make_actor_critic(spec);
  const torch::Tensor logits = torch::tensor({1.0f, 0.0f, -1.0f, 0.5f});
  set_actor_head(policy, logits);
  constexpr std::int64_t kSamples = 8000;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const ActOut out = policy->act(random_obs(kSamples, 4, 8), /*deterministic=*/false, &gen);
  const torch::Tensor freq = torch::bincount(out.action, /*weights=*/{}, /*minlength=*/4).to(torch::kFloat) / kSamples;
  const torch::Tensor probs = torch::softmax(logits, 0);
  // Standard error is at most sqrt(0.25 / 8000) ~ 0.0056; allow about 4 of them.
  EXPECT_TRUE(torch::allclose(freq, probs, /*rtol=*/0.0, /*atol=*/0.025)) << freq << probs;
  EXPECT_TRUE(torch::allclose(out.log_prob, torch::log_softmax(logits, 0).index_select(0, out.action)));
}

TEST(ActorCritic, ActLogProbEqualsEvaluateLogProb) {
  for (const auto& spec : {cartpole_like_spec(), two_dim_box_spec()}) {
    ActorCritic policy = make_actor_critic(spec);
    const torch::Tensor obs = random_obs(50, spec.obs_dim(), 9);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(10);
    const ActOut acted = policy->act(obs, /*deterministic=*/false, &gen);
    const EvalOut eval = policy->evaluate(obs, acted.action);
    EXPECT_TRUE(torch::allclose(acted.log_prob, eval.log_prob.detach(), 1e-5, 1e-6)) << spec.id;
    EXPECT_TRUE(torch::allclose(acted.value, eval.value.detach())) << spec.id;
    EXPECT_TRUE(torch::allclose(acted.value, policy->value(obs).detach())) << spec.id;
  }
  // int32 actions, as an env buffer holds them, give the same log-probabilities.
  ActorCritic policy = make_actor_critic(cartpole_like_spec());
  const torch::Tensor obs = random_obs(20, 4, 11);
  const ActOut acted = policy->act(obs, /*deterministic=*/false);
  EXPECT_TRUE(torch::allclose(acted.log_prob, policy->evaluate(obs, acted.action.to(torch::kInt)).log_prob.detach()));
}

TEST(ActorCritic, GaussianLogProbMatchesClosedForm) {
  ActorCritic policy = make_actor_critic(two_dim_box_spec());
  const double mean[2] = {0.5, -1.0};
  const double log_std[2] = {std::log(0.5), std::log(2.0)};
  set_actor_head(policy, torch::tensor({0.5f, -1.0f}));
  {
    torch::NoGradGuard no_grad;
    policy->named_parameters()["log_std"].copy_(torch::tensor({static_cast<float>(log_std[0]),
                                                               static_cast<float>(log_std[1])}));
  }
  const float actions[3][2] = {{0.0f, 0.0f}, {0.5f, -1.0f}, {2.0f, 3.0f}};
  const torch::Tensor action_tensor = torch::from_blob(const_cast<float*>(&actions[0][0]), {3, 2}, torch::kFloat);
  const EvalOut eval = policy->evaluate(random_obs(3, 5, 12), action_tensor);
  const double pi = std::acos(-1.0);
  for (int row = 0; row < 3; ++row) {
    double expected = 0.0;
    for (int j = 0; j < 2; ++j) {
      const double sigma = std::exp(log_std[j]);
      const double z = (actions[row][j] - mean[j]) / sigma;
      expected += -0.5 * z * z - std::log(sigma) - 0.5 * std::log(2.0 * pi);
    }
    EXPECT_NEAR(eval.log_prob[row].item<double>(), expected, 1e-5) << "row " << row;
    const double entropy = (0.5 + 0.5 * std::log(2 * pi) + log_std[0]) + (0.5 + 0.5 * std::log(2 * pi) + log_std[1]);
    EXPECT_NEAR(eval.entropy[row].item<double>(), entropy, 1e-5);
  }
  // The log-std learns: its gradient flows through log_prob and entropy.
  (eval.log_prob.sum() + eval.entropy.sum()).backward();
  ASSERT_TRUE(policy->log_std().grad().defined());
  EXPECT_GT(policy->log_std().grad().abs().sum().item<float>(), 0.0f);
}

TEST(ActorCritic, CategoricalEntropy) {
  for (std::int64_t n : {2, 3, 7}) {
    envs::EnvSpec spec = cartpole_like_spec();
    spec.action_space = envs::Space::discrete(n);
    ActorCritic policy = make_actor_critic(spec);
    set_actor_head(policy, torch::zeros({n}));
    const EvalOut eval = policy->evaluate(random_obs(4, 4, 13), torch::zeros({4}, torch::kLong));
    EXPECT_TRUE(torch::allclose(eval.entropy.detach(), torch::full({4}, std::log(static_cast<double>(n)),
                                                                   torch::kFloat)))
        << "n = " << n;
  }
  // A non-uniform case against -sum p log p.
  const torch::Tensor logits = torch::tensor({{2.0f, -1.0f, 0.5f}});
  const torch::Tensor p = torch::softmax(logits, 1);
  EXPECT_NEAR(categorical_entropy(logits).item<float>(), -(p * p.log()).sum().item<float>(), 1e-6);
}

TEST(ActorCritic, DistributionsRunInFp32UnderReducedPrecision) {
  for (const auto& spec : {cartpole_like_spec(), two_dim_box_spec()}) {
    ActorCritic policy = make_actor_critic(spec);
    policy->to(torch::kBFloat16);
    const torch::Tensor obs = random_obs(6, spec.obs_dim(), 14).to(torch::kBFloat16);
    const ActOut acted = policy->act(obs, /*deterministic=*/false);
    EXPECT_EQ(acted.log_prob.scalar_type(), torch::kFloat) << spec.id;
    EXPECT_EQ(acted.value.scalar_type(), torch::kFloat) << spec.id;
    const EvalOut eval = policy->evaluate(obs, acted.action);
    EXPECT_EQ(eval.log_prob.scalar_type(), torch::kFloat) << spec.id;
    EXPECT_EQ(eval.entropy.scalar_type(), torch::kFloat) << spec.id;
    EXPECT_TRUE(torch::allclose(acted.log_prob, eval.log_prob.detach())) << spec.id;
  }
}

// W W^T = gain^2 I over the smaller dimension of W.
void expect_orthogonal(const torch::Tensor& weight, double gain, const std::string& name) {
  const torch::Tensor w = weight.detach().to(torch::kDouble);
  const torch::Tensor gram = w.size(0) <= w.size(1) ? w.mm(w.t()) : w.t().mm(w);
  const torch::Tensor expected = gain * gain * torch::eye(gram.size(0), torch::kDouble);
  EXPECT_TRUE(torch::allclose(gram, expected, /*rtol=*/0.0, /*atol=*/1e-5 * std::max(1.0, gain * gain))) << name;
}

TEST(ActorCritic, OrthogonalInitAsCleanRL) {
  for (bool shared : {false, true}) {
    PolicyConfig config;
    config.shared_trunk = shared;
    ActorCritic policy = make_actor_critic(two_dim_box_spec(), config);
    const auto params = policy->named_parameters();
    const std::vector<std::string> hidden =
        shared ? std::vector<std::string>{"trunk.0", "trunk.2"}
               : std::vector<std::string>{"actor_body.0", "actor_body.2", "critic_body.0", "critic_body.2"};
    for (const auto& layer : hidden) {
      ASSERT_NE(params.find(layer + ".weight"), nullptr) << layer;
      expect_orthogonal(params[layer + ".weight"], std::sqrt(2.0), layer);
      EXPECT_EQ(params[layer + ".bias"].abs().sum().item<float>(), 0.0f) << layer;
    }
    expect_orthogonal(params["actor_head.weight"], 0.01, "actor_head");
    expect_orthogonal(params["critic_head.weight"], 1.0, "critic_head");
    EXPECT_EQ(params["actor_head.bias"].abs().sum().item<float>(), 0.0f);
    EXPECT_EQ(params["critic_head.bias"].abs().sum().item<float>(), 0.0f);
    EXPECT_EQ(params.find("actor_body.0.weight") != nullptr, !shared);
    EXPECT_EQ(params.find("trunk.0.weight") != nullptr, shared);
    EXPECT_TRUE(torch::equal(params["log_std"], torch::zeros({2})));
  }
}

TEST(ActorCritic, ConfigShapesTheNetwork) {
  PolicyConfig config;
  config.hidden_sizes = {32};
  config.activation = "relu";
  config.init_log_std = -0.5;
  ActorCritic policy = make_actor_critic(two_dim_box_spec(), config);
  const auto params = policy->named_parameters();
  EXPECT_EQ(params["actor_body.0.weight"].sizes(), torch::IntArrayRef({32, 5}));
  EXPECT_EQ(params["actor_head.weight"].sizes(), torch::IntArrayRef({2, 32}));
  EXPECT_EQ(params.find("actor_body.2.weight"), nullptr);
  EXPECT_TRUE(torch::allclose(policy->log_std(), torch::full({2}, -0.5f)));
  EXPECT_NE(std::dynamic_pointer_cast<torch::nn::ReLUImpl>(policy->named_modules()["actor_body.1"]), nullptr);

  // No hidden layers: linear heads on the observation.
  config.hidden_sizes = {};
  ActorCritic linear = make_actor_critic(cartpole_like_spec(), config);
  EXPECT_EQ(linear->named_parameters()["actor_head.weight"].sizes(), torch::IntArrayRef({2, 4}));
  EXPECT_EQ(linear->act(random_obs(3, 4, 15), /*deterministic=*/true).action.sizes(), torch::IntArrayRef({3}));
}

// Expects `fn` to throw std::invalid_argument whose message contains `needle`.
template <typename Fn>
void expect_invalid(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning " << needle;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ActorCritic, InvalidConfigNamesTheField) {
  const envs::Space discrete = envs::Space::discrete(2);
  PolicyConfig bad_size;
  bad_size.hidden_sizes = {64, 0};
  expect_invalid([&] { ActorCritic(4, discrete, bad_size); }, "hidden_sizes[1]");
  PolicyConfig bad_activation;
  bad_activation.activation = "gelu";
  expect_invalid([&] { ActorCritic(4, discrete, bad_activation); }, "activation");
  PolicyConfig dueling;
  dueling.dueling = true;
  expect_invalid([&] { ActorCritic(4, discrete, dueling); }, "dueling");
  PolicyConfig bad_log_std;
  bad_log_std.init_log_std = std::nan("");
  expect_invalid([&] { ActorCritic(4, discrete, bad_log_std); }, "init_log_std");
  PolicyConfig bad_gain;
  bad_gain.actor_output_gain = -1.0;
  expect_invalid([&] { ActorCritic(4, discrete, bad_gain); }, "actor_output_gain");
  expect_invalid([&] { ActorCritic(0, discrete); }, "obs_dim");
  expect_invalid([&] { make_actor_critic(cartpole_like_spec(), bad_size); }, "CartPole-v1");
}

}  // namespace
}  // namespace apiary::agents

namespace apiary::agents {
namespace {

// mode() is act(deterministic)'s action from the actor's layers alone, with or without a shared
// trunk, and ActorCriticPolicy's deterministic_action (what evaluations play) is it.
TEST(ActorCritic, ModeIsTheDeterministicActionWithoutTheCritic) {
  for (const bool shared : {false, true}) {
    PolicyConfig config;
    config.shared_trunk = shared;
    ActorCritic discrete = make_actor_critic(cartpole_like_spec(), config);
    ActorCritic continuous = make_actor_critic(two_dim_box_spec(), config);
    const torch::Tensor obs = random_obs(32, 4, 7), obs_c = random_obs(32, 5, 8);
    EXPECT_TRUE(torch::equal(discrete->mode(obs), discrete->act(obs, true).action)) << shared;
    EXPECT_TRUE(torch::equal(continuous->mode(obs_c), continuous->act(obs_c, true).action)) << shared;
    EXPECT_FALSE(discrete->mode(obs).requires_grad());
    ActorCriticPolicy policy(continuous);
    ActContext ctx;
    ctx.deterministic = true;
    EXPECT_TRUE(torch::equal(policy.deterministic_action(obs_c), policy.act(obs_c, ctx).action));
    EXPECT_TRUE(policy.act(obs_c, ctx).value.defined()) << "act() still reports the value";
  }
}

}  // namespace
}  // namespace apiary::agents
