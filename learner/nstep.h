// n-step returns for DQN (Sutton & Barto ch. 7; as used by Rainbow and Ape-X), streaming over the
// batched environment's steps with Gymnasium 1.x same-step autoreset semantics.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "learner/transitions.h"

namespace apiary::learner {

// Keeps, per lane, the last up-to-n steps whose n-step window is still open, and emits each
// transition once its window is complete:
//  - a lane that did not end its episode this step emits the transition that started n-1 steps ago
//    (k = n rewards, discount gamma^n, next_obs = the observation after this step);
//  - a lane whose episode ended this step emits all its pending transitions, each with its shortened
//    window of k <= n rewards, next_obs = the episode's final observation, and discount gamma^k when
//    truncated (bootstrap through the time limit) or 0 when terminated.
// With n = 1 this gives ordinary one-step transitions. Transitions still open when training stops are
// dropped. Storage is preallocated on `device` at the first push; inputs are moved there.
class NStepBuffer {
 public:
  // num_envs: lanes per push; n >= 1: steps per window; gamma: discount per step; obs_dim: elements per
  // observation row; device: where the history and the emitted transitions live; obs_dtype: how
  // observations are kept (float32, or uint8 for images, never widened).
  NStepBuffer(std::int64_t num_envs, std::int64_t n, double gamma, std::int64_t obs_dim,
              torch::Device device = torch::kCPU, torch::Dtype obs_dtype = torch::kFloat);

  // One step of all lanes: obs [N, D] (acted on), actions [N, ...], rewards [N], terminated [N],
  // truncated [N] (0/1 float or bool), next_obs [N, D] (the observation after the step; for a done lane
  // the final observation, not the reset one). Returns the transitions completed by this step, ordered
  // by lane, then by start step; possibly none. Reads the done flags and rewards on the host: one
  // device synchronisation per push.
  Transitions push(const torch::Tensor& obs, const torch::Tensor& actions,
                   const torch::Tensor& rewards, const torch::Tensor& terminated,
                   const torch::Tensor& truncated, const torch::Tensor& next_obs);

  // Forget all open windows (e.g. after the caller reset every lane).
  void clear();

  std::int64_t num_envs() const { return num_envs_; }
  std::int64_t n() const { return n_; }
  // Open windows of a lane, 0 ... n-1 between pushes.
  std::int64_t pending(std::int64_t lane) const { return pending_[static_cast<std::size_t>(lane)]; }

 private:
  std::int64_t num_envs_;
  std::int64_t n_;
  double gamma_;
  std::int64_t obs_dim_;
  torch::Device device_;
  std::int64_t step_ = 0;              // pushes so far; step s lives in history slot s % n
  std::vector<std::int64_t> pending_;  // [N]: open windows, all ending at the latest step
  std::vector<float> reward_history_;  // [n * N] host copy of the last n rewards, slot-major
  torch::Tensor obs_history_;          // [n * N, D] on device_, row slot * N + lane
  torch::Tensor action_history_;       // [n * N, ...action_shape] on device_, allocated lazily
};

// One rollout of T steps of N lanes, for the pure function below.
struct NStepRollout {
  torch::Tensor obs;         // [T, N, D] float
  torch::Tensor actions;     // [T, N, ...]
  torch::Tensor rewards;     // [T, N]
  torch::Tensor terminated;  // [T, N] 0/1 float or bool
  torch::Tensor truncated;   // [T, N] 0/1 float or bool
  torch::Tensor next_obs;    // [T, N, D]: the observation after step t (final observation if done)
};

// The transitions that a fresh NStepBuffer would emit over this rollout, in the same order
// (by completing step, then lane, then start step). Windows still open at T are not emitted.
// A direct per-transition computation on the host, independent of NStepBuffer's bookkeeping: meant
// for tests and offline data, not for the hot path.
Transitions nstep_transitions(const NStepRollout& rollout, std::int64_t n, double gamma);

}  // namespace apiary::learner
