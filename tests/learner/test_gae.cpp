// GAE against values computed by hand, with a termination and a truncation inside the rollout.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/gae.h"

namespace apiary::learner {
namespace {

constexpr double kTol = 1e-5;

void expect_near(const torch::Tensor& actual, const torch::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/0.0, /*atol=*/kTol))
      << "actual\n" << actual << "\nexpected\n" << expected;
}

// T = 4 steps, N = 2 lanes, gamma = 0.9, lambda = 0.8 (gamma * lambda = 0.72).
// Lane 0 terminates at t = 1; lane 1 is truncated at t = 2 with V(final_obs) = 2.0.
GaeIn small_case() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  GaeIn in;
  // Columns are lanes: {lane 0, lane 1}.
  in.rewards = torch::tensor({{1.0f, 0.0f}, {2.0f, 1.0f}, {0.5f, 1.0f}, {1.0f, 2.0f}});
  in.values = torch::tensor({{0.5f, 1.0f}, {1.0f, 0.5f}, {0.2f, 0.3f}, {0.4f, 0.8f}});
  in.next_values = torch::tensor({0.6f, 0.5f});
  in.terminated = torch::tensor({{0.0f, 0.0f}, {1.0f, 0.0f}, {0.0f, 0.0f}, {0.0f, 0.0f}});
  in.truncated = torch::tensor({{0.0f, 0.0f}, {0.0f, 0.0f}, {0.0f, 1.0f}, {0.0f, 0.0f}});
  // Only [2, 1] is read; NaN elsewhere proves the rest is ignored.
  in.final_values = torch::tensor({{nan, nan}, {nan, nan}, {nan, 2.0f}, {nan, nan}});
  in.gamma = 0.9;
  in.gae_lambda = 0.8;
  return in;
}

TEST(Gae, HandComputedWithTerminationAndTruncation) {
  // Lane 0 (terminated at t = 1):
  //   t=3: delta = 1 + 0.9*0.6 (next_values) - 0.4 = 1.14            A = 1.14
  //   t=2: delta = 0.5 + 0.9*0.4 - 0.2 = 0.66                         A = 0.66 + 0.72*1.14 = 1.4808
  //   t=1: terminated, delta = 2 + 0 - 1.0 = 1.0, no carry            A = 1.0
  //   t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4                            A = 1.4 + 0.72*1.0 = 2.12
  // Lane 1 (truncated at t = 2, bootstraps from V(final_obs) = 2.0):
  //   t=3: delta = 2 + 0.9*0.5 (next_values) - 0.8 = 1.65             A = 1.65
  //   t=2: truncated, delta = 1 + 0.9*2.0 - 0.3 = 2.5, no carry       A = 2.5
  //   t=1: delta = 1 + 0.9*0.3 - 0.5 = 0.77                           A = 0.77 + 0.72*2.5 = 2.57
  //   t=0: delta = 0 + 0.9*0.5 - 1.0 = -0.55                          A = -0.55 + 0.72*2.57 = 1.3004
  // Returns = A + V.
  const auto out = compute_gae(small_case());
  expect_near(out.advantages,
              torch::tensor({{2.12f, 1.3004f}, {1.0f, 2.57f}, {1.4808f, 2.5f}, {1.14f, 1.65f}}));
  expect_near(out.returns,
              torch::tensor({{2.62f, 2.3004f}, {2.0f, 3.07f}, {1.6808f, 2.8f}, {1.54f, 2.45f}}));
}

TEST(Gae, BoolFlagsGiveTheSameResult) {
  auto in = small_case();
  const auto expected = compute_gae(in);
  in.terminated = in.terminated.to(torch::kBool);
  in.truncated = in.truncated.to(torch::kBool);
  const auto out = compute_gae(in);
  expect_near(out.advantages, expected.advantages);
}

TEST(Gae, TerminationWinsOverTruncation) {
  // Lane 0's termination at t = 1 also flagged as truncated, its final value left NaN: terminated
  // means no bootstrap, so the result is unchanged and finite.
  auto in = small_case();
  const auto expected = compute_gae(in);
  in.truncated[1][0] = 1.0f;
  const auto out = compute_gae(in);
  EXPECT_TRUE(torch::isfinite(out.advantages).all().item<bool>());
  expect_near(out.advantages, expected.advantages);
}

TEST(Gae, LambdaOneWithoutDonesIsDiscountedReturnMinusValue) {
  // gamma = 0.5, lambda = 1, one lane, no done: A_t = sum_k 0.5^k r_{t+k} + 0.5^(T-t) V_T - V_t.
  // r = {1, 2, 4}, V = {1, 1, 1}, V_T = 8:
  //   t=2: 4 + 0.5*8 - 1 = 7;  t=1: 2 + 0.5*4 + 0.25*8 - 1 = 5;  t=0: 1 + 1 + 1 + 1 - 1 = 3.
  GaeIn in;
  in.rewards = torch::tensor({1.0f, 2.0f, 4.0f}).unsqueeze(1);
  in.values = torch::ones({3, 1});
  in.next_values = torch::tensor({8.0f});
  in.terminated = torch::zeros({3, 1});
  in.truncated = torch::zeros({3, 1});
  in.final_values = torch::zeros({3, 1});
  in.gamma = 0.5;
  in.gae_lambda = 1.0;
  const auto out = compute_gae(in);
  expect_near(out.advantages, torch::tensor({3.0f, 5.0f, 7.0f}).unsqueeze(1));
}

TEST(Gae, LambdaZeroIsOneStepTdError) {
  auto in = small_case();
  in.gae_lambda = 0.0;
  const auto out = compute_gae(in);
  // The deltas listed in HandComputedWithTerminationAndTruncation.
  expect_near(out.advantages,
              torch::tensor({{1.4f, -0.55f}, {1.0f, 0.77f}, {0.66f, 2.5f}, {1.14f, 1.65f}}));
}

// fp32 on the CPU runs one host loop; other dtypes run the operators. Both on one random rollout with
// terminations, truncations (NaN final values where unused) and a lane both terminated and truncated.
TEST(Gae, TheHostLoopAgreesWithTheOperators) {
  torch::manual_seed(7);
  const std::int64_t steps = 37, lanes = 5;
  GaeIn in;
  in.rewards = torch::randn({steps, lanes});
  in.values = torch::randn({steps, lanes});
  in.next_values = torch::randn({lanes});
  in.terminated = torch::rand({steps, lanes}) < 0.1;
  in.truncated = torch::rand({steps, lanes}) < 0.1;
  in.terminated[5][2] = true;
  in.truncated[5][2] = true;
  in.final_values = torch::where(in.truncated, torch::randn({steps, lanes}),
                                 torch::full({steps, lanes}, std::numeric_limits<float>::quiet_NaN()));
  in.gamma = 0.97;
  in.gae_lambda = 0.9;
  const GaeOut host = compute_gae(in);  // fp32: the host loop
  GaeIn wide = in;
  for (torch::Tensor* t : {&wide.rewards, &wide.values, &wide.next_values, &wide.final_values}) *t = t->to(torch::kDouble);
  const GaeOut ops = compute_gae(wide);  // fp64: the operators
  ASSERT_EQ(host.advantages.scalar_type(), torch::kFloat);
  ASSERT_EQ(ops.advantages.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::isfinite(host.advantages).all().item<bool>());
  expect_near(host.advantages, ops.advantages.to(torch::kFloat));
  expect_near(host.returns, ops.returns.to(torch::kFloat));
}

TEST(Gae, RejectsMismatchedShapes) {
  auto in = small_case();
  in.next_values = torch::zeros({3});
  EXPECT_THROW(compute_gae(in), c10::Error);
}

}  // namespace
}  // namespace apiary::learner
