// A policy's memory: one recurrent cell (LSTM or GRU) between the encoder (the hidden MLP, or a CNN
// and its MLP) and the heads, as Sample Factory's "core" and CleanRL's ppo_atari_lstm.py place it.
//
// The state of a lane is one fp32 row: [h, c] for an LSTM (2 * hidden), [h] for a GRU (hidden). A
// network with two cores (separate actor and critic) lays its lanes' rows side by side: [actor's,
// critic's]. Parameter names are LibTorch's cells': weight_ih, weight_hh, bias_ih, bias_hh.
#pragma once

#include <cstdint>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "agents/policy_config.h"

namespace apiary::agents {

// How a recurrent pass over T steps of B lanes runs (RecurrentCore::sequence, ActorCritic::forward).
struct Recurrence {
  torch::Tensor state;   // [B, S] fp32: each lane's memory before the first step
  torch::Tensor starts;  // [T, B] 0/1 (any dtype), optional: 1 where step t begins an episode, so
                         // the lane's memory is zeroed before it
  std::int64_t steps = 1;        // T: the input holds T * B rows, time-major (step t is rows t*B..)
  std::int64_t bptt_steps = 0;   // gradients flow back at most this many steps (0: the whole sequence)
  torch::Tensor* final_state = nullptr;  // out, optional: [B, S] after the last step
  torch::Tensor* step_states = nullptr;  // out, optional: [T, B, S] after each step (before any reset)
};

class RecurrentCoreImpl : public torch::nn::Module {
 public:
  // in: the features entering the core; hidden: its width (the heads' input). orthogonal: CleanRL's
  // initialisation (orthogonal weights with gain 1, zero biases); else LibTorch's cells' default.
  RecurrentCoreImpl(std::int64_t in, CoreCell cell, std::int64_t hidden, bool orthogonal);

  std::int64_t state_size() const { return cell_ == CoreCell::kLstm ? 2 * hidden_ : hidden_; }
  std::int64_t hidden() const { return hidden_; }
  CoreCell cell() const { return cell_; }

  // One step: x [B, in], state [B, state_size()] -> the output [B, hidden] (fp32) and the new state
  // (fp32, also under autocast).
  torch::Tensor step(const torch::Tensor& x, const torch::Tensor& state, torch::Tensor& next_state);

  // T steps: x [T * B, in] time-major, `rec.state` [B, state_size()] (rec.state and rec.starts are
  // this core's own columns). Returns the outputs [T * B, hidden] and fills rec's outputs.
  torch::Tensor sequence(const torch::Tensor& x, const Recurrence& rec);

 private:
  CoreCell cell_;
  std::int64_t hidden_;
  torch::nn::LSTMCell lstm_{nullptr};
  torch::nn::GRUCell gru_{nullptr};
};
TORCH_MODULE(RecurrentCore);

}  // namespace apiary::agents
