#include "envs/box2d/car_racing.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>

#include "draw/canvas.h"
#include "envs/scene.h"
#include "envs/box2d/box2d_envs.h"
#include "envs/box2d/box2d_util.h"
#include "envs/cpu_vec_env.h"

namespace apiary::envs {

namespace {

constexpr double kPi = 3.14159265358979323846;
using Physics = CarRacingPhysics;

// car_dynamics.py's shapes, in its units (times SIZE gives metres).
constexpr double kHullPolys[4][8][2] = {
    {{-60, +130}, {+60, +130}, {+60, +110}, {-60, +110}},
    {{-15, +120}, {+15, +120}, {+20, +20}, {-20, 20}},
    {{+25, +20}, {+50, -10}, {+50, -40}, {+20, -90}, {-20, -90}, {-50, -40}, {-50, -10}, {-25, +20}},
    {{-50, -120}, {+50, -120}, {+50, -90}, {-50, -90}},
};
constexpr int kHullPolyCounts[4] = {4, 4, 8, 4};
constexpr double kWheelPos[4][2] = {{-55, +80}, {+55, +80}, {-55, -82}, {+55, -82}};
constexpr double kWheelPoly[4][2] = {{-Physics::kWheelW, +Physics::kWheelR},
                                     {+Physics::kWheelW, +Physics::kWheelR},
                                     {+Physics::kWheelW, -Physics::kWheelR},
                                     {-Physics::kWheelW, -Physics::kWheelR}};
constexpr double kWheelRadius = Physics::kWheelR * Physics::kSize;
constexpr double kForceGain = 205000.0 * Physics::kSize * Physics::kSize;  // "cuts oscillations in few steps"
constexpr double kBrakeForce = 15.0;                                       // rad/s a step at full brake
constexpr double kMaxMotorTorque = 180.0 * 900.0 * Physics::kSize * Physics::kSize;

// Bodies' user data: 0 for the hull, 1..4 for the wheels, kTileTag + i for tile i.
constexpr std::uintptr_t kTileTag = 16;

double sign(double v) { return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0); }

// Python's a[i] for any i in (-n, n): negative indices count from the end.
template <class T>
T& wrap(std::vector<T>& a, std::ptrdiff_t i) {
  const auto n = static_cast<std::ptrdiff_t>(a.size());
  return a[static_cast<std::size_t>(((i % n) + n) % n)];
}

b2Vec2 vec(double x, double y) { return b2Vec2(static_cast<float>(x), static_cast<float>(y)); }

}  // namespace

struct CarRacingPhysics::Impl {
  using Listener = box2d::ContactListener<std::function<void(b2Body*, b2Body*, bool)>>;

  explicit Impl(const CarRacingParams& p)
      : params(p), listener([this](b2Body* a, b2Body* b, bool touching) { on_contact(a, b, touching); }) {}
  ~Impl() { destroy(); }

  void destroy() {
    if (world) world->SetContactListener(nullptr);
    world.reset();
    hull = nullptr;
    for (auto& w : wheels) w = WheelState{};
  }

  // car_racing.py's FrictionDetector: anything touching a tile restores its plain road colour; a wheel
  // touching it counts it among the wheel's tiles and, the first time, rewards it.
  void on_contact(b2Body* a, b2Body* b, bool touching) {
    std::uintptr_t ua = a->GetUserData().pointer, ub = b->GetUserData().pointer;
    if (ua < kTileTag && ub < kTileTag) return;
    if (ua < kTileTag) std::swap(ua, ub);  // ua: the tile
    Tile& tile = tiles[ua - kTileTag];
    tile.color = road_color;
    if (ub < 1 || ub > 4) return;  // the hull has no tiles of its own
    WheelState& wheel = wheels[ub - 1];
    if (!touching) {
      --wheel.tiles;
      return;
    }
    ++wheel.tiles;
    if (tile.visited) return;
    tile.visited = true;
    const double n = static_cast<double>(tiles.size());
    reward += 1000.0 / n;
    ++visited;
    if (ua - kTileTag == 0 && static_cast<double>(visited) / n > params.lap_complete_percent) new_lap = true;
  }

  void build_track(const std::vector<TrackPoint>& points);
  void build_car(double angle, double x, double y);
  void drive(double dt);

  struct WheelState {
    b2Body* body = nullptr;
    b2RevoluteJoint* joint = nullptr;
    double gas = 0.0, brake = 0.0, steer = 0.0, phase = 0.0, omega = 0.0;
    int tiles = 0;
  };

  CarRacingParams params;
  Listener listener;
  std::unique_ptr<b2World> world;
  b2Body* hull = nullptr;
  std::array<WheelState, 4> wheels;
  std::vector<TrackPoint> track;
  std::vector<Tile> tiles;
  std::vector<Kerb> kerbs;
  std::array<double, 3> road_color{102, 102, 102};
  std::array<double, 3> bg_color{102, 204, 102};
  std::array<double, 3> grass_color{102, 230, 102};
  double reward = 0.0, prev_reward = 0.0, t = 0.0;
  int visited = 0;
  bool new_lap = false;
};

std::vector<CarRacingPhysics::TrackPoint> CarRacingPhysics::generate_track(
    const std::array<double, 2 * kCheckpoints>& draws) {
  struct Checkpoint {
    double alpha, x, y;
  };
  std::vector<Checkpoint> checkpoints;
  const double start_alpha = 2.0 * kPi * (-0.5) / kCheckpoints;
  for (int c = 0; c < kCheckpoints; ++c) {
    double alpha = 2.0 * kPi * c / kCheckpoints + draws[2 * c];
    double rad = draws[2 * c + 1];
    if (c == 0) {
      alpha = 0.0;
      rad = 1.5 * kTrackRad;
    }
    if (c == kCheckpoints - 1) {
      alpha = 2.0 * kPi * c / kCheckpoints;
      rad = 1.5 * kTrackRad;
    }
    checkpoints.push_back({alpha, rad * std::cos(alpha), rad * std::sin(alpha)});
  }

  // Drive from checkpoint to checkpoint, turning at most TRACK_TURN_RATE a step, for up to five laps.
  double x = 1.5 * kTrackRad, y = 0.0, beta = 0.0;
  int dest_i = 0, laps = 0, no_freeze = 2500;
  bool visited_other_side = false;
  std::vector<TrackPoint> points;
  for (;;) {
    double alpha = std::atan2(y, x);
    if (visited_other_side && alpha > 0.0) {
      ++laps;
      visited_other_side = false;
    }
    if (alpha < 0.0) {
      visited_other_side = true;
      alpha += 2.0 * kPi;
    }
    double dest_x = 0.0, dest_y = 0.0;
    for (;;) {  // the next checkpoint ahead; past the last one, search again a turn lower
      bool failed = true;
      for (;;) {
        const Checkpoint& dest = checkpoints[static_cast<std::size_t>(dest_i % kCheckpoints)];
        dest_x = dest.x;
        dest_y = dest.y;
        if (alpha <= dest.alpha) {
          failed = false;
          break;
        }
        ++dest_i;
        if (dest_i % kCheckpoints == 0) break;
      }
      if (!failed) break;
      alpha -= 2.0 * kPi;
    }
    const double r1x = std::cos(beta), r1y = std::sin(beta);
    const double p1x = -r1y, p1y = r1x;
    double proj = r1x * (dest_x - x) + r1y * (dest_y - y);  // the destination projected on the radius
    while (beta - alpha > 1.5 * kPi) beta -= 2.0 * kPi;
    while (beta - alpha < -1.5 * kPi) beta += 2.0 * kPi;
    const double prev_beta = beta;
    proj *= kScale;
    if (proj > 0.3) beta -= std::min(kTrackTurnRate, std::abs(0.001 * proj));
    if (proj < -0.3) beta += std::min(kTrackTurnRate, std::abs(0.001 * proj));
    x += p1x * kTrackDetailStep;
    y += p1y * kTrackDetailStep;
    points.push_back({alpha, prev_beta * 0.5 + beta * 0.5, x, y});
    if (laps > 4) break;
    if (--no_freeze == 0) break;
  }

  // One closed lap: between the last two passes through the start angle (the first lap is ignored).
  std::ptrdiff_t i1 = -1, i2 = -1;
  for (auto i = static_cast<std::ptrdiff_t>(points.size());;) {
    --i;
    if (i <= 0) return {};
    const bool through_start = points[i].alpha > start_alpha && points[i - 1].alpha <= start_alpha;
    if (through_start && i2 == -1) {
      i2 = i;
    } else if (through_start && i1 == -1) {
      i1 = i;
      break;
    }
  }
  if (i2 - 1 <= i1) return {};
  std::vector<TrackPoint> lap(points.begin() + i1, points.begin() + (i2 - 1));
  // The perpendicular jump that joins the head to the tail must be under a step.
  const double px = std::cos(lap.front().beta), py = std::sin(lap.front().beta);
  const double dx = px * (lap.front().x - lap.back().x), dy = py * (lap.front().y - lap.back().y);
  if (std::sqrt(dx * dx + dy * dy) > kTrackDetailStep) return {};
  return lap;
}

CarRacingPhysics::Road CarRacingPhysics::road_of(const std::vector<TrackPoint>& track,
                                                const std::array<double, 3>& road_color) {
  std::vector<TrackPoint> pts = track;
  const auto n = static_cast<std::ptrdiff_t>(pts.size());
  Road road;
  if (n == 0) return road;
  // Red-white kerbs where the track turns hard one way for BORDER_MIN_COUNT tiles, and before them.
  std::vector<char> border(static_cast<std::size_t>(n), 0);
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    bool good = true;
    double oneside = 0.0;
    for (int neg = 0; neg < kBorderMinCount; ++neg) {
      const double beta1 = wrap(pts, i - neg).beta, beta2 = wrap(pts, i - neg - 1).beta;
      good = good && std::abs(beta1 - beta2) > kTrackTurnRate * 0.2;
      oneside += sign(beta1 - beta2);
    }
    good = good && std::abs(oneside) == kBorderMinCount;
    border[static_cast<std::size_t>(i)] = good ? 1 : 0;
  }
  for (std::ptrdiff_t i = 0; i < n; ++i)
    for (int neg = 0; neg < kBorderMinCount; ++neg) wrap(border, i - neg) |= border[static_cast<std::size_t>(i)];

  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const TrackPoint& a = pts[static_cast<std::size_t>(i)];
    const TrackPoint& b = wrap(pts, i - 1);
    const double c1 = std::cos(a.beta), s1 = std::sin(a.beta), c2 = std::cos(b.beta), s2 = std::sin(b.beta);
    Tile tile;
    tile.corners = {a.x - kTrackWidth * c1, a.y - kTrackWidth * s1, a.x + kTrackWidth * c1, a.y + kTrackWidth * s1,
                    b.x + kTrackWidth * c2, b.y + kTrackWidth * s2, b.x - kTrackWidth * c2, b.y - kTrackWidth * s2};
    const double shade = 0.01 * static_cast<double>(i % 3) * 255.0;
    for (int k = 0; k < 3; ++k) tile.color[k] = road_color[k] + shade;
    road.tiles.push_back(tile);
    if (border[static_cast<std::size_t>(i)]) {
      const double side = sign(b.beta - a.beta);
      const double w0 = side * kTrackWidth, w1 = side * (kTrackWidth + kBorder);
      Kerb kerb;
      kerb.corners = {a.x + w0 * c1, a.y + w0 * s1, a.x + w1 * c1, a.y + w1 * s1,
                      b.x + w1 * c2, b.y + w1 * s2, b.x + w0 * c2, b.y + w0 * s2};
      kerb.red = i % 2 != 0;
      kerb.tile = static_cast<int>(i);
      road.kerbs.push_back(kerb);
    }
  }
  return road;
}

// The road's tiles as static sensor bodies, which report the wheels on them (on_contact).
void CarRacingPhysics::Impl::build_track(const std::vector<TrackPoint>& points) {
  track = points;
  Road road = road_of(track, road_color);
  tiles = std::move(road.tiles);
  kerbs = std::move(road.kerbs);
  b2PolygonShape shape;
  b2FixtureDef fixture;
  fixture.shape = &shape;
  fixture.isSensor = true;
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    b2Vec2 v[4];
    for (int k = 0; k < 4; ++k) v[k] = vec(tiles[i].corners[2 * k], tiles[i].corners[2 * k + 1]);
    shape.Set(v, 4);
    b2BodyDef def;
    def.userData.pointer = kTileTag + i;
    world->CreateBody(&def)->CreateFixture(&fixture);
  }
}

void CarRacingPhysics::Impl::build_car(double angle, double x, double y) {
  b2BodyDef hull_def;
  hull_def.type = b2_dynamicBody;
  hull_def.position = vec(x, y);
  hull_def.angle = static_cast<float>(angle);
  hull = world->CreateBody(&hull_def);
  for (int p = 0; p < 4; ++p) {
    b2Vec2 v[8];
    for (int k = 0; k < kHullPolyCounts[p]; ++k) v[k] = vec(kHullPolys[p][k][0] * kSize, kHullPolys[p][k][1] * kSize);
    b2PolygonShape shape;
    shape.Set(v, kHullPolyCounts[p]);
    b2FixtureDef fixture;
    fixture.shape = &shape;
    fixture.density = 1.0f;
    hull->CreateFixture(&fixture);
  }
  for (int i = 0; i < 4; ++i) {
    // Placed beside the hull's origin unrotated, as car_dynamics does; the joints pull them into place.
    b2BodyDef def;
    def.type = b2_dynamicBody;
    def.position = vec(x + kWheelPos[i][0] * kSize, y + kWheelPos[i][1] * kSize);
    def.angle = static_cast<float>(angle);
    def.userData.pointer = static_cast<std::uintptr_t>(i + 1);
    b2Body* body = world->CreateBody(&def);
    b2Vec2 v[4];
    for (int k = 0; k < 4; ++k) v[k] = vec(kWheelPoly[k][0] * kSize, kWheelPoly[k][1] * kSize);
    b2PolygonShape shape;
    shape.Set(v, 4);
    b2FixtureDef fixture;
    fixture.shape = &shape;
    fixture.density = 0.1f;
    fixture.restitution = 0.0f;
    fixture.filter.categoryBits = 0x0020;
    fixture.filter.maskBits = 0x0001;
    body->CreateFixture(&fixture);
    b2RevoluteJointDef rjd;
    rjd.bodyA = hull;
    rjd.bodyB = body;
    rjd.localAnchorA = vec(kWheelPos[i][0] * kSize, kWheelPos[i][1] * kSize);
    rjd.localAnchorB.SetZero();
    rjd.enableMotor = true;
    rjd.enableLimit = true;
    rjd.maxMotorTorque = static_cast<float>(kMaxMotorTorque);
    rjd.motorSpeed = 0.0f;
    rjd.lowerAngle = -0.4f;
    rjd.upperAngle = +0.4f;
    wheels[i] = WheelState{};
    wheels[i].body = body;
    wheels[i].joint = static_cast<b2RevoluteJoint*>(world->CreateJoint(&rjd));
  }
}

// car_dynamics.py's Car.step: steering motors, then each wheel's spin from the engine and the brake, and
// the friction force between the wheel and the ground, limited by grass or road.
void CarRacingPhysics::Impl::drive(double dt) {
  for (WheelState& w : wheels) {
    const double joint_angle = w.joint->GetJointAngle();
    w.joint->SetMotorSpeed(static_cast<float>(sign(w.steer - joint_angle) * std::min(50.0 * std::abs(w.steer - joint_angle), 3.0)));

    const double friction_limit = w.tiles > 0 ? kFrictionLimit * 1.0 : kFrictionLimit * 0.6;
    const b2Vec2 forw = w.body->GetWorldVector(b2Vec2(0.0f, 1.0f));
    const b2Vec2 side = w.body->GetWorldVector(b2Vec2(1.0f, 0.0f));
    const b2Vec2 v = w.body->GetLinearVelocity();
    const double vf = static_cast<double>(forw.x) * v.x + static_cast<double>(forw.y) * v.y;
    const double vs = static_cast<double>(side.x) * v.x + static_cast<double>(side.y) * v.y;

    // Power = I omega domega/dt, so the engine adds dt P gas / I / omega (plus 5, not to divide by zero).
    w.omega += dt * kEnginePower * w.gas / kWheelMomentOfInertia / (std::abs(w.omega) + 5.0);
    if (w.brake >= 0.9) {
      w.omega = 0.0;
    } else if (w.brake > 0.0) {
      const double dir = -sign(w.omega);
      double val = kBrakeForce * w.brake;
      if (std::abs(val) > std::abs(w.omega)) val = std::abs(w.omega);  // slow: the same as stopping
      w.omega += dir * val;
    }
    w.phase += w.omega * dt;

    double f_force = (-vf + w.omega * kWheelRadius) * kForceGain;  // along the wheel: spin against ground
    double p_force = -vs * kForceGain;                              // across it
    const double force = std::sqrt(f_force * f_force + p_force * p_force);
    if (std::abs(force) > friction_limit) {
      f_force = f_force / force * friction_limit;
      p_force = p_force / force * friction_limit;
    }
    w.omega -= dt * f_force * kWheelRadius / kWheelMomentOfInertia;
    w.body->ApplyForceToCenter(vec(p_force * side.x + f_force * forw.x, p_force * side.y + f_force * forw.y), true);
  }
}

CarRacingPhysics::CarRacingPhysics(const CarRacingParams& params) : impl_(std::make_unique<Impl>(params)) {}
CarRacingPhysics::~CarRacingPhysics() = default;

void CarRacingPhysics::reset(LaneRng& rng) {
  Impl& m = *impl_;
  m.destroy();
  m.world = std::make_unique<b2World>(b2Vec2(0.0f, 0.0f));
  m.world->SetContactListener(&m.listener);
  m.reward = m.prev_reward = m.t = 0.0;
  m.visited = 0;
  m.new_lap = false;
  if (m.params.domain_randomize != 0.0f) {
    const Uniform4 road = rng.uniform4(0.0f, 210.0f), bg = rng.uniform4(0.0f, 210.0f);
    for (int k = 0; k < 3; ++k) {
      m.road_color[k] = road.v[k];
      m.bg_color[k] = bg.v[k];
    }
    m.grass_color = m.bg_color;
    m.grass_color[rng.uniform_int(3u)] += 20.0;
  }
  for (;;) {
    std::array<double, 2 * kCheckpoints> draws{};
    for (int block = 0; block < kCheckpoints / 2; ++block) {
      const Uniform4 u = rng.uniform4(0.0f, 1.0f);
      for (int j = 0; j < 2; ++j) {
        draws[4 * block + 2 * j] = u.v[2 * j] * (2.0 * kPi / kCheckpoints);
        draws[4 * block + 2 * j + 1] = kTrackRad / 3.0 + u.v[2 * j + 1] * (kTrackRad - kTrackRad / 3.0);
      }
    }
    std::vector<TrackPoint> lap = generate_track(draws);
    if (!lap.empty()) {
      m.build_track(lap);
      break;
    }
  }
  m.build_car(m.track[0].beta, m.track[0].x, m.track[0].y);
  // Gymnasium's reset() returns step(None)'s observation: one step with no controls and no reward.
  m.drive(1.0 / kFps);
  m.world->Step(static_cast<float>(1.0 / kFps), 6 * 30, 2 * 30);
  m.t += 1.0 / kFps;
}

void CarRacingPhysics::place_car(double angle, double x, double y) {
  Impl& m = *impl_;
  if (m.world == nullptr) throw std::logic_error("CarRacing: place_car() needs a track: call reset() first");
  for (auto& w : m.wheels) {
    if (w.body != nullptr) m.world->DestroyBody(w.body);  // its joint goes with it
    w = Impl::WheelState{};
  }
  if (m.hull != nullptr) m.world->DestroyBody(m.hull);
  m.build_car(angle, x, y);
}

CarRacingPhysics::Outcome CarRacingPhysics::step(const CarControls& controls) {
  Impl& m = *impl_;
  m.wheels[0].steer = m.wheels[1].steer = controls.steer;
  const double gas = std::clamp(controls.gas, 0.0, 1.0);
  for (int i = 2; i < 4; ++i) m.wheels[i].gas += std::min(gas - m.wheels[i].gas, 0.1);  // up gradually, off at once
  for (auto& w : m.wheels) w.brake = controls.brake;
  m.drive(1.0 / kFps);
  m.world->Step(static_cast<float>(1.0 / kFps), 6 * 30, 2 * 30);
  m.t += 1.0 / kFps;

  m.reward -= 0.1;
  Outcome out{static_cast<float>(m.reward - m.prev_reward), false, false};
  m.prev_reward = m.reward;
  if (m.visited == static_cast<int>(m.tiles.size()) || m.new_lap) {
    out.terminated = true;
    out.lap_finished = true;
  }
  const b2Vec2 p = m.hull->GetPosition();
  if (std::abs(p.x) > kPlayfield || std::abs(p.y) > kPlayfield) {
    out.terminated = true;
    out.lap_finished = false;
    out.reward = -100.0f;
  }
  return out;
}

const std::vector<CarRacingPhysics::TrackPoint>& CarRacingPhysics::track() const { return impl_->track; }
const std::vector<CarRacingPhysics::Tile>& CarRacingPhysics::tiles() const { return impl_->tiles; }
const std::vector<CarRacingPhysics::Kerb>& CarRacingPhysics::kerbs() const { return impl_->kerbs; }
int CarRacingPhysics::tiles_visited() const { return impl_->visited; }
double CarRacingPhysics::time() const { return impl_->t; }
double CarRacingPhysics::total_reward() const { return impl_->reward; }
const std::array<double, 3>& CarRacingPhysics::road_color() const { return impl_->road_color; }
const std::array<double, 3>& CarRacingPhysics::background_color() const { return impl_->bg_color; }
const std::array<double, 3>& CarRacingPhysics::grass_color() const { return impl_->grass_color; }

namespace {
CarRacingPhysics::Pose pose_of(const b2Body* body) {
  const b2Vec2 p = body->GetPosition(), v = body->GetLinearVelocity();
  return {p.x, p.y, body->GetAngle(), v.x, v.y, body->GetAngularVelocity()};
}
}  // namespace

CarRacingPhysics::Pose CarRacingPhysics::hull() const {
  if (impl_->hull == nullptr) throw std::logic_error("CarRacing: the car exists only after reset()");
  return pose_of(impl_->hull);
}

CarRacingPhysics::Wheel CarRacingPhysics::wheel(int i) const {
  if (i < 0 || i > 3) throw std::out_of_range("CarRacing: wheel " + std::to_string(i) + " of 4");
  const Impl::WheelState& w = impl_->wheels[static_cast<std::size_t>(i)];
  if (w.body == nullptr) throw std::logic_error("CarRacing: the car exists only after reset()");
  return {pose_of(w.body), w.omega, w.phase, w.joint->GetJointAngle(), w.gas, w.brake, w.steer, w.tiles};
}

}  // namespace apiary::envs

// ---- the picture ----------------------------------------------------------------------------------

namespace apiary::envs {

namespace {

constexpr double kWindowW = 1000.0, kWindowH = 800.0;  // car_racing.py's WINDOW_W, WINDOW_H

// World to the window's coordinates with y up (what the picture shows, 1000 x 800): _render's zoom and
// turn about the car (pygame's rotate_rad by -hull angle), the car at (W/2, H/4) of its surface, which
// pygame then flips upside down, so surface y is the picture's y up.
struct Camera {
  double zoom, c, s, hx, hy;
  std::pair<float, float> apply(double x, double y) const {
    const double dx = x - hx, dy = y - hy;
    return {static_cast<float>(kWindowW / 2 + zoom * (c * dx - s * dy)),
            static_cast<float>(kWindowH / 4 + zoom * (s * dx + c * dy))};
  }
};

// pygame's smoothscale shrinks the window with fixed-point area averages that truncate twice per axis:
// a large region of colour 102 comes out as 100. For each output column (and row) and each colour, what
// a region of that colour becomes there; applied to the supersampled mean, interior pixels come out as
// Gymnasium's exactly and edges close to them.
struct ShrinkLut {
  std::vector<std::uint8_t> columns, rows;  // [out x][value], [out y][value]
};

std::vector<std::uint8_t> shrink_axis(int source, int dest) {
  std::vector<std::uint8_t> lut(static_cast<std::size_t>(dest) * 256, 0);
  const std::int64_t space = 0x10000LL * source / dest;
  const std::int64_t recip = 0x100000000LL / space;
  for (int value = 0; value < 256; ++value) {
    std::int64_t counter = space, acc = 0;
    int out = 0;
    for (int i = 0; i < source && out < dest; ++i) {
      if (counter > 0x10000) {  // the source pixel lies inside the output pixel
        acc += value;
        counter -= 0x10000;
      } else {  // it straddles the boundary: its two parts go to this output pixel and the next
        const std::int64_t frac = 0x10000 - counter;
        lut[static_cast<std::size_t>(out++) * 256 + value] =
            static_cast<std::uint8_t>(((acc + ((value * counter) >> 16)) * recip) >> 16);
        acc = (value * frac) >> 16;
        counter = space - frac;
      }
    }
  }
  return lut;
}

const ShrinkLut& shrink_lut(int width, int height) {
  static std::mutex mutex;
  static std::map<std::pair<int, int>, ShrinkLut> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  ShrinkLut& lut = cache[{width, height}];
  if (lut.columns.empty()) {
    lut.columns = shrink_axis(static_cast<int>(kWindowW), width);
    lut.rows = shrink_axis(static_cast<int>(kWindowH), height);
  }
  return lut;
}

draw::Color color_of(const std::array<double, 3>& c) {  // Python's int(): truncation
  return {static_cast<std::uint8_t>(std::clamp(c[0], 0.0, 255.0)), static_cast<std::uint8_t>(std::clamp(c[1], 0.0, 255.0)),
          static_cast<std::uint8_t>(std::clamp(c[2], 0.0, 255.0)), 255};
}

// Adds a polygon given in world coordinates unless it lies wholly outside the window.
void add_world(Scene& scene, const Camera& camera, const char* tag, const double* xy, int corners, draw::Color color,
               int index = 0) {
  std::vector<float> points;
  points.reserve(static_cast<std::size_t>(2 * corners));
  float x0 = 1e30f, x1 = -1e30f, y0 = 1e30f, y1 = -1e30f;
  for (int k = 0; k < corners; ++k) {
    const auto [x, y] = camera.apply(xy[2 * k], xy[2 * k + 1]);
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
    points.push_back(x);
    points.push_back(y);
  }
  if (x1 < 0.0f || y1 < 0.0f || x0 > kWindowW || y0 > kWindowH) return;
  scene.polygon(tag, std::move(points), color, std::nullopt, index);
}

// A body's polygon (corners in its own frame, in car_dynamics' units) at `pose`.
void add_body(Scene& scene, const Camera& camera, const char* tag, int index, const CarRacingPhysics::Pose& pose,
              const double (*corners)[2], int count, draw::Color color) {
  const double c = std::cos(pose.angle), s = std::sin(pose.angle);
  double xy[16];
  for (int k = 0; k < count; ++k) {
    const double x = corners[k][0] * Physics::kSize, y = corners[k][1] * Physics::kSize;
    xy[2 * k] = pose.x + c * x - s * y;
    xy[2 * k + 1] = pose.y + s * x + c * y;
  }
  add_world(scene, camera, tag, xy, count, color, index);
}

// A rectangle in the flipped window's pixels (y down, as _render_indicators draws after the flip).
void add_window_rect(Scene& scene, const char* tag, int index, double x0, double y0, double x1, double y1,
                     draw::Color color) {
  const auto up = [](double y) { return static_cast<float>(kWindowH - y); };
  scene.polygon(tag,
                {static_cast<float>(x0), up(y0), static_cast<float>(x1), up(y0), static_cast<float>(x1), up(y1),
                 static_cast<float>(x0), up(y1)},
                color, std::nullopt, index);
}

}  // namespace

CarRacingPhysics::View CarRacingPhysics::view() const {
  const Impl& m = *impl_;
  View v;
  v.tiles = &m.tiles;
  v.kerbs = &m.kerbs;
  v.background = m.bg_color;
  v.grass = m.grass_color;
  v.t = m.t;
  v.reward = m.reward;
  if (m.hull == nullptr) return v;
  v.hull = pose_of(m.hull);
  for (int i = 0; i < 4; ++i) {
    v.wheels[i] = pose_of(m.wheels[i].body);
    v.omega[i] = m.wheels[i].omega;
    v.phase[i] = m.wheels[i].phase;
  }
  v.steering = m.wheels[0].joint->GetJointAngle();
  return v;
}

void CarRacingPhysics::describe(const View& view, Scene& scene) {
  scene.view[0] = 0.0f;
  scene.view[1] = 0.0f;
  scene.view[2] = static_cast<float>(kWindowW);
  scene.view[3] = static_cast<float>(kWindowH);
  scene.background = draw::colors::kBlack;
  const double zoom = 0.1 * kScale * std::max(1.0 - view.t, 0.0) + kZoom * kScale * std::min(view.t, 1.0);
  const Camera camera{zoom, std::cos(-view.hull.angle), std::sin(-view.hull.angle), view.hull.x, view.hull.y};

  // The field, the grass patches (every other square of GRASS_DIM), the road and its kerbs.
  const double f = kPlayfield;
  const double field[8] = {f, f, f, -f, -f, -f, -f, f};
  add_world(scene, camera, "field", field, 4, color_of(view.background));
  const draw::Color grass = color_of(view.grass);
  for (int x = -20; x < 20; x += 2)
    for (int y = -20; y < 20; y += 2) {
      const double gx = kGrassDim * x, gy = kGrassDim * y;
      const double patch[8] = {gx + kGrassDim, gy, gx, gy, gx, gy + kGrassDim, gx + kGrassDim, gy + kGrassDim};
      add_world(scene, camera, "grass", patch, 4, grass);
    }
  if (view.tiles != nullptr) {
    std::size_t next_kerb = 0;
    for (std::size_t i = 0; i < view.tiles->size(); ++i) {
      const Tile& tile = (*view.tiles)[i];
      add_world(scene, camera, "tile", tile.corners.data(), 4, color_of(tile.color), static_cast<int>(i));
      for (; view.kerbs != nullptr && next_kerb < view.kerbs->size() &&
             (*view.kerbs)[next_kerb].tile == static_cast<int>(i);
           ++next_kerb) {
        const Kerb& kerb = (*view.kerbs)[next_kerb];
        add_world(scene, camera, "kerb", kerb.corners.data(), 4,
                  kerb.red ? draw::Color{255, 0, 0, 255} : draw::colors::kWhite, static_cast<int>(i));
      }
    }
  }

  // The car (car_dynamics' Car.draw): wheels, each with its turning stripe, then the hull over them.
  for (int i = 0; i < 4; ++i) {
    add_body(scene, camera, "wheel", i, view.wheels[i], kWheelPoly, 4, draw::colors::kBlack);
    const double a1 = view.phase[i], a2 = view.phase[i] + 1.2;
    const double s1 = std::sin(a1), s2 = std::sin(a2);
    double c1 = std::cos(a1), c2 = std::cos(a2);
    if (s1 > 0 && s2 > 0) continue;
    if (s1 > 0) c1 = sign(c1);
    if (s2 > 0) c2 = sign(c2);
    const double stripe[4][2] = {{-kWheelW, kWheelR * c1}, {+kWheelW, kWheelR * c1}, {+kWheelW, kWheelR * c2},
                                 {-kWheelW, kWheelR * c2}};
    add_body(scene, camera, "wheel_stripe", i, view.wheels[i], stripe, 4, draw::Color{77, 77, 77, 255});
  }
  for (int p = 0; p < 4; ++p)
    add_body(scene, camera, "hull", p, view.hull, kHullPolys[p], kHullPolyCounts[p], draw::Color{204, 0, 0, 255});

  // The indicator bar (_render_indicators), in the window's pixels: true speed, the four wheels' spin
  // (ABS sensors), the steering and the gyroscope, each drawn where its value is not ~0.
  const double s = kWindowW / 40.0, h = kWindowH / 40.0, H = kWindowH;
  add_window_rect(scene, "indicators", 0, 0.0, H - 5 * h, kWindowW, H, draw::colors::kBlack);
  const auto vertical = [&](int index, double place, double value, double shown, draw::Color color) {
    if (std::abs(value) > 1e-4) add_window_rect(scene, "indicator", index, place * s, H - (h + h * shown), (place + 1) * s, H - h, color);
  };
  const auto horizontal = [&](int index, double place, double value, double shown, draw::Color color) {
    if (std::abs(value) > 1e-4) add_window_rect(scene, "indicator", index, place * s, H - 4 * h, (place + shown) * s, H - 2 * h, color);
  };
  const double speed = std::sqrt(view.hull.vx * view.hull.vx + view.hull.vy * view.hull.vy);
  vertical(0, 5, speed, 0.02 * speed, draw::colors::kWhite);
  for (int i = 0; i < 4; ++i)
    vertical(1 + i, 7 + i, view.omega[i], 0.01 * view.omega[i],
             i < 2 ? draw::Color{0, 0, 255, 255} : draw::Color{51, 0, 255, 255});
  horizontal(5, 20, view.steering, -10.0 * view.steering, draw::Color{0, 255, 0, 255});
  horizontal(6, 30, view.hull.angular_velocity, -0.8 * view.hull.angular_velocity, draw::Color{255, 0, 0, 255});
  scene.values["speed"] = static_cast<float>(speed);
  scene.values["reward"] = static_cast<float>(view.reward);
}

void CarRacingPhysics::draw(const View& view, std::uint8_t* rgb, int width, int height, int supersample) {
  if (width < 1 || height < 1 || width > kWindowW || height > kWindowH || supersample < 1 || supersample > 16)
    throw std::invalid_argument("CarRacing: a picture is 1 x 1 to 1000 x 800 pixels (the window shrunk), with a "
                                "supersample factor in 1..16; asked for " + std::to_string(width) + " x " +
                                std::to_string(height) + " at " + std::to_string(supersample));
  const int k = supersample, cw = width * k, ch = height * k;
  thread_local std::vector<std::uint8_t> pixels;
  thread_local Scene scene;
  pixels.resize(static_cast<std::size_t>(cw) * ch * 3);
  scene.clear();
  describe(view, scene);
  draw::Canvas canvas = draw::Canvas::over(pixels.data(), cw, ch, 3);
  draw_scene(scene, canvas);

  // The score, centred at (60, H - 2.5 h) of the window: Gymnasium's 42-point font is about 30 window
  // pixels tall. (Text is no Scene shape: it is the observation's, not the play window's, which has a HUD.)
  const double sx = cw / kWindowW, sy = ch / kWindowH;
  char score[32];
  std::snprintf(score, sizeof(score), "%04.0f", view.reward);
  const int font_scale = std::max(1, static_cast<int>(std::lround(30.0 * sy / 7.0)));
  const int tw = draw::Canvas::text_width(score, font_scale), th = draw::Canvas::text_height(score, font_scale);
  canvas.text(static_cast<int>(std::lround(60.0 * sx - tw / 2.0)),
              static_cast<int>(std::lround((kWindowH - 2.5 * kWindowH / 40.0) * sy - th / 2.0)), score,
              draw::colors::kWhite, font_scale);

  // Each output pixel is the mean of its k x k block, rounded, then taken through pygame's smoothscale
  // arithmetic for a region of that colour (ShrinkLut).
  thread_local const ShrinkLut* lut_of_size = nullptr;
  thread_local int lut_width = 0, lut_height = 0;
  if (lut_of_size == nullptr || lut_width != width || lut_height != height) {
    lut_of_size = &shrink_lut(width, height);  // entries of a std::map stay where they are
    lut_width = width;
    lut_height = height;
  }
  const ShrinkLut& lut = *lut_of_size;
  const int area = k * k;
  const std::size_t row_bytes = static_cast<std::size_t>(cw) * 3;
  thread_local std::vector<std::uint16_t> column_sums;  // one output row's k source rows, added up
  column_sums.resize(row_bytes);
  std::uint16_t* __restrict sums = column_sums.data();  // plain pointers: the loops vectorise
  const std::uint8_t* __restrict source = pixels.data();
  for (int y = 0; y < height; ++y) {
    std::fill(sums, sums + row_bytes, std::uint16_t{0});
    for (int dy = 0; dy < k; ++dy) {
      const std::uint8_t* __restrict row = source + static_cast<std::size_t>(y * k + dy) * row_bytes;
      for (std::size_t i = 0; i < row_bytes; ++i) sums[i] = static_cast<std::uint16_t>(sums[i] + row[i]);
    }
    const std::uint8_t* row_lut = lut.rows.data() + static_cast<std::size_t>(y) * 256;
    std::uint8_t* out = rgb + static_cast<std::size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      const std::uint8_t* column_lut = lut.columns.data() + static_cast<std::size_t>(x) * 256;
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dx = 0; dx < k; ++dx) sum += sums[static_cast<std::size_t>((x * k + dx) * 3 + c)];
        out[3 * x + c] = row_lut[column_lut[(sum + area / 2) / area]];
      }
    }
  }
}

}  // namespace apiary::envs

// ---- the env --------------------------------------------------------------------------------------

namespace apiary::envs {

EnvSpec car_racing_spec(const CarRacingParams& p, Space action_space) {
  const auto flag = [](const char* name, float value) {
    if (value != 0.0f && value != 1.0f)
      throw std::invalid_argument(std::string("CarRacing-v3: option '") + name + "' = " + std::to_string(value) +
                                  " must be 0 or 1 (false or true)");
  };
  flag("domain_randomize", p.domain_randomize);
  flag("continuous", p.continuous);
  EnvSpec s;
  s.id = "CarRacing-v3";
  s.observation_space = Space::box_u8({96, 96, 3});
  s.action_space = std::move(action_space);
  s.max_episode_steps = 1000;
  s.reward_threshold = 900.0;
  return s;
}

namespace {

// The option `continuous` (default 1) picks the action set, as Gymnasium's constructor argument does.
bool continuous(const EnvOptions& options) {
  const auto it = options.find("continuous");
  return it == options.end() || it->second != 0.0;
}

}  // namespace

void register_car_racing(Registry& registry) {
  EnvEntry entry;
  entry.id = "CarRacing-v3";
  entry.spec = [](const EnvOptions& o) {
    return continuous(o) ? spec_with_options<CarRacingContinuous>(o) : spec_with_options<CarRacingDiscrete>(o);
  };
  entry.makers[Device::kCpu] = [](const VecEnvConfig& c) {
    return continuous(c.options) ? make_cpu_env<CarRacingContinuous>(c) : make_cpu_env<CarRacingDiscrete>(c);
  };
  entry.row_probe = [](const EnvOptions& o) {
    return continuous(o) ? probe_cpu_rows<CarRacingContinuous>(o) : probe_cpu_rows<CarRacingDiscrete>(o);
  };
  registry.add(std::move(entry));
}

}  // namespace apiary::envs
