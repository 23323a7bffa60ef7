// What a registered environment id promises: its spaces, time limit and reward threshold, as
// Gymnasium's registration (gymnasium/envs/__init__.py) gives them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "envs/spaces.h"

namespace apiary::envs {

// One parameter `env.options` can set (envs/params.h ParamField), as `apiary envs` lists it.
struct EnvOptionInfo {
  std::string name;
  double default_value = 0;
  double low = 0, high = 0;
  bool low_open = false, high_open = false;
  std::string doc;
};

struct EnvSpec {
  std::string id;                       // Gymnasium id, e.g. "CartPole-v1"
  Space observation_space;              // always a Box of float32 here
  Space action_space;                   // Discrete (int32 actions) or Box (float32 actions)
  std::int32_t max_episode_steps = 0;   // steps after which a lane is truncated (0: no limit)
  std::optional<double> reward_threshold;  // mean return that counts as solved, where defined
  // Observation elements whose declared bounds the reference env itself does not keep, reported as
  // they are (LunarLander's angle: Box2D's unwrapped angle, past +-2 pi after a full spin, exactly as
  // in Gymnasium). Checkers require them finite but not within the bounds.
  std::vector<std::int32_t> unbounded_obs;
  // The parameters env.options can set, with their ranges and defaults (besides max_episode_steps).
  std::vector<EnvOptionInfo> options;
  std::int64_t obs_dim() const { return observation_space.flat_size(); }
  std::int64_t action_dim() const { return action_space.flat_size(); }
};

}  // namespace apiary::envs
