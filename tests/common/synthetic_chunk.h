// A small PPO chunk for a policy of `obs_dim` observations (CartPole's 4 by default; Discrete or Box
// actions): random observations and rewards,
// the policy's own actions, log-probabilities and values, one termination (step 3, lane 1) and one
// truncation with its own final observation (step 9, lane 2). Used by the PPO tests of learner/ and
// of the pipeline in parallel/.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "agents/policy.h"
#include "agents/trajectory.h"

namespace apiary::testing {

inline agents::TrajectoryChunk synthetic_chunk(agents::Policy& policy, std::uint64_t seed, std::int64_t steps = 16,
                                               std::int64_t lanes = 4, std::int64_t obs_dim = 4) {
  torch::manual_seed(seed);
  agents::TrajectoryChunk chunk;
  chunk.obs = torch::randn({steps + 1, lanes, obs_dim});
  chunk.next_obs = chunk.obs.slice(0, 1).clone();
  const auto flat = chunk.obs.slice(0, 0, steps).reshape({steps * lanes, obs_dim});
  const agents::PolicyAct act = policy.act(flat, agents::ActContext{});
  chunk.actions = act.action.dim() == 1 ? act.action.view({steps, lanes})
                                        : act.action.view({steps, lanes, act.action.size(1)});  // Box: [T, N, A]
  chunk.log_probs = act.log_prob.view({steps, lanes});
  chunk.values = act.value.view({steps, lanes});
  chunk.rewards = torch::rand({steps, lanes});
  chunk.terminated = torch::zeros({steps, lanes});
  chunk.truncated = torch::zeros({steps, lanes});
  chunk.terminated[3][1] = 1.0f;
  chunk.truncated[9][2] = 1.0f;
  chunk.next_obs[9][2] = torch::randn({obs_dim});  // the final observation, not obs[10]
  return chunk;
}

}  // namespace apiary::testing
