// A small PPO chunk for a policy of `obs_dim` observations (CartPole's 4 by default; Discrete or Box
// actions), or of uint8 images: random observations and rewards,
// the policy's own actions, log-probabilities and values, one termination (step 3, lane 1) and one
// truncation with its own final observation (step 9, lane 2). Used by the PPO tests of learner/ and
// of the pipeline in parallel/.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "agents/policy.h"
#include "agents/trajectory.h"

namespace apiary::testing {

// The chunk around observations drawn by `draw(sizes)` (after torch::manual_seed(seed)): obs
// [steps + 1, lanes, obs...], and one final observation [obs...].
template <typename Draw>
agents::TrajectoryChunk synthetic_chunk_of(agents::Policy& policy, std::uint64_t seed, std::int64_t steps,
                                           std::int64_t lanes, const std::vector<std::int64_t>& obs_shape, Draw draw) {
  torch::manual_seed(seed);
  agents::TrajectoryChunk chunk;
  std::vector<std::int64_t> sizes{steps + 1, lanes};
  sizes.insert(sizes.end(), obs_shape.begin(), obs_shape.end());
  chunk.obs = draw(sizes);
  chunk.next_obs = chunk.obs.slice(0, 1).clone();
  const auto flat = chunk.obs.slice(0, 0, steps).reshape({steps * lanes, -1});
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
  chunk.next_obs[9][2] = draw(obs_shape);  // the final observation, not obs[10]
  return chunk;
}

inline agents::TrajectoryChunk synthetic_chunk(agents::Policy& policy, std::uint64_t seed, std::int64_t steps = 16,
                                               std::int64_t lanes = 4, std::int64_t obs_dim = 4) {
  return synthetic_chunk_of(policy, seed, steps, lanes, {obs_dim},
                            [](const std::vector<std::int64_t>& sizes) { return torch::randn(sizes); });
}

// uint8 image observations (H, W, C) with values in [0, high], for a policy with an image encoder.
inline agents::TrajectoryChunk synthetic_image_chunk(agents::Policy& policy, std::uint64_t seed, std::int64_t steps,
                                                     std::int64_t lanes, const std::vector<std::int64_t>& shape,
                                                     std::int64_t high) {
  return synthetic_chunk_of(policy, seed, steps, lanes, shape, [high](const std::vector<std::int64_t>& sizes) {
    return torch::randint(0, high + 1, sizes, torch::kUInt8);
  });
}

}  // namespace apiary::testing
