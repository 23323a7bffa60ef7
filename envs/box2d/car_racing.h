// CarRacing-v3 (Gymnasium 1.x, gymnasium/envs/box2d/car_racing.py and car_dynamics.py; the facts are in
// tests/data/reference/box2d_envs.md). This header is the physics core: a random closed track of road
// tiles, the top-down car of Oleg Klimov's car_dynamics (a hull and four wheels on revolute joints, each
// wheel's friction computed by hand from the tiles it touches), the rewards and the termination rules.
// It takes controls (steer, gas, brake), not actions, and its accessors let tests and tools read the
// physics.
//
// Random draws (the lane's Philox stream), on reset only: with domain_randomize, one block for the road
// colour, one for the background colour and one uniform integer for the grass channel; then six blocks
// for each try at a track (twelve checkpoints, two uniforms each), as many tries as the generator needs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"

namespace apiary::envs {

struct CarRacingParams {
  float lap_complete_percent = 0.95f;  // the share of tiles to visit before tile 0 ends the lap
  float domain_randomize = 0.0f;       // 0 or 1: random road, background and grass colours every reset
  float continuous = 1.0f;             // 1: Box(3) steer, gas, brake; 0: Discrete(5)
};

inline constexpr ParamField<CarRacingParams> kCarRacingParamFields[] = {
    {"lap_complete_percent", &CarRacingParams::lap_complete_percent, 0.0f, 1.0f, false,
     "share of the track's tiles to visit before crossing the start ends the lap"},
    {"domain_randomize", &CarRacingParams::domain_randomize, 0.0f, 1.0f, false,
     "1 (or true): random road, background and grass colours at every reset"},
    {"continuous", &CarRacingParams::continuous, 0.0f, 1.0f, false,
     "1 (or true): Box(3) steer, gas, brake; 0 (false): Discrete(5) noop, right, left, gas, brake"},
};

// What the driver does on one step, as car_dynamics' Car.steer/gas/brake take it: steer is the front
// wheels' target joint angle in radians (Gymnasium passes -action[0]; the joints stop at +-0.4), gas is
// clipped to [0, 1] and reaches the rear wheels at most 0.1 a step faster, and brake is used as given
// (>= 0.9 locks the wheels).
struct CarControls {
  double steer = 0.0;
  double gas = 0.0;
  double brake = 0.0;
};

class CarRacingPhysics {
 public:
  // Gymnasium's constants (car_racing.py).
  static constexpr double kFps = 50.0;
  static constexpr double kScale = 6.0;
  static constexpr double kTrackRad = 900.0 / kScale;
  static constexpr double kPlayfield = 2000.0 / kScale;
  static constexpr double kZoom = 2.7;
  static constexpr double kTrackDetailStep = 21.0 / kScale;
  static constexpr double kTrackTurnRate = 0.31;
  static constexpr double kTrackWidth = 40.0 / kScale;
  static constexpr double kBorder = 8.0 / kScale;
  static constexpr int kBorderMinCount = 4;
  static constexpr double kGrassDim = kPlayfield / 20.0;
  static constexpr int kCheckpoints = 12;
  // car_dynamics.py's.
  static constexpr double kSize = 0.02;
  static constexpr double kEnginePower = 100000000.0 * kSize * kSize;
  static constexpr double kWheelMomentOfInertia = 4000.0 * kSize * kSize;
  static constexpr double kFrictionLimit = 1000000.0 * kSize * kSize;
  static constexpr double kWheelR = 27.0;
  static constexpr double kWheelW = 14.0;

  explicit CarRacingPhysics(const CarRacingParams& params);
  ~CarRacingPhysics();
  CarRacingPhysics(const CarRacingPhysics&) = delete;
  CarRacingPhysics& operator=(const CarRacingPhysics&) = delete;

  // Colours, a new track and a car at rest on its first tile; then one step without controls (as
  // Gymnasium's reset() does through step(None)), which gives no reward.
  void reset(LaneRng& rng);
  // One 1/50 s step with the driver's controls: -0.1, plus 1000/N for each tile first touched by a
  // wheel; -100 and termination when the hull leaves the playfield; termination when every tile is
  // visited or tile 0 is touched with more than lap_complete_percent of them visited.
  struct Outcome {
    float reward;
    bool terminated;
    bool lap_finished;  // terminated by finishing the lap (not by leaving the playfield)
  };
  Outcome step(const CarControls& controls);
  // Puts a new car at rest at (x, y) facing `angle` (0: along +y), as reset() puts it on the first
  // tile: for tests and for drawing reference frames of a chosen pose.
  void place_car(double angle, double x, double y);

  // A closed track of tiles, the way car_racing.py's _create_track builds it from twelve checkpoints
  // (alpha, rad pairs drawn uniform in [0, 2pi/12) and [TRACK_RAD/3, TRACK_RAD)); empty when the
  // generator fails for these checkpoints (reset() then draws again). For the reference tests.
  struct TrackPoint {
    double alpha, beta, x, y;
  };
  static std::vector<TrackPoint> generate_track(const std::array<double, 2 * kCheckpoints>& draws);

  // ---- read-only physics, for tests, tools and the drawing ----------------------------------------
  struct Tile {
    std::array<double, 8> corners;  // x, y of road1_l, road1_r, road2_r, road2_l
    std::array<double, 3> color;    // road colour plus the tile's stripe shade until something touches it
    bool visited = false;           // a wheel has touched it
  };
  struct Kerb {  // the red-white border on the outside of a hard turn
    std::array<double, 8> corners;
    bool red;  // red on odd tiles, white on even ones
    int tile;  // the tile it borders (drawn after it)
  };
  struct Pose {
    double x, y, angle, vx, vy, angular_velocity;
  };
  struct Wheel {
    Pose pose;
    double omega;        // wheel spin, rad/s
    double phase;        // wheel rotation angle (the drawn stripe)
    double joint_angle;  // steering angle relative to the hull
    double gas, brake, steer;
    int tiles;           // road tiles it touches now (0: on grass)
  };
  // The road of a track: a tile between each point and the one before it (the first closes the loop),
  // shaded by index until touched, and kerbs, as _create_track lays them out.
  struct Road {
    std::vector<Tile> tiles;
    std::vector<Kerb> kerbs;
  };
  static Road road_of(const std::vector<TrackPoint>& track, const std::array<double, 3>& road_color);

  const std::vector<TrackPoint>& track() const;
  const std::vector<Tile>& tiles() const;
  const std::vector<Kerb>& kerbs() const;
  Pose hull() const;
  Wheel wheel(int i) const;  // 0, 1 front (left, right), 2, 3 rear
  int tiles_visited() const;
  double time() const;          // seconds since reset, the first step's included (the camera's zoom-in)
  double total_reward() const;  // Gymnasium's self.reward: -0.1 a step plus the tile rewards
  const std::array<double, 3>& road_color() const;
  const std::array<double, 3>& background_color() const;
  const std::array<double, 3>& grass_color() const;

  // ---- the picture ---------------------------------------------------------------------------------
  // Everything car_racing.py's _render draws, as plain values (tests build one from reference data).
  struct View {
    const std::vector<Tile>* tiles = nullptr;
    const std::vector<Kerb>* kerbs = nullptr;
    std::array<double, 3> background{}, grass{};
    Pose hull{};
    std::array<Pose, 4> wheels{};  // x, y, angle (velocities unused)
    std::array<double, 4> omega{}, phase{};
    double steering = 0.0;  // wheel 0's joint angle
    double t = 0.0;         // the camera zooms in over the first second
    double reward = 0.0;    // the score shown bottom left
  };
  View view() const;
  // The picture as Scene shapes in the window's coordinates (1000 x 800, y up, the view): the road and
  // car turned and zoomed about the car, then the indicator bar; shapes wholly outside are left out.
  // Tags: "field", "grass", "tile" and "kerb" (index: the tile), "wheel" and "wheel_stripe" (0-3), "hull"
  // (0-3), "indicators" and "indicator" (0 speed, 1-4 wheel spin, 5 steering, 6 gyroscope); values
  // "speed" and "reward".
  static void describe(const View& view, Scene& scene);
  // Draws `view` as Gymnasium's `state_pixels` (96 x 96) or `rgb_array` (600 x 400) frame is drawn: the
  // 1000 x 800 window's picture (the road and the car turned and zoomed so that the car faces up, a
  // quarter from the bottom, and the indicator bar) shrunk to width x height RGB bytes, row by row. The
  // window is drawn at `supersample` x the output's resolution and averaged down, as pygame's
  // smoothscale averages the window's pixels.
  static void draw(const View& view, std::uint8_t* rgb, int width, int height, int supersample);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Gymnasium's actions as controls. Box(3), low (-1, 0, 0), high (1, 1, 1): steer (+1 is right, so the
// wheels' target is -action[0]), gas, brake, each passed on as car_racing.py does (gas clipped, the
// others not).
struct CarRacingContinuousActions {
  static constexpr int kActionDim = 3;
  static constexpr bool kDiscrete = false;
  static constexpr int kNumActions = 0;
  using Action = float;
  static Space action_space() { return Space::box({-1.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}); }
  static CarControls controls(const Action* a) { return {-static_cast<double>(a[0]), a[1], a[2]}; }
};

// Discrete(5): 0 nothing, 1 steer right, 2 steer left, 3 gas, 4 brake; as car_racing.py maps them
// (steer 0.6, gas 0.2, brake 0.8).
struct CarRacingDiscreteActions {
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 5;
  using Action = std::int32_t;
  static Space action_space() { return Space::discrete(kNumActions); }
  static CarControls controls(const Action* a) {
    return {-0.6 * (a[0] == 1) + 0.6 * (a[0] == 2), 0.2 * (a[0] == 3), 0.8 * (a[0] == 4)};
  }
};

// The spec of either action set: a uint8 96 x 96 x 3 picture, 1000 steps, threshold 900; validates params.
EnvSpec car_racing_spec(const CarRacingParams& params, Space action_space);

// The adapter that satisfies the CPU env contract (envs/cpu_vec_env.h): the physics driven through
// `Actions`, observed as Gymnasium's state_pixels picture. One id, CarRacing-v3: the option
// `continuous` picks the action set (register_car_racing).
template <class Actions>
struct CarRacingEnv : Actions {
  static constexpr const char* kId = "CarRacing-v3";
  static constexpr int kWidth = 96, kHeight = 96;  // car_racing.py's STATE_W, STATE_H
  static constexpr int kObsDim = kWidth * kHeight * 3;
  static constexpr std::int32_t kMaxEpisodeSteps = 1000;
  // Each observed pixel averages 4 x 4 samples of the window's picture: pygame shrinks 1000 x 800 to
  // 96 x 96, so Gymnasium's edges are blends too.
  static constexpr int kSupersample = 4;
  using Action = typename Actions::Action;
  using Obs = std::uint8_t;
  using Params = CarRacingParams;
  static constexpr const auto& kParamFields = kCarRacingParamFields;

  static EnvSpec spec(const Params& params) { return car_racing_spec(params, Actions::action_space()); }

  explicit CarRacingEnv(const Params& params) : physics_(params) {}
  void reset(LaneRng& rng) { physics_.reset(rng); }
  StepOut step(const Action* action, LaneRng&) {
    const CarRacingPhysics::Outcome out = physics_.step(Actions::controls(action));
    return {out.reward, out.terminated};
  }
  void observe(std::uint8_t* obs) const {
    CarRacingPhysics::draw(physics_.view(), obs, kWidth, kHeight, kSupersample);
  }
  // What `apiary play` and render_lanes draw: the same picture, without the score (the HUD has it).
  static constexpr PictureSize kPictureSize{600, 400};  // Gymnasium's rgb_array (VIDEO_W x VIDEO_H)
  void describe(Scene& scene) const { CarRacingPhysics::describe(physics_.view(), scene); }
  const CarRacingPhysics& physics() const { return physics_; }

 private:
  CarRacingPhysics physics_;
};

using CarRacingContinuous = CarRacingEnv<CarRacingContinuousActions>;
using CarRacingDiscrete = CarRacingEnv<CarRacingDiscreteActions>;

}  // namespace apiary::envs
