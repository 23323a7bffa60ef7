// Generalized Advantage Estimation (Schulman et al. 2016), with the bootstrap through truncation of
// Gymnasium 1.x same-step autoreset: a done lane's next row already belongs to a new episode, and its
// last observation went to `final_obs`, whose value the caller passes as `final_values`.
#pragma once

#include <torch/torch.h>

namespace apiary::learner {

// One rollout of T steps of N lanes. All tensors live on the same device; `[T, N]` unless noted.
struct GaeIn {
  torch::Tensor rewards;       // [T, N] float: r_t, the reward of step t
  torch::Tensor values;        // [T, N] float: V(obs_t), the value of the observation acted on at t
  torch::Tensor next_values;   // [N] float: V(obs_T), the observation after the last step
  torch::Tensor terminated;    // [T, N] 0/1 float or bool: the MDP ended at step t (no bootstrap)
  torch::Tensor truncated;     // [T, N] 0/1 float or bool: the time limit cut the episode at step t
  torch::Tensor final_values;  // [T, N] float: V(final_obs_t) where truncated_t; ignored elsewhere
                               // (may hold anything there, NaN included)
  double gamma = 0.99;         // discount per step
  double gae_lambda = 0.95;    // GAE's lambda (CleanRL's `gae_lambda`): 0 is TD(0), 1 is Monte Carlo
};

struct GaeOut {
  torch::Tensor advantages;  // [T, N], the dtype of `values`: A_t
  torch::Tensor returns;     // [T, N]: A_t + V_t, the value-function target
};

// delta_t = r_t + gamma * boot_t * (1 - terminated_t) - V_t, with
//   boot_t = final_values_t if truncated_t, else V_{t+1} (next_values for t = T-1);
// A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}, done = terminated or truncated.
// Vectorised over lanes; one loop over T, no host synchronisation.
GaeOut compute_gae(const GaeIn& in);

}  // namespace apiary::learner
