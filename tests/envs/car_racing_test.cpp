// CarRacing-v3's rules one by one (envs/box2d/car_racing.h), against Gymnasium 1.x car_racing.py and
// car_dynamics.py: the track generator against tracks Gymnasium's own code made
// (tests/data/reference/car_racing/tracks.txt), then the car and the rewards.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/fnv1a.h"
#include "envs/box2d/car_racing.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"

namespace apiary::envs {
namespace {

using Physics = CarRacingPhysics;

struct TrackCase {
  std::array<double, 24> draws{};
  int tiles = 0, kerbs = 0;
  std::vector<std::vector<double>> points;  // index, alpha, beta, x, y
  std::vector<std::vector<double>> tile_corners;  // index, x0, y0, ... x3, y3
};

std::vector<TrackCase> read_tracks() {
  const std::string path = testing::reference_dir() + "/car_racing/tracks.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<TrackCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string key;
    row >> key;
    if (key == "case") {
      cases.emplace_back();
    } else if (key == "draws") {
      for (double& d : cases.back().draws) row >> d;
    } else if (key == "tiles") {
      row >> cases.back().tiles;
    } else if (key == "kerbs") {
      row >> cases.back().kerbs;
    } else if (key == "point" || key == "tile") {
      std::vector<double> values;
      for (double v; row >> v;) values.push_back(v);
      (key == "point" ? cases.back().points : cases.back().tile_corners).push_back(values);
    }
  }
  return cases;
}

// A lane's random stream for physics tests that need none in particular.
LaneRng rng_for(std::uint64_t seed) { return LaneRng{seed, 0, 0}; }

double speed(const Physics::Pose& p) { return std::hypot(p.vx, p.vy); }

// The hull's velocity along its heading (the car's forward is its body's +y).
double forward_speed(const Physics::Pose& p) { return -std::sin(p.angle) * p.vx + std::cos(p.angle) * p.vy; }

TEST(CarRacing, TrackGeneratorMatchesGymnasiumsOnItsOwnDraws) {
  const std::vector<TrackCase> cases = read_tracks();
  ASSERT_EQ(cases.size(), 8u);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    const TrackCase& ref = cases[c];
    const std::vector<Physics::TrackPoint> track = Physics::generate_track(ref.draws);
    ASSERT_EQ(static_cast<int>(track.size()), ref.tiles);
    if (ref.tiles == 0) continue;
    for (const auto& p : ref.points) {
      const Physics::TrackPoint& q = track.at(static_cast<std::size_t>(p[0]));
      EXPECT_NEAR(q.alpha, p[1], 1e-9);
      EXPECT_NEAR(q.beta, p[2], 1e-9);
      EXPECT_NEAR(q.x, p[3], 1e-9);
      EXPECT_NEAR(q.y, p[4], 1e-9);
    }
    const Physics::Road road = Physics::road_of(track, {102, 102, 102});
    EXPECT_EQ(static_cast<int>(road.tiles.size()), ref.tiles);
    EXPECT_EQ(static_cast<int>(road.kerbs.size()), ref.kerbs);
    for (const auto& t : ref.tile_corners) {
      const Physics::Tile& tile = road.tiles.at(static_cast<std::size_t>(t[0]));
      for (int k = 0; k < 8; ++k) EXPECT_NEAR(tile.corners[k], t[1 + k], 1e-9) << "corner value " << k;
    }
  }
}

TEST(CarRacing, EveryResetMakesAClosedTrackWithTheCarOnItsFirstTile) {
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Physics physics{CarRacingParams{}};
    LaneRng rng = rng_for(seed);
    physics.reset(rng);
    const auto& track = physics.track();
    // Gymnasium's tracks have about 250 to 350 tiles of 3.5 m; the loop closes within a step.
    ASSERT_GT(track.size(), 200u);
    ASSERT_LT(track.size(), 400u);
    EXPECT_EQ(physics.tiles().size(), track.size());
    // Points are a step apart; the loop closes with at most two (Gymnasium drops the lap's last point).
    for (std::size_t i = 0; i + 1 < track.size(); ++i) {
      const auto& a = track[i];
      const auto& b = track[i + 1];
      EXPECT_NEAR(std::hypot(a.x - b.x, a.y - b.y), Physics::kTrackDetailStep, 1e-9) << "after point " << i;
    }
    EXPECT_LE(std::hypot(track.back().x - track[0].x, track.back().y - track[0].y),
              2.0 * Physics::kTrackDetailStep + 1e-9);
    const Physics::Pose hull = physics.hull();
    EXPECT_NEAR(hull.x, track[0].x, 0.2);
    EXPECT_NEAR(hull.y, track[0].y, 0.2);
    EXPECT_NEAR(hull.angle, track[0].beta, 0.05);
    EXPECT_NEAR(physics.time(), 1.0 / 50.0, 1e-12) << "reset takes one step without controls";
    EXPECT_GE(physics.tiles_visited(), 1) << "the car stands on the start";
    for (int w = 0; w < 4; ++w) EXPECT_GT(physics.wheel(w).tiles, 0) << "wheel " << w << " is on the road";
  }
}

TEST(CarRacing, GasAcceleratesForwardAndBrakeStopsTheWheelsAndTheCar) {
  Physics physics{CarRacingParams{}};
  LaneRng rng = rng_for(1);
  physics.reset(rng);
  for (int i = 0; i < 60; ++i) physics.step({0.0, 1.0, 0.0});
  const double fast = forward_speed(physics.hull());
  EXPECT_GT(fast, 10.0) << "a second of full gas";
  EXPECT_GT(physics.wheel(2).omega, 0.0);
  EXPECT_EQ(physics.wheel(0).gas, 0.0) << "rear-wheel drive";
  EXPECT_NEAR(physics.wheel(2).gas, 1.0, 1e-12);

  // Gas reaches the wheels at most 0.1 a step.
  Physics slow{CarRacingParams{}};
  LaneRng rng2 = rng_for(1);
  slow.reset(rng2);
  slow.step({0.0, 1.0, 0.0});
  EXPECT_NEAR(slow.wheel(3).gas, 0.1, 1e-12);
  slow.step({0.0, 1.0, 0.0});
  EXPECT_NEAR(slow.wheel(3).gas, 0.2, 1e-12);
  slow.step({0.0, 0.0, 0.0});
  EXPECT_EQ(slow.wheel(3).gas, 0.0) << "and goes off at once";

  // brake >= 0.9 stops each wheel's spin before the ground's friction turns it again: the wheels
  // then turn only as fast as the friction makes them.
  const double spinning = physics.wheel(2).omega;
  physics.step({0.0, 0.0, 1.0});
  for (int w = 0; w < 4; ++w) EXPECT_LT(std::abs(physics.wheel(w).omega), 0.2 * spinning) << "wheel " << w;
  for (int i = 0; i < 150; ++i) physics.step({0.0, 0.0, 1.0});
  EXPECT_LT(speed(physics.hull()), 0.5) << "from " << fast << " m/s";

  // A light brake slows the wheels without locking them.
  Physics light{CarRacingParams{}};
  LaneRng rng3 = rng_for(1);
  light.reset(rng3);
  for (int i = 0; i < 60; ++i) light.step({0.0, 1.0, 0.0});
  const double omega = light.wheel(2).omega;
  light.step({0.0, 0.0, 0.3});
  EXPECT_LT(light.wheel(2).omega, omega);
  EXPECT_GT(light.wheel(2).omega, 0.0);
}

TEST(CarRacing, SteeringRightTurnsTheCarClockwiseAsGymnasiumsActionDoes) {
  // Gymnasium's continuous action[0] = +1 ("right") calls Car.steer(-1): the front wheels' target is
  // -1 rad, held by the joints at -0.4, and the moving car turns clockwise (its angle falls).
  for (const double steer : {-1.0, +1.0}) {
    SCOPED_TRACE(steer > 0 ? "left" : "right");
    Physics physics{CarRacingParams{}};
    LaneRng rng = rng_for(2);
    physics.reset(rng);
    for (int i = 0; i < 40; ++i) physics.step({0.0, 0.5, 0.0});
    const double angle = physics.hull().angle;
    for (int i = 0; i < 25; ++i) physics.step({steer, 0.0, 0.0});
    EXPECT_NEAR(physics.wheel(0).joint_angle, 0.4 * steer, 0.02) << "the joint's limit";
    EXPECT_NEAR(physics.wheel(0).steer, steer, 0.0);
    EXPECT_NEAR(physics.wheel(2).joint_angle, 0.0, 0.02) << "rear wheels do not steer";
    if (steer < 0)
      EXPECT_LT(physics.hull().angle, angle - 0.1);
    else
      EXPECT_GT(physics.hull().angle, angle + 0.1);
  }
}

TEST(CarRacing, GrassGivesLessGripThanTheRoad) {
  // The same car, the same full gas from rest: on the road (the first tile, along the track) and on
  // grass (far from any tile, inside the playfield). Grass's friction limit is 0.6 of the road's.
  double road_speed = 0.0, grass_speed = 0.0;
  for (const bool grass : {false, true}) {
    Physics physics{CarRacingParams{}};
    LaneRng rng = rng_for(3);
    physics.reset(rng);
    if (grass) physics.place_car(0.0, 0.0, 0.0);  // the track circles the origin at 50 m or more
    physics.step({0.0, 0.0, 0.0});
    for (int w = 0; w < 4; ++w) EXPECT_EQ(physics.wheel(w).tiles > 0, !grass) << "wheel " << w;
    for (int i = 0; i < 25; ++i) physics.step({0.0, 1.0, 0.0});
    (grass ? grass_speed : road_speed) = speed(physics.hull());
  }
  EXPECT_LT(grass_speed, 0.8 * road_speed) << "road " << road_speed << " m/s";
  EXPECT_GT(grass_speed, 0.3 * road_speed);
}

TEST(CarRacing, EachTileIsRewardedOnceWhateverTouchesIt) {
  Physics physics{CarRacingParams{}};
  LaneRng rng = rng_for(4);
  physics.reset(rng);
  const double per_tile = 1000.0 / static_cast<double>(physics.tiles().size());
  const int at_start = physics.tiles_visited();
  double sum = 0.0;
  int steps = 0;
  // Standing still: each step is -0.1 after the first (which pays the start's tiles).
  const auto first = physics.step({0.0, 0.0, 0.0});
  ++steps;
  sum += first.reward;
  EXPECT_NEAR(first.reward, at_start * per_tile - 0.1, 1e-4);
  for (int i = 0; i < 20; ++i) {
    const auto r = physics.step({0.0, 0.0, 0.0});
    EXPECT_NEAR(r.reward, -0.1, 1e-6);
    sum += r.reward;
    ++steps;
  }
  // Driving over tiles with four wheels pays each tile once.
  for (int i = 0; i < 120; ++i) {
    const auto r = physics.step({0.0, 0.4, 0.0});
    EXPECT_FALSE(r.terminated);
    sum += r.reward;
    ++steps;
  }
  const int visited = physics.tiles_visited();
  EXPECT_GT(visited, at_start + 10);
  int flagged = 0;
  for (const auto& tile : physics.tiles()) flagged += tile.visited ? 1 : 0;
  EXPECT_EQ(flagged, visited);
  EXPECT_NEAR(sum, visited * per_tile - 0.1 * steps, 1e-3);
  EXPECT_NEAR(physics.total_reward(), visited * per_tile - 0.1 * steps, 1e-9);
  // A touched tile loses its stripe shade: it takes the plain road colour.
  for (const auto& tile : physics.tiles())
    if (tile.visited) {
      EXPECT_EQ(tile.color, physics.road_color());
    }
}

TEST(CarRacing, LeavingThePlayfieldEndsWithMinus100) {
  Physics physics{CarRacingParams{}};
  LaneRng rng = rng_for(5);
  physics.reset(rng);
  const double edge = Physics::kPlayfield;
  physics.place_car(-M_PI / 2, edge - 3.0, 0.0);  // facing +x, 3 m inside the boundary
  Physics::Outcome r{};
  int steps = 0;
  for (; steps < 200 && !r.terminated; ++steps) r = physics.step({0.0, 1.0, 0.0});
  ASSERT_TRUE(r.terminated);
  EXPECT_FALSE(r.lap_finished);
  EXPECT_EQ(r.reward, -100.0f);
  EXPECT_GT(physics.hull().x, edge);
}

TEST(CarRacing, TouchingTheStartPastTheLapShareFinishesTheLap) {
  // With lap_complete_percent 0 the start's own tiles complete the lap: the first step ends it. With
  // Gymnasium's 0.95 it does not.
  for (const float share : {0.0f, 0.95f}) {
    CarRacingParams params;
    params.lap_complete_percent = share;
    Physics physics{params};
    LaneRng rng = rng_for(6);
    physics.reset(rng);
    const auto r = physics.step({0.0, 0.0, 0.0});
    EXPECT_EQ(r.terminated, share == 0.0f);
    EXPECT_EQ(r.lap_finished, share == 0.0f);
  }
}

// A driver that follows the track: steer towards a point a few tiles ahead, hold a moderate speed.
// Completing a lap shows that the car, the tiles and the lap rule work together.
TEST(CarRacing, AFollowingDriverCompletesALap) {
  Physics physics{CarRacingParams{}};
  LaneRng rng = rng_for(7);
  physics.reset(rng);
  const auto& track = physics.track();
  const std::size_t n = track.size();
  std::size_t nearest = 0;
  Physics::Outcome r{};
  int steps = 0;
  double sum = 0.0;
  for (; steps < 5000 && !r.terminated; ++steps) {
    const Physics::Pose p = physics.hull();
    for (std::size_t k = 1; k < 10; ++k) {  // the nearest point moves forwards only
      const auto& q = track[(nearest + k) % n];
      const auto& c = track[nearest % n];
      if (std::hypot(q.x - p.x, q.y - p.y) < std::hypot(c.x - p.x, c.y - p.y)) nearest = (nearest + k) % n;
    }
    const auto& target = track[(nearest + 6) % n];
    const double heading = std::atan2(target.y - p.y, target.x - p.x) - M_PI / 2;  // as a body angle
    const double error = std::remainder(heading - p.angle, 2 * M_PI);
    const double v = forward_speed(p);
    CarControls c;
    c.steer = std::clamp(2.0 * error, -1.0, 1.0);  // positive error: turn anticlockwise (left)
    c.gas = v < 15.0 ? 0.3 : 0.0;
    c.brake = v > 20.0 ? 0.2 : 0.0;
    r = physics.step(c);
    sum += r.reward;
  }
  ASSERT_TRUE(r.terminated) << physics.tiles_visited() << " of " << n << " tiles in " << steps << " steps";
  EXPECT_TRUE(r.lap_finished);
  EXPECT_GT(physics.tiles_visited(), static_cast<int>(0.95 * static_cast<double>(n)));
  EXPECT_NEAR(sum, 1000.0 * physics.tiles_visited() / static_cast<double>(n) - 0.1 * steps, 1e-2);
}

// ---- the picture ------------------------------------------------------------------------------------

// A frame of tests/data/reference/car_racing (make_frames.py): what was drawn, and Gymnasium's picture.
struct ReferenceFrame {
  int frame = 0, track_case = 0;
  Physics::Road road;
  Physics::View view;
  std::vector<std::uint8_t> pixels;  // 96 x 96 x 3

  // The view with its road: the pointers are set here, since frames move.
  Physics::View scene() const {
    Physics::View v = view;
    v.tiles = &road.tiles;
    v.kerbs = &road.kerbs;
    return v;
  }
};

std::vector<ReferenceFrame> read_frames() {
  const std::vector<TrackCase> tracks = read_tracks();
  const std::string dir = testing::reference_dir() + "/car_racing/";
  std::ifstream in(dir + "frames.txt");
  if (!in) throw std::runtime_error("cannot read " + dir + "frames.txt");
  std::vector<ReferenceFrame> frames;
  std::string line, key;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    ReferenceFrame f;
    double x, y, angle, vx, vy, spin, joint;
    std::array<double, 9> colors{};
    row >> key >> f.frame >> key >> f.track_case >> key >> x >> y >> angle >> vx >> vy >> spin >> key >> f.view.t >>
        key >> f.view.reward >> key >> joint >> key;
    for (double& v : f.view.omega) row >> v;
    row >> key;
    for (double& v : f.view.phase) row >> v;
    row >> key;
    for (double& v : colors) row >> v;
    row >> key;
    const std::array<double, 3> road_color{colors[0], colors[1], colors[2]};
    f.road = Physics::road_of(Physics::generate_track(tracks.at(static_cast<std::size_t>(f.track_case)).draws), road_color);
    for (int i; row >> i;) f.road.tiles.at(static_cast<std::size_t>(i)).color = road_color;
    f.view.background = {colors[3], colors[4], colors[5]};
    f.view.grass = {colors[6], colors[7], colors[8]};
    f.view.hull = {x, y, angle, vx, vy, spin};
    f.view.steering = joint;
    // The wheels at car_dynamics' WHEELPOS in the hull's frame, the front ones turned by the joint.
    const double wheel_pos[4][2] = {{-55, +80}, {+55, +80}, {-55, -82}, {+55, -82}};
    for (int i = 0; i < 4; ++i) {
      const double px = wheel_pos[i][0] * Physics::kSize, py = wheel_pos[i][1] * Physics::kSize;
      f.view.wheels[static_cast<std::size_t>(i)] = {x + std::cos(angle) * px - std::sin(angle) * py,
                                                    y + std::sin(angle) * px + std::cos(angle) * py,
                                                    angle + (i < 2 ? joint : 0.0), 0.0, 0.0, 0.0};
    }
    std::ifstream ppm(dir + "frame_" + std::to_string(f.frame) + ".ppm", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(ppm)), std::istreambuf_iterator<char>());
    if (bytes.size() < 96 * 96 * 3) throw std::runtime_error("short frame file " + std::to_string(f.frame));
    f.pixels.assign(bytes.end() - 96 * 96 * 3, bytes.end());
    frames.push_back(std::move(f));
  }
  return frames;
}

// The share of pixels whose channels all lie within `tolerance` of the reference's.
double share_within(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b, int tolerance) {
  int equal = 0;
  for (std::size_t p = 0; p + 2 < a.size(); p += 3) {
    bool same = true;
    for (int c = 0; c < 3; ++c) same = same && std::abs(int(a[p + c]) - int(b[p + c])) <= tolerance;
    equal += same ? 1 : 0;
  }
  return equal / static_cast<double>(a.size() / 3);
}

TEST(CarRacing, TheObservationIsGymnasiumsPictureOfTheSameScene) {
  // Four scenes drawn by Gymnasium's own _render through pygame: the zoomed-out first frame, a car on
  // the road with every indicator lit, random colours, and a car on grass. At least 95% of the pixels
  // agree within 4 of 255 in every channel (pygame's edges are blends of a 1000 x 800 window, ours of
  // a supersampled 192 x 192 one; the score's font differs), and most agree exactly.
  const std::vector<ReferenceFrame> frames = read_frames();
  ASSERT_EQ(frames.size(), 4u);
  for (const ReferenceFrame& f : frames) {
    SCOPED_TRACE("frame " + std::to_string(f.frame));
    std::vector<std::uint8_t> ours(96 * 96 * 3);
    Physics::draw(f.scene(), ours.data(), 96, 96, CarRacingContinuous::kSupersample);
    EXPECT_GE(share_within(ours, f.pixels, 4), 0.95);
    EXPECT_GE(share_within(ours, f.pixels, 0), f.frame == 0 ? 0.7 : 0.85) << "exactly equal";
  }
  // And the comparison can fail: the same scene with the car turned, or another zoom, is not the picture.
  ReferenceFrame turned = frames[1];
  turned.view.hull.angle += 0.3;
  std::vector<std::uint8_t> ours(96 * 96 * 3);
  Physics::draw(turned.scene(), ours.data(), 96, 96, CarRacingContinuous::kSupersample);
  EXPECT_LT(share_within(ours, turned.pixels, 4), 0.8);
  turned = frames[1];
  turned.view.t = 0.5;
  Physics::draw(turned.scene(), ours.data(), 96, 96, CarRacingContinuous::kSupersample);
  EXPECT_LT(share_within(ours, turned.pixels, 4), 0.8);
}

TEST(CarRacing, PictureSizesOutsideTheWindowAreRefused) {
  Physics physics{CarRacingParams{}};
  LaneRng rng = rng_for(1);
  physics.reset(rng);
  std::vector<std::uint8_t> buffer(1001 * 801 * 3);
  EXPECT_THROW(Physics::draw(physics.view(), buffer.data(), 1001, 96, 1), std::invalid_argument);
  EXPECT_THROW(Physics::draw(physics.view(), buffer.data(), 96, 0, 1), std::invalid_argument);
  EXPECT_THROW(Physics::draw(physics.view(), buffer.data(), 96, 96, 0), std::invalid_argument);
  EXPECT_NO_THROW(Physics::draw(physics.view(), buffer.data(), 600, 400, 1)) << "rgb_array's size";
}

// ---- the batched env -----------------------------------------------------------------------------

std::uint64_t rollout_hash(std::int32_t threads, const EnvOptions& options, std::int32_t lanes = 4, int steps = 120) {
  VecEnvConfig config;
  config.num_envs = lanes;
  config.threads = threads;
  config.options = options;
  auto env = make_env("CarRacing-v3", config);
  RandomActions random(env->spec(), lanes, 7);
  env->reset(2026);
  HostBatch host;
  core::Fnv1a hash;
  for (int t = 0; t < steps; ++t) {
    env->step(random.next());
    env->copy_to_host(host);
    hash.add(host.obs_u8);
    hash.add(host.reward);
    hash.add(host.terminated);
    hash.add(host.truncated);
  }
  return hash.h;
}

TEST(CarRacing, SpecMatchesGymnasiumForBothActionSets) {
  const EnvSpec c = env_spec("CarRacing-v3");
  EXPECT_EQ(c.observation_space.to_string(), "Box(0, 255, (96, 96, 3), uint8)");
  EXPECT_EQ(c.action_space.to_string(), "Box([-1.0 0.0 0.0], 1.0, (3,), float32)");
  EXPECT_EQ(c.max_episode_steps, 1000);
  EXPECT_EQ(c.reward_threshold.value_or(0), 900.0);
  const EnvSpec d = env_spec("CarRacing-v3", {{"continuous", 0.0}});
  EXPECT_EQ(d.action_space.to_string(), "Discrete(5)");
  EXPECT_THROW(env_spec("CarRacing-v3", {{"continuous", 0.5}}), std::invalid_argument);
  EXPECT_THROW(env_spec("CarRacing-v3", {{"domain_randomize", 2.0}}), std::invalid_argument);
  EXPECT_THROW(env_spec("CarRacing-v3", {{"lap_complete_percent", 1.5}}), std::invalid_argument);
  EXPECT_THROW(env_spec("CarRacing-v3", {{"laps", 1.0}}), std::invalid_argument);
}

TEST(CarRacing, DiscreteActionsAreGymnasiumsControls) {
  const auto controls = [](std::int32_t a) { return CarRacingDiscreteActions::controls(&a); };
  EXPECT_EQ(controls(0).steer, 0.0);
  EXPECT_EQ(controls(1).steer, -0.6) << "1 steers right";
  EXPECT_EQ(controls(2).steer, 0.6) << "2 steers left";
  EXPECT_EQ(controls(3).gas, 0.2);
  EXPECT_EQ(controls(4).brake, 0.8);
  const float a[3] = {0.5f, 0.7f, 0.2f};
  const CarControls c = CarRacingContinuousActions::controls(a);
  EXPECT_EQ(c.steer, -0.5);
  EXPECT_FLOAT_EQ(static_cast<float>(c.gas), 0.7f);
  EXPECT_FLOAT_EQ(static_cast<float>(c.brake), 0.2f);
}

TEST(CarRacing, GoldenHashIsTheSameForOneAndTwoThreads) {
  // Golden values: a change to the physics, the drawing, the random streams or auto-reset shows here.
  const std::uint64_t continuous = rollout_hash(1, {});
  EXPECT_EQ(continuous, rollout_hash(2, {}));
  const EnvOptions discrete_random{{"continuous", 0.0}, {"domain_randomize", 1.0}};
  const std::uint64_t discrete = rollout_hash(1, discrete_random);
  EXPECT_EQ(discrete, rollout_hash(2, discrete_random));
  EXPECT_NE(continuous, discrete);
  EXPECT_EQ(continuous, 9402315762339077578u) << "golden CarRacing-v3";
  EXPECT_EQ(discrete, 13871614776118373092u) << "golden CarRacing-v3 discrete, domain_randomize";
}

// The most frequent colour of lane `lane`'s frame in `host` (the background or the grass, zoomed in).
std::array<int, 3> dominant_colour(const HostBatch& host, int lane) {
  std::map<std::array<int, 3>, int> count;
  const std::uint8_t* p = host.obs_u8.data() + static_cast<std::size_t>(lane) * 96 * 96 * 3;
  for (int i = 0; i < 96 * 96; ++i) ++count[{p[3 * i], p[3 * i + 1], p[3 * i + 2]}];
  return std::max_element(count.begin(), count.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

TEST(CarRacing, DomainRandomizeDrawsColoursEveryReset) {
  // A second in, the camera has zoomed in on the car standing at the start: most of the picture is
  // background or grass, which domain_randomize draws anew for every lane and episode.
  VecEnvConfig config;
  config.num_envs = 3;
  config.options = {{"domain_randomize", 1.0}, {"continuous", 0.0}};
  auto env = make_env("CarRacing-v3", config);
  env->reset(5);
  const std::int32_t noop[3] = {0, 0, 0};
  for (int t = 0; t < 50; ++t) env->step(ActionBatch::discrete(noop, 3));
  HostBatch host;
  env->copy_to_host(host);
  std::vector<std::array<int, 3>> colours;
  for (int lane = 0; lane < 3; ++lane) colours.push_back(dominant_colour(host, lane));
  EXPECT_NE(colours[0], colours[1]);
  EXPECT_NE(colours[1], colours[2]);
  // Without it, Gymnasium's background or grass (102, 204, 102) and (102, 230, 102), as pygame shrinks them.
  config.options = {{"continuous", 0.0}};
  auto plain = make_env("CarRacing-v3", config);
  plain->reset(5);
  for (int t = 0; t < 50; ++t) plain->step(ActionBatch::discrete(noop, 3));
  plain->copy_to_host(host);
  for (int lane = 0; lane < 3; ++lane) {
    const std::array<int, 3> c = dominant_colour(host, lane);
    EXPECT_TRUE(c == (std::array<int, 3>{100, 202, 100}) || c == (std::array<int, 3>{100, 228, 100}))
        << c[0] << " " << c[1] << " " << c[2];
  }
}

TEST(CarRacing, SnapshotContinuesExactly) {
  VecEnvConfig config;
  config.num_envs = 3;
  config.options = {{"continuous", 0.0}};
  auto a = make_env("CarRacing-v3", config);
  auto b = make_env("CarRacing-v3", config);
  RandomActions random(a->spec(), 3, 5);
  a->reset(77);
  for (int t = 0; t < 60; ++t) a->step(random.next());
  b->load_snapshot(a->save_snapshot());
  HostBatch ha, hb;
  for (int t = 0; t < 60; ++t) {
    const ActionBatch actions = random.next();
    a->step(actions);
    b->step(actions);
    a->copy_to_host(ha);
    b->copy_to_host(hb);
    ASSERT_EQ(ha.obs_u8, hb.obs_u8) << "step " << t;
    ASSERT_EQ(ha.reward, hb.reward);
    ASSERT_EQ(ha.terminated, hb.terminated);
  }
}

TEST(CarRacing, TimeLimitTruncatesAtAThousandSteps) {
  VecEnvConfig config;
  config.num_envs = 1;
  config.options = {{"continuous", 0.0}};
  auto env = make_env("CarRacing-v3", config);
  env->reset(3);
  const std::int32_t noop = 0;
  const ActionBatch batch = ActionBatch::discrete(&noop, 1);
  HostBatch host;
  for (int t = 1; t <= 1000; ++t) {
    env->step(batch);
    env->copy_to_host(host);
    ASSERT_EQ(host.truncated[0], t == 1000 ? 1 : 0) << "step " << t;
    ASSERT_EQ(host.terminated[0], 0);
  }
}

}  // namespace
}  // namespace apiary::envs
