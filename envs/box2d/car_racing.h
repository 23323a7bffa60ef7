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

#include "envs/params.h"
#include "envs/rng.h"

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
  // The hull's four polygons and each wheel's box in world coordinates (x, y pairs), for drawing.
  std::vector<std::vector<double>> hull_polygons() const;
  std::vector<double> wheel_polygon(int i) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apiary::envs
