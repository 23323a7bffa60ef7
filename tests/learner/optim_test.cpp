// learner/optim.h's fast paths for one flat fp32 CPU buffer against LibTorch's general ones: Adam's
// step (moments, step count and weights, across a learning-rate change) and the global norm clip.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/optim.h"

namespace apiary::learner {
namespace {

torch::optim::AdamParamState& state_of(torch::optim::Adam& adam) {
  EXPECT_EQ(adam.state().size(), 1u);
  return static_cast<torch::optim::AdamParamState&>(*adam.state().begin()->second);
}

TEST(AdamStep, MatchesLibTorchsAdamOnAFlatBuffer) {
  torch::manual_seed(4);
  torch::Tensor a = torch::randn({1000});
  const torch::Tensor initial = a.clone();
  torch::Tensor b = a.clone();
  a.mutable_grad() = torch::zeros_like(a);
  b.mutable_grad() = torch::zeros_like(b);
  const auto options = torch::optim::AdamOptions(3e-3).eps(1e-5).betas({0.9, 0.99});
  torch::optim::Adam fast({a}, options), reference({b}, options);
  for (int step = 0; step < 30; ++step) {
    const torch::Tensor g = torch::randn({1000}) * (step % 3 == 0 ? 10.0 : 0.1);
    a.grad().copy_(g);
    b.grad().copy_(g);
    if (step == 15)
      for (auto* opt : {&fast, &reference})
        static_cast<torch::optim::AdamOptions&>(opt->param_groups()[0].options()).lr(1e-4);
    adam_step(fast);  // the first call creates the state through LibTorch
    reference.step();
  }
  EXPECT_EQ(state_of(fast).step(), 30);
  EXPECT_EQ(state_of(reference).step(), 30);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6);
  EXPECT_LT((state_of(fast).exp_avg() - state_of(reference).exp_avg()).abs().max().item<double>(), 1e-5);
  EXPECT_LT((state_of(fast).exp_avg_sq() - state_of(reference).exp_avg_sq()).abs().max().item<double>(), 1e-4);
  EXPECT_GT((a - initial).abs().max().item<double>(), 1e-3) << "the steps moved the weights";
}

TEST(AdamStep, AZeroGradientLeavesItsWeightBitwiseUnchanged) {
  torch::Tensor w = torch::randn({8});
  const torch::Tensor before = w.clone();
  w.mutable_grad() = torch::zeros_like(w);
  torch::optim::Adam adam({w}, torch::optim::AdamOptions(1e-2).eps(1e-5));
  for (int i = 0; i < 5; ++i) {
    w.grad().zero_();
    w.grad()[3] = 1.0f;  // only element 3 learns (a frozen parameter's mask zeroes the rest)
    adam_step(adam);
  }
  for (int i = 0; i < 8; ++i) {
    if (i == 3) {
      EXPECT_NE(w[i].item<float>(), before[i].item<float>());
    } else {
      EXPECT_EQ(w[i].item<float>(), before[i].item<float>()) << "element " << i;
    }
  }
}

// adam_moments and set_adam_moments find each parameter's state in LibTorch's optimizer (keyed by its
// TensorImpl, as text in LibTorch 1.x and as the pointer in 2.x): a lookup that missed would read zeros.
TEST(AdamState, MomentsAreReadAndWrittenForEveryParameter) {
  torch::manual_seed(7);
  torch::Tensor w1 = torch::randn({3, 4}), w2 = torch::randn({5});
  const auto options = torch::optim::AdamOptions(1e-2).betas({0.9, 0.999});
  torch::optim::Adam adam({w1, w2}, options);
  const torch::Tensor g1 = torch::randn({3, 4}), g2 = torch::randn({5});
  w1.mutable_grad() = g1.clone();
  w2.mutable_grad() = g2.clone();
  adam.step();
  const AdamMoments m = adam_moments(adam, {w1, w2});
  EXPECT_EQ(m.step, 1);
  const torch::Tensor g = torch::cat({g1.reshape({-1}), g2});
  EXPECT_TRUE(torch::allclose(m.exp_avg, 0.1 * g, 1e-6, 1e-7)) << m.exp_avg;
  EXPECT_TRUE(torch::allclose(m.exp_avg_sq, 0.001 * g * g, 1e-6, 1e-9)) << m.exp_avg_sq;

  // A second optimizer given those moments steps exactly as the first.
  torch::Tensor v1 = w1.detach().clone(), v2 = w2.detach().clone();
  torch::optim::Adam restored({v1, v2}, options);
  set_adam_moments(restored, {v1, v2}, m);
  for (torch::Tensor* t : {&w1, &w2, &v1, &v2}) t->mutable_grad() = torch::ones_like(*t);
  adam.step();
  restored.step();
  EXPECT_TRUE(torch::equal(w1, v1));
  EXPECT_TRUE(torch::equal(w2, v2));
  EXPECT_EQ(adam_moments(restored, {v1, v2}).step, 2);
  // Step 0 removes the state: a fresh optimizer.
  set_adam_moments(restored, {v1, v2}, AdamMoments{torch::zeros({17}), torch::zeros({17}), 0});
  EXPECT_TRUE(restored.state().empty());
}

TEST(ClipGradNorm, OneFlatBufferClipsAsTheGeneralPath) {
  torch::manual_seed(2);
  const torch::Tensor g = torch::randn({300}) * 3.0;
  torch::Tensor flat = g.clone();
  std::vector<torch::Tensor> split{g.slice(0, 0, 100).clone(), g.slice(0, 100).clone()};  // the general path
  clip_grad_norm({flat}, 0.5);
  clip_grad_norm(split, 0.5);
  EXPECT_NEAR(flat.norm().item<double>(), 0.5, 1e-5);
  EXPECT_LT((flat - torch::cat(split)).abs().max().item<double>(), 1e-6);

  torch::Tensor small = torch::full({10}, 0.01f);
  const torch::Tensor kept = small.clone();
  clip_grad_norm({small}, 0.5);
  EXPECT_TRUE(torch::equal(small, kept)) << "a norm under the limit is left alone";

  torch::Tensor bad = torch::ones({4});
  bad[1] = std::numeric_limits<float>::quiet_NaN();
  clip_grad_norm({bad}, 0.5);
  EXPECT_TRUE(std::isnan(bad[1].item<float>()));
  torch::Tensor huge = torch::ones({4});
  huge[2] = std::numeric_limits<float>::infinity();
  clip_grad_norm({huge}, 0.5);
  EXPECT_FALSE(torch::isfinite(huge).all().item<bool>()) << "a non-finite gradient stays non-finite for the guard";
}

}  // namespace
}  // namespace apiary::learner
