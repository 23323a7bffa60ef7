// What every algorithm's optimizer step is built from: parameters flattened into one buffer (one Adam
// step, one norm, one all-reduce per update instead of one per tensor) and global gradient-norm
// clipping that never reads the norm on the host.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

namespace apiary::learner {

// Every parameter of a module as a view into one contiguous buffer, and every gradient as a view into
// a second one. LibTorch's per-call overhead dominates on small networks; this way zeroing the
// gradients, the norm clip and Adam's step are a handful of kernels on one tensor instead of that
// many per parameter. Backward accumulates in place into the gradient views (they stay defined). A
// parameter that never gets a gradient keeps zero Adam moments and so never moves.
class FlatParameters {
 public:
  // Allocates the buffers for `module`'s parameters (all of one dtype and device) and binds them.
  explicit FlatParameters(torch::nn::Module& module);
  // As above for the parameters of several modules, in order (e.g. SAC's two critics).
  explicit FlatParameters(const std::vector<torch::nn::Module*>& modules);

  // Copies the modules' current parameter values into the buffer and points each parameter and its
  // gradient at its slice. Called again after anything re-seats the parameters' storage
  // (Module::load does).
  void bind(torch::nn::Module& module);
  void bind(const std::vector<torch::nn::Module*>& modules);

  const torch::Tensor& values() const { return values_; }  // [P], what Adam steps
  const torch::Tensor& grads() const { return grads_; }    // [P], values().grad()

 private:
  torch::Tensor values_;
  torch::Tensor grads_;
};

// Frozen parameters (transfer's init.freeze) of a network whose parameters are one FlatParameters: a
// 0/1 mask over the flat buffer, 0 where frozen(name), in named_parameters order; undefined when nothing
// is frozen.
torch::Tensor trainable_mask(const torch::nn::Module& module, const std::function<bool(const std::string&)>& frozen);
// Before clipping and the step: zeroes the frozen entries of the flat gradient and of the flat buffer's
// Adam moments (which a loaded optimizer state may hold), so that neither the norm nor the step counts
// them and they stay exactly where they are. A no-op for an undefined mask.
void hold_frozen(const torch::Tensor& mask, const FlatParameters& flat, torch::optim::Adam& optimizer);

// Scales `grads` in place so that their global L2 norm is at most max_norm, as
// torch.nn.utils.clip_grad_norm_ does (coefficient max_norm / (norm + 1e-6), at most 1), but with
// the coefficient kept on the device: no host synchronisation. Undefined tensors are skipped.
void clip_grad_norm(const std::vector<torch::Tensor>& grads, double max_norm);

// optimizer.step(), as two loops where Adam steps one contiguous fp32 CPU buffer (a FlatParameters)
// that already has state, without weight decay or AMSGrad: LibTorch's Adam runs about ten operators
// per step, whose dispatch dominates for small networks. The same arithmetic, to float rounding.
void adam_step(torch::optim::Adam& optimizer);

// Finite-only training: a copy of the parameters Adam steps and of Adam's state from before an update,
// put back when the update turned out non-finite (a NaN reward, a diverging loss), so that one bad
// update is skipped instead of poisoning the network. save() and restore() are device copies, no
// host synchronisation; finite() reads one flag.
class UpdateGuard {
 public:
  // `extra`: tensors the update changes besides the ones Adam steps (a target network), kept too.
  explicit UpdateGuard(torch::optim::Adam& optimizer, std::vector<torch::Tensor> extra = {})
      : optimizer_(optimizer), extra_(std::move(extra)) {}
  void save();
  void restore();
  // Whether every parameter Adam steps is finite (one host read).
  bool finite() const;

 private:
  torch::optim::Adam& optimizer_;
  std::vector<torch::Tensor> extra_, extra_saved_;
  std::vector<torch::Tensor> params_;  // copies, in param_groups order
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::vector<std::int64_t> step_;     // -1: no state yet
};

// Adam's moments of `params` (parameters the optimizer steps, in that order), flattened into two
// fp32 host tensors, and the step count of the first parameter with state (zeros and 0 where a
// parameter has no state yet). For moving an optimizer's state between layouts (model parallelism's
// stages and the unsplit network of a checkpoint).
struct AdamMoments {
  torch::Tensor exp_avg, exp_avg_sq;  // [sum of numel]
  std::int64_t step = 0;
};
AdamMoments adam_moments(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params);
// Sets the state of `params` from `moments` (their layout as adam_moments gives it); step 0 removes
// the state (a fresh optimizer). Throws std::invalid_argument when the sizes do not match.
void set_adam_moments(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params,
                      const AdamMoments& moments);

// The gradients of `parameters` (undefined where a parameter has none yet).
std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& parameters);

}  // namespace apiary::learner
