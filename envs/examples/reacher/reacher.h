// PointReacher-v0: an example of the __host__ __device__ env contract (envs/env.h), loaded as a plugin.
//
// A point mass in the square [-1, 1]^2 is pushed by a force (the action, two elements in [-1, 1],
// times max_force) against linear damping, toward a target drawn at random in [-0.8, 0.8]^2 at every
// reset; the mass starts at rest in a random place. The reward of a step is minus the distance to the
// target, minus a small cost on the force. Episodes never terminate: the time limit (50 steps)
// truncates them, so a learner must bootstrap through truncation. Walls stop the mass.
//
// Written once as APIARY_HD functions of one lane's State, it runs through Thrust on CPU threads and,
// with reacher_cuda.cu compiled in, on the GPU, with the same bits (no FMA contraction: Apiary::envs
// passes -ffp-contract=off, and the CUDA file is compiled with --fmad=false).
#pragma once

#include <cmath>
#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/math.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace reacher {

using apiary::envs::EnvSpec;
using apiary::envs::LaneRng;
using apiary::envs::ParamField;
using apiary::envs::Scene;
using apiary::envs::SceneShape;
using apiary::envs::Space;
using apiary::envs::StepOut;
namespace math = apiary::envs::math;

struct PointReacher {
  static constexpr const char* kId = "PointReacher-v0";
  static constexpr int kObsDim = 6;     // x, y, vx, vy, target x, target y
  static constexpr int kStateDim = 6;   // the same six floats
  static constexpr int kActionDim = 2;  // force along x and y, in [-1, 1]
  static constexpr int kNumActions = 0;
  static constexpr bool kDiscrete = false;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 50;
  using Action = float;

  struct Params {
    float dt = 0.1f;          // s per step
    float max_force = 2.0f;   // force of an action of 1, per unit mass
    float damping = 1.0f;     // 1/s, drag proportional to the velocity
    float max_speed = 2.0f;   // |vx| and |vy| are clipped to this
    float force_cost = 0.01f; // reward cost per squared unit of action
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"dt", &Params::dt, 0.0f, 1.0f, true, "seconds per step"},
      {"max_force", &Params::max_force, 0.0f, 100.0f, true, "force of a full action"},
      {"damping", &Params::damping, 0.0f, 100.0f, false, "linear drag, 1/s"},
      {"max_speed", &Params::max_speed, 0.0f, 100.0f, true, "speed limit per axis"},
      {"force_cost", &Params::force_cost, 0.0f, 10.0f, false, "reward cost per squared action"},
  };

  struct State {
    float x, y, vx, vy, tx, ty;
  };

  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-1.0f, -1.0f, -p.max_speed, -p.max_speed, -1.0f, -1.0f},
                                     {1.0f, 1.0f, p.max_speed, p.max_speed, 1.0f, 1.0f});
    s.action_space = Space::box({-1.0f, -1.0f}, {1.0f, 1.0f});
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = -6.0;  // a random policy scores about -50, a good one about -4
    return s;
  }

  // One Philox block: start position and target.
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) {
    const auto u = rng.uniform4(-0.8f, 0.8f);
    s = State{u.v[0], u.v[1], 0.0f, 0.0f, u.v[2], u.v[3]};
  }

  APIARY_HD static StepOut step(const Params& p, State& s, const Action* action, LaneRng&) {
    const float ax = math::clamp(action[0], -1.0f, 1.0f), ay = math::clamp(action[1], -1.0f, 1.0f);
    s.vx = math::clamp(s.vx + p.dt * (p.max_force * ax - p.damping * s.vx), -p.max_speed, p.max_speed);
    s.vy = math::clamp(s.vy + p.dt * (p.max_force * ay - p.damping * s.vy), -p.max_speed, p.max_speed);
    s.x = s.x + p.dt * s.vx;
    s.y = s.y + p.dt * s.vy;
    // Walls: the mass stops where it hits one.
    const bool hit_x = (s.x < -1.0f) | (s.x > 1.0f), hit_y = (s.y < -1.0f) | (s.y > 1.0f);
    s.x = math::clamp(s.x, -1.0f, 1.0f);
    s.y = math::clamp(s.y, -1.0f, 1.0f);
    s.vx = hit_x ? 0.0f : s.vx;
    s.vy = hit_y ? 0.0f : s.vy;
    const float dx = s.x - s.tx, dy = s.y - s.ty;
    const float distance = sqrtf(dx * dx + dy * dy);  // IEEE-exact on every host and on CUDA
    return StepOut{-distance - p.force_cost * (ax * ax + ay * ay), false};
  }

  APIARY_HD static void observe(const Params&, const State& s, float* obs) {
    obs[0] = s.x;
    obs[1] = s.y;
    obs[2] = s.vx;
    obs[3] = s.vy;
    obs[4] = s.tx;
    obs[5] = s.ty;
  }

  // The painter's input (host only; `apiary play`): the arena, the target and the mass, in world units.
  static void describe(const Params&, const State& s, Scene& scene) {
    scene.view[0] = -1.8f;  // 3:2, the shape of the picture, so that the square arena stays square
    scene.view[1] = -1.2f;
    scene.view[2] = 1.8f;
    scene.view[3] = 1.2f;
    scene.add(SceneShape::Kind::kPolygon, "arena").xy = {-1.0f, -1.0f, 1.0f, -1.0f, 1.0f, 1.0f, -1.0f, 1.0f};
    SceneShape& target = scene.add(SceneShape::Kind::kCircle, "target");
    target.xy = {s.tx, s.ty};
    target.radius = 0.08f;
    SceneShape& mass = scene.add(SceneShape::Kind::kCircle, "mass");
    mass.xy = {s.x, s.y};
    mass.radius = 0.05f;
    scene.add(SceneShape::Kind::kPolyline, "velocity").xy = {s.x, s.y, s.x + 0.2f * s.vx, s.y + 0.2f * s.vy};
  }
};

}  // namespace reacher
