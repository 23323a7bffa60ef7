// Building blocks shared by ActorCritic and QNetwork: the hidden MLP and CleanRL's `layer_init`.
#pragma once

#include <cstdint>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "agents/dense_kernels.h"
#include "agents/policy_config.h"

namespace apiary::agents {

// Linear + activation per entry of config.hidden_sizes, from `in_dim` inputs; each Linear is
// initialised with layer_init(config.hidden_gain) when config.orthogonal_init. Submodule names are
// Sequential's ("0", "1", ...: even indices are the Linear layers). Empty when hidden_sizes is.
torch::nn::Sequential make_mlp(std::int64_t in_dim, const PolicyConfig& config);

// Width of make_mlp's output: the last hidden size, or `in_dim` when there are no hidden layers.
std::int64_t mlp_out_dim(std::int64_t in_dim, const PolicyConfig& config);

// Applies `mlp` to x; an empty Sequential is the identity (LibTorch's forward would throw).
torch::Tensor run_mlp(torch::nn::Sequential& mlp, const torch::Tensor& x);

// CleanRL's layer_init: orthogonal weight with `gain`, zero bias.
void layer_init(torch::nn::Linear& layer, double gain);

// Flattens observations to [B, obs_dim] (a [B, ...] batch is flattened after the first dimension)
// and checks the width; `who` names the caller in the error. uint8 observations (images) become
// floats in [0, 1] (x / uint8_high, the space's high bound); other dtypes pass unchanged.
torch::Tensor flatten_obs(const torch::Tensor& obs, std::int64_t obs_dim, const char* who, double uint8_high = 255.0);

// Observations as a batch of images [B, H, W, C] for a convolutional encoder: flat rows [B, H*W*C]
// (chunks, replay) are reshaped; [B, H, W, C] passes. Throws c10::Error naming both shapes otherwise.
torch::Tensor image_batch(const torch::Tensor& obs, const std::vector<std::int64_t>& shape);

// (x - offset) * scale per observation element, mapping bounded elements onto [-1, 1]; the affine
// map lives in two buffers ("offset", "scale") so that it is exported with the weights.
class ObsScalingImpl : public torch::nn::Module {
 public:
  ObsScalingImpl(const std::vector<float>& low, const std::vector<float>& high);
  torch::Tensor forward(const torch::Tensor& x) { return (x - offset_) * scale_; }
  const torch::Tensor& offset() const { return offset_; }  // [obs_dim]
  const torch::Tensor& scale() const { return scale_; }    // [obs_dim]

 private:
  torch::Tensor offset_, scale_;
};
TORCH_MODULE(ObsScaling);

// A Linear layer, and make_mlp's Linears (Linear, activation, Linear, ...), appended to `layers` as
// agents/dense_kernels.h's inference layers (pointers into the weights, no gradients); false when a
// weight or bias is not a contiguous fp32 CPU tensor (the caller keeps to LibTorch's operators).
bool dense_linear(torch::nn::LinearImpl& linear, std::vector<DenseLayer>& layers);
// Whether the dense kernels can read `t` in place: a defined, contiguous fp32 CPU tensor.
bool dense_ready(const torch::Tensor& t);
bool dense_mlp(torch::nn::Sequential& mlp, std::vector<DenseLayer>& layers);
// make_mlp's `body`, a Linear `head`, the observation scaling (null: none) and the activation as one
// DenseMlp for inference (no gradients), into `net`; false as dense_linear.
bool dense_mlp_net(torch::nn::Sequential& body, torch::nn::LinearImpl& head, const ObsScaling& scaling, bool tanh,
                   DenseMlp& net);

}  // namespace apiary::agents
