// A batch of (n-step) transitions, the unit that flows from NStepBuffer into the replay buffers.
#pragma once

#include <torch/torch.h>

namespace apiary::learner {

// B transitions, row i of every field belongs to the same transition. The DQN target of row i is
//   returns[i] + discounts[i] * max_a Q(next_obs[i], a),
// so a terminal transition carries discounts[i] == 0 and next_obs[i] is then never used for value.
struct Transitions {
  torch::Tensor obs;        // [B, obs_dim] float32: the observation the action was taken in
  torch::Tensor actions;    // [B, ...action_shape], the action's dtype (int64 for discrete)
  torch::Tensor returns;    // [B] float32: sum_{i<k} gamma^i r_{t+i} over the k rewards of the window
  torch::Tensor next_obs;   // [B, obs_dim] float32: observation k steps later, or the episode's last
  torch::Tensor discounts;  // [B] float32: gamma^k, or 0 when the episode terminated in the window

  std::int64_t size() const { return obs.defined() ? obs.size(0) : 0; }
};

}  // namespace apiary::learner
