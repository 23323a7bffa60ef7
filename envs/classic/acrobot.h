// Acrobot-v1 as in Gymnasium 1.x gymnasium/envs/classic_control/acrobot.py (Sutton 1996; the "book"
// dynamics), one fourth-order Runge-Kutta step of dt per action, angles wrapped to [-pi, pi].
#pragma once

#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/math.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs {

struct Acrobot {
  static constexpr const char* kId = "Acrobot-v1";
  static constexpr int kObsDim = 6;
  static constexpr int kStateDim = 4;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 3;  // torque -1, 0, +1 on the joint between the links
  static constexpr bool kDiscrete = true;
  static constexpr bool kStepUsesRng = true;  // only when torque_noise_max > 0 (step_uses_rng)
  static constexpr bool kSplitLaneLoop = true;  // RK4 keeps many values live (thrust_vec_env.h, step_lanes)
  static constexpr std::int32_t kMaxEpisodeSteps = 500;
  using Action = std::int32_t;

  struct Params {
    float dt = 0.2f;                 // s per action
    float link_length_1 = 1.0f;      // m
    float link_mass_1 = 1.0f;        // kg
    float link_mass_2 = 1.0f;        // kg
    float link_com_pos_1 = 0.5f;     // m, centre of mass of link 1 from its pivot
    float link_com_pos_2 = 0.5f;     // m, centre of mass of link 2 from its pivot
    float link_moi = 1.0f;           // kg m^2, moment of inertia of each link
    float max_vel_1 = 4.0f * math::kPi;  // rad/s, |dtheta1| is clipped to this
    float max_vel_2 = 9.0f * math::kPi;  // rad/s, |dtheta2| is clipped to this
    float torque_noise_max = 0.0f;   // N m, uniform noise added to the torque
    float gravity = 9.8f;            // m/s^2
    float reset_noise = 0.1f;        // reset draws every state variable from U(-reset_noise, reset_noise)
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"dt", &Params::dt, 0.0f, 10.0f, true, "seconds per action"},
      {"link_length_1", &Params::link_length_1, 0.0f, 100.0f, true, "length of link 1, m"},
      {"link_mass_1", &Params::link_mass_1, 0.0f, 1000.0f, true, "mass of link 1, kg"},
      {"link_mass_2", &Params::link_mass_2, 0.0f, 1000.0f, true, "mass of link 2, kg"},
      {"link_com_pos_1", &Params::link_com_pos_1, 0.0f, 100.0f, false, "centre of mass of link 1, m"},
      {"link_com_pos_2", &Params::link_com_pos_2, 0.0f, 100.0f, false, "centre of mass of link 2, m"},
      {"link_moi", &Params::link_moi, 0.0f, 1000.0f, true, "moment of inertia of a link, kg m^2"},
      {"max_vel_1", &Params::max_vel_1, 0.0f, 1000.0f, true, "joint 1 speed limit, rad/s"},
      {"max_vel_2", &Params::max_vel_2, 0.0f, 1000.0f, true, "joint 2 speed limit, rad/s"},
      {"torque_noise_max", &Params::torque_noise_max, 0.0f, 10.0f, false, "torque noise half-width, N m"},
      {"gravity", &Params::gravity, 0.0f, 1000.0f, false, "gravitational acceleration, m/s^2"},
      {"reset_noise", &Params::reset_noise, 0.0f, 3.14f, false, "half-width of the uniform reset state"},
  };

  struct State {
    float theta1, theta2, dtheta1, dtheta2;
  };

  // Its picture as Gymnasium's render draws it (500 x 500), from this lane's state: classic_draw.cpp.
  static constexpr PictureSize kPictureSize{500, 500};
  static void describe(const Params& p, const State& s, Scene& scene);

  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-1, -1, -1, -1, -p.max_vel_1, -p.max_vel_2}, {1, 1, 1, 1, p.max_vel_1, p.max_vel_2});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = -100.0;
    s.velocity_elements = {4, 5};  // dtheta1, dtheta2
    return s;
  }

  APIARY_HD static void reset(const Params& p, State& s, LaneRng& rng) {
    const Uniform4 u = rng.uniform4(-p.reset_noise, p.reset_noise);
    s = State{u.v[0], u.v[1], u.v[2], u.v[3]};
  }

  // Time derivative of (theta1, theta2, dtheta1, dtheta2) under torque `a`. Gymnasium's
  // cos(theta1 - pi/2) and cos(theta1 + theta2 - pi/2) are sin(theta1) and sin(theta1 + theta2), the
  // latter from both angles' sines and cosines: two sincos a stage instead of three, and one division
  // by d1 instead of three.
  APIARY_HD static State dsdt(const Params& p, const State& s, float a) {
    const float m1 = p.link_mass_1, m2 = p.link_mass_2, l1 = p.link_length_1;
    const float lc1 = p.link_com_pos_1, lc2 = p.link_com_pos_2, i1 = p.link_moi, i2 = p.link_moi;
    const float g = p.gravity;
    const math::SinCos t1 = math::sincos(s.theta1), t2 = math::sincos(s.theta2);
    const float sin12 = t1.sin * t2.cos + t1.cos * t2.sin;
    const float d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2.0f * l1 * lc2 * t2.cos) + i1 + i2;
    const float inv_d1 = 1.0f / d1;
    const float d2 = m2 * (lc2 * lc2 + l1 * lc2 * t2.cos) + i2;
    const float phi2 = m2 * lc2 * g * sin12;
    const float phi1 = -m2 * l1 * lc2 * s.dtheta2 * s.dtheta2 * t2.sin -
                       2.0f * m2 * l1 * lc2 * s.dtheta2 * s.dtheta1 * t2.sin + (m1 * lc1 + m2 * l1) * g * t1.sin + phi2;
    const float ddtheta2 = (a + d2 * inv_d1 * phi1 - m2 * l1 * lc2 * s.dtheta1 * s.dtheta1 * t2.sin - phi2) /
                           (m2 * lc2 * lc2 + i2 - d2 * d2 * inv_d1);
    const float ddtheta1 = -(d2 * ddtheta2 + phi1) * inv_d1;
    return State{s.dtheta1, s.dtheta2, ddtheta1, ddtheta2};
  }

  APIARY_HD static State axpy(const State& y, float h, const State& k) {
    return State{y.theta1 + h * k.theta1, y.theta2 + h * k.theta2, y.dtheta1 + h * k.dtheta1, y.dtheta2 + h * k.dtheta2};
  }

  // Gymnasium's wrap(): shift by 2 pi until within [-pi, pi]. One RK4 step moves an angle by less
  // than 2 pi, so a single shift is the rule; far-off values (only from set_states) are reduced first,
  // and the shifts are bounded so that no value, inf and NaN included, can hang a step. Written as
  // selects, four shifts each way (each a no-op once x is within range, so the result is that of
  // shifting until within), so that the lane loop has no branch and vectorises.
  APIARY_HD static float wrap(float x) {
    const float diff = 2.0f * math::kPi;
    const bool far = (x > 3.0f * math::kPi) | (x < -3.0f * math::kPi);
    x = far ? x - diff * math::floor((x + math::kPi) / diff) : x;
    for (int i = 0; i < 4; ++i) x = x > math::kPi ? x - diff : x;
    for (int i = 0; i < 4; ++i) x = x < -math::kPi ? x + diff : x;
    return x;
  }

  // Whether step() draws with these parameters: the batched back end skips the draw where it does not.
  APIARY_HD static bool step_uses_rng(const Params& p) { return p.torque_noise_max > 0.0f; }

  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng& rng) {
    float torque = static_cast<float>(action[0] - 1);
    if (step_uses_rng(p)) torque += rng.uniform4(-p.torque_noise_max, p.torque_noise_max).v[0];
    const float dt = p.dt, dt2 = dt / 2.0f;
    const State k1 = dsdt(p, s, torque);
    const State k2 = dsdt(p, axpy(s, dt2, k1), torque);
    const State k3 = dsdt(p, axpy(s, dt2, k2), torque);
    const State k4 = dsdt(p, axpy(s, dt, k3), torque);
    const float w = dt / 6.0f;
    s.theta1 = wrap(s.theta1 + w * (k1.theta1 + 2.0f * k2.theta1 + 2.0f * k3.theta1 + k4.theta1));
    s.theta2 = wrap(s.theta2 + w * (k1.theta2 + 2.0f * k2.theta2 + 2.0f * k3.theta2 + k4.theta2));
    s.dtheta1 = math::clamp(s.dtheta1 + w * (k1.dtheta1 + 2.0f * k2.dtheta1 + 2.0f * k3.dtheta1 + k4.dtheta1),
                            -p.max_vel_1, p.max_vel_1);
    s.dtheta2 = math::clamp(s.dtheta2 + w * (k1.dtheta2 + 2.0f * k2.dtheta2 + 2.0f * k3.dtheta2 + k4.dtheta2),
                            -p.max_vel_2, p.max_vel_2);
    // cos(theta1 + theta2) by the same sum rule, from the sincos that observe() takes of each angle.
    const math::SinCos a = math::sincos(s.theta1), b = math::sincos(s.theta2);
    const bool terminated = -a.cos - (a.cos * b.cos - a.sin * b.sin) > 1.0f;
    return StepOut{terminated ? 0.0f : -1.0f, terminated};
  }

  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    const math::SinCos a = math::sincos(s.theta1), b = math::sincos(s.theta2);
    obs[0] = a.cos;
    obs[1] = a.sin;
    obs[2] = b.cos;
    obs[3] = b.sin;
    obs[4] = s.dtheta1;
    obs[5] = s.dtheta2;
  }
};

}  // namespace apiary::envs
