// PPO and DQN losses against values computed by hand.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/losses.h"

namespace apiary::learner {
namespace {

constexpr double kLossTol = 1e-5;

double value(const torch::Tensor& t) { return t.item<double>(); }

// Four samples, clip_coef = 0.2, ratios r = {1, 1.5, 0.5, 1.1}, advantages A = {1, 2, -1, -2}.
PpoLossIn ppo_batch() {
  PpoLossIn in;
  in.old_logprob = torch::tensor({-1.0f, -0.5f, -2.0f, -1.2f});
  const auto ratio = torch::tensor({1.0f, 1.5f, 0.5f, 1.1f});
  in.new_logprob = (in.old_logprob + ratio.log()).detach().requires_grad_(true);
  in.advantages = torch::tensor({1.0f, 2.0f, -1.0f, -2.0f});
  in.new_values = torch::tensor({1.0f, 2.0f, 0.0f, 2.5f}, torch::requires_grad());
  in.old_values = torch::tensor({1.1f, 1.5f, 0.5f, 3.0f});
  in.returns = torch::tensor({1.0f, 1.0f, 1.0f, 2.0f});
  in.entropy = torch::tensor({0.5f, 0.6f, 0.7f, 0.8f});
  in.clip_coef = 0.2;
  in.norm_adv = false;
  in.clip_vloss = true;
  in.ent_coef = 0.01;
  in.vf_coef = 0.5;
  return in;
}

TEST(PpoLoss, HandComputedWithClipping) {
  auto in = ppo_batch();
  const auto out = ppo_loss(in);
  // pg: max(-A r, -A clip(r, 0.8, 1.2)) per sample:
  //   0: max(-1, -1) = -1;  1: max(-3, -2.4) = -2.4 (clipped);  2: max(0.5, 0.8) = 0.8 (clipped);
  //   3: max(2.2, 2.2) = 2.2.  mean = (-1 - 2.4 + 0.8 + 2.2) / 4 = -0.1
  EXPECT_NEAR(value(out.pg_loss), -0.1, kLossTol);
  // v: max((V - R)^2, (V_old + clip(V - V_old, -0.2, 0.2) - R)^2):
  //   0: max(0, (1.1 - 0.1 - 1)^2 = 0) = 0;  1: max(1, (1.7 - 1)^2 = 0.49) = 1;
  //   2: max(1, (0.3 - 1)^2 = 0.49) = 1;     3: max(0.25, (2.8 - 2)^2 = 0.64) = 0.64 (clipped larger)
  //   v_loss = 0.5 * (0 + 1 + 1 + 0.64) / 4 = 0.33
  EXPECT_NEAR(value(out.v_loss), 0.33, kLossTol);
  EXPECT_NEAR(value(out.entropy_loss), 0.65, kLossTol);  // (0.5 + 0.6 + 0.7 + 0.8) / 4
  // loss = -0.1 - 0.01 * 0.65 + 0.5 * 0.33 = 0.0585
  EXPECT_NEAR(value(out.loss), 0.0585, kLossTol);
  // |r - 1| > 0.2 for samples 1 and 2.
  EXPECT_NEAR(value(out.clipfrac), 0.5, kLossTol);
  // approx_kl = mean((r - 1) - ln r) = (0 + (0.5 - ln 1.5) + (-0.5 - ln 0.5) + (0.1 - ln 1.1)) / 4
  //           = (0 + 0.0945349 + 0.1931472 + 0.0046898) / 4 = 0.0730930
  EXPECT_NEAR(value(out.approx_kl), 0.0730930, kLossTol);
  // old_approx_kl = mean(-ln r) = -(0 + 0.4054651 - 0.6931472 + 0.0953102) / 4 = 0.0480930
  EXPECT_NEAR(value(out.old_approx_kl), 0.0480930, kLossTol);
  EXPECT_FALSE(out.approx_kl.requires_grad());
  EXPECT_FALSE(out.clipfrac.requires_grad());

  // Gradient: only unclipped samples pass it: d pg_loss / d logprob_i = -A_i r_i / 4;
  // loss weights the value term by vf_coef: d / d V_i = 0.5 * 0.5 * 2 (V_i - R_i) / 4 where the
  // unclipped term wins (samples 1, 2), 0 where the clipped one does (samples 0, 3).
  out.loss.backward();
  EXPECT_TRUE(torch::allclose(in.new_logprob.grad(), torch::tensor({-0.25f, 0.0f, 0.0f, 0.55f}),
                              0.0, kLossTol))
      << in.new_logprob.grad();
  EXPECT_TRUE(torch::allclose(in.new_values.grad(), torch::tensor({0.0f, 0.125f, -0.125f, 0.0f}),
                              0.0, kLossTol))
      << in.new_values.grad();
}

TEST(PpoLoss, UnclippedValueLoss) {
  auto in = ppo_batch();
  in.clip_vloss = false;
  // 0.5 * (0 + 1 + 1 + 0.25) / 4 = 0.28125
  EXPECT_NEAR(value(ppo_loss(in).v_loss), 0.28125, kLossTol);
}

TEST(PpoLoss, AdvantageNormalisation) {
  auto in = ppo_batch();
  in.new_logprob = in.old_logprob.clone().requires_grad_(true);  // ratio 1 everywhere
  in.advantages = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  in.norm_adv = true;
  // mean 2.5, unbiased std sqrt(5/3) = 1.2909944: A' = {-1.1618950, -0.3872983, 0.3872983, 1.1618950}.
  // At ratio 1 nothing clips and d pg_loss / d logprob_i = -A'_i / 4.
  const auto out = ppo_loss(in);
  EXPECT_NEAR(value(out.pg_loss), 0.0, kLossTol);
  out.pg_loss.backward();
  EXPECT_TRUE(torch::allclose(in.new_logprob.grad(),
                              torch::tensor({0.2904738f, 0.0968246f, -0.0968246f, -0.2904738f}),
                              0.0, kLossTol))
      << in.new_logprob.grad();
}

TEST(ExplainedVariance, HandComputed) {
  // y = {1, 2, 4}: Var = 14/9; y - y_pred = {0, 0, 1}: Var = 2/9; 1 - (2/9)/(14/9) = 6/7.
  EXPECT_NEAR(explained_variance(torch::tensor({1.0f, 2.0f, 3.0f}), torch::tensor({1.0f, 2.0f, 4.0f})),
              6.0 / 7.0, 1e-6);
  EXPECT_NEAR(explained_variance(torch::tensor({1.0f, 2.0f}), torch::tensor({1.0f, 2.0f})), 1.0, 1e-9);
  EXPECT_TRUE(std::isnan(explained_variance(torch::zeros({3}), torch::ones({3}))));
}

TEST(DoubleDqn, TargetUsesOnlineArgmaxAndTargetValue) {
  const auto q_online = torch::tensor({{1.0f, 3.0f, 2.0f}, {5.0f, 0.0f, 1.0f}});
  const auto q_target = torch::tensor({{10.0f, 20.0f, 30.0f}, {7.0f, 8.0f, 9.0f}});
  const auto returns = torch::tensor({1.0f, 2.0f});
  const auto discounts = torch::tensor({0.5f, 0.0f});
  // Online argmax {1, 0}; target values there {20, 7}; targets 1 + 0.5*20 = 11 and 2 + 0*7 = 2.
  const auto out = double_dqn_targets(q_online, q_target, returns, discounts);
  EXPECT_TRUE(torch::equal(out.next_actions, torch::tensor({1, 0}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(out.next_q, torch::tensor({20.0f, 7.0f})));
  EXPECT_TRUE(torch::allclose(out.targets, torch::tensor({11.0f, 2.0f})));

  // Plain DQN (online == target): max of the target row, 30 and 9 -> targets 16 and 2.
  const auto plain = double_dqn_targets(q_target, q_target, returns, discounts);
  EXPECT_TRUE(torch::equal(plain.next_actions, torch::tensor({2, 2}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(plain.targets, torch::tensor({16.0f, 2.0f})));

  // A terminal row (discount 0) is exactly its return even if its next Q is not finite.
  const auto inf = std::numeric_limits<float>::infinity();
  const auto odd = double_dqn_targets(q_online, torch::tensor({{10.0f, 20.0f, 30.0f}, {inf, 8.0f, 9.0f}}),
                                      returns, discounts);
  EXPECT_TRUE(torch::allclose(odd.targets, torch::tensor({11.0f, 2.0f})));
}

TEST(DqnLoss, HuberMseAndImportanceWeights) {
  DqnLossIn in;
  in.q_values = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}, {0.0f, 0.0f}}, torch::requires_grad());
  in.actions = torch::tensor({1, 0, 1}, torch::kLong);
  in.targets = torch::tensor({2.5f, 5.0f, -0.2f});
  // Q(s, a) = {2, 3, 0}; d = target - Q = {0.5, 2.0, -0.2}.
  // Huber (delta 1): {0.5*0.25, 2 - 0.5, 0.5*0.04} = {0.125, 1.5, 0.02}, mean 1.645 / 3.
  auto out = dqn_loss(in);
  EXPECT_NEAR(value(out.loss), 1.645 / 3.0, kLossTol);
  EXPECT_TRUE(torch::allclose(out.td_errors, torch::tensor({0.5f, 2.0f, -0.2f})));
  EXPECT_FALSE(out.td_errors.requires_grad());
  // d loss / d Q(s, a) = -clip(d, -1, 1) / 3, zero for the actions not taken.
  out.loss.backward();
  EXPECT_TRUE(torch::allclose(in.q_values.grad(),
                              torch::tensor({{0.0f, -0.5f / 3}, {-1.0f / 3, 0.0f}, {0.0f, 0.2f / 3}}),
                              0.0, kLossTol))
      << in.q_values.grad();

  // MSE: {0.25, 4, 0.04}, mean 4.29 / 3 = 1.43.
  in.kind = TdLossKind::kMse;
  EXPECT_NEAR(value(dqn_loss(in).loss), 1.43, kLossTol);

  // Weights {1, 0.5, 0.25} on the Huber terms: (0.125 + 0.75 + 0.005) / 3 = 0.88 / 3.
  in.kind = TdLossKind::kHuber;
  in.weights = torch::tensor({1.0f, 0.5f, 0.25f});
  EXPECT_NEAR(value(dqn_loss(in).loss), 0.88 / 3.0, kLossTol);
}

}  // namespace
}  // namespace apiary::learner
