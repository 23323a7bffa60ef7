#include "envs/box2d/bipedal_walker_physics.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <cmath>

#include "envs/box2d/box2d_util.h"

namespace apiary::envs::box2d {

using namespace bipedal;

namespace {

constexpr float kTimeStep = static_cast<float>(1.0 / kFps);
constexpr int kVelocityIterations = 6 * 30;
constexpr int kPositionIterations = 2 * 30;
constexpr std::uint16_t kGroundCategory = 0x0001;  // terrain; the only thing lidar sees
constexpr std::uint16_t kWalkerCategory = 0x0020;  // hull and legs: they collide with the ground only
// Hull outline, pixels (divide by kScale).
constexpr double kHullPoly[5][2] = {{-30, +9}, {+6, +9}, {+34, +1}, {+34, -8}, {-30, -8}};

b2Vec2 vec(double x, double y) { return b2Vec2(static_cast<float>(x), static_cast<float>(y)); }

// np.sign
double sign(double v) { return v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0); }

// Directions of the ten lidar rays: (sin(1.5 i / 10), -cos(1.5 i / 10)), from straight down forward.
struct LidarDirections {
  double dx[kNumLidar];
  double dy[kNumLidar];
  LidarDirections() {
    for (int i = 0; i < kNumLidar; ++i) {
      dx[i] = std::sin(1.5 * i / 10.0) * kLidarRange;
      dy[i] = -std::cos(1.5 * i / 10.0) * kLidarRange;
    }
  }
};

// The closest hit of a ray among ground fixtures (categoryBits & 1); others are ignored (-1).
class LidarCallback final : public b2RayCastCallback {
 public:
  float fraction = 1.0f;
  b2Vec2 point;
  float ReportFixture(b2Fixture* fixture, const b2Vec2& p, const b2Vec2& normal, float f) override {
    (void)normal;
    if ((fixture->GetFilterData().categoryBits & 1) == 0) return -1.0f;
    point = p;
    fraction = f;
    return f;  // clip the ray here: later reports can only be closer
  }
};

b2Body* create_static_polygon(b2World& world, const b2Vec2* vertices, int count) {
  b2BodyDef def;
  b2Body* body = world.CreateBody(&def);
  b2PolygonShape shape;
  shape.Set(vertices, count);
  b2FixtureDef fixture;
  fixture.shape = &shape;
  fixture.friction = static_cast<float>(kFriction);
  body->CreateFixture(&fixture);  // default filter: category 1, the ground
  return body;
}

}  // namespace

// The b2World of one episode, with the bodies the walker needs to find again. Rebuilt on every reset.
struct BipedalWalkerPhysics::World {
  // Gymnasium's ContactDetector: the hull touching anything ends the episode; a lower leg's contact
  // flag follows its latest begin or end event (a flag, not a count, as in the reference).
  struct OnContact {
    BipedalWalkerPhysics* walker;
    World* world;
    void operator()(b2Body* a, b2Body* b, bool touching) const {
      if (touching && (a == world->hull || b == world->hull)) walker->game_over_ = true;
      for (int leg = 0; leg < 2; ++leg) {
        const b2Body* lower = world->legs[static_cast<std::size_t>(2 * leg + 1)];
        if (a == lower || b == lower) walker->leg_contact_[leg] = touching;
      }
    }
  };

  explicit World(BipedalWalkerPhysics* walker) : listener(OnContact{walker, this}), world(b2Vec2(0.0f, -10.0f)) {
    world.SetContactListener(&listener);
  }

  ContactListener<OnContact> listener;
  b2World world;
  b2Body* hull = nullptr;
  std::array<b2Body*, 4> legs{};              // upper 1, lower 1, upper 2, lower 2 (the reference's order)
  std::array<b2RevoluteJoint*, 4> joints{};   // hip 1, knee 1, hip 2, knee 2 (the action's order)
  std::vector<b2Body*> obstacle_bodies;       // stump, stair and pit-wall polygons
};

// Uniform numbers for a reset, four per Philox block of the lane's stream.
struct BipedalWalkerPhysics::Uniforms {
  LaneRng& rng;
  Uniform4 block{};
  int used = 4;

  double next01() {
    if (used == 4) {
      block = rng.uniform4(0.0f, 1.0f);
      used = 0;
    }
    return static_cast<double>(block.v[used++]);
  }
  // np_random.uniform(low, high)
  double uniform(double low, double high) { return low + (high - low) * next01(); }
  // np_random.integers(low, high): an integer in [low, high)
  int integers(int low, int high) {
    const int n = high - low;
    return low + std::min(static_cast<int>(next01() * n), n - 1);
  }
};

BipedalWalkerPhysics::BipedalWalkerPhysics() {
  terrain_x_.reserve(kTerrainLength);
  terrain_y_.reserve(kTerrainLength);
}

BipedalWalkerPhysics::~BipedalWalkerPhysics() = default;

void BipedalWalkerPhysics::reset(LaneRng& rng, bool hardcore) {
  hardcore_ = hardcore;
  world_.reset();  // free the old world before building the new one
  world_ = std::make_unique<World>(this);
  game_over_ = false;
  leg_contact_[0] = leg_contact_[1] = false;
  has_shaping_ = false;
  shaping_ = 0.0;
  Uniforms random{rng};
  generate_terrain(random);
  create_walker(random);
  const float zero[kActionDim] = {0.0f, 0.0f, 0.0f, 0.0f};
  step(zero);  // the reference's reset() returns step(0)'s observation
}

// The reference's _generate_terrain: a state machine over kTerrainLength points. Grass wanders around
// kTerrainHeight with a random velocity; after each run of `counter` points, hardcore mode picks a
// stump (1-2 steps square), stairs (3-4 steps of width 4, up or down) or a pit (3-4 steps wide, 4 deep)
// and returns to grass after it. Computed in double, as Python does; Box2D gets floats.
void BipedalWalkerPhysics::generate_terrain(Uniforms& random) {
  World& w = *world_;
  terrain_x_.clear();
  terrain_y_.clear();
  obstacles_.clear();
  TerrainKind state = TerrainKind::kGrass;
  double velocity = 0.0;
  double y = kTerrainHeight;
  int counter = kTerrainStartpad;
  bool oneshot = false;
  int stair_steps = 0, stair_width = 0, stair_height = 0;
  double original_y = 0.0;
  auto add_obstacle_body = [&](const double (*poly)[2]) {
    const b2Vec2 v[4] = {vec(poly[0][0], poly[0][1]), vec(poly[1][0], poly[1][1]), vec(poly[2][0], poly[2][1]),
                         vec(poly[3][0], poly[3][1])};
    w.obstacle_bodies.push_back(create_static_polygon(w.world, v, 4));
  };
  for (int i = 0; i < kTerrainLength; ++i) {
    const double x = i * kTerrainStep;
    terrain_x_.push_back(static_cast<float>(x));
    if (state == TerrainKind::kGrass && !oneshot) {
      velocity = 0.8 * velocity + 0.01 * sign(kTerrainHeight - y);
      if (i > kTerrainStartpad) velocity += random.uniform(-1.0, 1.0) / kScale;
      y += velocity;
    } else if (state == TerrainKind::kPit && oneshot) {
      counter = random.integers(3, 5);
      const double wall[4][2] = {{x, y}, {x + kTerrainStep, y}, {x + kTerrainStep, y - 4 * kTerrainStep},
                                 {x, y - 4 * kTerrainStep}};
      add_obstacle_body(wall);
      const double far_wall[4][2] = {{wall[0][0] + kTerrainStep * counter, wall[0][1]},
                                     {wall[1][0] + kTerrainStep * counter, wall[1][1]},
                                     {wall[2][0] + kTerrainStep * counter, wall[2][1]},
                                     {wall[3][0] + kTerrainStep * counter, wall[3][1]}};
      add_obstacle_body(far_wall);
      obstacles_.push_back(Obstacle{TerrainKind::kPit, static_cast<float>(x),
                                    static_cast<float>(x + kTerrainStep * (counter + 1))});
      counter += 2;
      original_y = y;
    } else if (state == TerrainKind::kPit && !oneshot) {
      y = original_y;
      if (counter > 1) y -= 4 * kTerrainStep;
    } else if (state == TerrainKind::kStump && oneshot) {
      counter = random.integers(1, 3);
      const double size = counter * kTerrainStep;
      const double stump[4][2] = {{x, y}, {x + size, y}, {x + size, y + size}, {x, y + size}};
      add_obstacle_body(stump);
      obstacles_.push_back(Obstacle{TerrainKind::kStump, static_cast<float>(x), static_cast<float>(x + size)});
    } else if (state == TerrainKind::kStairs && oneshot) {
      stair_height = random.next01() > 0.5 ? +1 : -1;
      stair_width = random.integers(4, 5);
      stair_steps = random.integers(3, 5);
      original_y = y;
      for (int s = 0; s < stair_steps; ++s) {
        const double x0 = x + (s * stair_width) * kTerrainStep;
        const double x1 = x + ((1 + s) * stair_width) * kTerrainStep;
        const double top = y + (s * stair_height) * kTerrainStep;
        const double bottom = y + (-1 + s * stair_height) * kTerrainStep;
        const double step[4][2] = {{x0, top}, {x1, top}, {x1, bottom}, {x0, bottom}};
        add_obstacle_body(step);
      }
      obstacles_.push_back(Obstacle{TerrainKind::kStairs, static_cast<float>(x),
                                    static_cast<float>(x + (stair_steps * stair_width) * kTerrainStep)});
      counter = stair_steps * stair_width;
    } else if (state == TerrainKind::kStairs && !oneshot) {
      const int s = stair_steps * stair_width - counter - stair_height;
      const double n = static_cast<double>(s) / stair_width;
      y = original_y + (n * stair_height) * kTerrainStep;
    }
    oneshot = false;
    terrain_y_.push_back(static_cast<float>(y));
    counter -= 1;
    if (counter == 0) {
      counter = random.integers(kTerrainGrass / 2, kTerrainGrass);
      if (state == TerrainKind::kGrass && hardcore_) {
        state = static_cast<TerrainKind>(random.integers(1, 4));
      } else {
        state = TerrainKind::kGrass;
      }
      oneshot = true;
    }
  }
  // The ground line: one two-sided edge body per segment, created after the obstacles as in the
  // reference (creation order decides the contact order, so it matters for the bits).
  for (int i = 0; i + 1 < kTerrainLength; ++i) {
    b2BodyDef def;
    b2Body* body = w.world.CreateBody(&def);
    b2EdgeShape shape;
    shape.SetTwoSided(b2Vec2(terrain_x_[static_cast<std::size_t>(i)], terrain_y_[static_cast<std::size_t>(i)]),
                      b2Vec2(terrain_x_[static_cast<std::size_t>(i + 1)], terrain_y_[static_cast<std::size_t>(i + 1)]));
    b2FixtureDef fixture;
    fixture.shape = &shape;
    fixture.friction = static_cast<float>(kFriction);
    fixture.filter.categoryBits = kGroundCategory;
    body->CreateFixture(&fixture);
  }
}

void BipedalWalkerPhysics::create_walker(Uniforms& random) {
  World& w = *world_;
  const double init_x = kTerrainStep * kTerrainStartpad / 2;
  const double init_y = kTerrainHeight + 2 * kLegH;

  b2BodyDef hull_def;
  hull_def.type = b2_dynamicBody;
  hull_def.position = vec(init_x, init_y);
  w.hull = w.world.CreateBody(&hull_def);
  b2Vec2 hull_vertices[5];
  for (int k = 0; k < 5; ++k) hull_vertices[k] = vec(kHullPoly[k][0] / kScale, kHullPoly[k][1] / kScale);
  b2PolygonShape hull_shape;
  hull_shape.Set(hull_vertices, 5);
  b2FixtureDef hull_fixture;
  hull_fixture.shape = &hull_shape;
  hull_fixture.density = 5.0f;
  hull_fixture.friction = 0.1f;
  hull_fixture.restitution = 0.0f;
  hull_fixture.filter.categoryBits = kWalkerCategory;
  hull_fixture.filter.maskBits = kGroundCategory;
  w.hull->CreateFixture(&hull_fixture);
  w.hull->ApplyForceToCenter(vec(random.uniform(-kInitialRandom, kInitialRandom), 0.0), true);

  b2PolygonShape upper_shape;
  upper_shape.SetAsBox(static_cast<float>(kLegW / 2), static_cast<float>(kLegH / 2));
  b2PolygonShape lower_shape;
  lower_shape.SetAsBox(static_cast<float>(0.8 * kLegW / 2), static_cast<float>(kLegH / 2));
  b2FixtureDef leg_fixture;
  leg_fixture.density = 1.0f;
  leg_fixture.restitution = 0.0f;
  leg_fixture.filter.categoryBits = kWalkerCategory;
  leg_fixture.filter.maskBits = kGroundCategory;

  for (int side = 0; side < 2; ++side) {
    const int i = side == 0 ? -1 : +1;
    b2BodyDef upper_def;
    upper_def.type = b2_dynamicBody;
    upper_def.position = vec(init_x, init_y - kLegH / 2 - kLegDown);
    upper_def.angle = static_cast<float>(i * 0.05);
    b2Body* upper = w.world.CreateBody(&upper_def);
    leg_fixture.shape = &upper_shape;
    upper->CreateFixture(&leg_fixture);

    // pybox2d sets referenceAngle = bodyB.angle - bodyA.angle when it is not given.
    b2RevoluteJointDef hip;
    hip.bodyA = w.hull;
    hip.bodyB = upper;
    hip.localAnchorA = vec(0.0, kLegDown);
    hip.localAnchorB = vec(0.0, kLegH / 2);
    hip.referenceAngle = upper->GetAngle() - w.hull->GetAngle();
    hip.enableMotor = true;
    hip.enableLimit = true;
    hip.maxMotorTorque = static_cast<float>(kMotorsTorque);
    hip.motorSpeed = static_cast<float>(i);
    hip.lowerAngle = -0.8f;
    hip.upperAngle = 1.1f;
    w.legs[static_cast<std::size_t>(2 * side)] = upper;
    w.joints[static_cast<std::size_t>(2 * side)] = static_cast<b2RevoluteJoint*>(w.world.CreateJoint(&hip));

    b2BodyDef lower_def;
    lower_def.type = b2_dynamicBody;
    lower_def.position = vec(init_x, init_y - kLegH * 3 / 2 - kLegDown);
    lower_def.angle = static_cast<float>(i * 0.05);
    b2Body* lower = w.world.CreateBody(&lower_def);
    leg_fixture.shape = &lower_shape;
    lower->CreateFixture(&leg_fixture);

    b2RevoluteJointDef knee;
    knee.bodyA = upper;
    knee.bodyB = lower;
    knee.localAnchorA = vec(0.0, -kLegH / 2);
    knee.localAnchorB = vec(0.0, kLegH / 2);
    knee.referenceAngle = lower->GetAngle() - upper->GetAngle();
    knee.enableMotor = true;
    knee.enableLimit = true;
    knee.maxMotorTorque = static_cast<float>(kMotorsTorque);
    knee.motorSpeed = 1.0f;
    knee.lowerAngle = -1.6f;
    knee.upperAngle = -0.1f;
    w.legs[static_cast<std::size_t>(2 * side + 1)] = lower;
    w.joints[static_cast<std::size_t>(2 * side + 1)] = static_cast<b2RevoluteJoint*>(w.world.CreateJoint(&knee));
  }
}

void BipedalWalkerPhysics::cast_lidar() {
  static const LidarDirections kDirections;
  World& w = *world_;
  const b2Vec2 pos = w.hull->GetPosition();
  lidar_origin_ = Vec2f{pos.x, pos.y};
  for (int i = 0; i < kNumLidar; ++i) {
    const b2Vec2 end = vec(pos.x + kDirections.dx[i], pos.y + kDirections.dy[i]);
    LidarCallback callback;
    callback.point = end;
    w.world.RayCast(&callback, pos, end);
    lidar_fraction_[static_cast<std::size_t>(i)] = callback.fraction;
    lidar_end_[static_cast<std::size_t>(i)] = Vec2f{callback.point.x, callback.point.y};
  }
}

StepOut BipedalWalkerPhysics::step(const float* action) {
  World& w = *world_;
  // Torque control (the reference's control_speed = False): full speed in the action's direction,
  // with the torque limit the action's magnitude; |a| > 1 acts as 1.
  double magnitude[kActionDim];
  for (int j = 0; j < kActionDim; ++j) {
    const double a = static_cast<double>(action[j]);
    const double speed = (j % 2 == 0) ? kSpeedHip : kSpeedKnee;
    magnitude[j] = std::min(std::fabs(a), 1.0);
    b2RevoluteJoint* joint = w.joints[static_cast<std::size_t>(j)];
    joint->SetMotorSpeed(static_cast<float>(speed * sign(a)));
    joint->SetMaxMotorTorque(static_cast<float>(kMotorsTorque * magnitude[j]));
  }
  w.world.Step(kTimeStep, kVelocityIterations, kPositionIterations);
  cast_lidar();

  const b2Vec2 pos = w.hull->GetPosition();
  // Moving forward earns about 300 over the whole terrain; a tilted hull costs a little.
  const double shaping = 130.0 * pos.x / kScale - 5.0 * std::fabs(static_cast<double>(w.hull->GetAngle()));
  double reward = has_shaping_ ? shaping - shaping_ : 0.0;
  shaping_ = shaping;
  has_shaping_ = true;
  torque_cost_ = 0.0;
  for (int j = 0; j < kActionDim; ++j) {
    const double cost = kTorqueCostPerUnit * magnitude[j];
    reward -= cost;  // one term at a time, in the reference's order
    torque_cost_ += cost;
  }
  bool terminated = false;
  if (game_over_ || pos.x < 0.0f) {
    reward = -100.0;
    terminated = true;
  }
  if (pos.x > kSuccessX) terminated = true;
  return StepOut{static_cast<float>(reward), terminated};
}

void BipedalWalkerPhysics::observe(float* obs) const {
  if (!world_) {
    std::fill(obs, obs + kObsDim, 0.0f);
    return;
  }
  const World& w = *world_;
  const b2Vec2 vel = w.hull->GetLinearVelocity();
  obs[0] = w.hull->GetAngle();
  obs[1] = static_cast<float>(2.0 * w.hull->GetAngularVelocity() / kFps);
  obs[2] = static_cast<float>(0.3 * vel.x * (kViewportW / kScale) / kFps);
  obs[3] = static_cast<float>(0.3 * vel.y * (kViewportH / kScale) / kFps);
  for (int leg = 0; leg < 2; ++leg) {
    const b2RevoluteJoint* hip = w.joints[static_cast<std::size_t>(2 * leg)];
    const b2RevoluteJoint* knee = w.joints[static_cast<std::size_t>(2 * leg + 1)];
    float* row = obs + 4 + 5 * leg;
    row[0] = hip->GetJointAngle();
    row[1] = static_cast<float>(hip->GetJointSpeed() / kSpeedHip);
    row[2] = static_cast<float>(knee->GetJointAngle() + 1.0);
    row[3] = static_cast<float>(knee->GetJointSpeed() / kSpeedKnee);
    row[4] = leg_contact_[leg] ? 1.0f : 0.0f;
  }
  std::copy(lidar_fraction_.begin(), lidar_fraction_.end(), obs + 14);
}

void BipedalWalkerPhysics::describe(Scene& scene) const {
  if (!world_) return;
  const World& w = *world_;
  const b2Vec2 pos = w.hull->GetPosition();
  const float view_w = static_cast<float>(kViewportW / kScale);
  const float scroll = pos.x - view_w / 5.0f;
  scene.view[0] = scroll;
  scene.view[1] = 0.0f;
  scene.view[2] = scroll + view_w;
  scene.view[3] = static_cast<float>(kViewportH / kScale);

  for (int i = 0; i + 1 < kTerrainLength; ++i) {
    const auto a = static_cast<std::size_t>(i), b = static_cast<std::size_t>(i + 1);
    SceneShape& s = scene.add(SceneShape::Kind::kPolygon, "terrain", i);
    s.xy = {terrain_x_[a], terrain_y_[a], terrain_x_[b], terrain_y_[b], terrain_x_[b], 0.0f, terrain_x_[a], 0.0f};
  }
  for (int i = 0; i < kNumLidar; ++i) {
    const Vec2f end = lidar_end_[static_cast<std::size_t>(i)];
    SceneShape& s = scene.add(SceneShape::Kind::kPolyline, "lidar", i);
    s.xy = {lidar_origin_.x, lidar_origin_.y, end.x, end.y};
  }
  for (std::size_t k = 0; k < w.obstacle_bodies.size(); ++k)
    add_body_shapes(scene, w.obstacle_bodies[k], "obstacle", static_cast<int>(k));
  add_body_shapes(scene, w.legs[0], "upper_leg", 0);
  add_body_shapes(scene, w.legs[1], "lower_leg", 0);
  add_body_shapes(scene, w.legs[2], "upper_leg", 1);
  add_body_shapes(scene, w.legs[3], "lower_leg", 1);
  add_body_shapes(scene, w.hull, "hull");

  // The start flag, as the reference draws it.
  const float flag_x = static_cast<float>(kTerrainStep * 3);
  const float flag_y1 = static_cast<float>(kTerrainHeight);
  const float flag_y2 = static_cast<float>(kTerrainHeight + 50.0 / kScale);
  scene.add(SceneShape::Kind::kPolyline, "flag_pole").xy = {flag_x, flag_y1, flag_x, flag_y2};
  scene.add(SceneShape::Kind::kPolygon, "flag").xy = {
      flag_x, flag_y2, flag_x, flag_y2 - static_cast<float>(10.0 / kScale),
      flag_x + static_cast<float>(25.0 / kScale), flag_y2 - static_cast<float>(5.0 / kScale)};

  scene.values["ground_contact0"] = leg_contact_[0] ? 1.0f : 0.0f;
  scene.values["ground_contact1"] = leg_contact_[1] ? 1.0f : 0.0f;
  scene.values["hull_x"] = pos.x;
  scene.values["hull_y"] = pos.y;
}

Vec2f BipedalWalkerPhysics::hull_position() const {
  if (!world_) return Vec2f{0.0f, 0.0f};
  const b2Vec2 p = world_->hull->GetPosition();
  return Vec2f{p.x, p.y};
}

float BipedalWalkerPhysics::hull_angle() const { return world_ ? world_->hull->GetAngle() : 0.0f; }

Vec2f BipedalWalkerPhysics::hull_velocity() const {
  if (!world_) return Vec2f{0.0f, 0.0f};
  const b2Vec2 v = world_->hull->GetLinearVelocity();
  return Vec2f{v.x, v.y};
}

float BipedalWalkerPhysics::hull_angular_velocity() const {
  return world_ ? world_->hull->GetAngularVelocity() : 0.0f;
}

ObstacleCounts BipedalWalkerPhysics::obstacle_counts() const {
  ObstacleCounts counts;
  for (const Obstacle& o : obstacles_) {
    if (o.kind == TerrainKind::kStump) ++counts.stumps;
    if (o.kind == TerrainKind::kStairs) ++counts.stairs;
    if (o.kind == TerrainKind::kPit) ++counts.pits;
  }
  return counts;
}

}  // namespace apiary::envs::box2d
