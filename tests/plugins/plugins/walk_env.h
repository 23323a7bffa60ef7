// The envs of the test plugins: PluginWalk-v0 (the CPU contract, with a describe() painter and a
// planted throw) and PluginDrift-v0 (the __host__ __device__ contract, with a static describe()).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "envs/plugin.h"

namespace plugin_test {

using apiary::envs::EnvSpec;
using apiary::envs::LaneRng;
using apiary::envs::ParamField;
using apiary::envs::Scene;
using apiary::envs::SceneShape;
using apiary::envs::Space;
using apiary::envs::StepOut;

// A walk on the integers: 0 steps -1, 1 stays, 2 steps +1; ends at +-goal; time limit 20. The lane
// `throw_lane` throws from step() once it has taken `throw_after` steps (counted over episodes).
struct Walk {
  static constexpr const char* kId = "PluginWalk-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;
  static constexpr std::int32_t kMaxEpisodeSteps = 20;
  using Action = std::int32_t;
  struct Params {
    float goal = 3.0f;
    float throw_lane = -1.0f;   // -1: never throw
    float throw_after = 0.0f;   // steps the lane takes before it throws
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"goal", &Params::goal, 0.0f, 100.0f, true, "distance to the end"},
      {"throw_lane", &Params::throw_lane, -1.0f, 1e6f, false, "lane whose step throws (-1: none)"},
      {"throw_after", &Params::throw_after, 0.0f, 1e9f, false, "steps before it throws"}};
  static EnvSpec spec(const Params& p) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-p.goal, 0.0f}, {p.goal, 1.0f});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit Walk(const Params& p) : params(p) {}
  void reset(LaneRng& rng) {
    position = 0.0f;
    offset = rng.uniform4(0.0f, 1.0f).v[0];
  }
  StepOut step(const Action* a, LaneRng& rng) {
    ++steps;
    if (static_cast<float>(rng.lane) == params.throw_lane && static_cast<float>(steps) > params.throw_after)
      throw std::runtime_error("the walker fell off the plugin");
    position += static_cast<float>(a[0] - 1);
    return StepOut{static_cast<float>(a[0] - 1), position <= -params.goal || position >= params.goal};
  }
  void observe(float* obs) const {
    obs[0] = position;
    obs[1] = offset;
  }
  void describe(Scene& scene) const {
    SceneShape& s = scene.add(SceneShape::Kind::kCircle, "walker");
    s.xy = {position, 0.0f};
    s.radius = 0.5f;
  }

  Params params;
  float position = 0.0f;
  float offset = 0.0f;
  std::int64_t steps = 0;
};

// A point drifting by the action in [-1, 1], reset to a random place in [-1, 1]; no end but the time
// limit (10). Static describe(): the painter's Scene from the lane's State.
struct Drift {
  static constexpr const char* kId = "PluginDrift-v0";
  static constexpr int kObsDim = 1;
  static constexpr int kStateDim = 1;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = 0;
  static constexpr bool kDiscrete = false;
  static constexpr bool kStepUsesRng = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 10;
  using Action = float;
  struct Params {
    float speed = 0.1f;
  };
  static constexpr ParamField<Params> kParamFields[] = {{"speed", &Params::speed, 0.0f, 1.0f, false, "drift per step"}};
  struct State {
    float x;
  };
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({-3.0f}, {3.0f});
    s.action_space = Space::box({-1.0f}, {1.0f});
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  APIARY_HD static void reset(const Params&, State& s, LaneRng& rng) { s.x = rng.uniform4(-1.0f, 1.0f).v[0]; }
  APIARY_HD static StepOut step(const Params& p, State& s, const Action* a, LaneRng&) {
    const float u = a[0] < -1.0f ? -1.0f : (a[0] > 1.0f ? 1.0f : a[0]);
    s.x = s.x + p.speed * u;
    return StepOut{-(s.x < 0.0f ? -s.x : s.x), false};
  }
  APIARY_HD static void observe(const Params&, const State& s, float* obs) { obs[0] = s.x; }
  static void describe(const Params&, const State& s, Scene& scene) {
    SceneShape& dot = scene.add(SceneShape::Kind::kCircle, "drifter");
    dot.xy = {s.x, 0.0f};
    dot.radius = 0.1f;
  }
};

}  // namespace plugin_test
