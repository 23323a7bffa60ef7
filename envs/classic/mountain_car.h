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
#include "envs/scene.h"

namespace apiary::envs {

struct MountainCarPhysics {
  struct State {
    float position, velocity;
  };
  // The track and the goal, shared by both adapters; each adapter's Params derives from it and adds
  // what its actions need (Gymnasium's constants differ only in the goal position).
  struct Track {
    float gravity = 0.0025f;    // scale of the slope's pull
    float max_speed = 0.07f;    // |velocity| limit
    float min_position = -1.2f;
    float max_position = 0.6f;
    float goal_position = 0.5f;
    float goal_velocity = 0.0f;
  };

  // The picture of both adapters as Gymnasium's render draws it (600 x 400): classic_draw.cpp.
  static void describe(const Track& t, const State& s, Scene& scene);
  // One step under acceleration `push` (already scaled by force or power): Gymnasium's update with
  // its velocity and position clipping and the inelastic left wall. Returns whether the goal is reached.
  APIARY_HD static bool advance(const Track& t, State& s, float push) {
    float velocity = s.velocity + push - t.gravity * math::cos(3.0f * s.position);
    velocity = math::clamp(velocity, -t.max_speed, t.max_speed);
    float position = math::clamp(s.position + velocity, t.min_position, t.max_position);
    if (position == t.min_position && velocity < 0.0f) velocity = 0.0f;
    s = State{position, velocity};
    return (position >= t.goal_position) & (velocity >= t.goal_velocity);
  }
  APIARY_HD static void reset(State& s, LaneRng& rng) {
    s = State{rng.uniform4(-0.6f, -0.4f).v[0], 0.0f};
  }
  APIARY_HD static void observe(const State& s, float* obs) {
    obs[0] = s.position;
    obs[1] = s.velocity;
  }
  // The spec both adapters share: observation bounds from the track.
  static EnvSpec spec(const char* id, const Track& t, Space action_space, std::int32_t max_episode_steps,
                      double reward_threshold) {
    EnvSpec s;
    s.id = id;
    s.observation_space = Space::box({t.min_position, -t.max_speed}, {t.max_position, t.max_speed});
    s.action_space = std::move(action_space);
    s.max_episode_steps = max_episode_steps;
    s.reward_threshold = reward_threshold;
    s.velocity_elements = {1};  // velocity
    return s;
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
  static void describe(const MountainCarPhysics::Track& t, const State& s, Scene& scene);  // classic_draw.cpp

  struct Params : MountainCarPhysics::Track {
    float force = 0.001f;  // velocity change per step of a push
    APIARY_HD Params() { goal_position = 0.5f; }
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"force", &Params::force, 0.0f, 1.0f, false, "velocity change of a push"},
      {"gravity", &Params::gravity, 0.0f, 1.0f, false, "scale of the slope's pull"},
      {"goal_velocity", &Params::goal_velocity, -0.07f, 0.07f, false, "minimum velocity at the goal"},
  };

  static EnvSpec spec(const Params& p) {
    return MountainCarPhysics::spec(kId, p, Space::discrete(kNumActions), kMaxEpisodeSteps, -110.0);
  }
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) { MountainCarPhysics::reset(s, rng); }
  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float push = static_cast<float>(action[0] - 1) * p.force;
    return StepOut{-1.0f, MountainCarPhysics::advance(p, s, push)};
  }
  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    MountainCarPhysics::observe(s, obs);
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
  static void describe(const MountainCarPhysics::Track& t, const State& s, Scene& scene);  // classic_draw.cpp

  struct Params : MountainCarPhysics::Track {
    float power = 0.0015f;  // velocity change per unit of action
    APIARY_HD Params() { goal_position = 0.45f; }
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"power", &Params::power, 0.0f, 1.0f, false, "velocity change per unit of action"},
      {"gravity", &Params::gravity, 0.0f, 1.0f, false, "scale of the slope's pull"},
      {"goal_velocity", &Params::goal_velocity, -0.07f, 0.07f, false, "minimum velocity at the goal"},
  };

  static EnvSpec spec(const Params& p) {
    return MountainCarPhysics::spec(kId, p, Space::box({-1.0f}, {1.0f}), kMaxEpisodeSteps, 90.0);
  }
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) { MountainCarPhysics::reset(s, rng); }
  // The push uses the action clipped to [-1, 1]; the action cost, as in Gymnasium, the action given.
  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float force = math::clamp(action[0], -1.0f, 1.0f);
    const bool terminated = MountainCarPhysics::advance(p, s, force * p.power);
    const float reward = (terminated ? 100.0f : 0.0f) - action[0] * action[0] * 0.1f;
    return StepOut{reward, terminated};
  }
  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    MountainCarPhysics::observe(s, obs);
  }
};

}  // namespace apiary::envs
