// The DQN value network: an MLP from observations to Q-values [B, num_actions], after CleanRL's
// dqn.py `QNetwork`, with an optional dueling head (Wang et al. 2016): Q = V + A - mean_a(A).
//
// Parameter names (the order of export_weights):
//   trunk.{0,2,..}.{weight,bias}    hidden layers
//   q_head.{weight,bias}            dueling = false: Q [num_actions]
//   value_head.{weight,bias}        dueling = true: V [1]
//   advantage_head.{weight,bias}    dueling = true: A [num_actions]
#pragma once

#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "agents/encoder.h"
#include "agents/layers.h"
#include "agents/policy_config.h"

namespace apiary::agents {

// The dueling decomposition, for inspection and tests.
struct DuelingOut {
  torch::Tensor q;          // [B, num_actions], value + advantage - mean_a(advantage)
  torch::Tensor value;      // [B, 1], V(s)
  torch::Tensor advantage;  // [B, num_actions], A(s, a) before centring
};

// What an epsilon-greedy actor hands to the environment and stores in the trajectory chunk.
struct QActOut {
  torch::Tensor action;    // int64 [B], indices in [0, num_actions)
  torch::Tensor q_values;  // fp32 [B, num_actions], Q(obs, .) of the acting network
};

class QNetworkImpl : public torch::nn::Module {
 public:
  // obs_dim: elements per observation (> 0); num_actions > 0. Uses hidden_sizes, activation,
  // dueling, orthogonal_init, hidden_gain and critic_output_gain (for every output layer) of
  // `config`. Throws std::invalid_argument naming the field for a bad argument or PolicyConfig.
  QNetworkImpl(std::int64_t obs_dim, std::int64_t num_actions, PolicyConfig config = {});

  // Q-values [B, num_actions] for obs [B, obs_dim] (a [B, ...] batch is flattened), with autograd,
  // in the dtype of the forward pass (cast to fp32 before losses under reduced precision).
  torch::Tensor forward(const torch::Tensor& obs);

  // The dueling streams as well as Q; requires config().dueling.
  DuelingOut forward_dueling(const torch::Tensor& obs);

  // argmax_a Q(obs, a), int64 [B], without autograd.
  torch::Tensor greedy(const torch::Tensor& obs);

  // Per row b: with probability epsilons[b] a uniformly random action, otherwise the greedy one
  // (Ape-X: each actor, or each lane, has its own epsilon). epsilons: [B] or a scalar tensor, any
  // floating dtype, on the module's device. `gen` (null: LibTorch's default generator) must live on
  // the module's device. No autograd, no host synchronisation.
  QActOut epsilon_greedy(const torch::Tensor& obs, const torch::Tensor& epsilons, torch::Generator* gen = nullptr);

  std::int64_t obs_dim() const { return obs_dim_; }
  std::int64_t num_actions() const { return num_actions_; }
  const PolicyConfig& config() const { return config_; }

 private:
  // Q-values [B, num_actions] fp32 on agents/dense_kernels.h's layers, for acting: an MLP without a
  // dueling head, fp32 on the CPU, outside autocast; false otherwise (LibTorch's operators then).
  // Small batches are what acting sees, and there the operators' dispatch costs more than the products.
  bool dense_q(const torch::Tensor& obs, torch::Tensor& q);
  // Applies the observation scaling where the config asks for it.
  torch::Tensor scale_obs(const torch::Tensor& x) { return obs_scaling_ ? obs_scaling_->forward(x) : x; }
  // The trunk's input: the encoder's features of the image, or the flattened (and scaled) observation.
  torch::Tensor encode(const torch::Tensor& obs);
  ObsScaling obs_scaling_{nullptr};
  ConvEncoder encoder_{nullptr};  // PolicyConfig::encoder other than "mlp"
  PolicyConfig config_;
  std::int64_t obs_dim_;
  std::int64_t num_actions_;
  torch::nn::Sequential trunk_{nullptr};
  torch::nn::Linear q_head_{nullptr};          // dueling = false
  torch::nn::Linear value_head_{nullptr};      // dueling = true
  torch::nn::Linear advantage_head_{nullptr};  // dueling = true
};
TORCH_MODULE(QNetwork);

}  // namespace apiary::agents
