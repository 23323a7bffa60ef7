// Dynamic loss scaling for fp16 training (Micikevicius et al. 2018, "Mixed Precision Training"), with
// the rule and defaults of PyTorch's torch.cuda.amp.GradScaler. fp16 gradients underflow below about
// 6e-8; multiplying the loss by a large scale keeps them representable, and the gradients are divided
// back before the optimizer step. A step whose gradients overflowed is skipped and the scale backs off.
//
// Use per step:
//   scaler.scale(loss).backward();
//   const bool finite = scaler.unscale_(optimizer);  // gradients are now true-scale
//   if (finite) { clip_grad_norm_(...); optimizer.step(); }
//   scaler.update(/*found_inf=*/!finite);
#pragma once

#include <cstdint>
#include <vector>

#include <torch/serialize/archive.h>
#include <torch/torch.h>

namespace apiary::learner {

struct LossScalerOptions {
  bool enabled = true;              // false (fp32, bf16): every call is a pass-through
  double init_scale = 65536.0;      // 2^16, the starting multiplier of the loss
  double growth_factor = 2.0;       // scale *= this after growth_interval finite steps in a row
  double backoff_factor = 0.5;      // scale *= this after a step with inf/NaN gradients
  std::int64_t growth_interval = 2000;  // finite steps in a row before the scale grows
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});

  // loss * scale (the loss itself when disabled).
  torch::Tensor scale(const torch::Tensor& loss) const;

  // Divides every defined gradient by the scale in place and returns whether all of them are finite.
  // One host synchronisation per call. Disabled: touches nothing and returns true without checking.
  // Call at most once per step, after backward and before clipping or the optimizer step.
  bool unscale_(torch::optim::Optimizer& optimizer);
  bool unscale_(const std::vector<torch::Tensor>& params);

  // Ends a step: found_inf halves the scale (backoff_factor), resets the run of finite steps and
  // returns false, meaning this step's optimizer update must be skipped; otherwise counts the step,
  // grows the scale after growth_interval finite steps in a row and returns true. Disabled: returns
  // !found_inf and keeps the scale.
  bool update(bool found_inf);

  bool enabled() const { return options_.enabled; }
  double scale_value() const { return scale_; }            // current multiplier
  std::int64_t growth_tracker() const { return good_steps_; }  // finite steps since the last change
  std::int64_t skipped_steps() const { return skipped_; }  // steps skipped for inf/NaN so far

  // The scale and both counters, for checkpoints (options are the owner's to rebuild).
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  LossScalerOptions options_;
  double scale_;
  std::int64_t good_steps_ = 0;
  std::int64_t skipped_ = 0;
};

}  // namespace apiary::learner
