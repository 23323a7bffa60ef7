// Pointers into a module's fp32 CPU parameters, gradients and buffers, in the form agents/dense_kernels.h's
// layers read them: what PPO's and DQN's hand-written steps (learner/ppo/fused_net.h,
// learner/dqn/dqn.cpp) run on. Valid until something re-seats the tensors' storage (loading weights can),
// so the algorithms read them again at every update.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/ordered_dict.h>
#include <torch/types.h>

#include "agents/dense_kernels.h"

namespace apiary::learner {

class DenseView {
 public:
  // `who` names the caller in the errors ("PPO's fused step").
  DenseView(const torch::nn::Module& net, std::string who);

  // The data of `t`; throws c10::Error naming `name` when it is not a defined, contiguous fp32 CPU tensor.
  float* floats(const torch::Tensor& t, const std::string& name) const;
  // The parameter `name` and its gradient (bound: FlatParameters), or null where `grads` is false.
  const float* parameter(const std::string& name) const;
  float* gradient(const std::string& name) const;
  // The Linear `prefix` ("q_head", "trunk.0"): weight [out, in], bias, and their gradients where `grads`.
  agents::DenseLayer linear(const std::string& prefix, bool grads) const;
  // make_mlp's hidden layers under `prefix`: Linear, activation, Linear, ...: the Linears at the even
  // indices, as many as there are.
  std::vector<agents::DenseLayer> mlp(const std::string& prefix, bool grads) const;
  // The observation scaling's buffers (obs_scaling.offset and .scale), null where the net has none.
  const float* obs_offset() const;
  const float* obs_scale() const;

 private:
  torch::OrderedDict<std::string, torch::Tensor> params_, buffers_;
  std::string who_;
};

}  // namespace apiary::learner
