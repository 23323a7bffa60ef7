// The physics core of BipedalWalker-v3 and BipedalWalkerHardcore-v3, as in Gymnasium 1.x
// gymnasium/envs/box2d/bipedal_walker.py (Oleg Klimov's walker): a hull on two two-segment legs with
// four torque-limited motors, a terrain of grass (and, in hardcore mode, stumps, stairs and pits), and a
// ten-ray lidar. It owns one b2World per lane, recreated on every reset, so that an episode depends only
// on the lane's random stream and its actions (snapshots replay episodes into fresh objects).
//
// The RL adapters (envs/box2d/bipedal_walker.h) are thin wrappers over this class; painters read what
// describe() writes into a Scene. <box2d/box2d.h> stays inside bipedal_walker_physics.cpp (pimpl).
//
// Differences from the reference, on purpose: random numbers come from the lane's counter-based stream
// (envs/rng.h) instead of NumPy's, so terrains differ draw for draw while following the same rules and
// distributions; Box2D is 2.4 instead of pybox2d's 2.3 (same solver family); clouds are decorative and
// are not generated.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "envs/env.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs::box2d {

// The constants of bipedal_walker.py, in its units: pixels divided by SCALE give metres.
namespace bipedal {
inline constexpr double kFps = 50.0;
inline constexpr double kScale = 30.0;
inline constexpr double kMotorsTorque = 80.0;  // N m at |action| = 1
inline constexpr double kSpeedHip = 4.0;       // rad/s, motor speed of a hip
inline constexpr double kSpeedKnee = 6.0;      // rad/s, motor speed of a knee
inline constexpr double kLidarRange = 160.0 / kScale;
inline constexpr double kInitialRandom = 5.0;  // N, bound of the horizontal push at reset
inline constexpr double kLegDown = -8.0 / kScale;
inline constexpr double kLegW = 8.0 / kScale;
inline constexpr double kLegH = 34.0 / kScale;
inline constexpr double kViewportW = 600.0;
inline constexpr double kViewportH = 400.0;
inline constexpr double kTerrainStep = 14.0 / kScale;
inline constexpr int kTerrainLength = 200;  // terrain points
inline constexpr double kTerrainHeight = kViewportH / kScale / 4.0;
inline constexpr int kTerrainGrass = 10;     // grass runs last [kTerrainGrass/2, kTerrainGrass) points
inline constexpr int kTerrainStartpad = 20;  // flat-ish points before the first obstacle
inline constexpr double kFriction = 2.5;
inline constexpr int kNumLidar = 10;
inline constexpr int kObsDim = 24;
inline constexpr int kActionDim = 4;  // hip 1, knee 1, hip 2, knee 2
// Past this x the walker has reached the end: the episode terminates without penalty.
inline constexpr double kSuccessX = (kTerrainLength - kTerrainGrass) * kTerrainStep;
inline constexpr double kTorqueCostPerUnit = 0.00035 * kMotorsTorque;  // reward per unit of |action|
}  // namespace bipedal

// The terrain generator's states (GRASS, STUMP, STAIRS, PIT in the reference).
enum class TerrainKind : std::uint8_t { kGrass = 0, kStump = 1, kStairs = 2, kPit = 3 };

// One obstacle of a hardcore terrain: its kind and the x range it spans, in metres.
struct Obstacle {
  TerrainKind kind;
  float x_begin;
  float x_end;
};

// How many obstacles of each kind the last reset generated (all zero in normal mode).
struct ObstacleCounts {
  int stumps = 0;
  int stairs = 0;
  int pits = 0;
};

struct Vec2f {
  float x;
  float y;
};

class BipedalWalkerPhysics {
 public:
  BipedalWalkerPhysics();
  ~BipedalWalkerPhysics();
  // The world's contact listener points back into this object: neither copied nor moved.
  BipedalWalkerPhysics(const BipedalWalkerPhysics&) = delete;
  BipedalWalkerPhysics& operator=(const BipedalWalkerPhysics&) = delete;

  // Builds a fresh world: terrain (with obstacles if `hardcore`), hull pushed by U(-5, 5) N, legs and
  // joints; then takes one step with zero torques, as the reference's reset() does, so that the
  // observation, lidar and the shaping baseline are those of that step. Draws only from `rng`.
  void reset(LaneRng& rng, bool hardcore);
  // Applies the four actions (torque control: speed SPEED * sign(a), torque limit 80 * min(|a|, 1)),
  // steps the world by 1/50 s and casts the lidar. Reward: shaping difference minus torque cost, or
  // -100 with terminated when the hull touches the ground or x < 0; terminated without penalty past
  // bipedal::kSuccessX. Actions must be finite (the batched back end rejects others).
  StepOut step(const float* action);
  // The 24 observations: hull angle, 2 w / FPS, 0.3 vx (W/SCALE) / FPS, 0.3 vy (H/SCALE) / FPS; per leg
  // hip angle, hip speed / 4, knee angle + 1, knee speed / 6, lower-leg ground contact; 10 lidar
  // fractions.
  void observe(float* obs) const;
  // Shapes for a painter (tags in envs/box2d/bipedal_walker.h).
  void describe(Scene& scene) const;

  // Read-only state, for tests and tools.
  bool hardcore() const { return hardcore_; }
  Vec2f hull_position() const;
  float hull_angle() const;
  Vec2f hull_velocity() const;
  float hull_angular_velocity() const;
  const std::array<float, bipedal::kNumLidar>& lidar_fractions() const { return lidar_fraction_; }
  // The end of lidar ray i: its hit point, or the end of its range where it hit nothing.
  Vec2f lidar_end(int i) const { return lidar_end_[static_cast<std::size_t>(i)]; }
  bool ground_contact(int leg) const { return leg_contact_[leg != 0]; }  // leg 0 or 1 (lower legs)
  bool game_over() const { return game_over_; }                       // the hull touched the ground
  const std::vector<float>& terrain_x() const { return terrain_x_; }  // kTerrainLength points, metres
  const std::vector<float>& terrain_y() const { return terrain_y_; }
  const std::vector<Obstacle>& obstacles() const { return obstacles_; }
  ObstacleCounts obstacle_counts() const;
  double torque_cost() const { return torque_cost_; }  // subtracted from the last step's reward
  double shaping() const { return shaping_; }          // 130 x / SCALE - 5 |angle| after the last step

 private:
  struct World;     // the b2World and its bodies (bipedal_walker_physics.cpp)
  struct Uniforms;  // reset's uniform draws, four per block of the lane's stream

  void generate_terrain(Uniforms& random);
  void create_walker(Uniforms& random);
  void cast_lidar();

  std::unique_ptr<World> world_;
  bool hardcore_ = false;
  bool game_over_ = false;
  bool leg_contact_[2] = {false, false};  // set and cleared by the contact listener
  bool has_shaping_ = false;              // false until the reset step has set a baseline
  double shaping_ = 0.0;
  double torque_cost_ = 0.0;
  std::array<float, bipedal::kNumLidar> lidar_fraction_{};
  std::array<Vec2f, bipedal::kNumLidar> lidar_end_{};
  Vec2f lidar_origin_{0.0f, 0.0f};  // the hull position the rays were cast from
  std::vector<float> terrain_x_, terrain_y_;
  std::vector<Obstacle> obstacles_;
};

}  // namespace apiary::envs::box2d
