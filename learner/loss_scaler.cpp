#include "learner/loss_scaler.h"

#include <cmath>
#include <limits>

namespace apiary::learner {

LossScaler::LossScaler(LossScalerOptions options) : options_(options), scale_(options.init_scale) {
  TORCH_CHECK(options.init_scale > 0.0 && std::isfinite(options.init_scale),
              "LossScaler: init_scale must be finite and > 0, got ", options.init_scale);
  TORCH_CHECK(options.growth_factor > 1.0, "LossScaler: growth_factor must be > 1, got ",
              options.growth_factor);
  TORCH_CHECK(options.backoff_factor > 0.0 && options.backoff_factor < 1.0,
              "LossScaler: backoff_factor must be in (0, 1), got ", options.backoff_factor);
  TORCH_CHECK(options.growth_interval >= 1, "LossScaler: growth_interval must be >= 1, got ",
              options.growth_interval);
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const {
  if (!options_.enabled) return loss;
  return loss * scale_;
}

bool LossScaler::unscale_(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups()) {
    params.insert(params.end(), group.params().begin(), group.params().end());
  }
  return unscale_(params);
}

bool LossScaler::unscale_(const std::vector<torch::Tensor>& params) {
  if (!options_.enabled) return true;
  torch::NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  // Count of non-finite gradients, kept on the device of the first gradient so that the only host
  // synchronisation is the final read.
  torch::Tensor non_finite;
  for (const auto& param : params) {
    const auto& grad = param.grad();
    if (!grad.defined()) continue;
    grad.mul_(inverse);
    const auto bad = torch::logical_not(torch::isfinite(grad)).any();
    non_finite = non_finite.defined() ? non_finite.logical_or(bad.to(non_finite.device())) : bad;
  }
  return !non_finite.defined() || !non_finite.item<bool>();
}

bool LossScaler::update(bool found_inf) {
  if (!options_.enabled) return !found_inf;
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
    skipped_ += 1;
    return false;
  }
  good_steps_ += 1;
  if (good_steps_ >= options_.growth_interval) {
    // Never grow past what a float32 loss can be multiplied by without overflowing.
    const double grown = scale_ * options_.growth_factor;
    if (grown <= static_cast<double>(std::numeric_limits<float>::max())) scale_ = grown;
    good_steps_ = 0;
  }
  return true;
}

void LossScaler::save(torch::serialize::OutputArchive& archive) const {
  archive.write("scale", torch::tensor(scale_, torch::kDouble));
  archive.write("growth_tracker", torch::tensor(good_steps_, torch::kLong));
  archive.write("skipped_steps", torch::tensor(skipped_, torch::kLong));
}

void LossScaler::load(torch::serialize::InputArchive& archive) {
  torch::Tensor scale, growth_tracker, skipped;
  archive.read("scale", scale);
  archive.read("growth_tracker", growth_tracker);
  archive.read("skipped_steps", skipped);
  scale_ = scale.item<double>();
  good_steps_ = growth_tracker.item<std::int64_t>();
  skipped_ = skipped.item<std::int64_t>();
}

}  // namespace apiary::learner
