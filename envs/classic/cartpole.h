// CartPole-v1 as in Gymnasium 1.x gymnasium/envs/classic_control/cartpole.py (Barto, Sutton and
// Anderson 1983), Euler kinematics, reward 1 on every step including the terminating one.
#pragma once

#include <cfloat>
#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/math.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs {

struct CartPole {
  static constexpr const char* kId = "CartPole-v1";
  static constexpr int kObsDim = 4;
  static constexpr int kStateDim = 4;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 2;  // 0 pushes left, 1 pushes right
  static constexpr bool kDiscrete = true;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 500;
  using Action = std::int32_t;

  struct Params {
    float gravity = 9.8f;        // m/s^2
    float masscart = 1.0f;       // kg
    float masspole = 0.1f;       // kg
    float length = 0.5f;         // m, half the pole's length
    float force_mag = 10.0f;     // N, magnitude of a push
    float tau = 0.02f;           // s between state updates
    float theta_threshold_radians = 12.0f * 2.0f * 3.14159265358979f / 360.0f;  // fails beyond this
    float x_threshold = 2.4f;    // m, fails beyond this
    float reset_noise = 0.05f;   // reset draws every state variable from U(-reset_noise, reset_noise)
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"gravity", &Params::gravity, 0.0f, 1000.0f, false, "gravitational acceleration, m/s^2"},
      {"masscart", &Params::masscart, 0.0f, 1000.0f, true, "cart mass, kg"},
      {"masspole", &Params::masspole, 0.0f, 1000.0f, true, "pole mass, kg"},
      {"length", &Params::length, 0.0f, 100.0f, true, "half the pole length, m"},
      {"force_mag", &Params::force_mag, 0.0f, 1000.0f, false, "push force, N"},
      {"tau", &Params::tau, 0.0f, 1.0f, true, "seconds between updates"},
      {"theta_threshold_radians", &Params::theta_threshold_radians, 0.0f, 3.15f, true, "pole angle limit, rad"},
      {"x_threshold", &Params::x_threshold, 0.0f, 100.0f, true, "cart position limit, m"},
      {"reset_noise", &Params::reset_noise, 0.0f, 1.0f, false, "half-width of the uniform reset state"},
  };

  struct State {
    float x, x_dot, theta, theta_dot;
  };

  // Its picture as Gymnasium's render draws it (600 x 400), from this lane's state: classic_draw.cpp.
  static void describe(const Params& p, const State& s, Scene& scene);

  static EnvSpec spec(const Params& p) {
    const float high[4] = {p.x_threshold * 2.0f, FLT_MAX, p.theta_threshold_radians * 2.0f, FLT_MAX};
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-high[0], -high[1], -high[2], -high[3]}, {high[0], high[1], high[2], high[3]});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = 475.0;
    s.velocity_elements = {1, 3};  // x_dot, theta_dot
    return s;
  }

  APIARY_HD static void reset(const Params& p, State& s, LaneRng& rng) {
    const Uniform4 u = rng.uniform4(-p.reset_noise, p.reset_noise);
    s = State{u.v[0], u.v[1], u.v[2], u.v[3]};
  }

  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float force = action[0] == 1 ? p.force_mag : -p.force_mag;
    const math::SinCos sc = math::sincos(s.theta);
    const float total_mass = p.masspole + p.masscart;
    const float polemass_length = p.masspole * p.length;
    const float temp = (force + polemass_length * s.theta_dot * s.theta_dot * sc.sin) / total_mass;
    const float thetaacc = (p.gravity * sc.sin - sc.cos * temp) /
                           (p.length * (4.0f / 3.0f - p.masspole * sc.cos * sc.cos / total_mass));
    const float xacc = temp - polemass_length * thetaacc * sc.cos / total_mass;
    s.x = s.x + p.tau * s.x_dot;
    s.x_dot = s.x_dot + p.tau * xacc;
    s.theta = s.theta + p.tau * s.theta_dot;
    s.theta_dot = s.theta_dot + p.tau * thetaacc;
    const bool terminated = (s.x < -p.x_threshold) | (s.x > p.x_threshold) |
                            (s.theta < -p.theta_threshold_radians) | (s.theta > p.theta_threshold_radians);
    return StepOut{1.0f, terminated};
  }

  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    obs[0] = s.x;
    obs[1] = s.x_dot;
    obs[2] = s.theta;
    obs[3] = s.theta_dot;
  }
};

}  // namespace apiary::envs
