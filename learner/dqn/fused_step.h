// DQN's gradient step written out by hand for the common case: an fp32 QNetwork MLP (no dueling head,
// no image encoder) on the CPU, as PPO's (learner/ppo/fused_step.h) is.
//
// Autograd runs the target and online networks, the Double DQN target, the TD loss and the backward
// pass of a 64x64 Q-network as about sixty small LibTorch operators, and at a batch of 64 rows their
// dispatch costs far more than their arithmetic. FusedDqnStep computes the same targets, loss
// (learner/losses.h: double_dqn_targets, dqn_loss) and gradients with one BLAS GEMM per matrix product
// (agents/dense_kernels.h) and plain loops, in workspaces allocated once; tests/learner/dqn_test.cpp
// holds it to autograd for both losses, both activations, plain and Double DQN, importance weights and
// observation scaling. No LibTorch here.
#pragma once

#include <cstdint>
#include <vector>

#include "agents/dense_kernels.h"

namespace apiary::learner {

// A Q-network: an MLP whose head has num_actions outputs.
struct FusedQNet : agents::DenseMlp {
  std::int64_t obs_dim = 0, num_actions = 0;
};

// One replay batch, rows contiguous.
struct FusedDqnBatch {
  std::int64_t rows = 0;
  const float* obs = nullptr;             // [B, obs_dim]
  const float* next_obs = nullptr;        // [B, obs_dim]
  const std::int64_t* actions = nullptr;  // [B]
  const float* returns = nullptr;         // [B] n-step returns
  const float* discounts = nullptr;       // [B] gamma^n, 0 where the episode ended
  const float* weights = nullptr;         // [B] importance weights; null: all ones
};

struct FusedDqnOptions {
  bool double_dqn = true;
  bool huber = true;  // false: the squared error
  float huber_delta = 1.0f;
};

struct FusedDqnOut {
  float loss = 0.0f;          // mean(weights * elementwise loss)
  float q_taken_mean = 0.0f;  // mean Q(s, a) of the online network
};

class FusedDqnStep {
 public:
  // Targets from `target` (and `online`, Double DQN) on next_obs, the TD loss of `online` on obs, and
  // d loss / d parameter added into online's gradients. td_errors[B] (targets - Q(s, a)) is written
  // unless null. Throws std::out_of_range naming the row for an action outside [0, num_actions), and
  // std::logic_error when agents::dense_kernels_available() is false.
  FusedDqnOut run(const FusedQNet& online, const FusedQNet& target, const FusedDqnBatch& batch,
                  const FusedDqnOptions& options, float* td_errors);

 private:
  // Q-values [rows, num_actions] of `net` on x, its hidden activations kept in h; returns them.
  const float* q_values(const FusedQNet& net, const float* x, std::int64_t rows, std::vector<float>& input,
                        std::vector<std::vector<float>>& h, std::vector<float>& q);

  std::vector<float> input_, next_input_;
  std::vector<std::vector<float>> h_, next_h_;
  std::vector<float> q_, next_q_online_, next_q_target_;
  std::vector<float> targets_, d_q_, d_features_, scratch_, scratch_next_;
};

}  // namespace apiary::learner
