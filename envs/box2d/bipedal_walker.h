// BipedalWalker-v3 and BipedalWalkerHardcore-v3 as in Gymnasium 1.x
// gymnasium/envs/box2d/bipedal_walker.py (registration in gymnasium/envs/__init__.py: time limits 1600
// and 2000, reward threshold 300): thin adapters of BipedalWalkerPhysics to the CPU env contract
// (envs/cpu_vec_env.h). Box(-1, 1, (4,)) torque actions in the order hip 1, knee 1, hip 2, knee 2;
// values outside [-1, 1] act as their sign (as the reference's clip of |a|). No parameters besides the
// generic max_episode_steps: Gymnasium's only option, hardcore, is the second id.
//
// What describe() gives (the physics' geometry, coloured by paint_bipedal_walker(),
// bipedal_walker_draw.cpp, which also adds a polyline "surface" after each terrain polygon for its top
// edges):
//   view     {scroll, 0, scroll + 600/30, 400/30}, scroll = hull x - (600/30) / 5
//   polygon  "terrain" index i: ground under segment i, (x_i, y_i), (x_i+1, y_i+1), (x_i+1, 0), (x_i, 0)
//   polyline "lidar" index 0..9: from the hull to the ray's hit point (or its end when it hit nothing)
//   polygon  "obstacle" index k: stump, stair and pit-wall polygons (hardcore only)
//   polygon  "upper_leg" and "lower_leg" index 0 and 1, then "hull"
//   polyline "flag_pole" and polygon "flag": the start flag at x = 3 * TERRAIN_STEP
//   values   "ground_contact0", "ground_contact1" (0 or 1), "hull_x", "hull_y" (metres)
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "envs/box2d/bipedal_walker_physics.h"
#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs::box2d {

// Colours a Scene that BipedalWalkerPhysics::describe() filled as Gymnasium draws the walker
// (bipedal_walker_draw.cpp).
void paint_bipedal_walker(Scene& scene);

template <bool kHardcoreTerrain>
class BipedalWalkerEnv {
 public:
  static constexpr const char* kId = kHardcoreTerrain ? "BipedalWalkerHardcore-v3" : "BipedalWalker-v3";
  static constexpr int kObsDim = bipedal::kObsDim;
  static constexpr int kActionDim = bipedal::kActionDim;
  static constexpr bool kDiscrete = false;
  static constexpr std::int32_t kMaxEpisodeSteps = kHardcoreTerrain ? 2000 : 1600;
  static constexpr double kRewardThreshold = 300.0;
  using Action = float;

  struct Params {};  // nothing to override: the reference takes no options but hardcore
  static constexpr std::array<ParamField<Params>, 0> kParamFields{};

  static EnvSpec spec(const Params&) {
    // bipedal_walker.py's bounds: 5 stands for five times a joint's rated speed; the contact flags
    // are declared [0, 5] there, and kept so.
    constexpr float kPi = 3.14159265358979323846f;
    std::vector<float> low = {-kPi, -5.0f, -5.0f, -5.0f, -kPi, -5.0f, -kPi,
                              -5.0f, 0.0f,  -kPi,  -5.0f, -kPi, -5.0f, 0.0f};
    std::vector<float> high = {kPi,  5.0f, 5.0f, 5.0f, kPi,  5.0f, kPi,
                               5.0f, 5.0f, kPi,  5.0f, kPi,  5.0f, 5.0f};
    low.insert(low.end(), bipedal::kNumLidar, -1.0f);
    high.insert(high.end(), bipedal::kNumLidar, 1.0f);
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box(std::move(low), std::move(high));
    s.action_space = Space::box(std::vector<float>(kActionDim, -1.0f), std::vector<float>(kActionDim, 1.0f));
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = kRewardThreshold;
    return s;
  }

  explicit BipedalWalkerEnv(const Params&) {}

  void reset(LaneRng& rng) { physics_.reset(rng, kHardcoreTerrain); }
  StepOut step(const Action* action, LaneRng&) { return physics_.step(action); }  // draws nothing
  void observe(float* obs) const { physics_.observe(obs); }
  void describe(Scene& scene) const {
    physics_.describe(scene);
    paint_bipedal_walker(scene);
  }

  const BipedalWalkerPhysics& physics() const { return physics_; }

 private:
  BipedalWalkerPhysics physics_;
};

using BipedalWalker = BipedalWalkerEnv<false>;
using BipedalWalkerHardcore = BipedalWalkerEnv<true>;

}  // namespace apiary::envs::box2d
