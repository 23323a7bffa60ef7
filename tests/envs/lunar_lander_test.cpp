// LunarLander-v3 and LunarLanderContinuous-v3: the physics and rules of
// tests/data/reference/box2d_envs.md, each checked on the physics core or through the batched env, and
// a golden hash that holds for any thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/fnv1a.h"
#include "envs/box2d/lunar_lander.h"
#include "envs/cpu_vec_env.h"
#include "envs/random_actions.h"
#include "envs/registry.h"

namespace apiary::envs {
namespace {

using apiary::core::Fnv1a;

std::uint64_t rollout_hash(const std::string& id, std::int32_t threads, const EnvOptions& options = {},
                           std::int32_t lanes = 16, int steps = 400) {
  VecEnvConfig config;
  config.num_envs = lanes;
  config.threads = threads;
  config.options = options;
  auto env = make_env(id, config);
  RandomActions random(env->spec(), lanes, 7);
  env->reset(2026);
  HostBatch host;
  Fnv1a hash;
  for (int t = 0; t < steps; ++t) {
    env->step(random.next());
    env->copy_to_host(host);
    hash.add(host.obs);
    hash.add(host.reward);
    hash.add(host.terminated);
    hash.add(host.truncated);
    hash.add(host.final_obs);
  }
  return hash.h;
}

// The lander's shaping as the reference defines it, from an observation.
double shaping(const float* s) {
  return -100 * std::sqrt(double(s[0]) * s[0] + double(s[1]) * s[1]) -
         100 * std::sqrt(double(s[2]) * s[2] + double(s[3]) * s[3]) - 100 * std::abs(double(s[4])) + 10 * s[6] +
         10 * s[7];
}

// A simple landing controller (the classic PID-like heuristic): aim at the pad, hover lower as the
// lander nears it, and stop correcting once a leg touches.
std::int32_t heuristic(const float* s) {
  const double angle_targ = std::clamp(s[0] * 0.5 + s[2] * 1.0, -0.4, 0.4);
  const double hover_targ = 0.55 * std::abs(s[0]);
  double angle_todo = (angle_targ - s[4]) * 0.5 - s[5] * 1.0;
  double hover_todo = (hover_targ - s[1]) * 0.5 - s[3] * 0.5;
  if (s[6] > 0 || s[7] > 0) {
    angle_todo = 0;
    hover_todo = -s[3] * 0.5;
  }
  if (hover_todo > std::abs(angle_todo) && hover_todo > 0.05) return 2;
  if (angle_todo < -0.05) return 3;
  if (angle_todo > 0.05) return 1;
  return 0;
}

// One lander driven directly through the physics core.
struct Lander {
  explicit Lander(LunarLanderParams params = {}, std::uint64_t seed = 1, std::uint64_t lane = 0)
      : physics(params), rng{seed, lane, 0} {
    physics.reset(rng);
    physics.observe(obs);
  }
  StepOut step(std::int32_t action) {
    const StepOut r = physics.step(LunarLander::command(&action), rng);
    physics.observe(obs);
    return r;
  }
  StepOut step_continuous(float main, float lateral) {
    const float a[2] = {main, lateral};
    const StepOut r = physics.step(LunarLanderContinuous::command(a), rng);
    physics.observe(obs);
    return r;
  }
  LunarLanderPhysics physics;
  LaneRng rng;
  float obs[8] = {};
};

TEST(LunarLander, SpecMatchesGymnasium) {
  const EnvSpec d = env_spec("LunarLander-v3");
  EXPECT_EQ(d.observation_space.to_string(),
            "Box([-2.5 -2.5 -1e+01 -1e+01 -6.2831855 -1e+01 0.0 0.0], [2.5 2.5 1e+01 1e+01 6.2831855 1e+01 1.0 1.0], (8,), "
            "float32)")
      << "v3's bounds (issue #752)";
  EXPECT_EQ(d.action_space.to_string(), "Discrete(4)");
  EXPECT_EQ(d.max_episode_steps, 1000);
  EXPECT_EQ(d.reward_threshold.value_or(0), 200.0);
  const EnvSpec c = env_spec("LunarLanderContinuous-v3");
  EXPECT_EQ(c.action_space.to_string(), "Box(-1.0, 1.0, (2,), float32)");
  EXPECT_EQ(c.max_episode_steps, 1000);
}

TEST(LunarLander, GoldenHashIsTheSameForOneAndTwoThreads) {
  // Golden values: a change to the physics, the random streams or auto-reset shows here.
  const std::uint64_t discrete = rollout_hash("LunarLander-v3", 1);
  EXPECT_EQ(discrete, rollout_hash("LunarLander-v3", 2));
  const std::uint64_t continuous = rollout_hash("LunarLanderContinuous-v3", 1);
  EXPECT_EQ(continuous, rollout_hash("LunarLanderContinuous-v3", 2));
  const EnvOptions wind{{"enable_wind", 1.0}, {"wind_power", 20.0}, {"turbulence_power", 2.0}};
  const std::uint64_t windy = rollout_hash("LunarLander-v3", 1, wind);
  EXPECT_EQ(windy, rollout_hash("LunarLander-v3", 2, wind));
  EXPECT_NE(windy, discrete);
  EXPECT_EQ(discrete, 15733593149021563913u) << "golden LunarLander-v3";
  EXPECT_EQ(continuous, 6735365744053157741u) << "golden LunarLanderContinuous-v3";
  EXPECT_EQ(windy, 2680000624750887640u) << "golden LunarLander-v3 with wind";
}

TEST(LunarLander, ResetObservationIsTheFirstNoOpStep) {
  Lander lander;
  // Spawned at the top centre, pushed by a random force for one step: x near 0, y near the top.
  EXPECT_NEAR(lander.obs[0], 0.0, 0.05);
  EXPECT_NEAR(lander.obs[1], (400.0 / 30 - (400.0 / 30 / 4 + 18.0 / 30)) / (400.0 / 30 / 2), 0.05);
  EXPECT_EQ(lander.obs[6], 0.0f);
  EXPECT_EQ(lander.obs[7], 0.0f);
  EXPECT_NE(lander.obs[2], 0.0f) << "the initial random force moves the lander";
}

TEST(LunarLander, GravitySetsTheFreeFallAcceleration) {
  std::vector<float> accel;
  for (const float g : {-10.0f, -5.0f, -1.5f}) {
    LunarLanderParams params;
    params.gravity = g;
    Lander lander(params);
    const float vy0 = lander.physics.lander().vy;
    const int steps = 10;
    for (int i = 0; i < steps; ++i) lander.step(0);
    accel.push_back((lander.physics.lander().vy - vy0) / (steps / 50.0f));
    // The body's own acceleration also carries the legs' joint forces while their motors swing them.
    EXPECT_NEAR(accel.back(), g, 0.1) << "gravity " << g;
  }
  // Those forces are the same whatever the gravity: differences in gravity show exactly.
  EXPECT_NEAR(accel[0] - accel[1], -5.0, 1e-3);
  EXPECT_NEAR(accel[1] - accel[2], -3.5, 1e-3);
}

TEST(LunarLander, WithNoActionItFallsAndEndsCrashedOrAtRest) {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    Lander lander({}, seed);
    const float y0 = lander.obs[1];
    StepOut r{};
    int t = 0;
    for (; t < 1000 && !r.terminated; ++t) r = lander.step(0);
    ASSERT_TRUE(r.terminated) << "seed " << seed << ": a lander left alone must crash or come to rest";
    EXPECT_LT(lander.obs[1], y0 - 1.0f) << "seed " << seed << ": it fell";
    EXPECT_TRUE(r.reward == -100.0f || r.reward == 100.0f) << r.reward;
    if (r.reward == -100.0f)
      EXPECT_TRUE(lander.physics.game_over() || std::abs(lander.obs[0]) >= 1.0f);
    else
      EXPECT_FALSE(lander.physics.lander().awake);
  }
}

TEST(LunarLander, MainEngineSlowsTheFall) {
  Lander off({}, 3), on({}, 3);
  for (int i = 0; i < 30; ++i) {
    off.step(0);
    on.step(2);
  }
  EXPECT_LT(off.obs[3], on.obs[3] - 0.5f) << "vertical speed without and with the main engine";
  EXPECT_GT(on.physics.lander().vy, off.physics.lander().vy);
}

TEST(LunarLander, SideEnginesTurnItTheDocumentedWay) {
  // Action 1 (the left orientation engine) pushes the lander left from its right side and turns it
  // counter-clockwise (angle up); action 3 the opposite. Gymnasium's own heuristic relies on this.
  Lander left({}, 5), none({}, 5), right({}, 5);
  for (int i = 0; i < 10; ++i) {
    left.step(1);
    none.step(0);
    right.step(3);
  }
  EXPECT_GT(left.obs[4], none.obs[4] + 0.05f);
  EXPECT_LT(right.obs[4], none.obs[4] - 0.05f);
  EXPECT_GT(left.obs[5], 0.0f);
  EXPECT_LT(right.obs[5], 0.0f);
  EXPECT_LT(left.obs[2], none.obs[2]) << "the left engine pushes it left";
  EXPECT_GT(right.obs[2], none.obs[2]);
}

TEST(LunarLander, RewardIsTheShapingDifferenceMinusFuel) {
  Lander lander({}, 11);
  float prev[8];
  // Continuous actions cover every throttle: main 50%..100%, lateral 50%..100% either way, and off.
  const float actions[][2] = {{0.5f, 0.75f}, {1.0f, -1.0f}, {-0.3f, 0.2f}, {0.0f, 0.6f}, {0.2f, -0.55f}, {3.0f, 0.0f}};
  for (int t = 0; t < 60; ++t) {
    std::copy(lander.obs, lander.obs + 8, prev);
    const float* a = actions[t % 6];
    const EngineCommand c = LunarLanderContinuous::command(a);
    const StepOut r = lander.step_continuous(a[0], a[1]);
    ASSERT_FALSE(r.terminated);
    const double expected = shaping(lander.obs) - shaping(prev) - 0.3 * c.main_power - 0.03 * c.side_power;
    EXPECT_NEAR(r.reward, expected, 2e-3) << "step " << t;
  }
  // The throttle mapping itself.
  const float half[2] = {0.0f, 0.5f}, low[2] = {0.01f, -0.51f}, full[2] = {5.0f, 5.0f};
  EXPECT_EQ(LunarLanderContinuous::command(half).main_power, 0.0f);
  EXPECT_EQ(LunarLanderContinuous::command(half).side_power, 0.0f) << "lateral fires only past |0.5|";
  EXPECT_NEAR(LunarLanderContinuous::command(low).main_power, 0.505f, 1e-6);
  EXPECT_NEAR(LunarLanderContinuous::command(low).side_power, 0.51f, 1e-6);
  EXPECT_EQ(LunarLanderContinuous::command(low).side_direction, -1.0f);
  EXPECT_EQ(LunarLanderContinuous::command(full).main_power, 1.0f);
  EXPECT_EQ(LunarLanderContinuous::command(full).side_power, 1.0f);
}

TEST(LunarLander, LegContactsAppearInTheObservationOnTouchdown) {
  bool touched = false;
  for (std::uint64_t seed = 1; seed <= 4 && !touched; ++seed) {
    Lander lander({}, seed);
    StepOut r{};
    for (int t = 0; t < 1000 && !r.terminated; ++t) {
      r = lander.step(heuristic(lander.obs));
      for (int leg = 0; leg < 2; ++leg) {
        EXPECT_EQ(lander.obs[6 + leg], lander.physics.leg_contact(leg) ? 1.0f : 0.0f);
        if (lander.obs[6 + leg] == 1.0f) {
          touched = true;
          // A leg touches only near the ground: below the spawn height by far.
          EXPECT_LT(lander.obs[1], 0.5f);
        }
      }
    }
  }
  EXPECT_TRUE(touched);
}

TEST(LunarLander, LandingAtRestGivesPlus100AndTheHeuristicSolvesIt) {
  // The heuristic lands; a lander at rest falls asleep, which ends the episode with +100.
  double total = 0.0;
  int rests = 0;
  const int episodes = 10;
  for (int e = 0; e < episodes; ++e) {
    Lander lander({}, 100 + e);
    StepOut r{};
    double ret = 0.0;
    for (int t = 0; t < 1000 && !r.terminated; ++t) {
      r = lander.step(heuristic(lander.obs));
      ret += r.reward;
    }
    if (r.terminated && r.reward == 100.0f) {
      ++rests;
      EXPECT_FALSE(lander.physics.lander().awake);
      EXPECT_FALSE(lander.physics.game_over());
    }
    total += ret;
  }
  EXPECT_GE(rests, episodes / 2);
  EXPECT_GT(total / episodes, 200.0) << "the heuristic lands the v3 lander as in Gymnasium";
}

TEST(LunarLander, LeavingTheScreenEndsWithMinus100) {
  // Weak gravity: pushed sideways by the initial force, landers drift off the screen before landing.
  VecEnvConfig config;
  config.num_envs = 32;
  config.options = {{"gravity", -0.1}};
  auto env = make_env("LunarLander-v3", config);
  env->reset(9);
  std::vector<std::int32_t> noop(32, 0);
  std::vector<bool> done(32, false);
  int off_screen = 0;
  HostBatch host;
  for (int t = 0; t < 1000; ++t) {
    env->step(ActionBatch::discrete(noop.data(), 32));
    env->copy_to_host(host);
    for (int lane = 0; lane < 32; ++lane) {
      if (done[lane] || !host.terminated[lane]) continue;
      done[lane] = true;
      if (std::abs(host.final_obs[lane * 8]) >= 1.0f) {
        ++off_screen;
        EXPECT_EQ(host.reward[lane], -100.0f);
      }
    }
  }
  EXPECT_GE(off_screen, 4);
}

TEST(LunarLander, BodyTouchingTheGroundEndsWithMinus100) {
  // Turned on its side by one engine, the lander lands on its body.
  int crashes = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Lander lander({}, seed);
    StepOut r{};
    for (int t = 0; t < 1000 && !r.terminated; ++t) r = lander.step(t < 40 ? 1 : 0);
    ASSERT_TRUE(r.terminated);
    if (lander.physics.game_over()) {
      ++crashes;
      EXPECT_EQ(r.reward, -100.0f);
    }
  }
  EXPECT_GE(crashes, 3);
}

TEST(LunarLander, WindMovesAHoveringLander) {
  LunarLanderParams windy;
  windy.enable_wind = 1.0f;
  windy.wind_power = 20.0f;
  windy.turbulence_power = 0.0f;
  Lander calm({}, 21), blown(windy, 21);
  double wind_sum = 0.0;
  for (int t = 0; t < 60; ++t) {
    calm.step(heuristic(calm.obs));
    blown.step(heuristic(calm.obs));  // the same actions
    wind_sum += blown.physics.last_wind();
    ASSERT_EQ(calm.physics.last_wind(), 0.0f);
  }
  ASSERT_GT(std::abs(wind_sum), 10.0);
  const double dx = blown.physics.lander().x - calm.physics.lander().x;
  EXPECT_GT(std::abs(dx), 0.05);
  EXPECT_EQ(dx > 0, wind_sum > 0) << "the lander drifts with the wind";
}

TEST(LunarLander, TimeLimitTruncates) {
  VecEnvConfig config;
  config.num_envs = 4;
  config.options = {{"gravity", -0.01}, {"max_episode_steps", 25}};
  auto env = make_env("LunarLander-v3", config);
  EXPECT_EQ(env->spec().max_episode_steps, 25);
  env->reset(1);
  std::vector<std::int32_t> noop(4, 0);
  HostBatch host;
  for (int t = 1; t <= 25; ++t) {
    env->step(ActionBatch::discrete(noop.data(), 4));
    env->copy_to_host(host);
    for (int lane = 0; lane < 4; ++lane) {
      EXPECT_EQ(host.terminated[lane], 0);
      EXPECT_EQ(host.truncated[lane], t == 25 ? 1 : 0) << "step " << t;
    }
  }
  for (int lane = 0; lane < 4; ++lane) {
    EXPECT_EQ(host.final_length[lane], 25);
    EXPECT_EQ(host.elapsed[lane], 0) << "auto-reset";
  }
}

TEST(LunarLander, ObservationsStayWithinTheDeclaredBounds) {
  auto env = make_env("LunarLanderContinuous-v3", 32);
  RandomActions random(env->spec(), 32, 3);
  env->reset(3);
  HostBatch host;
  const Space& space = env->spec().observation_space;
  for (int t = 0; t < 300; ++t) {
    env->step(random.next());
    env->copy_to_host(host);
    for (int lane = 0; lane < 32; ++lane) {
      // Every element within v3's bounds except the angle, which is Box2D's unwrapped angle exactly as
      // in Gymnasium (a lander that spins past a full turn reports more than 2 pi there too); the spec
      // says so.
      ASSERT_EQ(env->spec().unbounded_obs, std::vector<std::int32_t>{4});
      const float* o = &host.obs[lane * 8];
      for (int i = 0; i < 8; ++i) {
        if (i == 4) continue;
        ASSERT_TRUE(o[i] >= space.low[i] && o[i] <= space.high[i])
            << "lane " << lane << " step " << t << " obs[" << i << "] = " << o[i];
      }
      for (int i = 0; i < 8; ++i) ASSERT_TRUE(std::isfinite(host.obs[lane * 8 + i]));
      EXPECT_TRUE(host.obs[lane * 8 + 6] == 0.0f || host.obs[lane * 8 + 6] == 1.0f);
    }
  }
}

TEST(LunarLander, NonFiniteContinuousActionsAreRefused) {
  auto env = make_env("LunarLanderContinuous-v3", 3);
  env->reset(0);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> actions = {0.f, 0.f, 0.f, 0.f, 0.f, bad};
    try {
      env->step(ActionBatch::continuous(actions.data(), 3, 2));
      FAIL() << "accepted " << bad;
    } catch (const std::out_of_range& e) {
      EXPECT_NE(std::string(e.what()).find("lane 2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("LunarLanderContinuous-v3"), std::string::npos) << e.what();
    }
  }
  std::vector<std::int32_t> discrete = {0, 4, 0};
  auto d = make_env("LunarLander-v3", 3);
  d->reset(0);
  EXPECT_THROW(d->step(ActionBatch::discrete(discrete.data(), 3)), std::out_of_range);
}

TEST(LunarLander, OptionsOutOfGymnasiumsRangeAreRefusedWithTheRange) {
  const struct {
    const char* name;
    double value;
    const char* range;
  } cases[] = {{"gravity", 0.0, "(-12, 0)"},         {"gravity", -12.0, "(-12, 0)"},
               {"gravity", 3.0, "(-12, 0)"},         {"wind_power", 25.0, "[0, 20]"},
               {"turbulence_power", -1.0, "[0, 2]"}, {"enable_wind", 2.0, "[0, 1]"}};
  for (const auto& c : cases) {
    try {
      env_spec("LunarLander-v3", {{c.name, c.value}});
      FAIL() << c.name << " = " << c.value << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.name), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.range), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(env_spec("LunarLander-v3", {{"enable_wind", 0.5}}), std::invalid_argument);
  EXPECT_NO_THROW(env_spec("LunarLander-v3", {{"gravity", -11.99}, {"enable_wind", 1.0}, {"wind_power", 20.0}}));
}

TEST(LunarLander, SnapshotContinuesExactly) {
  VecEnvConfig config;
  config.num_envs = 6;
  config.options = {{"enable_wind", 1.0}};
  auto a = make_env("LunarLander-v3", config);
  auto b = make_env("LunarLander-v3", config);
  RandomActions random(a->spec(), 6, 5);
  a->reset(77);
  for (int t = 0; t < 150; ++t) a->step(random.next());  // some lanes have ended and restarted
  const auto snapshot = a->save_snapshot();
  b->load_snapshot(snapshot);
  HostBatch ha, hb;
  for (int t = 0; t < 200; ++t) {
    const ActionBatch actions = random.next();
    a->step(actions);
    b->step(actions);
    a->copy_to_host(ha);
    b->copy_to_host(hb);
    ASSERT_EQ(ha.obs, hb.obs) << "step " << t;
    ASSERT_EQ(ha.reward, hb.reward);
    ASSERT_EQ(ha.terminated, hb.terminated);
  }
  auto other = make_env("LunarLanderContinuous-v3", 6);
  EXPECT_THROW(other->load_snapshot(snapshot), std::invalid_argument);
  auto truncated = snapshot;
  truncated.resize(truncated.size() - 3);
  EXPECT_THROW(b->load_snapshot(truncated), std::invalid_argument);
}

TEST(LunarLander, DescribeShowsWhatAPainterNeeds) {
  auto env = make_env("LunarLander-v3", 2);
  env->reset(4);
  std::vector<std::int32_t> fire = {2, 3};
  env->step(ActionBatch::discrete(fire.data(), 2));
  Scene scene;
  ASSERT_TRUE(env->describe(0, scene));
  EXPECT_EQ(scene.env_id, "LunarLander-v3");
  int sky = 0, lander = 0, legs = 0, main_flame = 0, side_flame = 0;
  for (const auto& s : scene.shapes) {
    sky += s.tag == "sky";
    lander += s.tag == "lander";
    legs += s.tag == "leg";
    main_flame += s.tag == "flame_main";
    side_flame += s.tag == "flame_side";
  }
  EXPECT_EQ(sky, 10);
  EXPECT_EQ(lander, 1);
  EXPECT_EQ(legs, 2);
  EXPECT_EQ(main_flame, 1);
  EXPECT_EQ(side_flame, 0);
  EXPECT_EQ(scene.values.at("main_engine"), 1.0f);
  EXPECT_FLOAT_EQ(scene.values.at("helipad_x1"), 8.0f);
  EXPECT_FLOAT_EQ(scene.values.at("helipad_x2"), 12.0f);
  ASSERT_TRUE(env->describe(1, scene));
  EXPECT_EQ(scene.values.at("side_direction"), 1.0f);
  EXPECT_THROW(env->describe(2, scene), std::out_of_range);
  // The lander polygon sits around the body's position.
  auto* cpu = dynamic_cast<CpuVecEnv<LunarLander>*>(env.get());
  ASSERT_NE(cpu, nullptr);
  const auto body = cpu->lane(1).physics().lander();
  for (const auto& s : scene.shapes)
    if (s.tag == "lander")
      for (std::size_t i = 0; i < s.xy.size(); i += 2) {
        EXPECT_NEAR(s.xy[i], body.x, 0.7f);
        EXPECT_NEAR(s.xy[i + 1], body.y, 0.7f);
      }
}

}  // namespace
}  // namespace apiary::envs
