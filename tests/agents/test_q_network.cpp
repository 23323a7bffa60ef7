// QNetwork: shapes, dueling decomposition, greedy and epsilon-greedy selection.
#include <stdexcept>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/factory.h"
#include "agents/q_network.h"
#include "test_helpers.h"

namespace apiary::agents {
namespace {

using testing::cartpole_like_spec;
using testing::pendulum_like_spec;
using testing::random_obs;

TEST(QNetwork, ShapesAndGreedy) {
  for (bool dueling : {false, true}) {
    PolicyConfig config;
    config.dueling = dueling;
    config.activation = "relu";
    QNetwork q = QNetwork(/*obs_dim=*/6, /*num_actions=*/5, config);
    const torch::Tensor obs = random_obs(10, 6, 1);
    const torch::Tensor values = q->forward(obs);
    EXPECT_EQ(values.sizes(), torch::IntArrayRef({10, 5}));
    const torch::Tensor greedy = q->greedy(obs);
    EXPECT_EQ(greedy.sizes(), torch::IntArrayRef({10}));
    EXPECT_EQ(greedy.scalar_type(), torch::kLong);
    EXPECT_TRUE(torch::equal(greedy, values.argmax(-1)));
    EXPECT_EQ(q->named_parameters().find("value_head.weight") != nullptr, dueling);
    EXPECT_EQ(q->named_parameters().find("q_head.weight") != nullptr, !dueling);
  }
}

TEST(QNetwork, DuelingAdvantagePartHasZeroMean) {
  PolicyConfig config;
  config.dueling = true;
  QNetwork q(/*obs_dim=*/4, /*num_actions=*/3, config);
  {
    // Non-zero biases so that the centring is actually exercised.
    torch::NoGradGuard no_grad;
    q->named_parameters()["advantage_head.bias"].copy_(torch::tensor({3.0f, -1.0f, 0.5f}));
    q->named_parameters()["value_head.bias"].fill_(2.0f);
  }
  const torch::Tensor obs = random_obs(16, 4, 2);
  const DuelingOut out = q->forward_dueling(obs);
  EXPECT_EQ(out.value.sizes(), torch::IntArrayRef({16, 1}));
  EXPECT_EQ(out.advantage.sizes(), torch::IntArrayRef({16, 3}));
  const torch::Tensor centred = (out.q - out.value).detach();
  EXPECT_TRUE(torch::allclose(centred.mean(1), torch::zeros({16}), 0.0, 1e-5));
  EXPECT_TRUE(torch::allclose(centred, (out.advantage - out.advantage.mean(1, true)).detach(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(out.q, q->forward(obs)));

  QNetwork plain(4, 3);
  EXPECT_THROW(plain->forward_dueling(obs), c10::Error);
}

TEST(QNetwork, EpsilonGreedy) {
  constexpr std::int64_t kBatch = 4000;
  QNetwork q(/*obs_dim=*/4, /*num_actions=*/4);
  const torch::Tensor obs = random_obs(kBatch, 4, 3);
  const torch::Tensor greedy = q->greedy(obs);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);

  // epsilon 0 everywhere: greedy; Q-values come back for the chunk.
  const QActOut exploit = q->epsilon_greedy(obs, torch::zeros({kBatch}), &gen);
  EXPECT_TRUE(torch::equal(exploit.action, greedy));
  EXPECT_EQ(exploit.q_values.sizes(), torch::IntArrayRef({kBatch, 4}));
  EXPECT_FALSE(exploit.q_values.requires_grad());

  // epsilon 1 everywhere: uniform over the 4 actions.
  const QActOut explore = q->epsilon_greedy(obs, torch::ones({kBatch}), &gen);
  const torch::Tensor freq = torch::bincount(explore.action, {}, 4).to(torch::kFloat) / kBatch;
  EXPECT_TRUE(torch::allclose(freq, torch::full({4}, 0.25f), 0.0, 0.03)) << freq;

  // Per-row epsilons (Ape-X): rows with epsilon 0 stay greedy, rows with epsilon 1 are random and
  // so agree with the greedy action a quarter of the time.
  const torch::Tensor eps = (torch::arange(kBatch) % 2).to(torch::kFloat);
  const QActOut mixed = q->epsilon_greedy(obs, eps, &gen);
  const torch::Tensor agree = (mixed.action == greedy).to(torch::kFloat);
  EXPECT_EQ(agree.index({torch::indexing::Slice(0, torch::indexing::None, 2)}).min().item<float>(), 1.0f);
  EXPECT_NEAR(agree.index({torch::indexing::Slice(1, torch::indexing::None, 2)}).mean().item<float>(), 0.25, 0.04);

  // A scalar epsilon broadcasts; a seeded generator repeats.
  auto gen_a = at::make_generator<at::CPUGeneratorImpl>(9);
  auto gen_b = at::make_generator<at::CPUGeneratorImpl>(9);
  const torch::Tensor a = q->epsilon_greedy(obs, torch::tensor(0.3), &gen_a).action;
  const torch::Tensor b = q->epsilon_greedy(obs, torch::tensor(0.3), &gen_b).action;
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_NEAR((a != greedy).to(torch::kFloat).mean().item<float>(), 0.3 * 0.75, 0.04);

  EXPECT_THROW(q->epsilon_greedy(obs, torch::zeros({3}), &gen), c10::Error);
}

// Acting runs on the dense kernels (an fp32 MLP on the CPU): the same Q-values as forward() to float
// rounding, and the same choices as the operators' where(uniform < epsilon, random, argmax) from the
// same draws of the generator.
TEST(QNetwork, DenseActingChoosesAsTheOperatorsDo) {
  for (const char* activation : {"relu", "tanh"}) {
    for (std::int64_t batch : {1, 7, 256}) {
      SCOPED_TRACE(std::string(activation) + " batch " + std::to_string(batch));
      PolicyConfig config;
      config.activation = activation;
      config.hidden_sizes = {32, 16};
      torch::manual_seed(4);
      QNetwork q(/*obs_dim=*/5, /*num_actions=*/3, config);
      const torch::Tensor obs = random_obs(batch, 5, 8);
      const torch::Tensor eps = batch == 1 ? torch::tensor(0.5) : (torch::arange(batch) % 3).to(torch::kFloat) * 0.5f;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
      const QActOut out = q->epsilon_greedy(obs, eps, &gen);

      auto same = at::make_generator<at::CPUGeneratorImpl>(21);
      const torch::Tensor q_values = q->forward(obs).detach();
      const torch::Tensor uniform = torch::rand({batch}, same, torch::kFloat);
      const torch::Tensor random = torch::randint(3, {batch}, same, torch::kLong);
      const torch::Tensor expected = torch::where(uniform < eps, random, q_values.argmax(-1));
      EXPECT_TRUE(torch::allclose(out.q_values, q_values, 1e-5, 1e-6));
      EXPECT_TRUE(torch::equal(out.action, expected)) << out.action << expected;
      EXPECT_TRUE(torch::equal(q->greedy(obs), q_values.argmax(-1)));
    }
  }
}

TEST(QNetwork, FactoryAndValidation) {
  QNetwork q = make_q_network(cartpole_like_spec());
  EXPECT_EQ(q->num_actions(), 2);
  EXPECT_EQ(q->obs_dim(), 4);
  try {
    make_q_network(pendulum_like_spec());
    ADD_FAILURE() << "a Q-network on a Box action space must be rejected";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Pendulum-v1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(QNetwork(4, 0), std::invalid_argument);
  PolicyConfig bad;
  bad.hidden_sizes = {-3};
  try {
    make_q_network(cartpole_like_spec(), bad);
    ADD_FAILURE() << "hidden_sizes[0] = -3 must be rejected";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("hidden_sizes[0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CartPole-v1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace apiary::agents
