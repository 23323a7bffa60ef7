// Pendulum-v1 as in Gymnasium 1.x gymnasium/envs/classic_control/pendulum.py: swing up and balance an
// inverted pendulum; the angle theta is 0 upright.
//
// One deliberate difference in the internal state: Gymnasium lets theta grow without bound as the
// pendulum spins (float64 keeps it precise), while Apiary stores it in float32 and so keeps it in
// [-pi, pi), where a float32 angle is precise to 2e-7 rad. The two states are equal modulo 2 pi, and
// observations and rewards (functions of cos, sin and the normalised angle) are the same.
#pragma once

#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/math.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs {

struct Pendulum {
  static constexpr const char* kId = "Pendulum-v1";
  static constexpr int kObsDim = 3;
  static constexpr int kStateDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 0;
  static constexpr bool kDiscrete = false;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 200;
  using Action = float;

  struct Params {
    float g = 10.0f;           // m/s^2 (Gymnasium's `g` option)
    float m = 1.0f;            // kg
    float l = 1.0f;            // m
    float dt = 0.05f;          // s per step
    float max_speed = 8.0f;    // rad/s, |theta_dot| is clipped to this
    float max_torque = 2.0f;   // N m, actions are clipped to [-max_torque, max_torque]
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"g", &Params::g, 0.0f, 1000.0f, false, "gravitational acceleration, m/s^2"},
      {"m", &Params::m, 0.0f, 1000.0f, true, "mass, kg"},
      {"l", &Params::l, 0.0f, 100.0f, true, "length, m"},
      {"dt", &Params::dt, 0.0f, 1.0f, true, "seconds per step"},
      {"max_speed", &Params::max_speed, 0.0f, 1000.0f, true, "angular speed limit, rad/s"},
      {"max_torque", &Params::max_torque, 0.0f, 1000.0f, true, "torque limit, N m"},
  };

  struct State {
    float theta, theta_dot;
  };

  // Its picture as Gymnasium's render draws it (500 x 500), from this lane's state, and the arrow of
  // the last torque, which the state does not hold (describe_action): classic_draw.cpp.
  static constexpr PictureSize kPictureSize{500, 500};
  static void describe(const Params& p, const State& s, Scene& scene);
  static void describe_action(const Params& p, const std::vector<float>& action, Scene& scene);

  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-1.0f, -1.0f, -p.max_speed}, {1.0f, 1.0f, p.max_speed});
    s.action_space = Space::box({-p.max_torque}, {p.max_torque});
    s.max_episode_steps = kMaxEpisodeSteps;
    s.velocity_elements = {2};  // theta_dot
    return s;  // Gymnasium registers no reward threshold for Pendulum-v1
  }

  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) {
    const Uniform4 u = rng.uniform4(-1.0f, 1.0f);
    s = State{u.v[0] * math::kPi, u.v[1]};
  }

  // Gymnasium's angle_normalize, ((x + pi) mod 2 pi) - pi with Python's floored modulo, but exact
  // (x itself) for x already in [-pi, pi), where the general formula would round x to the ulp of pi.
  APIARY_HD static float angle_normalize(float x) {
    const float two_pi = 2.0f * math::kPi;
    const float y = x + math::kPi;
    const float general = y - two_pi * math::floor(y / two_pi) - math::kPi;
    const bool inside = (x >= -math::kPi) & (x < math::kPi);
    return inside ? x : general;
  }

  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float u = math::clamp(action[0], -p.max_torque, p.max_torque);
    const float th = angle_normalize(s.theta);
    const float costs = th * th + 0.1f * s.theta_dot * s.theta_dot + 0.001f * (u * u);
    float thdot = s.theta_dot + (3.0f * p.g / (2.0f * p.l) * math::sin(s.theta) + 3.0f / (p.m * p.l * p.l) * u) * p.dt;
    thdot = math::clamp(thdot, -p.max_speed, p.max_speed);
    s.theta = angle_normalize(s.theta + thdot * p.dt);
    s.theta_dot = thdot;
    return StepOut{-costs, false};
  }

  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    const math::SinCos sc = math::sincos(s.theta);
    obs[0] = sc.cos;
    obs[1] = sc.sin;
    obs[2] = s.theta_dot;
  }
};

}  // namespace apiary::envs
