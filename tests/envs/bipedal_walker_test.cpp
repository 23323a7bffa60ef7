// BipedalWalker-v3 and BipedalWalkerHardcore-v3 (envs/box2d/bipedal_walker.h) against the rules of
// Gymnasium 1.x bipedal_walker.py: spec, observation layout, reward (shaping minus torque cost), the
// hull-contact penalty, lidar geometry, the hardcore terrain generator, time limits, success, the scene
// a painter reads, and determinism (golden hashes, 1 vs 2 threads, snapshots).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/fnv1a.h"
#include "envs/box2d/bipedal_walker.h"
#include "envs/cpu_vec_env.h"
#include "envs/registry.h"
#include "envs/rng.h"

namespace apiary::envs {
namespace {

using box2d::BipedalWalkerPhysics;
using box2d::TerrainKind;
namespace bw = box2d::bipedal;

constexpr const char* kNormalId = "BipedalWalker-v3";
constexpr const char* kHardcoreId = "BipedalWalkerHardcore-v3";

using apiary::core::Fnv1a;

// Actions of batched step t: uniform in [-1.25, 1.25) per (lane, t), so some lie outside the box and
// exercise the clipping. A pure function of (t, lane): a replay after a snapshot draws the same ones.
void fill_actions(std::int64_t t, std::int32_t num_envs, std::vector<float>& actions) {
  actions.resize(static_cast<std::size_t>(num_envs) * bw::kActionDim);
  for (std::int32_t lane = 0; lane < num_envs; ++lane) {
    LaneRng rng{0xB1FEDu, static_cast<std::uint64_t>(lane), static_cast<std::uint64_t>(t)};
    const Uniform4 u = rng.uniform4(-1.25f, 1.25f);
    std::copy(u.v, u.v + 4, actions.begin() + lane * bw::kActionDim);
  }
}

// Steps `env` from step t0 to t1 (exclusive) with fill_actions, hashing obs, rewards, flags and the
// final observations of lanes that finished.
void hash_steps(VecEnv& env, std::int64_t t0, std::int64_t t1, Fnv1a& hash) {
  std::vector<float> actions;
  HostBatch host;
  const std::size_t dim = static_cast<std::size_t>(env.spec().obs_dim());
  for (std::int64_t t = t0; t < t1; ++t) {
    fill_actions(t, env.num_envs(), actions);
    env.step(ActionBatch::continuous(actions.data(), env.num_envs(), bw::kActionDim));
    env.copy_to_host(host);
    hash.add(host.obs);
    hash.add(host.reward);
    hash.add(host.terminated);
    hash.add(host.truncated);
    for (std::int32_t lane = 0; lane < env.num_envs(); ++lane)
      if (host.terminated[static_cast<std::size_t>(lane)] || host.truncated[static_cast<std::size_t>(lane)]) {
        hash.add(&host.final_obs[static_cast<std::size_t>(lane) * dim], dim * sizeof(float));
        hash.add(&host.final_length[static_cast<std::size_t>(lane)], sizeof(std::int32_t));
      }
  }
}

constexpr std::int32_t kLanes = 16;
constexpr std::int64_t kSteps = 600;
constexpr std::uint64_t kSeed = 20261127;

std::uint64_t rollout_hash(const std::string& id, std::int32_t threads) {
  VecEnvConfig config;
  config.num_envs = kLanes;
  config.threads = threads;
  auto env = make_env(id, config);
  env->reset(kSeed);
  HostBatch host;
  env->copy_to_host(host);
  Fnv1a hash;
  hash.add(host.obs);
  hash_steps(*env, 0, kSteps, hash);
  return hash.h;
}

// The physics core of lane `lane` of a BipedalWalker env made by make_env.
template <class Env>
const BipedalWalkerPhysics& lane_physics(const VecEnv& env, std::int32_t lane) {
  const auto* cpu = dynamic_cast<const CpuVecEnv<Env>*>(&env);
  if (cpu == nullptr) throw std::logic_error("not a CpuVecEnv of the expected walker");
  return cpu->lane(lane).physics();
}

// A walking gait for tests: a three-phase state machine (stand on one leg while the other swings
// forward, put it down, push off) with proportional-derivative joint targets, after the demo heuristic
// in the reference file. It walks normal terrain for hundreds of steps; it does not balance well.
class GaitController {
 public:
  void act(const float* s, float* a) {
    const int support = 1 - moving_;
    const float* mov = s + 4 + 5 * moving_;  // hip angle, hip speed, knee angle + 1, knee speed, contact
    const float* sup = s + 4 + 5 * support;
    const float kNone = std::numeric_limits<float>::quiet_NaN();
    float hip_target[2] = {kNone, kNone}, knee_target[2] = {kNone, kNone};
    if (phase_ == Phase::kSwing) {
      hip_target[moving_] = 1.1f;
      knee_target[moving_] = -0.6f;
      support_knee_ += s[2] > kSpeed ? 0.06f : 0.03f;
      support_knee_ = std::min(support_knee_, kSupportKnee);
      knee_target[support] = support_knee_;
      if (sup[0] < 0.10f) phase_ = Phase::kPlace;
    }
    if (phase_ == Phase::kPlace) {
      hip_target[moving_] = 0.1f;
      knee_target[moving_] = kSupportKnee;
      knee_target[support] = support_knee_;
      if (mov[4] > 0.5f) {
        phase_ = Phase::kPush;
        support_knee_ = std::min(mov[2], kSupportKnee);
      }
    }
    if (phase_ == Phase::kPush) {
      knee_target[moving_] = support_knee_;
      knee_target[support] = 1.0f;
      if (sup[2] > 0.88f || s[2] > 1.2f * kSpeed) {
        phase_ = Phase::kSwing;
        moving_ = support;
      }
    }
    for (int leg = 0; leg < 2; ++leg) {
      const float* row = s + 4 + 5 * leg;
      float hip = 0.0f, knee = 0.0f;
      // A zero target means "no target" there, as in the reference heuristic.
      if (!std::isnan(hip_target[leg]) && hip_target[leg] != 0.0f)
        hip = 0.9f * (hip_target[leg] - row[0]) - 0.25f * row[1];
      if (!std::isnan(knee_target[leg]) && knee_target[leg] != 0.0f)
        knee = 4.0f * (knee_target[leg] - row[2]) - 0.25f * row[3];
      hip -= 0.9f * (0.0f - s[0]) - 1.5f * s[1];  // keep the hull level
      knee -= 15.0f * s[3];                       // damp vertical bouncing
      a[2 * leg] = std::clamp(0.5f * hip, -1.0f, 1.0f);
      a[2 * leg + 1] = std::clamp(0.5f * knee, -1.0f, 1.0f);
    }
  }

 private:
  enum class Phase { kSwing, kPlace, kPush };
  static constexpr float kSpeed = 0.29f;
  static constexpr float kSupportKnee = 0.1f;
  Phase phase_ = Phase::kSwing;
  int moving_ = 0;
  float support_knee_ = kSupportKnee;
};

// ---- spec and layout -----------------------------------------------------------------------------

TEST(BipedalWalker, SpecIsGymnasiums) {
  const float pi = 3.14159265358979323846f;
  std::vector<float> low = {-pi, -5, -5, -5, -pi, -5, -pi, -5, 0, -pi, -5, -pi, -5, 0};
  std::vector<float> high = {pi, 5, 5, 5, pi, 5, pi, 5, 5, pi, 5, pi, 5, 5};
  low.insert(low.end(), 10, -1.0f);
  high.insert(high.end(), 10, 1.0f);
  for (const char* id : {kNormalId, kHardcoreId}) {
    const EnvSpec spec = env_spec(id);
    EXPECT_EQ(spec.id, id);
    EXPECT_EQ(spec.obs_dim(), 24);
    EXPECT_EQ(spec.observation_space.low, low) << id;
    EXPECT_EQ(spec.observation_space.high, high) << id;
    ASSERT_FALSE(spec.action_space.is_discrete());
    EXPECT_EQ(spec.action_space.shape, std::vector<std::int64_t>{4});
    EXPECT_EQ(spec.action_space.low, std::vector<float>(4, -1.0f));
    EXPECT_EQ(spec.action_space.high, std::vector<float>(4, 1.0f));
    ASSERT_TRUE(spec.reward_threshold.has_value());
    EXPECT_EQ(*spec.reward_threshold, 300.0);
  }
  EXPECT_EQ(env_spec(kNormalId).max_episode_steps, 1600);
  EXPECT_EQ(env_spec(kHardcoreId).max_episode_steps, 2000);
  EXPECT_EQ(env_spec(kNormalId, {{"max_episode_steps", 7}}).max_episode_steps, 7);
  EXPECT_THROW(env_spec(kNormalId, {{"hardcore", 1}}), std::invalid_argument);  // the second id is hardcore
}

TEST(BipedalWalker, ObservationLayoutFollowsThePhysics) {
  auto env = make_env(kHardcoreId, 4);
  env->reset(3);
  HostBatch host;
  std::vector<float> actions;
  for (std::int64_t t = 0; t < 200; ++t) {
    fill_actions(t, env->num_envs(), actions);
    env->step(ActionBatch::continuous(actions.data(), env->num_envs(), 4));
    env->copy_to_host(host);
    for (std::int32_t lane = 0; lane < env->num_envs(); ++lane) {
      const float* obs = host.obs.data() + lane * 24;
      const BipedalWalkerPhysics& p = lane_physics<box2d::BipedalWalkerHardcore>(*env, lane);
      EXPECT_EQ(obs[0], p.hull_angle());
      EXPECT_EQ(obs[1], static_cast<float>(2.0 * p.hull_angular_velocity() / 50.0));
      EXPECT_EQ(obs[2], static_cast<float>(0.3 * p.hull_velocity().x * 20.0 / 50.0));
      EXPECT_EQ(obs[3], static_cast<float>(0.3 * p.hull_velocity().y * (400.0 / 30.0) / 50.0));
      EXPECT_EQ(obs[8], p.ground_contact(0) ? 1.0f : 0.0f);
      EXPECT_EQ(obs[13], p.ground_contact(1) ? 1.0f : 0.0f);
      for (int leg = 0; leg < 2; ++leg) {
        const float* row = obs + 4 + 5 * leg;
        // Joint limits, hip [-0.8, 1.1] and knee [-1.6, -0.1] (shifted by +1), are soft in Box2D: joints
        // overshoot them under full torque, and the knee starts at 0, outside its range.
        EXPECT_GE(row[0], -0.8f - 0.3f);
        EXPECT_LE(row[0], 1.1f + 0.3f);
        EXPECT_GE(row[2], 1.0f - 1.6f - 0.3f);
        EXPECT_LE(row[2], 1.0f - 0.1f + 0.3f);
        EXPECT_TRUE(row[4] == 0.0f || row[4] == 1.0f);
      }
      for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(obs[14 + i], p.lidar_fractions()[static_cast<std::size_t>(i)]);
        EXPECT_GE(obs[14 + i], 0.0f);
        EXPECT_LE(obs[14 + i], 1.0f);
      }
    }
  }
}

// ---- reward --------------------------------------------------------------------------------------

TEST(BipedalWalker, RewardIsShapingDifferenceMinusTorqueCost) {
  BipedalWalkerPhysics p;
  LaneRng rng{11, 0, 0};
  p.reset(rng, false);
  EXPECT_EQ(p.torque_cost(), 0.0);  // the reset step applies no torque
  int checked = 0;
  for (std::uint64_t t = 0; t < 300; ++t) {
    LaneRng draw{99, 0, t};
    const Uniform4 u = draw.uniform4(-2.0f, 2.0f);
    float a[4] = {u.v[0], u.v[1], u.v[2], u.v[3]};
    if (t % 7 == 0) a[t % 4] = 0.0f;  // no torque on one joint
    double units = 0.0;
    for (float x : a) units += std::min(std::fabs(static_cast<double>(x)), 1.0);
    const double shaping_before = p.shaping();
    const StepOut r = p.step(a);
    EXPECT_NEAR(p.torque_cost(), 0.00035 * 80 * units, 1e-12);
    if (r.terminated) break;
    const double shaping = 130.0 * p.hull_position().x / 30.0 - 5.0 * std::fabs(static_cast<double>(p.hull_angle()));
    EXPECT_NEAR(p.shaping(), shaping, 1e-9);
    EXPECT_NEAR(r.reward, (shaping - shaping_before) - 0.00035 * 80 * units, 1e-5) << "step " << t;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

// Gymnasium's torque control uses sign(a) and min(|a|, 1): an action outside the box acts exactly as its
// clipped value, bit for bit.
TEST(BipedalWalker, ActionsOutsideTheBoxActAsClipped) {
  BipedalWalkerPhysics wide, clipped;
  LaneRng rng_a{5, 2, 0}, rng_b{5, 2, 0};
  wide.reset(rng_a, true);
  clipped.reset(rng_b, true);
  float obs_a[24], obs_b[24];
  for (std::uint64_t t = 0; t < 200; ++t) {
    LaneRng draw{42, 0, t};
    const Uniform4 u = draw.uniform4(-3.0f, 3.0f);
    float a[4], b[4];
    for (int j = 0; j < 4; ++j) {
      a[j] = u.v[j];
      b[j] = std::clamp(u.v[j], -1.0f, 1.0f);
    }
    const StepOut ra = wide.step(a), rb = clipped.step(b);
    wide.observe(obs_a);
    clipped.observe(obs_b);
    ASSERT_EQ(ra.reward, rb.reward) << "step " << t;
    ASSERT_EQ(ra.terminated, rb.terminated);
    ASSERT_EQ(0, std::memcmp(obs_a, obs_b, sizeof(obs_a))) << "step " << t;
    if (ra.terminated) break;
  }
}

TEST(BipedalWalker, FallingOnTheHullEndsWithMinus100) {
  // All four motors at full torque forward fold the walker onto its hull within a second.
  const float a[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    BipedalWalkerPhysics p;
    LaneRng rng{seed, 0, 0};
    p.reset(rng, seed % 2 == 1);
    StepOut r{0.0f, false};
    int t = 0;
    for (; t < 200 && !r.terminated; ++t) {
      EXPECT_FALSE(p.game_over());
      r = p.step(a);
    }
    ASSERT_TRUE(r.terminated) << "seed " << seed << " did not fall in 200 steps";
    EXPECT_TRUE(p.game_over()) << "seed " << seed;
    EXPECT_GE(p.hull_position().x, 0.0f);  // the hull contact, not x < 0, ended it
    EXPECT_EQ(r.reward, -100.0f);
  }
  // Through the batched back end: -100, terminated, not truncated, and the lane starts over.
  auto env = make_env(kNormalId, 2);
  env->reset(1);
  std::vector<float> actions(8, 1.0f);
  HostBatch host;
  for (int t = 1; t <= 200; ++t) {
    env->step(ActionBatch::continuous(actions.data(), 2, 4));
    env->copy_to_host(host);
    if (host.terminated[0]) {
      EXPECT_EQ(host.reward[0], -100.0f);
      EXPECT_EQ(host.truncated[0], 0);
      EXPECT_EQ(host.final_length[0], t);
      EXPECT_EQ(host.elapsed[0], 0);
      return;
    }
  }
  FAIL() << "lane 0 did not fall";
}

// ---- lidar ---------------------------------------------------------------------------------------

// The closest crossing of segment p -> e with the ground polyline, as a fraction of p -> e (1: none).
double ground_crossing(const BipedalWalkerPhysics& p, double px, double py, double ex, double ey) {
  const auto& xs = p.terrain_x();
  const auto& ys = p.terrain_y();
  double best = 1.0;
  for (std::size_t i = 0; i + 1 < xs.size(); ++i) {
    const double ax = xs[i], ay = ys[i], bx = xs[i + 1], by = ys[i + 1];
    const double rx = ex - px, ry = ey - py, sx = bx - ax, sy = by - ay;
    const double den = rx * sy - ry * sx;
    if (den == 0.0) continue;
    const double t = ((ax - px) * sy - (ay - py) * sx) / den;
    const double u = ((ax - px) * ry - (ay - py) * rx) / den;
    if (t >= 0.0 && t <= 1.0 && u >= 0.0 && u <= 1.0) best = std::min(best, t);
  }
  return best;
}

// Where segment p -> e enters the box [x0, x1] x [y0, y1], as a fraction of p -> e (1: it misses).
double box_crossing(double px, double py, double ex, double ey, double x0, double x1, double y0, double y1) {
  double enter = 0.0, leave = 1.0;
  const double d[2] = {ex - px, ey - py}, o[2] = {px, py}, lo[2] = {x0, y0}, hi[2] = {x1, y1};
  for (int k = 0; k < 2; ++k) {
    if (d[k] == 0.0) {
      if (o[k] < lo[k] || o[k] > hi[k]) return 1.0;
      continue;
    }
    double t0 = (lo[k] - o[k]) / d[k], t1 = (hi[k] - o[k]) / d[k];
    if (t0 > t1) std::swap(t0, t1);
    enter = std::max(enter, t0);
    leave = std::min(leave, t1);
  }
  return enter <= leave ? enter : 1.0;
}

TEST(BipedalWalker, LidarMeasuresTheDistanceToTheGround) {
  BipedalWalkerPhysics p;
  LaneRng rng{2, 0, 0};
  p.reset(rng, false);
  GaitController gait;
  float obs[24], a[4];
  p.observe(obs);
  int hits = 0;
  for (int t = 0; t < 300; ++t) {
    gait.act(obs, a);
    if (p.step(a).terminated) break;
    p.observe(obs);
    const box2d::Vec2f pos = p.hull_position();
    for (int i = 0; i < 10; ++i) {
      const double ex = pos.x + std::sin(1.5 * i / 10.0) * bw::kLidarRange;
      const double ey = pos.y - std::cos(1.5 * i / 10.0) * bw::kLidarRange;
      const float f = p.lidar_fractions()[static_cast<std::size_t>(i)];
      ASSERT_GE(f, 0.0f);
      ASSERT_LE(f, 1.0f);
      EXPECT_NEAR(f, ground_crossing(p, pos.x, pos.y, ex, ey), 1e-4) << "step " << t << " ray " << i;
      // The end point is the hit point on the ray.
      EXPECT_NEAR(p.lidar_end(i).x, pos.x + f * (ex - pos.x), 1e-3);
      EXPECT_NEAR(p.lidar_end(i).y, pos.y + f * (ey - pos.y), 1e-3);
      hits += f < 1.0f;
    }
  }
  EXPECT_GT(hits, 1000);  // the downward rays see the ground almost always
}

TEST(BipedalWalker, LidarFractionsShrinkApproachingAStump) {
  // The first hardcore seed whose first obstacle is a stump.
  BipedalWalkerPhysics p;
  box2d::Obstacle stump{};
  for (std::uint64_t seed = 0;; ++seed) {
    ASSERT_LT(seed, 50u) << "no stump first in 50 seeds";
    LaneRng rng{seed, 0, 0};
    p.reset(rng, true);
    stump = p.obstacles().front();
    if (stump.kind == TerrainKind::kStump) break;
  }
  const auto ground_index = static_cast<std::size_t>(std::lround(stump.x_begin / bw::kTerrainStep));
  const float ground_y = p.terrain_y()[ground_index];
  // Walk up to a metre before the stump, keeping the closest stump hit at each hull position.
  GaitController gait;
  float obs[24], a[4];
  p.observe(obs);
  std::vector<std::pair<float, float>> samples;  // (hull x, closest fraction among rays that hit the stump)
  for (int t = 0; t < 400 && p.hull_position().x < stump.x_begin - 1.0f; ++t) {
    gait.act(obs, a);
    ASSERT_FALSE(p.step(a).terminated) << "the walker fell before the stump, step " << t;
    p.observe(obs);
    float closest = 2.0f;
    const box2d::Vec2f pos = p.hull_position();
    for (int i = 0; i < 10; ++i) {
      const float f = p.lidar_fractions()[static_cast<std::size_t>(i)];
      ASSERT_GE(f, 0.0f);
      ASSERT_LE(f, 1.0f);
      // A ray that meets the stump reports the closer of the stump and the ground (v3's closest hit),
      // never the ground behind the stump.
      const double ex = pos.x + std::sin(1.5 * i / 10.0) * bw::kLidarRange;
      const double ey = pos.y - std::cos(1.5 * i / 10.0) * bw::kLidarRange;
      const double size = stump.x_end - stump.x_begin;
      const double on_box = box_crossing(pos.x, pos.y, ex, ey, stump.x_begin, stump.x_end, ground_y, ground_y + size);
      if (on_box < 1.0) {
        EXPECT_NEAR(f, std::min(on_box, ground_crossing(p, pos.x, pos.y, ex, ey)), 1e-4)
            << "step " << t << " ray " << i;
      }
      const box2d::Vec2f hit = p.lidar_end(i);
      const bool on_stump = f < 1.0f && hit.x >= stump.x_begin - 1e-3f && hit.x <= stump.x_end + 1e-3f &&
                            hit.y > ground_y + 1e-3f;
      if (on_stump) closest = std::min(closest, f);
    }
    if (closest <= 1.0f) samples.emplace_back(p.hull_position().x, closest);
  }
  ASSERT_GE(p.hull_position().x, stump.x_begin - 1.0f) << "the walker did not reach the stump";
  ASSERT_GE(samples.size(), 10u) << "the lidar hardly saw the stump";
  // Far from the stump only the flattest rays reach it, near it the steep ones hit it early.
  EXPECT_LT(samples.back().second, samples.front().second - 0.3f)
      << "closest stump hit " << samples.front().second << " at x " << samples.front().first << ", then "
      << samples.back().second << " at x " << samples.back().first;
  // And on the way, the closest hit shrinks: compare averages over the first and last quarters.
  const std::size_t q = samples.size() / 4;
  double first = 0.0, last = 0.0;
  for (std::size_t i = 0; i < q; ++i) {
    first += samples[i].second;
    last += samples[samples.size() - 1 - i].second;
  }
  EXPECT_LT(last, first);
}

// ---- terrain -------------------------------------------------------------------------------------

TEST(BipedalWalker, HardcoreTerrainHasStumpsStairsAndPits) {
  box2d::ObstacleCounts total;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    BipedalWalkerPhysics p;
    LaneRng rng{seed, 0, 0};
    p.reset(rng, true);
    const box2d::ObstacleCounts c = p.obstacle_counts();
    total.stumps += c.stumps;
    total.stairs += c.stairs;
    total.pits += c.pits;
    ASSERT_FALSE(p.obstacles().empty());
    ASSERT_EQ(p.terrain_x().size(), 200u);
    float previous_end = 0.0f;
    for (const box2d::Obstacle& o : p.obstacles()) {
      EXPECT_GE(o.x_begin, bw::kTerrainStartpad * bw::kTerrainStep - 1e-4);  // the start pad stays grass
      EXPECT_GT(o.x_begin, previous_end);                                     // grass between obstacles
      EXPECT_GT(o.x_end, o.x_begin);
      previous_end = o.x_end;
      const auto i0 = static_cast<std::size_t>(std::lround(o.x_begin / bw::kTerrainStep));
      const float y0 = p.terrain_y()[i0];
      if (o.kind == TerrainKind::kPit && i0 + 2 < p.terrain_y().size()) {
        // The ground inside a pit lies four terrain steps below its edge.
        EXPECT_NEAR(p.terrain_y()[i0 + 1], y0 - 4 * bw::kTerrainStep, 1e-4);
      }
      if (o.kind == TerrainKind::kStump) {
        const double width = o.x_end - o.x_begin;  // 1 or 2 steps, square
        EXPECT_TRUE(std::fabs(width - bw::kTerrainStep) < 1e-4 || std::fabs(width - 2 * bw::kTerrainStep) < 1e-4);
      }
      if (o.kind == TerrainKind::kStairs) {
        const double width = o.x_end - o.x_begin;  // 3 or 4 stairs of 4 steps
        EXPECT_TRUE(std::fabs(width - 12 * bw::kTerrainStep) < 1e-4 || std::fabs(width - 16 * bw::kTerrainStep) < 1e-4);
      }
    }
  }
  EXPECT_GT(total.stumps, 0);
  EXPECT_GT(total.stairs, 0);
  EXPECT_GT(total.pits, 0);

  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    BipedalWalkerPhysics p;
    LaneRng rng{seed, 0, 0};
    p.reset(rng, false);
    const box2d::ObstacleCounts c = p.obstacle_counts();
    EXPECT_EQ(c.stumps + c.stairs + c.pits, 0) << "normal terrain has obstacles, seed " << seed;
    EXPECT_TRUE(p.obstacles().empty());
    // Grass wanders around TERRAIN_HEIGHT, pulled back towards it.
    for (float y : p.terrain_y()) EXPECT_NEAR(y, bw::kTerrainHeight, 3.0);
  }
}

TEST(BipedalWalker, EveryResetBuildsANewTerrainFromTheStream) {
  BipedalWalkerPhysics p;
  LaneRng rng{8, 1, 0};
  p.reset(rng, true);
  const std::vector<float> first = p.terrain_y();
  const std::uint64_t draws = rng.draws;
  p.reset(rng, true);
  EXPECT_NE(p.terrain_y(), first) << "the second episode reused the first terrain";
  LaneRng again{8, 1, draws};  // the same stream position gives the same second episode
  BipedalWalkerPhysics q;
  q.reset(again, true);
  EXPECT_EQ(q.terrain_y(), p.terrain_y());
  float a[24], b[24];
  p.observe(a);
  q.observe(b);
  EXPECT_EQ(0, std::memcmp(a, b, sizeof(a)));
}

// ---- time limit and success ----------------------------------------------------------------------

TEST(BipedalWalker, TimeLimitTruncates) {
  // A short limit through the option: idle walkers stand for 30 steps before they sag onto the hull.
  auto env = make_env(kNormalId, 3, Device::kCpu, {{"max_episode_steps", 30}});
  env->reset(4);
  std::vector<float> idle(12, 0.0f);
  HostBatch host;
  for (int t = 1; t <= 30; ++t) {
    env->step(ActionBatch::continuous(idle.data(), 3, 4));
    env->copy_to_host(host);
    for (int lane = 0; lane < 3; ++lane) {
      ASSERT_EQ(host.terminated[static_cast<std::size_t>(lane)], 0) << "lane " << lane << " fell at step " << t;
      ASSERT_EQ(host.truncated[static_cast<std::size_t>(lane)], t == 30 ? 1 : 0) << "step " << t;
    }
  }
  for (int lane = 0; lane < 3; ++lane) {
    EXPECT_EQ(host.final_length[static_cast<std::size_t>(lane)], 30);
    EXPECT_EQ(host.elapsed[static_cast<std::size_t>(lane)], 0);
  }

  // The default limit, 1600 steps: a walker that keeps walking is truncated there.
  for (std::uint64_t seed = 0;; ++seed) {
    ASSERT_LT(seed, 40u) << "no walker lasted 1600 steps in 40 seeds";
    auto one = make_env(kNormalId, 1);
    one->reset(seed);
    GaitController gait;
    std::vector<float> action(4);
    HostBatch h;
    one->copy_to_host(h);
    bool fell = false;
    for (int t = 1; t <= 1600 && !fell; ++t) {
      gait.act(h.obs.data(), action.data());
      one->step(ActionBatch::continuous(action.data(), 1, 4));
      one->copy_to_host(h);
      if (t < 1600) {
        fell = h.terminated[0] != 0;
        ASSERT_EQ(h.truncated[0], 0);
      } else {
        EXPECT_EQ(h.truncated[0], 1);
        EXPECT_EQ(h.final_length[0], 1600);
        return;
      }
    }
  }
}

TEST(BipedalWalker, ReachingTheEndTerminatesWithoutPenalty) {
  for (std::uint64_t seed = 0;; ++seed) {
    ASSERT_LT(seed, 20u) << "the gait reached the end in none of 20 seeds";
    BipedalWalkerPhysics p;
    LaneRng rng{seed, 0, 0};
    p.reset(rng, false);
    GaitController gait;
    float obs[24], a[4];
    p.observe(obs);
    double total = 0.0;
    StepOut r{0.0f, false};
    for (int t = 0; t < 3000 && !r.terminated; ++t) {
      gait.act(obs, a);
      r = p.step(a);
      p.observe(obs);
      total += r.reward;
    }
    if (p.game_over()) continue;  // fell: try the next terrain
    ASSERT_TRUE(r.terminated);
    EXPECT_GT(p.hull_position().x, bw::kSuccessX);
    EXPECT_NE(r.reward, -100.0f);
    EXPECT_GT(total, 250.0) << "shaping should give about 300 over the whole course";
    return;
  }
}

// ---- scene ---------------------------------------------------------------------------------------

TEST(BipedalWalker, DescribeFillsThePaintersContract) {
  auto env = make_env(kHardcoreId, 2);
  env->reset(6);
  std::vector<float> actions;
  fill_actions(0, 2, actions);
  env->step(ActionBatch::continuous(actions.data(), 2, 4));
  Scene scene;
  ASSERT_TRUE(env->describe(1, scene));
  EXPECT_EQ(scene.env_id, kHardcoreId);
  const BipedalWalkerPhysics& p = lane_physics<box2d::BipedalWalkerHardcore>(*env, 1);
  std::map<std::string, int> count;
  for (const SceneShape& s : scene.shapes) {
    ++count[s.tag];
    if (s.tag == "lidar") {
      ASSERT_EQ(s.kind, SceneShape::Kind::kPolyline);
      ASSERT_EQ(s.xy.size(), 4u);
      EXPECT_EQ(s.xy[0], p.hull_position().x);
      EXPECT_EQ(s.xy[1], p.hull_position().y);
      EXPECT_EQ(s.xy[2], p.lidar_end(s.index).x);
    }
    if (s.tag == "terrain" || s.tag == "hull" || s.tag == "upper_leg" || s.tag == "lower_leg" || s.tag == "obstacle" ||
        s.tag == "flag") {
      EXPECT_EQ(s.kind, SceneShape::Kind::kPolygon) << s.tag;
    }
    if (s.tag == "terrain") {
      EXPECT_EQ(s.xy.size(), 8u);
    }
    if (s.tag == "hull") {
      EXPECT_EQ(s.xy.size(), 10u);
    }
    if (s.tag == "flag") {
      EXPECT_EQ(s.xy.size(), 6u);
    }
    if (s.tag == "flag_pole") {
      EXPECT_EQ(s.kind, SceneShape::Kind::kPolyline);
    }
  }
  EXPECT_EQ(count["terrain"], 199);
  EXPECT_EQ(count["lidar"], 10);
  EXPECT_EQ(count["hull"], 1);
  EXPECT_EQ(count["upper_leg"], 2);
  EXPECT_EQ(count["lower_leg"], 2);
  EXPECT_EQ(count["flag_pole"], 1);
  EXPECT_EQ(count["flag"], 1);
  EXPECT_GT(count["obstacle"], 0);
  const float scroll = p.hull_position().x - 20.0f / 5.0f;
  EXPECT_FLOAT_EQ(scene.view[0], scroll);
  EXPECT_FLOAT_EQ(scene.view[2], scroll + 20.0f);
  EXPECT_FLOAT_EQ(scene.view[3], 400.0f / 30.0f);
  EXPECT_EQ(scene.values.at("hull_x"), p.hull_position().x);
  EXPECT_EQ(scene.values.at("hull_y"), p.hull_position().y);
  EXPECT_EQ(scene.values.at("ground_contact0"), p.ground_contact(0) ? 1.0f : 0.0f);
  EXPECT_EQ(scene.values.at("ground_contact1"), p.ground_contact(1) ? 1.0f : 0.0f);

  Scene normal;
  auto plain = make_env(kNormalId, 1);
  plain->reset(6);
  ASSERT_TRUE(plain->describe(0, normal));
  for (const SceneShape& s : normal.shapes) EXPECT_NE(s.tag, "obstacle");
}

// ---- determinism ---------------------------------------------------------------------------------

// Golden values, recorded from this implementation (x86-64, gcc 12, Box2D 2.4.1). They change only when
// the walker's behaviour changes on purpose (or Box2D's solver does): then record the new value and say
// why in the commit.
const std::map<std::string, std::uint64_t> kGolden = {
    {kNormalId, 0x1b57f6cafcde0e87ull},
    {kHardcoreId, 0x413510df23964f76ull},
};

TEST(BipedalWalker, GoldenHashForOneAndTwoThreads) {
  for (const char* id : {kNormalId, kHardcoreId}) {
    const std::uint64_t one = rollout_hash(id, 1);
    const std::uint64_t two = rollout_hash(id, 2);
    EXPECT_EQ(one, two) << id << ": 1 and 2 threads differ";
    EXPECT_EQ(one, kGolden.at(id)) << id << ": rollout hash 0x" << std::hex << one << " differs from the golden value";
  }
}

TEST(BipedalWalker, SnapshotContinuesBitIdentically) {
  for (const char* id : {kNormalId, kHardcoreId}) {
    VecEnvConfig config;
    config.num_envs = 8;
    config.threads = 2;
    auto env = make_env(id, config);
    env->reset(77);
    Fnv1a before;
    hash_steps(*env, 0, 150, before);  // mid-episode for most lanes, some have restarted
    const std::vector<std::uint8_t> snapshot = env->save_snapshot();
    Fnv1a straight;
    hash_steps(*env, 150, 300, straight);

    auto fresh = make_env(id, config);
    fresh->reset(1);  // a different run, overwritten by the snapshot
    fresh->load_snapshot(snapshot);
    Fnv1a resumed;
    hash_steps(*fresh, 150, 300, resumed);
    EXPECT_EQ(straight.h, resumed.h) << id << ": a loaded snapshot does not continue the run";
  }
}

}  // namespace
}  // namespace apiary::envs
