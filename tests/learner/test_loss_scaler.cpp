// Dynamic loss scaling: scale, unscale with the finiteness check, and the grow / back-off / skip rule.
#include <sstream>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/loss_scaler.h"

namespace apiary::learner {
namespace {

TEST(LossScaler, DefaultsArePyTorchGradScalers) {
  const LossScaler scaler;
  EXPECT_TRUE(scaler.enabled());
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 65536.0);
  const LossScalerOptions options;
  EXPECT_DOUBLE_EQ(options.growth_factor, 2.0);
  EXPECT_DOUBLE_EQ(options.backoff_factor, 0.5);
  EXPECT_EQ(options.growth_interval, 2000);
}

TEST(LossScaler, ScaleBackwardUnscaleGivesTrueGradients) {
  LossScaler scaler(LossScalerOptions{/*enabled=*/true, /*init_scale=*/8.0});
  auto param = torch::ones({3}, torch::requires_grad());
  const auto loss = (2.0 * param).sum();  // d loss / d param = 2
  const auto scaled = scaler.scale(loss);
  EXPECT_FLOAT_EQ(scaled.item<float>(), 48.0f);  // 6 * 8
  scaled.backward();
  EXPECT_TRUE(torch::allclose(param.grad(), torch::full({3}, 16.0f)));

  torch::optim::SGD optimizer({param}, torch::optim::SGDOptions(0.1));
  EXPECT_TRUE(scaler.unscale_(optimizer));
  EXPECT_TRUE(torch::allclose(param.grad(), torch::full({3}, 2.0f)));
}

TEST(LossScaler, GrowsAfterIntervalHalvesAndSkipsOnInf) {
  LossScaler scaler(LossScalerOptions{true, /*init_scale=*/8.0, /*growth_factor=*/2.0,
                                      /*backoff_factor=*/0.5, /*growth_interval=*/3});
  auto param = torch::zeros({2}, torch::requires_grad());
  param.mutable_grad() = torch::ones({2});

  // Three finite steps in a row: 8 -> 8 -> 8 -> 16.
  for (int step = 0; step < 3; ++step) {
    param.mutable_grad().fill_(1.0);
    const bool finite = scaler.unscale_(std::vector<torch::Tensor>{param});
    EXPECT_TRUE(finite);
    EXPECT_TRUE(scaler.update(/*found_inf=*/!finite));
    EXPECT_DOUBLE_EQ(scaler.scale_value(), step < 2 ? 8.0 : 16.0) << "step " << step;
  }
  EXPECT_EQ(scaler.growth_tracker(), 0);

  // Two finite steps, then an inf: the step is skipped, the scale halves to 8, the run restarts.
  for (int step = 0; step < 2; ++step) EXPECT_TRUE(scaler.update(false));
  EXPECT_EQ(scaler.growth_tracker(), 2);
  param.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity()});
  const bool finite = scaler.unscale_(std::vector<torch::Tensor>{param});
  EXPECT_FALSE(finite);
  EXPECT_FALSE(scaler.update(/*found_inf=*/!finite));
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_EQ(scaler.skipped_steps(), 1);

  // NaN counts as non-finite too, and consecutive overflows keep halving.
  param.mutable_grad() = torch::tensor({std::numeric_limits<float>::quiet_NaN(), 0.0f});
  EXPECT_FALSE(scaler.unscale_(std::vector<torch::Tensor>{param}));
  EXPECT_FALSE(scaler.update(true));
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 4.0);

  // The run of good steps starts again from zero: two good steps do not grow it, the third does.
  EXPECT_TRUE(scaler.update(false));
  EXPECT_TRUE(scaler.update(false));
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 4.0);
  EXPECT_TRUE(scaler.update(false));
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 8.0);
}

TEST(LossScaler, ParametersWithoutGradientsAreSkipped) {
  LossScaler scaler(LossScalerOptions{true, 4.0});
  auto with_grad = torch::zeros({1}, torch::requires_grad());
  auto without_grad = torch::zeros({1}, torch::requires_grad());
  with_grad.mutable_grad() = torch::full({1}, 4.0f);
  EXPECT_TRUE(scaler.unscale_(std::vector<torch::Tensor>{with_grad, without_grad}));
  EXPECT_FLOAT_EQ(with_grad.grad().item<float>(), 1.0f);
  EXPECT_FALSE(without_grad.grad().defined());
}

TEST(LossScaler, DisabledIsAPassThrough) {
  LossScaler scaler(LossScalerOptions{/*enabled=*/false});
  const auto loss = torch::tensor(3.0f);
  EXPECT_TRUE(scaler.scale(loss).is_same(loss));
  auto param = torch::zeros({1}, torch::requires_grad());
  param.mutable_grad() = torch::full({1}, 5.0f);
  EXPECT_TRUE(scaler.unscale_(std::vector<torch::Tensor>{param}));
  EXPECT_FLOAT_EQ(param.grad().item<float>(), 5.0f);
  EXPECT_TRUE(scaler.update(false));
  EXPECT_DOUBLE_EQ(scaler.scale_value(), 65536.0);
}

TEST(LossScaler, RejectsBadOptions) {
  EXPECT_THROW(LossScaler(LossScalerOptions{true, 0.0}), c10::Error);
  EXPECT_THROW(LossScaler(LossScalerOptions{true, 1.0, /*growth_factor=*/1.0}), c10::Error);
}

}  // namespace
}  // namespace apiary::learner

// A checkpoint keeps the scale and both counters, so a resumed fp16 run grows and backs off on the
// same steps as one never stopped.
TEST(LossScalerCheckpoint, SaveLoadKeepsScaleAndCounters) {
  apiary::learner::LossScalerOptions options;
  options.init_scale = 1024.0;
  options.growth_interval = 4;
  apiary::learner::LossScaler a(options);
  a.update(/*found_inf=*/true);   // 512, one skip
  a.update(/*found_inf=*/false);
  a.update(/*found_inf=*/false);  // two finite steps in the current run
  torch::serialize::OutputArchive out;
  a.save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  apiary::learner::LossScaler b(options);
  b.load(in);
  EXPECT_EQ(b.scale_value(), 512.0);
  EXPECT_EQ(b.growth_tracker(), 2);
  EXPECT_EQ(b.skipped_steps(), 1);
  b.update(false);
  b.update(false);  // the fourth finite step grows the scale, as it would have in `a`
  a.update(false);
  a.update(false);
  EXPECT_EQ(b.scale_value(), a.scale_value());
  EXPECT_EQ(b.scale_value(), 1024.0);
}
