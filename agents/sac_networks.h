// SAC's networks (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"), after
// CleanRL's sac_continuous_action.py `Actor` and `SoftQNetwork`, and the policy actors act with.
//
//   SacActor   obs -> [encoder] -> MLP -> (mean, log_std) of a diagonal Gaussian over the pre-squash
//              action u; the action is tanh(u) rescaled onto the Box's bounds: a = tanh(u) * scale + bias.
//   SacCritic  K soft Q-networks Q_k(obs, a) evaluated together (K = 2: the twin critics), each an
//              MLP on the concatenation [features(obs), a]. Their layers are stacked into [K, in, out] weights,
//              so one batched matrix product runs every critic's layer: on small networks LibTorch's
//              per-call cost, not arithmetic, is what an update spends its time on.
//
// Images (PolicyConfig::encoder other than "mlp", agents/encoder.h): the actor has its own encoder,
// and the critic one encoder whose features its K heads share (as SAC-AE and DrQ share the critic's
// convolutions between the twin Q-functions); the target critic has its copy, Polyak-averaged with
// the rest. uint8 observations stay uint8 until the encoder (or flatten_obs) divides them by the
// space's high bound.
//
// Initialisation is PyTorch's default for Linear layers (uniform in +-1/sqrt(fan_in) for weights and
// biases), as CleanRL leaves it. Outputs are cast to fp32, so the distributions, log-probabilities and
// losses are computed in fp32 even when the layers ran under autocast.
//
// Parameter names (the order of export_weights, what actors receive):
//   SacActor   obs_scaling.{offset,scale} (buffers, policy.scale_obs), encoder.* (images),
//              body.{0,2,..}.{weight,bias}, head.{weight,bias} ([2A, hidden]: the mean rows, then the
//              log-std rows), action_scale, action_bias (buffers, [A])
//   SacCritic  obs_scaling.{offset,scale} (buffers), encoder.* (images), weight_{i} [K, in, out],
//              bias_{i} [K, 1, out]
#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "agents/encoder.h"
#include "agents/layers.h"
#include "agents/policy.h"
#include "agents/policy_config.h"
#include "envs/spaces.h"

namespace apiary::agents {

// The Gaussian's parameters over the pre-squash action, fp32 [B, A].
struct SquashedGaussian {
  torch::Tensor mean;
  torch::Tensor log_std;  // in [log_std_min, log_std_max]
};

// A reparameterised draw a = tanh(mean + std * noise) * scale + bias, with autograd.
struct SquashedSample {
  torch::Tensor action;    // fp32 [B, A], inside the Box's bounds
  torch::Tensor log_prob;  // fp32 [B], log pi(a | obs) with the tanh and scale correction
};

class SacActorImpl : public torch::nn::Module {
 public:
  // action_space: a bounded Box. config: hidden_sizes, activation and obs bounds (scale_obs) are used;
  // its initialisation fields are not (PyTorch's default). log_std_min < log_std_max. Throws
  // std::invalid_argument naming what is wrong.
  SacActorImpl(std::int64_t obs_dim, const envs::Space& action_space, const agents::PolicyConfig& config,
               double log_std_min, double log_std_max);

  // mean and log_std for obs [B, obs_dim] (CleanRL's Actor.forward, log_std squashed by tanh).
  SquashedGaussian forward(const torch::Tensor& obs);

  // tanh(mean) rescaled: the deterministic action, fp32 [B, A].
  torch::Tensor deterministic_action(const torch::Tensor& obs);

  // Acting on agents/dense_kernels.h: the actions [B, A] for obs [B, obs_dim], deterministic (the
  // squashed mean) or from the standard-normal noise [B, A], the same arithmetic as forward() and
  // squash() to float rounding. False where the kernels do not apply (autograd recording, autocast, an
  // encoder, not fp32 on the CPU): the caller keeps to the operators.
  bool dense_act(const torch::Tensor& obs, const torch::Tensor* noise, torch::Tensor& action);

  // The rescaled squash of pre-squash actions u: tanh(u) * scale + bias.
  torch::Tensor squash(const torch::Tensor& u) const { return torch::tanh(u) * action_scale_ + action_bias_; }

  const torch::Tensor& action_scale() const { return action_scale_; }  // (high - low) / 2, [A]
  const torch::Tensor& action_bias() const { return action_bias_; }    // (high + low) / 2, [A]
  std::int64_t obs_dim() const { return obs_dim_; }
  std::int64_t action_dim() const { return action_dim_; }

 private:
  agents::ObsScaling obs_scaling_{nullptr};
  agents::ConvEncoder encoder_{nullptr};  // images
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor action_scale_, action_bias_;
  std::int64_t obs_dim_, action_dim_;
  double log_std_min_, log_std_max_;
  agents::PolicyConfig obs_config_;  // what encode_observation reads (encoder, shape, uint8 bound)
};
TORCH_MODULE(SacActor);

// mean + exp(log_std) * noise squashed onto the Box, and its log-probability:
//   log pi(a) = sum_i [ log N(u_i; mean_i, std_i) - log(scale_i) - log(1 - tanh(u_i)^2) ],
// the last term computed as 2 (log 2 - u - softplus(-2 u)), which stays finite where tanh(u) rounds
// to +-1 (CleanRL adds 1e-6 inside the logarithm instead). noise: standard normal, [B, A].
SquashedSample squashed_gaussian_sample(const SquashedGaussian& gaussian, const torch::Tensor& noise,
                                        const torch::Tensor& action_scale, const torch::Tensor& action_bias);

class SacCriticImpl : public torch::nn::Module {
 public:
  // num_critics Q-networks on [features(obs), action] with hidden layers `hidden_sizes` and
  // `activation` ("relu" | "tanh"). obs_config says how the observation is read: its obs_low / obs_high
  // (empty: no scaling), encoder, obs_shape and uint8_high; its hidden sizes are not used.
  SacCriticImpl(std::int64_t obs_dim, std::int64_t action_dim, const std::vector<std::int64_t>& hidden_sizes,
                const std::string& activation, const agents::PolicyConfig& obs_config, std::int64_t num_critics = 2);

  // Q_k(obs, actions) for every critic k: fp32 [K, B]. obs [B, obs_dim], actions [B, A].
  torch::Tensor forward(const torch::Tensor& obs, const torch::Tensor& actions);

  std::int64_t num_critics() const { return num_critics_; }
  std::int64_t num_layers() const { return static_cast<std::int64_t>(weights_.size()); }
  // Layer i's stacked weight [K, in, out] and bias [K, 1, out] (tests, tools).
  const torch::Tensor& weight(std::int64_t i) const { return weights_.at(static_cast<std::size_t>(i)); }
  const torch::Tensor& bias(std::int64_t i) const { return biases_.at(static_cast<std::size_t>(i)); }

 private:
  agents::ObsScaling obs_scaling_{nullptr};
  agents::ConvEncoder encoder_{nullptr};  // images: one encoder for all K heads
  std::vector<torch::Tensor> weights_, biases_;
  agents::Activation activation_;
  std::int64_t obs_dim_, action_dim_, num_critics_;
  agents::PolicyConfig obs_config_;
};
TORCH_MODULE(SacCritic);

// What actors act with: a draw from the squashed Gaussian (deterministic: the squashed mean), or,
// while ctx.global_step < random_steps, a uniform action in the Box (CleanRL's warm-up). act() returns
// no log_prob or value (SAC's chunks carry none). module() is the actor network. With
// noise_correlation rho > 0 the Gaussian's standard-normal noise is an AR(1) process per row of the
// batch (lane), eps_t = rho eps_{t-1} + sqrt(1 - rho^2) xi_t, N(0, 1) at every step.
class SacPolicy final : public agents::Policy {
 public:
  SacPolicy(SacActor actor, std::int64_t random_steps, double noise_correlation = 0.0);
  agents::PolicyAct act(const torch::Tensor& obs, const agents::ActContext& ctx) override;
  // The squashed Gaussian mean in the action's units (the deterministic action), kActionMean.
  agents::PolicyView view(const torch::Tensor& obs, torch::Tensor* state = nullptr) override;
  torch::nn::Module& module() override { return *actor_; }
  SacActor& actor() { return actor_; }

 private:
  SacActor actor_;
  std::int64_t random_steps_;
  double noise_correlation_;
  torch::Tensor noise_;  // [B, A]: the last step's eps per lane (correlated noise only)
};

}  // namespace apiary::agents
