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
  // Observation elements that are velocities (CartPole's x_dot and theta_dot: {1, 3}), which the
  // generic option `observe_velocity: false` drops (envs/observation_select.h), leaving a task that a
  // policy can solve only with memory. Empty: the env has none, and refuses that option.
  std::vector<std::int32_t> velocity_elements;
  // The parameters env.options can set, with their ranges and defaults (besides max_episode_steps): the
  // env's own, and in the registry's env_spec() also observe_velocity where velocity_elements is not empty.
  std::vector<EnvOptionInfo> options;
  std::int64_t obs_dim() const { return observation_space.flat_size(); }
  std::int64_t action_dim() const { return action_space.flat_size(); }
};

}  // namespace apiary::envs
