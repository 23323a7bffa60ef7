// Network shape and initialisation of the agents' MLPs. Defaults follow CleanRL's ppo.py and
// ppo_continuous_action.py: two hidden layers of 64 units, tanh, separate actor and critic,
// orthogonal initialisation (`layer_init`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace apiary::agents {

struct PolicyConfig {
  // Width of each hidden layer, input side first. Every entry > 0; empty gives linear heads on the
  // raw observation.
  std::vector<std::int64_t> hidden_sizes{64, 64};
  // Non-linearity after every hidden layer: "tanh" (CleanRL's PPO) or "relu" (CleanRL's DQN).
  std::string activation = "tanh";
  // ActorCritic only. false: separate actor and critic MLPs, as CleanRL does; true: one trunk
  // shared by the actor head and the critic head.
  bool shared_trunk = false;
  // ActorCritic on a Box action space only: initial value of every element of the learnable,
  // state-independent log standard deviation (natural log; 0 means std = 1). Must be finite.
  double init_log_std = 0.0;
  // QNetwork only: separate value and advantage streams on the trunk, Q = V + A - mean_a(A)
  // (Wang et al. 2016). An ActorCritic rejects it rather than ignore it.
  bool dueling = false;
  // true: orthogonal weights and zero biases as CleanRL's `layer_init`, with the gains below;
  // false: LibTorch's default Linear initialisation (Kaiming uniform), and the gains are unused.
  bool orthogonal_init = true;
  // Orthogonal gain of every hidden layer (sqrt(2), as CleanRL). Finite and >= 0.
  double hidden_gain = 1.4142135623730951;
  // Orthogonal gain of the actor's output layer (logits or Gaussian mean): small, so the initial
  // policy is near uniform / near zero mean. Finite and >= 0.
  double actor_output_gain = 0.01;
  // Orthogonal gain of the critic's output layer and of every QNetwork output layer. Finite, >= 0.
  double critic_output_gain = 1.0;
  // Observation bounds to map onto [-1, 1] before the first layer (empty: no scaling). One entry per
  // observation element; an element whose bounds are not both finite and at most 1e6 apart passes
  // unchanged. Kept as buffers of the network, so they travel with its weights and checkpoints.
  std::vector<float> obs_low, obs_high;
  // What reads the observation before the hidden layers (agents/encoder.h): "mlp" (the observation
  // flattened, as always) or a convolutional network over an image, "minatar", "nature" or "impala".
  // ActorCritic: one encoder shared by both heads with shared_trunk, else one each.
  std::string encoder = "mlp";
  // The observation's per-lane shape, (H, W, C) channels-last for an image; needed by the convolutional
  // encoders (empty: a flat vector).
  std::vector<std::int64_t> obs_shape;
  // uint8 observations are divided by this before the first layer: the space's high bound, so that
  // they land in [0, 1] (255 for pixels; 1 for MinAtar's 0/1 maps, which pass as they are).
  double uint8_high = 255.0;
  // ActorCritic only: a recurrent core (agents/recurrent_core.h) between the hidden layers and the
  // heads: "none" (no memory, as always), "lstm" or "gru", of recurrent_hidden units. With
  // shared_trunk one core feeds both heads, else each side has its own.
  std::string recurrent_cell = "none";
  std::int64_t recurrent_hidden = 128;
};

// The non-linearity named by PolicyConfig::activation, parsed once at construction.
enum class Activation : std::uint8_t { kTanh, kRelu };

// "tanh" -> kTanh, "relu" -> kRelu; anything else throws std::invalid_argument naming the field.
Activation parse_activation(const std::string& name);

// PolicyConfig::recurrent_cell, parsed: no core, an LSTM or a GRU.
enum class CoreCell : std::uint8_t { kNone, kLstm, kGru };

// "none" (or "") -> kNone, "lstm", "gru"; anything else throws std::invalid_argument naming the field.
CoreCell parse_core_cell(const std::string& name);

// Elements of one lane's memory in an ActorCritic of `config`: 0 without a core; an LSTM's h and c
// or a GRU's h, once with shared_trunk, else for each side.
std::int64_t recurrent_state_size(const PolicyConfig& config);

// Throws std::invalid_argument naming the first field out of range ("PolicyConfig.hidden_sizes[1]
// must be > 0, got 0"). Called by every network constructor.
void validate(const PolicyConfig& config);

}  // namespace apiary::agents
