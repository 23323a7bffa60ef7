// MountainCar-v0 and MountainCarContinuous-v0 as in Gymnasium 1.x
// gymnasium/envs/classic_control/mountain_car.py and continuous_mountain_car.py (Moore 1990).
// One physics core (`MountainCarPhysics`) and two thin adapters for the discrete and continuous
// action spaces and their rewards.
#pragma once

#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/math.h"
#include "envs/params.h"
#include "envs/rng.h"

namespace apiary::envs {

struct MountainCarPhysics {
  struct State {
    float position, velocity;
  };
  // One step under acceleration `push` (already scaled by force or power): Gymnasium's update with
  // its velocity and position clipping and the inelastic left wall. Returns whether the goal is reached.
  APIARY_HD static bool advance(State& s, float push, float gravity, float max_speed, float min_position,
                                float max_position, float goal_position, float goal_velocity) {
    float velocity = s.velocity + push - gravity * math::cos(3.0f * s.position);
    velocity = math::clamp(velocity, -max_speed, max_speed);
    float position = math::clamp(s.position + velocity, min_position, max_position);
    if (position == min_position && velocity < 0.0f) velocity = 0.0f;
    s = State{position, velocity};
    return (position >= goal_position) & (velocity >= goal_velocity);
  }
  APIARY_HD static void reset(State& s, LaneRng& rng) {
    s = State{rng.uniform4(-0.6f, -0.4f).v[0], 0.0f};
  }
};

struct MountainCar {
  static constexpr const char* kId = "MountainCar-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kStateDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 3;  // accelerate left, don't, accelerate right
  static constexpr bool kDiscrete = true;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 200;
  using Action = std::int32_t;
  using State = MountainCarPhysics::State;

  struct Params {
    float force = 0.001f;       // velocity change per step of a push
    float gravity = 0.0025f;    // scale of the slope's pull
    float max_speed = 0.07f;    // |velocity| limit
    float min_position = -1.2f;
    float max_position = 0.6f;
    float goal_position = 0.5f;
    float goal_velocity = 0.0f;
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"force", &Params::force, 0.0f, 1.0f, false, "velocity change of a push"},
      {"gravity", &Params::gravity, 0.0f, 1.0f, false, "scale of the slope's pull"},
      {"goal_velocity", &Params::goal_velocity, -0.07f, 0.07f, false, "minimum velocity at the goal"},
  };

  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({p.min_position, -p.max_speed}, {p.max_position, p.max_speed});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = -110.0;
    return s;
  }
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) { MountainCarPhysics::reset(s, rng); }
  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float push = static_cast<float>(action[0] - 1) * p.force;
    const bool terminated = MountainCarPhysics::advance(s, push, p.gravity, p.max_speed, p.min_position,
                                                        p.max_position, p.goal_position, p.goal_velocity);
    return StepOut{-1.0f, terminated};
  }
  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    obs[0] = s.position;
    obs[1] = s.velocity;
  }
};

struct MountainCarContinuous {
  static constexpr const char* kId = "MountainCarContinuous-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kStateDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 0;
  static constexpr bool kDiscrete = false;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 999;
  using Action = float;
  using State = MountainCarPhysics::State;

  struct Params {
    float power = 0.0015f;      // velocity change per unit of action
    float gravity = 0.0025f;    // scale of the slope's pull
    float max_speed = 0.07f;
    float min_position = -1.2f;
    float max_position = 0.6f;
    float goal_position = 0.45f;
    float goal_velocity = 0.0f;
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"power", &Params::power, 0.0f, 1.0f, false, "velocity change per unit of action"},
      {"gravity", &Params::gravity, 0.0f, 1.0f, false, "scale of the slope's pull"},
      {"goal_velocity", &Params::goal_velocity, -0.07f, 0.07f, false, "minimum velocity at the goal"},
  };

  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({p.min_position, -p.max_speed}, {p.max_position, p.max_speed});
    s.action_space = Space::box({-1.0f}, {1.0f});
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = 90.0;
    return s;
  }
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) { MountainCarPhysics::reset(s, rng); }
  // The push uses the action clipped to [-1, 1]; the action cost, as in Gymnasium, the action given.
  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float force = math::clamp(action[0], -1.0f, 1.0f);
    const bool terminated = MountainCarPhysics::advance(s, force * p.power, p.gravity, p.max_speed, p.min_position,
                                                        p.max_position, p.goal_position, p.goal_velocity);
    const float reward = (terminated ? 100.0f : 0.0f) - action[0] * action[0] * 0.1f;
    return StepOut{reward, terminated};
  }
  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    obs[0] = s.position;
    obs[1] = s.velocity;
  }
};

}  // namespace apiary::envs
