// The PPO policy: an actor (categorical logits for a Discrete action space, the mean of a diagonal
// Gaussian with a state-independent learnable log-std for a Box one) and a critic V(s), after
// CleanRL's ppo.py / ppo_continuous_action.py `Agent`.
//
// Parameter names (the order of export_weights):
//   log_std                               Box spaces only, [A]
//   actor_body.{0,2,..}.{weight,bias}     shared_trunk = false: the actor's hidden layers
//   actor_head.{weight,bias}              logits [n] or Gaussian mean [A]
//   critic_body.{0,2,..}.{weight,bias}    shared_trunk = false: the critic's hidden layers
//   critic_head.{weight,bias}             V(s)
//   trunk.{0,2,..}.{weight,bias}          shared_trunk = true: replaces actor_body and critic_body
//   encoder.*                             a convolutional encoder (PolicyConfig::encoder) with
//                                         shared_trunk = true, before the trunk
//   actor_encoder.*, critic_encoder.*     ... with shared_trunk = false, one per side
//   core.*                                a recurrent core (PolicyConfig::recurrent_cell) with
//                                         shared_trunk = true, after the trunk, before the heads
//   actor_core.*, critic_core.*           ... with shared_trunk = false, one per side
//
// A network with a core has memory: every call that runs it takes each lane's state ([B,
// state_size()] fp32, agents/recurrent_core.h) and gives the state after the step; the dense
// inference path and the hand-written update are for MLPs without one.
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
#include "agents/recurrent_core.h"
#include "envs/spaces.h"

namespace apiary::agents {

// What the actor hands to the environment and stores in the trajectory chunk.
struct ActOut {
  torch::Tensor action;    // Discrete: int64 [B], indices in [0, n) (add Space::start for the env's
                           // value); Box: fp32 [B, A], not clipped (the env clips)
  torch::Tensor log_prob;  // fp32 [B], log pi(action | obs): the behaviour log-probability
  torch::Tensor value;     // fp32 [B], V(obs)
};

// What PPO's update needs for a minibatch, with autograd.
struct EvalOut {
  torch::Tensor log_prob;  // fp32 [B], log pi(actions | obs)
  torch::Tensor entropy;   // fp32 [B], entropy of pi(. | obs) in nats
  torch::Tensor value;     // fp32 [B], V(obs)
};

// The raw heads, cast to fp32. Exactly one of `logits` and `mean` is defined.
struct PolicyOut {
  torch::Tensor logits;  // Discrete: [B, n]
  torch::Tensor mean;    // Box: [B, A], the Gaussian mean (its log-std is log_std())
  torch::Tensor value;   // [B]
};

class ActorCriticImpl : public torch::nn::Module {
 public:
  // obs_dim: elements per observation (> 0). action_space: Discrete (n > 0) or Box (flat size > 0).
  // Throws std::invalid_argument naming the field for a bad argument or PolicyConfig.
  ActorCriticImpl(std::int64_t obs_dim, const envs::Space& action_space, PolicyConfig config = {});

  // Actor and critic heads for obs [B, obs_dim] (a [B, ...] batch is flattened), with autograd.
  // A network with a core needs `rec` (obs then holds rec->steps * B rows, time-major) and throws
  // without it; one without a core ignores it.
  PolicyOut forward(const torch::Tensor& obs, const Recurrence* rec = nullptr);

  // Chooses actions for obs [B, obs_dim] without autograd. deterministic: argmax of the logits or
  // the Gaussian mean; otherwise a sample drawn with `gen` (null: LibTorch's default generator; it
  // must live on the module's device). No host synchronisation. With a core, `state` ([B,
  // state_size()]) is each lane's memory before the step and is replaced by the memory after it.
  ActOut act(const torch::Tensor& obs, bool deterministic, torch::Generator* gen = nullptr,
             torch::Tensor* state = nullptr);
  // The deterministic action alone (argmax of the logits, or the Gaussian mean), without autograd:
  // the actor's layers only, no critic and no log-probability (evaluation and play act with it); with
  // a core, both sides run, so that the state stays whole.
  torch::Tensor mode(const torch::Tensor& obs, torch::Tensor* state = nullptr);

  // act() and mode() on agents/dense_kernels.h, for small networks on the CPU where LibTorch's
  // per-operator dispatch costs more than the arithmetic (ActorCriticPolicy acts through them). They
  // return false, leaving the output alone, where the dense path does not apply (a GPU, reduced
  // precision, no BLAS); the caller then uses act() / mode(). The results equal act()'s and mode()'s to
  // float rounding, not bitwise (tests/agents/test_dense_act.cpp): categorical samples come from the
  // inverse CDF of one uniform draw per row (the same distribution as act()'s multinomial), Gaussian
  // ones from the same normal draws as act(). dense_act(deterministic) and dense_mode agree bitwise.
  // Throws c10::Error naming the row when a row's logits are not finite (a NaN observation).
  bool dense_act(const torch::Tensor& obs, bool deterministic, torch::Generator* gen, ActOut& out);
  bool dense_mode(const torch::Tensor& obs, torch::Tensor& action);

  // log-probability of `actions` (as act returns them), entropy and value, with autograd. The
  // distributions are evaluated in fp32 even when the forward pass ran under reduced precision.
  // With a core, `rec` replays it over a sequence (PPO's update of whole lanes).
  EvalOut evaluate(const torch::Tensor& obs, const torch::Tensor& actions, const Recurrence* rec = nullptr);

  // V(obs), fp32 [B]; runs only the critic's path (autograd as the caller's mode says); with a core,
  // the whole forward pass over `rec`.
  torch::Tensor value(const torch::Tensor& obs, const Recurrence* rec = nullptr);

  // Elements of one lane's memory: 0 without a core.
  std::int64_t state_size() const;
  bool recurrent() const { return state_size() > 0; }

  bool is_discrete() const { return discrete_; }
  std::int64_t obs_dim() const { return obs_dim_; }
  // Discrete: n; Box: A, the flat size of the action space.
  std::int64_t action_dim() const { return action_dim_; }
  const PolicyConfig& config() const { return config_; }
  // Box: the learnable log-std [A]; undefined for a Discrete space.
  const torch::Tensor& log_std() const { return log_std_; }

 private:
  // The heads' outputs of the dense forward pass, in per-thread workspaces valid until the next call.
  struct DenseHeads {
    std::int64_t rows = 0;
    const float* actor = nullptr;   // [rows, action_dim]: logits or the Gaussian mean
    const float* critic = nullptr;  // [rows]: V(s); null without the critic
  };
  // The forward pass on agents/dense_kernels.h where it applies: fp32 observations and parameters on
  // the CPU, outside autocast, a BLAS in the build. false where it does not.
  bool dense_heads(const torch::Tensor& obs, bool with_critic, DenseHeads& heads);
  // Applies the observation scaling where the config asks for it.
  torch::Tensor scale_obs(const torch::Tensor& x) { return obs_scaling_ ? obs_scaling_->forward(x) : x; }
  // The input of one side's hidden layers: `encoder`'s features of the image, or the flattened (and
  // scaled) observation where there is no convolutional encoder.
  torch::Tensor encode(const torch::Tensor& obs, ConvEncoder& encoder);
  // The cores over both sides' features (replaced by the cores' outputs), filling rec's outputs.
  void run_cores(torch::Tensor& actor_features, torch::Tensor& critic_features, const Recurrence* rec);
  ObsScaling obs_scaling_{nullptr};
  PolicyConfig config_;
  std::int64_t obs_dim_;
  std::int64_t features_in_;  // the hidden layers' input width: obs_dim_, or the encoder's features
  // Convolutional encoders (PolicyConfig::encoder other than "mlp"): encoder_ with shared_trunk,
  // actor_encoder_ and critic_encoder_ without.
  ConvEncoder encoder_{nullptr};
  ConvEncoder actor_encoder_{nullptr};
  ConvEncoder critic_encoder_{nullptr};
  std::int64_t action_dim_;
  bool discrete_;
  // shared_trunk = true: trunk_ feeds both heads and the bodies are empty; false: the reverse.
  torch::nn::Sequential trunk_{nullptr};
  torch::nn::Sequential actor_body_{nullptr};
  torch::nn::Sequential critic_body_{nullptr};
  // The recurrent cores (PolicyConfig::recurrent_cell): core_ with shared_trunk, else one per side.
  RecurrentCore core_{nullptr};
  RecurrentCore actor_core_{nullptr};
  RecurrentCore critic_core_{nullptr};
  torch::nn::Linear actor_head_{nullptr};
  torch::nn::Linear critic_head_{nullptr};
  torch::Tensor log_std_;  // Box only
};
TORCH_MODULE(ActorCritic);

}  // namespace apiary::agents
