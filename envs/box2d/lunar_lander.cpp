#include "envs/box2d/lunar_lander.h"

#include <box2d/box2d.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "envs/box2d/box2d_envs.h"
#include "envs/box2d/box2d_util.h"
#include "envs/cpu_vec_env.h"

namespace apiary::envs {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMainEngineY = 4.0;     // MAIN_ENGINE_Y_LOCATION, pixels
constexpr double kSideEngineHeight = 14.0;
constexpr double kSideEngineAway = 12.0;
constexpr double kSideImpulseX = 17.0;   // Gymnasium's documented quirk: 17, not SIDE_ENGINE_HEIGHT
constexpr double kLegAway = 20.0;
constexpr double kLegW = 2.0;
constexpr double kLegH = 8.0;
constexpr double kLegSpringTorque = 40.0;
constexpr float kLanderPoly[6][2] = {{-14, +17}, {-17, 0}, {-17, -10}, {+17, -10}, {+17, 0}, {+14, +17}};

using Physics = LunarLanderPhysics;

double wind_curve(std::int64_t k) {  // tanh(sin(2ck) + sin(pi ck)) with c = 0.01: never periodic
  return std::tanh(std::sin(0.02 * static_cast<double>(k)) + std::sin(kPi * 0.01 * static_cast<double>(k)));
}

}  // namespace

struct LunarLanderPhysics::Impl {
  using Listener = box2d::ContactListener<std::function<void(b2Body*, b2Body*, bool)>>;

  explicit Impl(const LunarLanderParams& p)
      : params(p), listener([this](b2Body* a, b2Body* b, bool touching) { on_contact(a, b, touching); }) {}

  ~Impl() { destroy(); }

  void destroy() {
    if (world) world->SetContactListener(nullptr);
    world.reset();
    lander = moon = nullptr;
    legs[0] = legs[1] = nullptr;
  }

  // Gymnasium's ContactDetector: the body touching anything ends the game; legs track their contact.
  void on_contact(b2Body* a, b2Body* b, bool touching) {
    if (touching && (a == lander || b == lander)) game_over = true;
    for (int i = 0; i < 2; ++i)
      if (a == legs[i] || b == legs[i]) contact[i] = touching;
  }

  LunarLanderParams params;
  Listener listener;
  std::unique_ptr<b2World> world;
  b2Body* moon = nullptr;
  b2Body* lander = nullptr;
  b2Body* legs[2] = {nullptr, nullptr};
  bool contact[2] = {false, false};
  bool game_over = false;
  float chunk_x[Physics::kChunks] = {};
  float smooth_y[Physics::kChunks] = {};
  float helipad_x1 = 0, helipad_x2 = 0, helipad_y = 0;
  bool has_prev_shaping = false;
  double prev_shaping = 0.0;
  std::int64_t wind_idx = 0, torque_idx = 0;
  float wind = 0.0f;
  EngineCommand last;
  double state[8] = {};  // the last observation, in double as Gymnasium computes it
};

LunarLanderPhysics::LunarLanderPhysics(const LunarLanderParams& params) : impl_(std::make_unique<Impl>(params)) {}
LunarLanderPhysics::~LunarLanderPhysics() = default;

void LunarLanderPhysics::reset(LaneRng& rng) {
  Impl& m = *impl_;
  m.destroy();
  m.world = std::make_unique<b2World>(b2Vec2(0.0f, m.params.gravity));
  m.world->SetContactListener(&m.listener);
  m.game_over = false;
  m.contact[0] = m.contact[1] = false;
  m.has_prev_shaping = false;
  m.prev_shaping = 0.0;
  m.wind = 0.0f;
  m.last = EngineCommand{};

  // Terrain: CHUNKS + 1 random heights, flattened under the helipad, smoothed over three points.
  const double W = kWorldW, H = kWorldH;
  double height[kChunks + 1];
  for (int block = 0; block < 3; ++block) {
    const Uniform4 u = rng.uniform4(0.0f, static_cast<float>(H / 2));
    for (int j = 0; j < 4; ++j) height[block * 4 + j] = u.v[j];
  }
  for (int i = 0; i < kChunks; ++i) m.chunk_x[i] = static_cast<float>(W / (kChunks - 1) * i);
  m.helipad_x1 = m.chunk_x[kChunks / 2 - 1];
  m.helipad_x2 = m.chunk_x[kChunks / 2 + 1];
  m.helipad_y = static_cast<float>(H / 4);
  for (int i = kChunks / 2 - 2; i <= kChunks / 2 + 2; ++i) height[i] = H / 4;
  for (int i = 0; i < kChunks; ++i) {
    const double prev = height[i == 0 ? kChunks : i - 1];  // Python's height[-1] is the last one
    m.smooth_y[i] = static_cast<float>(0.33 * (prev + height[i] + height[i + 1]));
  }

  b2BodyDef ground_def;
  m.moon = m.world->CreateBody(&ground_def);
  b2EdgeShape edge;
  edge.SetTwoSided(b2Vec2(0.0f, 0.0f), b2Vec2(static_cast<float>(W), 0.0f));
  b2FixtureDef edge_fixture;
  edge_fixture.shape = &edge;
  m.moon->CreateFixture(&edge_fixture);
  edge_fixture.friction = 0.1f;
  for (int i = 0; i < kChunks - 1; ++i) {
    edge.SetTwoSided(b2Vec2(m.chunk_x[i], m.smooth_y[i]), b2Vec2(m.chunk_x[i + 1], m.smooth_y[i + 1]));
    m.moon->CreateFixture(&edge_fixture);
  }

  // The lander, at the top centre, pushed by a random force.
  const float x0 = static_cast<float>(W / 2), y0 = static_cast<float>(H);
  b2BodyDef body_def;
  body_def.type = b2_dynamicBody;
  body_def.position.Set(x0, y0);
  body_def.angle = 0.0f;
  m.lander = m.world->CreateBody(&body_def);
  b2Vec2 poly[6];
  for (int i = 0; i < 6; ++i)
    poly[i].Set(static_cast<float>(kLanderPoly[i][0] / kScale), static_cast<float>(kLanderPoly[i][1] / kScale));
  b2PolygonShape lander_shape;
  lander_shape.Set(poly, 6);
  b2FixtureDef lander_fixture;
  lander_fixture.shape = &lander_shape;
  lander_fixture.density = 5.0f;
  lander_fixture.friction = 0.1f;
  lander_fixture.restitution = 0.0f;
  lander_fixture.filter.categoryBits = 0x0010;
  lander_fixture.filter.maskBits = 0x001;
  m.lander->CreateFixture(&lander_fixture);
  const Uniform4 u = rng.uniform4(0.0f, 1.0f);
  const auto push = [](float v) { return static_cast<float>(-kInitialRandom + 2.0 * kInitialRandom * v); };
  m.lander->ApplyForceToCenter(b2Vec2(push(u.v[0]), push(u.v[1])), true);
  // Wind and turbulence offsets: integers in [-9999, 9999), drawn whether or not wind is on.
  m.wind_idx = static_cast<std::int64_t>(std::floor(u.v[2] * 19998.0)) - 9999;
  m.torque_idx = static_cast<std::int64_t>(std::floor(u.v[3] * 19998.0)) - 9999;

  // Legs on motorised revolute joints with limits, which act as springs.
  for (int k = 0; k < 2; ++k) {
    const float i = k == 0 ? -1.0f : 1.0f;
    b2BodyDef leg_def;
    leg_def.type = b2_dynamicBody;
    leg_def.position.Set(static_cast<float>(x0 - i * kLegAway / kScale), y0);
    leg_def.angle = i * 0.05f;
    m.legs[k] = m.world->CreateBody(&leg_def);
    b2PolygonShape leg_shape;
    leg_shape.SetAsBox(static_cast<float>(kLegW / kScale), static_cast<float>(kLegH / kScale));
    b2FixtureDef leg_fixture;
    leg_fixture.shape = &leg_shape;
    leg_fixture.density = 1.0f;
    leg_fixture.restitution = 0.0f;
    leg_fixture.filter.categoryBits = 0x0020;
    leg_fixture.filter.maskBits = 0x001;
    m.legs[k]->CreateFixture(&leg_fixture);

    b2RevoluteJointDef joint;
    joint.bodyA = m.lander;
    joint.bodyB = m.legs[k];
    joint.localAnchorA.Set(0.0f, 0.0f);
    joint.localAnchorB.Set(static_cast<float>(i * kLegAway / kScale), static_cast<float>(kLegDown / kScale));
    joint.enableMotor = true;
    joint.enableLimit = true;
    joint.maxMotorTorque = static_cast<float>(kLegSpringTorque);
    joint.motorSpeed = 0.3f * i;
    if (k == 0) {
      joint.lowerAngle = 0.9f - 0.5f;
      joint.upperAngle = 0.9f;
    } else {
      joint.lowerAngle = -0.9f;
      joint.upperAngle = -0.9f + 0.5f;
    }
    m.world->CreateJoint(&joint);
  }

  step(EngineCommand{}, rng);
}

StepOut LunarLanderPhysics::step(const EngineCommand& command, LaneRng& rng) {
  Impl& m = *impl_;
  if (!m.world) throw std::logic_error("LunarLander: step() before reset()");

  m.wind = 0.0f;
  if (m.params.enable_wind != 0.0f && !(m.contact[0] || m.contact[1])) {
    const double wind = wind_curve(m.wind_idx++) * m.params.wind_power;
    m.lander->ApplyForceToCenter(b2Vec2(static_cast<float>(wind), 0.0f), true);
    const double torque = wind_curve(m.torque_idx++) * m.params.turbulence_power;
    m.lander->ApplyTorque(static_cast<float>(torque), true);
    m.wind = static_cast<float>(wind);
  }

  const double angle = m.lander->GetAngle();
  const double tip[2] = {std::sin(angle), std::cos(angle)};
  const double side[2] = {-tip[1], tip[0]};
  const Uniform4 u = rng.uniform4(-1.0f, 1.0f);
  const double d0 = u.v[0] / kScale, d1 = u.v[1] / kScale;

  const double m_power = command.main_power;
  if (m_power > 0.0) {
    const double ox = tip[0] * (kMainEngineY / kScale + 2 * d0) + side[0] * d1;
    const double oy = -tip[1] * (kMainEngineY / kScale + 2 * d0) - side[1] * d1;
    const b2Vec2 pos = m.lander->GetPosition();
    m.lander->ApplyLinearImpulse(
        b2Vec2(static_cast<float>(-ox * kMainEnginePower * m_power), static_cast<float>(-oy * kMainEnginePower * m_power)),
        b2Vec2(static_cast<float>(pos.x + ox), static_cast<float>(pos.y + oy)), true);
  }
  const double s_power = command.side_power;
  if (s_power > 0.0) {
    const double dir = command.side_direction;
    const double ox = tip[0] * d0 + side[0] * (3 * d1 + dir * kSideEngineAway / kScale);
    const double oy = -tip[1] * d0 - side[1] * (3 * d1 + dir * kSideEngineAway / kScale);
    const b2Vec2 pos = m.lander->GetPosition();
    m.lander->ApplyLinearImpulse(
        b2Vec2(static_cast<float>(-ox * kSideEnginePower * s_power), static_cast<float>(-oy * kSideEnginePower * s_power)),
        b2Vec2(static_cast<float>(pos.x + ox - tip[0] * kSideImpulseX / kScale),
               static_cast<float>(pos.y + oy + tip[1] * kSideEngineHeight / kScale)),
        true);
  }
  m.last = command;

  m.world->Step(static_cast<float>(1.0 / kFps), 6 * 30, 2 * 30);

  const b2Vec2 pos = m.lander->GetPosition();
  const b2Vec2 vel = m.lander->GetLinearVelocity();
  double* s = m.state;
  s[0] = (pos.x - kWorldW / 2) / (kWorldW / 2);
  s[1] = (pos.y - (static_cast<double>(m.helipad_y) + kLegDown / kScale)) / (kWorldH / 2);
  s[2] = vel.x * (kWorldW / 2) / kFps;
  s[3] = vel.y * (kWorldH / 2) / kFps;
  s[4] = m.lander->GetAngle();
  s[5] = 20.0 * m.lander->GetAngularVelocity() / kFps;
  s[6] = m.contact[0] ? 1.0 : 0.0;
  s[7] = m.contact[1] ? 1.0 : 0.0;

  const double shaping = -100 * std::sqrt(s[0] * s[0] + s[1] * s[1]) - 100 * std::sqrt(s[2] * s[2] + s[3] * s[3]) -
                         100 * std::abs(s[4]) + 10 * s[6] + 10 * s[7];
  double reward = m.has_prev_shaping ? shaping - m.prev_shaping : 0.0;
  m.prev_shaping = shaping;
  m.has_prev_shaping = true;
  reward -= m_power * 0.30;  // fuel
  reward -= s_power * 0.03;

  bool terminated = false;
  if (m.game_over || std::abs(s[0]) >= 1.0) {
    terminated = true;
    reward = -100.0;
  }
  if (!m.lander->IsAwake()) {  // at rest: Box2D put it to sleep
    terminated = true;
    reward = 100.0;
  }
  return StepOut{static_cast<float>(reward), terminated};
}

void LunarLanderPhysics::observe(float* obs) const {
  for (int i = 0; i < 8; ++i) obs[i] = static_cast<float>(impl_->state[i]);
}

LunarLanderPhysics::BodyState LunarLanderPhysics::lander() const {
  const b2Body* b = impl_->lander;
  if (b == nullptr) throw std::logic_error("LunarLander: no lander before reset()");
  return BodyState{b->GetPosition().x,       b->GetPosition().y, b->GetLinearVelocity().x, b->GetLinearVelocity().y,
                   b->GetAngle(),            b->GetAngularVelocity(), b->IsAwake()};
}
bool LunarLanderPhysics::leg_contact(int leg) const { return impl_->contact[leg != 0]; }
bool LunarLanderPhysics::game_over() const { return impl_->game_over; }
float LunarLanderPhysics::helipad_x1() const { return impl_->helipad_x1; }
float LunarLanderPhysics::helipad_x2() const { return impl_->helipad_x2; }
float LunarLanderPhysics::helipad_y() const { return impl_->helipad_y; }
float LunarLanderPhysics::terrain_height(int chunk) const { return impl_->smooth_y[std::clamp(chunk, 0, kChunks - 1)]; }
double LunarLanderPhysics::shaping() const { return impl_->prev_shaping; }
const EngineCommand& LunarLanderPhysics::last_command() const { return impl_->last; }
float LunarLanderPhysics::last_wind() const { return impl_->wind; }

void LunarLanderPhysics::describe(Scene& scene) const {
  const Impl& m = *impl_;
  if (!m.world) return;
  const float W = static_cast<float>(kWorldW), H = static_cast<float>(kWorldH);
  scene.view[0] = 0.0f;
  scene.view[1] = 0.0f;
  scene.view[2] = W;
  scene.view[3] = H;
  for (int i = 0; i < kChunks - 1; ++i) {
    SceneShape& sky = scene.add(SceneShape::Kind::kPolygon, "sky", i);
    sky.xy = {m.chunk_x[i], m.smooth_y[i], m.chunk_x[i + 1], m.smooth_y[i + 1], m.chunk_x[i + 1], H, m.chunk_x[i], H};
  }
  // Flames in the lander's frame, then moved with it: the main one below the hull, a side one out of
  // the engine that fired, each longer with more power.
  const b2Transform& xf = m.lander->GetTransform();
  const auto flame = [&](const char* tag, b2Vec2 a, b2Vec2 b, b2Vec2 tip) {
    SceneShape& s = scene.add(SceneShape::Kind::kPolygon, tag);
    for (const b2Vec2& v : {a, b, tip}) {
      const b2Vec2 p = b2Mul(xf, v);
      s.xy.push_back(p.x);
      s.xy.push_back(p.y);
    }
  };
  const float px = static_cast<float>(1.0 / kScale);
  if (m.last.main_power > 0.0f) {
    const float len = (12.0f + 24.0f * m.last.main_power) * px;
    flame("flame_main", b2Vec2(-6 * px, -10 * px), b2Vec2(6 * px, -10 * px), b2Vec2(0.0f, -10 * px - len));
  }
  if (m.last.side_power > 0.0f) {
    const float dir = m.last.side_direction;
    const float x = static_cast<float>(-dir * 17.0) * px, y = static_cast<float>(kSideEngineHeight) * px;
    const float len = (6.0f + 12.0f * m.last.side_power) * px;
    flame("flame_side", b2Vec2(x, y - 3 * px), b2Vec2(x, y + 3 * px), b2Vec2(x - dir * len, y));
  }
  box2d::add_body_shapes(scene, m.lander, "lander");
  for (int i = 0; i < 2; ++i) box2d::add_body_shapes(scene, m.legs[i], "leg", i);
  scene.values["helipad_x1"] = m.helipad_x1;
  scene.values["helipad_x2"] = m.helipad_x2;
  scene.values["helipad_y"] = m.helipad_y;
  scene.values["leg0_contact"] = m.contact[0] ? 1.0f : 0.0f;
  scene.values["leg1_contact"] = m.contact[1] ? 1.0f : 0.0f;
  scene.values["main_engine"] = m.last.main_power;
  scene.values["side_engine"] = m.last.side_power;
  scene.values["side_direction"] = m.last.side_direction;
  scene.values["wind"] = m.wind;
}

EnvSpec lunar_lander_spec(const char* id, const LunarLanderParams& p, Space action_space) {
  if (p.enable_wind != 0.0f && p.enable_wind != 1.0f)
    throw std::invalid_argument(std::string(id) + ": option 'enable_wind' = " + std::to_string(p.enable_wind) +
                                " must be 0 or 1 (false or true)");
  const float pi2 = static_cast<float>(2 * kPi);
  EnvSpec s;
  s.id = id;
  s.observation_space =
      Space::box({-2.5f, -2.5f, -10.0f, -10.0f, -pi2, -10.0f, 0.0f, 0.0f}, {2.5f, 2.5f, 10.0f, 10.0f, pi2, 10.0f, 1.0f, 1.0f});
  s.action_space = std::move(action_space);
  s.max_episode_steps = 1000;
  s.reward_threshold = 200.0;
  s.unbounded_obs = {4};  // the angle: see EnvSpec::unbounded_obs
  s.velocity_elements = {2, 3, 5};  // vx, vy, angular velocity
  return s;
}

Space LunarLanderDiscreteActions::action_space() { return Space::discrete(kNumActions); }

EngineCommand LunarLanderDiscreteActions::command(const Action* action) {
  EngineCommand c;
  const std::int32_t a = action[0];
  if (a == 2) c.main_power = 1.0f;
  if (a == 1 || a == 3) {
    c.side_power = 1.0f;
    c.side_direction = static_cast<float>(a - 2);
  }
  return c;
}

Space LunarLanderContinuousActions::action_space() { return Space::box({-1.0f, -1.0f}, {1.0f, 1.0f}); }

EngineCommand LunarLanderContinuousActions::command(const Action* action) {
  EngineCommand c;
  const float main = std::clamp(action[0], -1.0f, 1.0f);
  const float lateral = std::clamp(action[1], -1.0f, 1.0f);
  if (main > 0.0f) c.main_power = (std::clamp(main, 0.0f, 1.0f) + 1.0f) * 0.5f;
  if (std::abs(lateral) > 0.5f) {
    c.side_direction = lateral > 0.0f ? 1.0f : -1.0f;
    c.side_power = std::clamp(std::abs(lateral), 0.5f, 1.0f);
  }
  return c;
}

void register_lunar_lander(Registry& registry) {
  register_cpu_env<LunarLander>(registry);
  register_cpu_env<LunarLanderContinuous>(registry);
}

}  // namespace apiary::envs
