// LunarLander-v3 and LunarLanderContinuous-v3 (Gymnasium 1.x, gymnasium/envs/box2d/lunar_lander.py;
// the facts are in tests/data/reference/box2d_envs.md). Three parts:
//   - LunarLanderPhysics: the physics core, one b2World per lane (built again on every reset, as v3
//     does), the engines, wind, observation, reward and termination. It takes engine commands, not
//     actions, and its accessors let tests and tools read the physics.
//   - LunarLander / LunarLanderContinuous: one adapter template over the two action mappings from
//     Gymnasium's actions to engine commands; it satisfies the CPU env contract (envs/cpu_vec_env.h).
//   - The picture (lunar_lander_draw.cpp): the physics describes its geometry in a Scene, "sky"
//     polygons (one per terrain chunk, the region above the ground), "lander", "leg" 0/1, "flame_main"
//     and "flame_side" (only while that engine fired on the last step), values helipad_x1/x2/y,
//     leg0_contact, leg1_contact, main_engine, side_engine, side_direction and wind; then
//     paint_lunar_lander() gives it Gymnasium's colours and adds "flag_pole" and "flag" 0/1 and the
//     "wind" arrow and "wind_head". The adapters' describe() does both.
//
// Random draws (the lane's Philox stream): reset takes 3 blocks for the 12 terrain heights and one for
// the initial force and the wind and turbulence offsets; every step takes one block for the two
// dispersion samples (the reset's first no-op step too).
#pragma once

#include <cstdint>
#include <memory>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs {

struct LunarLanderParams {
  float gravity = -10.0f;          // m/s^2, Gymnasium asserts -12 < g < 0
  float enable_wind = 0.0f;        // 0 or 1
  float wind_power = 15.0f;        // peak wind force; Gymnasium documents 0..20
  float turbulence_power = 1.5f;   // peak torque; Gymnasium documents 0..2
};

inline constexpr ParamField<LunarLanderParams> kLunarLanderParamFields[] = {
    {"gravity", &LunarLanderParams::gravity, -12.0f, 0.0f, true, "gravity, m/s^2 (-12 < g < 0)", true},
    {"enable_wind", &LunarLanderParams::enable_wind, 0.0f, 1.0f, false, "1 (or true) turns on wind and turbulence"},
    {"wind_power", &LunarLanderParams::wind_power, 0.0f, 20.0f, false, "peak wind force"},
    {"turbulence_power", &LunarLanderParams::turbulence_power, 0.0f, 2.0f, false, "peak turbulence torque"},
};

// What the engines do on one step: main in {0} or [0.5, 1]; side in {0} or [0.5, 1] with direction
// -1 (Gymnasium's "left orientation engine", action 1) or +1 (action 3).
struct EngineCommand {
  float main_power = 0.0f;
  float side_power = 0.0f;
  float side_direction = 0.0f;
};

// The spec of either version: v3's observation bounds, 1000 steps, threshold 200; validates params.
EnvSpec lunar_lander_spec(const char* id, const LunarLanderParams& params, Space action_space);

class LunarLanderPhysics {
 public:
  static constexpr double kFps = 50.0;
  static constexpr double kScale = 30.0;
  static constexpr double kWorldW = 600.0 / kScale;  // 20
  static constexpr double kWorldH = 400.0 / kScale;  // 13.33
  static constexpr double kMainEnginePower = 13.0;
  static constexpr double kSideEnginePower = 0.6;
  static constexpr double kInitialRandom = 1000.0;
  static constexpr double kLegDown = 18.0;
  static constexpr int kChunks = 11;

  explicit LunarLanderPhysics(const LunarLanderParams& params);
  ~LunarLanderPhysics();
  LunarLanderPhysics(const LunarLanderPhysics&) = delete;
  LunarLanderPhysics& operator=(const LunarLanderPhysics&) = delete;

  // A new world, terrain and lander; then one no-op step, whose observation is the episode's first.
  void reset(LaneRng& rng);
  StepOut step(const EngineCommand& command, LaneRng& rng);
  void observe(float* obs) const;  // 8 floats
  void describe(Scene& scene) const;

  // Read-only physics, for tests and tools.
  struct BodyState {
    float x, y, vx, vy, angle, angular_velocity;
    bool awake;
  };
  BodyState lander() const;
  bool leg_contact(int leg) const;
  bool game_over() const;  // the lander's body touched the ground
  float helipad_x1() const;
  float helipad_x2() const;
  float helipad_y() const;
  float terrain_height(int chunk) const;  // smoothed height at chunk_x[chunk]
  // Shaping of the last observation (-100 |pos| - 100 |vel| - 100 |angle| + 10 per leg contact).
  double shaping() const;
  const EngineCommand& last_command() const;
  float last_wind() const;  // the wind force applied on the last step (0 when off)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Gymnasium's actions as engine commands. Discrete(4): 0 noop, 1 left orientation engine, 2 main
// engine, 3 right orientation engine.
struct LunarLanderDiscreteActions {
  static constexpr const char* kId = "LunarLander-v3";
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 4;
  using Action = std::int32_t;
  static Space action_space();
  static EngineCommand command(const Action* action);
};

// Box(-1, 1, (2,)): main throttle (off at <= 0, else 50%..100%) and lateral (fires past |0.5|).
struct LunarLanderContinuousActions {
  static constexpr const char* kId = "LunarLanderContinuous-v3";
  static constexpr int kActionDim = 2;
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  using Action = float;
  static Space action_space();
  static EngineCommand command(const Action* action);
};

// Colours a Scene that LunarLanderPhysics::describe() filled as Gymnasium draws the lander, and adds
// the helipad flags and the wind arrow from its values (lunar_lander_draw.cpp).
void paint_lunar_lander(Scene& scene);

// The adapter that satisfies the CPU env contract: the physics core driven through `Actions`.
template <class Actions>
struct LunarLanderEnv : Actions {
  static constexpr int kObsDim = 8;
  static constexpr std::int32_t kMaxEpisodeSteps = 1000;
  using Action = typename Actions::Action;
  using Params = LunarLanderParams;
  static constexpr const auto& kParamFields = kLunarLanderParamFields;

  static EnvSpec spec(const Params& params) { return lunar_lander_spec(Actions::kId, params, Actions::action_space()); }

  explicit LunarLanderEnv(const Params& params) : physics_(params) {}
  void reset(LaneRng& rng) { physics_.reset(rng); }
  StepOut step(const Action* action, LaneRng& rng) { return physics_.step(Actions::command(action), rng); }
  void observe(float* obs) const { physics_.observe(obs); }
  void describe(Scene& scene) const {
    physics_.describe(scene);
    paint_lunar_lander(scene);
  }
  const LunarLanderPhysics& physics() const { return physics_; }

 private:
  LunarLanderPhysics physics_;
};

using LunarLander = LunarLanderEnv<LunarLanderDiscreteActions>;
using LunarLanderContinuous = LunarLanderEnv<LunarLanderContinuousActions>;

}  // namespace apiary::envs
