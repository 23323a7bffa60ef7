// Experience replay for DQN: a uniform ring buffer of preallocated tensors (Mnih et al. 2015) and
// proportional prioritized replay over a sum tree (Schaul et al. 2016, "Prioritized Experience
// Replay", section 3.3 and Algorithm 1).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "learner/transitions.h"

namespace apiary::learner {

// A CPU random generator with its own state, for reproducible sampling without global random state.
at::Generator make_generator(std::uint64_t seed);

// A sampled minibatch: the stored transitions at `indices`, plus the importance weights that scale
// each sample's loss (all ones for uniform sampling).
struct ReplaySample {
  torch::Tensor obs;        // [B, obs_dim] in the buffer's observation dtype (float32, or uint8 images)
  torch::Tensor actions;    // [B, ...action_shape]
  torch::Tensor returns;    // [B] float32, n-step discounted reward sum
  torch::Tensor next_obs;   // [B, obs_dim], as obs
  torch::Tensor discounts;  // [B] float32, gamma^k or 0 at termination
  torch::Tensor indices;    // [B] int64 slots in the buffer, for PrioritizedReplay::update_priorities
  torch::Tensor weights;    // [B] float32 importance-sampling weights, max 1
};

// Ring buffer of `capacity` transitions, allocated once on `device` (NaN-filled, so reads of rows
// never written show; uint8 observations, which hold no NaN, start at 0). Observations are stored in
// `obs_dtype`, uint8 for image envs (a quarter of float32's memory), and added batches must match it. Adding past capacity overwrites the oldest rows; the newest `capacity`
// transitions are always the ones kept.
class ReplayBuffer {
 public:
  // action_shape: per-transition action shape ({} for a discrete action), action_dtype: its dtype
  // (torch::kLong for discrete, torch::kFloat for continuous).
  ReplayBuffer(std::int64_t capacity, std::int64_t obs_dim, std::vector<std::int64_t> action_shape = {},
               torch::Dtype action_dtype = torch::kLong, torch::Device device = torch::kCPU,
               torch::Dtype obs_dtype = torch::kFloat);

  // Appends a batch; one that does not fit in the space left wraps around, and one larger than the
  // capacity keeps only its last `capacity` rows. Returns the slots written ([min(B, capacity)]
  // int64 on the CPU, in the order of the batch's kept rows).
  torch::Tensor add(const Transitions& batch);

  // batch_size rows drawn uniformly with replacement from the filled part; weights are ones.
  ReplaySample sample(std::int64_t batch_size, at::Generator& generator) const;
  ReplaySample sample(std::int64_t batch_size, std::uint64_t seed) const;
  // The rows at `indices` (int64, any device), with weights of one.
  ReplaySample gather(const torch::Tensor& indices) const;

  // The indices sample() draws: [batch_size] int64 on the CPU, uniform over the filled part (the same
  // draws from `generator` as sample()).
  torch::Tensor sample_indices(std::int64_t batch_size, at::Generator& generator) const;
  // Whether gather_host() applies: a CPU buffer of fp32 observations, and scalar int64 or fp32 actions.
  bool host_floats() const;
  // The rows at indices[0, n) copied into host arrays (obs and next_obs [n, obs_dim], the others [n]):
  // gather() without LibTorch's operators, for DQN's fused step. Requires host_floats() and scalar
  // int64 actions; indices must be in [0, size()).
  void gather_host(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs, std::int64_t* actions,
                   float* returns, float* discounts) const;
  // The same for fp32 actions, each row's action elements contiguous in actions [n, action elements]
  // (SAC's fused step).
  void gather_host(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs, float* actions,
                   float* returns, float* discounts) const;

  std::int64_t size() const { return size_; }
  std::int64_t capacity() const { return capacity_; }
  torch::Device device() const { return device_; }

 private:
  template <class Action>
  void gather_rows(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs, Action* actions,
                   float* returns, float* discounts) const;

  std::int64_t capacity_;
  std::int64_t obs_dim_;
  torch::Device device_;
  std::int64_t next_ = 0;  // slot the next row goes to
  std::int64_t size_ = 0;  // filled rows, <= capacity_
  torch::Tensor obs_;        // [capacity, obs_dim]
  torch::Tensor actions_;    // [capacity, ...action_shape]
  torch::Tensor returns_;    // [capacity]
  torch::Tensor next_obs_;   // [capacity, obs_dim]
  torch::Tensor discounts_;  // [capacity]
};

// A binary tree of partial sums over `capacity` non-negative leaf values, stored as an array:
// node 1 is the root, node i has children 2i and 2i+1, and the leaves are nodes
// [leaves, 2 * leaves) with leaves the next power of two >= capacity (padding leaves stay 0).
// set is O(log capacity), total O(1), find_prefix_sum O(log capacity). Sums are kept in double so
// that millions of updates do not drift.
class SumTree {
 public:
  explicit SumTree(std::int64_t capacity);

  void set(std::int64_t index, double value);
  // Bulk set: indices int64 [B], values [B] (any floating dtype), any device (copied to the host).
  void set(const torch::Tensor& indices, const torch::Tensor& values);
  double get(std::int64_t index) const;
  double total() const { return nodes_[1]; }
  // The smallest leaf index i with sum(leaves[0..i]) > mass, for mass in [0, total()); masses at or
  // past the total (rounding) give the last leaf with a positive value.
  std::int64_t find_prefix_sum(double mass) const;
  // Bulk version: masses [B] (any floating dtype, any device) -> int64 [B] leaf indices on the CPU.
  torch::Tensor find_prefix_sum(const torch::Tensor& masses) const;

  std::int64_t capacity() const { return capacity_; }

 private:
  std::int64_t capacity_;
  std::int64_t leaves_;         // power of two >= capacity_
  std::vector<double> nodes_;   // [2 * leaves_]; nodes_[0] unused
};

// Proportional prioritized replay: P(i) = p_i^alpha / sum_j p_j^alpha with p_i = |td_error_i| + epsilon;
// new transitions get the largest priority seen so far, so each is sampled at least once soon.
// Importance weights w_i = (size * P(i))^(-beta), divided by the largest weight of the minibatch
// (so they only scale the loss down). Beta is usually annealed to 1 by the caller with set_beta.
struct PrioritizedReplayOptions {
  double alpha = 0.6;     // priority exponent; 0 is uniform sampling
  double beta = 0.4;      // importance-sampling exponent; 1 fully corrects the sampling bias
  double epsilon = 1e-6;  // added to |td_error| so that no transition gets probability 0
};

class PrioritizedReplay {
 public:
  PrioritizedReplay(std::int64_t capacity, std::int64_t obs_dim,
                    std::vector<std::int64_t> action_shape = {}, torch::Dtype action_dtype = torch::kLong,
                    PrioritizedReplayOptions options = {}, torch::Device device = torch::kCPU,
                    torch::Dtype obs_dtype = torch::kFloat);

  // Appends a batch (as ReplayBuffer::add), each new row at the current maximum priority.
  torch::Tensor add(const Transitions& batch);

  // batch_size rows drawn proportionally to p^alpha, with replacement, stratified: row b's mass is
  // uniform in the b-th of batch_size equal segments of the total (as OpenAI Baselines does), which
  // keeps the proportions while lowering the variance of one minibatch.
  ReplaySample sample(std::int64_t batch_size, at::Generator& generator) const;
  ReplaySample sample(std::int64_t batch_size, std::uint64_t seed) const;

  // New priorities |td_errors| + epsilon for the rows at `indices` (from ReplaySample::indices).
  void update_priorities(const torch::Tensor& indices, const torch::Tensor& td_errors);

  void set_beta(double beta) { options_.beta = beta; }
  const PrioritizedReplayOptions& options() const { return options_; }
  std::int64_t size() const { return buffer_.size(); }
  std::int64_t capacity() const { return buffer_.capacity(); }
  const SumTree& tree() const { return tree_; }
  double max_priority() const { return max_priority_; }

 private:
  ReplayBuffer buffer_;
  SumTree tree_;  // leaves hold p_i^alpha
  PrioritizedReplayOptions options_;
  double max_priority_ = 1.0;  // largest p_i seen (before the alpha exponent)
};

}  // namespace apiary::learner
