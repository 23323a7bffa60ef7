// A trajectory chunk: T steps of N lanes from one actor (docs/architecture.md, "Data flow"). The
// actor fills it, the learner consumes it; in one process it is handed over by reference.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace apiary::agents {

// An episode that ended inside the chunk (Gymnasium's RecordEpisodeStatistics).
struct EpisodeStat {
  float episode_return;          // undiscounted
  std::int32_t episode_length;   // steps
};

struct TrajectoryChunk {
  std::int32_t actor_id = 0;
  std::int64_t sequence = 0;        // per actor, counts chunks from 0
  std::int64_t policy_version = 0;  // version of the weights that acted
  // All tensors are fp32 on the CPU unless said, time-major. Observations are in the env's dtype:
  // fp32, or uint8 for image envs (flattened (H, W, C) rows; never widened on the way).
  torch::Tensor obs;         // [T+1, N, D]: obs[t] was acted on at step t; obs[T] follows the last step
  torch::Tensor actions;     // [T, N] int64 (Discrete, indices from 0) or [T, N, A] (Box, unclipped)
  torch::Tensor log_probs;   // [T, N] behaviour log pi(a_t | obs_t) (policy-gradient methods)
  torch::Tensor values;      // [T, N] V(obs_t) when acting (policy-gradient methods)
  torch::Tensor rewards;     // [T, N]
  torch::Tensor terminated;  // [T, N] 0/1: the MDP ended at step t (no bootstrap)
  torch::Tensor truncated;   // [T, N] 0/1: the time limit cut the episode at t (may coincide with
                             // terminated; terminated wins)
  torch::Tensor next_obs;    // [T, N, D]: the observation after step t before any auto-reset, i.e.
                             // the final observation where the episode ended and obs[t+1] elsewhere
  // A recurrent policy's chunk (Policy::state_size() > 0) also carries, else both are undefined:
  torch::Tensor state;       // [N, S] each lane's memory before obs[0] (zero where obs[0] begins an episode)
  torch::Tensor starts;      // [T, N] 0/1: obs[t] begins an episode (the memory was zeroed before it);
                             // starts[t] = terminated[t-1] | truncated[t-1] for t > 0
  std::vector<EpisodeStat> episodes;  // episodes that ended during the chunk

  std::int64_t num_steps() const { return rewards.defined() ? rewards.size(0) : 0; }   // T
  std::int64_t num_envs() const { return rewards.defined() ? rewards.size(1) : 0; }    // N
  std::int64_t env_steps() const { return num_steps() * num_envs(); }
};

}  // namespace apiary::agents
