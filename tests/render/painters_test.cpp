// Every env's picture at fixed states, as `apiary play` shows it: the image has Gymnasium's size, the
// objects sit where the state puts them (the pole leans the way theta says, the lander's pixels are at
// its position, ...), painting does not change the env, and a golden checksum per env catches any
// unintended change of the pictures. The envs draw themselves (envs/scene.h); the classic ones are
// drawn through a real env whose state is set, the Box2D ones from hand-built Scenes coloured by the
// env's own paint function.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "envs/box2d/bipedal_walker.h"
#include "envs/box2d/lunar_lander.h"
#include "envs/minatar/minatar_envs.h"
#include "envs/registry.h"
#include "render/controls.h"
#include "render/painters.h"
#include "tests/render/scenes.h"
#include "tests/render/test_util.h"

namespace apiary::render {
namespace {

using testing::dump;
using testing::is;
using testing::stats;

constexpr float kPi = 3.14159265358979f;

// Lane 0 of a one-lane `id` at `state` (and with `options`), as play captures it after `last_action`.
PaintInput classic(const char* id, std::vector<float> state, std::vector<float> last_action = {},
                   const envs::EnvOptions& options = {}) {
  auto env = envs::make_env(id, 1, envs::Device::kCpu, options);
  env->reset(0);
  env->set_states(state);
  return capture(*env, 0, last_action);
}

Size picture_size(const std::string& id) { return native_size(*envs::make_env(id, 1)); }

Canvas draw(const PaintInput& in) {
  const Size size = picture_size(in.env_id);
  Canvas c(size.width, size.height);
  paint(in, c);
  return c;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

const Color kPole{202, 152, 101, 255};

TEST(CartPolePainter, DrawsTheCartWhereXSaysAndThePoleLeaningAsThetaSays) {
  const Canvas upright = draw(classic("CartPole-v1", {0.0f, 0.0f, 0.0f, 0.0f}));
  dump(upright, "cartpole_upright");
  ASSERT_EQ(upright.width(), 600);
  ASSERT_EQ(upright.height(), 400);
  // Gymnasium's geometry: 125 px per metre, the cart (50 x 30 px, black) centred 100 px above the
  // bottom, the pole 10 px wide and 125 px long from the axle.
  const auto cart = stats(upright, is(colors::kBlack), 0, 0, 600, 299);  // above the track line (row 300)
  EXPECT_NEAR(cart.mean_x, 299.5, 1.0);
  EXPECT_NEAR(cart.min_x, 275, 1);
  EXPECT_NEAR(cart.max_x, 324, 1);
  const auto pole = stats(upright, is(kPole));
  EXPECT_NEAR(pole.mean_x, 299.5, 1.0);
  EXPECT_NEAR(pole.max_y - pole.min_y, 125, 3);
  EXPECT_NEAR(pole.max_x - pole.min_x, 10, 1);
  EXPECT_LT(pole.max_y, 300);  // above the track

  const Canvas right = draw(classic("CartPole-v1", {1.0f, 0.0f, 0.2f, 0.0f}));
  dump(right, "cartpole_right");
  const auto cart_r = stats(right, is(colors::kBlack), 0, 0, 600, 299);
  EXPECT_NEAR(cart_r.mean_x, 300 + 125 - 0.5, 1.0);  // x = 1 m
  const auto pole_r = stats(right, is(kPole));
  // Leaning right by 0.2 rad: the top of the pole is 125 sin(0.2) = 25 px right of the axle.
  EXPECT_NEAR(pole_r.max_x - 425, 125 * std::sin(0.2) + 5, 3);
  EXPECT_GT(pole_r.mean_x, 425 + 5);

  const Canvas left = draw(classic("CartPole-v1", {-1.0f, 0.0f, -0.2f, 0.0f}));
  const auto pole_l = stats(left, is(kPole));
  EXPECT_LT(pole_l.mean_x, 175 - 5);
  EXPECT_NEAR(175 - pole_l.min_x, 125 * std::sin(0.2) + 5, 3);
  // The track is a full-width line.
  EXPECT_EQ(stats(upright, is(colors::kBlack), 0, 300, 600, 301).count, 600);
}

TEST(CartPolePainter, FollowsTheEnvsLengthOption) {
  const PaintInput in = classic("CartPole-v1", {0.0f, 0.0f, 0.0f, 0.0f}, {}, {{"length", 1.0}});
  const auto pole = stats(draw(in), is(kPole));
  EXPECT_NEAR(pole.max_y - pole.min_y, 250, 3);
}

const Color kLink{0, 204, 204, 255};

TEST(AcrobotPainter, HangsDownAtZeroAndPointsUpAtPi) {
  const Canvas down = draw(classic("Acrobot-v1", {0.0f, 0.0f, 0.0f, 0.0f}));
  dump(down, "acrobot_down");
  ASSERT_EQ(down.width(), 500);
  ASSERT_EQ(down.height(), 500);
  const auto links = stats(down, is(kLink));
  // Two links of 1 m at 500 / 4.4 px per metre below the centre.
  EXPECT_NEAR(links.mean_x, 249.5, 2.0);
  EXPECT_GT(links.mean_y, 250.0);
  EXPECT_NEAR(links.max_y - 250, 2.0 * 500 / 4.4, 2);
  // The goal line at height 1: 250 - 113.6 px.
  EXPECT_EQ(stats(down, is(colors::kBlack), 0, 136, 500, 137).count, 500);

  const Canvas up = draw(classic("Acrobot-v1", {kPi, 0.0f, 0.0f, 0.0f}));
  dump(up, "acrobot_up");
  EXPECT_LT(stats(up, is(kLink)).mean_y, 250.0);
  // theta1 = pi/2 swings the first link to the right (counter-clockwise from hanging down);
  // theta2 = pi/2 bends the second link on up from there.
  const Canvas bent = draw(classic("Acrobot-v1", {kPi / 2, kPi / 2, 0.0f, 0.0f}));
  dump(bent, "acrobot_bent");
  const auto b = stats(bent, is(kLink));
  EXPECT_GT(b.mean_x, 300.0);
  EXPECT_LT(b.min_y, 250 - 100);
}

TEST(MountainCarPainter, PutsTheCarOnTheTrackAtItsPosition) {
  for (const char* id : {"MountainCar-v0", "MountainCarContinuous-v0"}) {
    for (float pos : {-0.5f, 0.3f}) {
      const Canvas c = draw(classic(id, {pos, 0.0f}));
      dump(c, std::string(id) + "_" + std::to_string(pos));
      ASSERT_EQ(c.width(), 600);
      ASSERT_EQ(c.height(), 400);
      const float scale = 600.0f / 1.8f;
      const float px = (pos + 1.2f) * scale;
      const float py = 400.0f - (std::sin(3.0f * pos) * 0.45f + 0.55f) * scale;
      const auto wheels = stats(c, is(Color{128, 128, 128, 255}));
      EXPECT_NEAR(wheels.mean_x, px, 4.0) << id << " at " << pos;
      EXPECT_NEAR(wheels.mean_y, py - 10.0f, 5.0) << id << " at " << pos;
      EXPECT_GT(wheels.count, 200);
    }
    // The yellow flag stands at the goal: 0.5 (discrete) or 0.45 (continuous).
    const Canvas c = draw(classic(id, {-0.5f, 0.0f}));
    const float goal = std::string(id) == "MountainCar-v0" ? 0.5f : 0.45f;
    const auto flag = stats(c, is(colors::kYellow));
    EXPECT_NEAR(flag.min_x, (goal + 1.2f) * 600.0f / 1.8f, 1.5) << id;
  }
}

const Color kRod{204, 77, 77, 255};

TEST(PendulumPainter, RodPointsUpAtZeroAndTurnsCounterClockwiseWithTheta) {
  const Canvas up = draw(classic("Pendulum-v1", {0.0f, 0.0f}));
  dump(up, "pendulum_up");
  ASSERT_EQ(up.width(), 500);
  const auto r_up = stats(up, is(kRod));
  EXPECT_NEAR(r_up.mean_x, 249.5, 1.0);
  EXPECT_LT(r_up.mean_y, 250.0 - 40);
  EXPECT_NEAR(250 - r_up.min_y, 500 / 4.4 * 1.1, 3);  // rod plus its rounded end
  const auto r_left = stats(draw(classic("Pendulum-v1", {kPi / 2, 0.0f})), is(kRod));
  EXPECT_LT(r_left.mean_x, 250.0 - 40);
  EXPECT_NEAR(r_left.mean_y, 249.5, 1.0);
  // The torque arrow appears only with a last action, and grows with |u|.
  const auto no_arrow = stats(up, is(colors::kBlack)).count;
  const Canvas small = draw(classic("Pendulum-v1", {kPi, 0.0f}, {0.5f}));
  const Canvas big = draw(classic("Pendulum-v1", {kPi, 0.0f}, {-2.0f}));
  dump(big, "pendulum_arrow");
  EXPECT_GT(stats(small, is(colors::kBlack)).count, no_arrow + 20);
  EXPECT_GT(stats(big, is(colors::kBlack)).count, stats(small, is(colors::kBlack)).count + 100);
}

const Color kLander{128, 102, 230, 255};

// A hand-built Scene as play would draw it: coloured by `paint_env` (the env's own paint function)
// where given, in neutral colours otherwise.
PaintInput scene_input(envs::Scene scene, void (*paint_env)(envs::Scene&) = nullptr) {
  if (paint_env) paint_env(scene);
  PaintInput in;
  in.env_id = scene.env_id;
  in.scene = std::move(scene);
  return in;
}
PaintInput lander_input(const envs::Scene& scene) { return scene_input(scene, &envs::paint_lunar_lander); }
PaintInput walker_input(const envs::Scene& scene) { return scene_input(scene, &envs::box2d::paint_bipedal_walker); }

TEST(LunarLanderPainter, DrawsTheLanderAtItsPositionUnderABlackSky) {
  const Canvas c = draw(lander_input(testing::lunar_lander_scene(10.0f, 8.0f, true, false)));
  dump(c, "lunar_lander");
  ASSERT_EQ(c.width(), 600);
  ASSERT_EQ(c.height(), 400);
  // 30 px per metre: the lander's centre (10, 8) is at pixel (300, 400 - 240); its body spans
  // 34 x 27 px.
  const auto lander = stats(c, is(kLander));
  EXPECT_NEAR(lander.mean_x, 299.5, 2.0);
  EXPECT_NEAR(lander.mean_y, 160.0, 4.0);
  EXPECT_NEAR(lander.max_x - lander.min_x, 41, 3);  // the body and the legs 20 px either side
  // Sky black above the terrain, the ground white below the helipad (at y = H / 4, 300 px down).
  EXPECT_EQ(c.pixel(300, 20), colors::kBlack);
  EXPECT_EQ(c.pixel(300, 350), colors::kWhite);
  EXPECT_EQ(c.pixel(20, 390), colors::kWhite);
  // The flags: yellow at both helipad ends (x = 8 and 12 m), on white poles 50 px tall.
  const auto flags = stats(c, is(colors::kYellow));
  EXPECT_GT(flags.count, 2 * 100);
  EXPECT_EQ(flags.min_x, 240);
  EXPECT_NEAR(flags.max_x, 360 + 25, 1);
  EXPECT_NEAR(flags.max_y, 300 - 40, 1);
  EXPECT_EQ(stats(c, is(colors::kWhite), 240, 262, 241, 300).count, 38);  // the pole below the flag
  // The main flame below the lander, only while the engine fires.
  const auto flame = stats(c, is(Color{255, 140, 50, 255}));
  EXPECT_GT(flame.count, 50);
  EXPECT_GT(flame.mean_y, 160 + 10);
  EXPECT_NEAR(flame.mean_x, 299.5, 2.0);
  const Canvas off = draw(lander_input(testing::lunar_lander_scene(4.0f, 10.0f, false, true)));
  dump(off, "lunar_lander_no_flame");
  EXPECT_EQ(stats(off, is(Color{255, 140, 50, 255})).count, 0);
  const auto moved = stats(off, is(kLander));
  EXPECT_NEAR(moved.mean_x, 119.5, 2.0);
  EXPECT_NEAR(moved.mean_y, 100.0, 4.0);
  // A leg touching the ground has a green outline.
  EXPECT_GT(stats(off, is(Color{0, 200, 0, 255})).count, 10);
  EXPECT_EQ(stats(c, is(Color{0, 200, 0, 255})).count, 0);
}

const Color kHull{127, 51, 229, 255};

TEST(BipedalWalkerPainter, DrawsTheHullAtItsPositionInTheScrolledView) {
  const Canvas c = draw(walker_input(testing::bipedal_walker_scene(7.0f, 5.0f, 0.0f)));
  dump(c, "bipedal_walker");
  ASSERT_EQ(c.width(), 600);
  ASSERT_EQ(c.height(), 400);
  const auto hull = stats(c, is(kHull));
  // Gymnasium's HULL_POLY spans x from -30 to +34 px and y from -8 to +9 px around the hull's origin.
  EXPECT_NEAR(hull.min_x, 7 * 30 - 30, 1.5);
  EXPECT_NEAR(hull.max_x, 7 * 30 + 34, 1.5);
  EXPECT_NEAR(hull.min_y, 400 - 5 * 30 - 9, 1.5);
  EXPECT_NEAR(hull.max_y, 400 - 5 * 30 + 8, 1.5);
  EXPECT_EQ(c.pixel(5, 5), (Color{215, 215, 255, 255}));    // sky
  EXPECT_EQ(c.pixel(300, 395), (Color{102, 153, 76, 255}));  // ground
  EXPECT_GT(stats(c, is(Color{255, 0, 0, 255})).count, 300);  // lidar
  EXPECT_GT(stats(c, is(Color{230, 51, 0, 255})).count, 50);  // the start flag
  EXPECT_GT(stats(c, is(colors::kWhite)).count, 300);         // the stump
  // Both surface greens alternate along the ground.
  EXPECT_GT(stats(c, is(Color{76, 255, 76, 255})).count, 100);
  EXPECT_GT(stats(c, is(Color{76, 204, 76, 255})).count, 100);
  // Scrolled by 3 m: the same hull 90 px further left, the flag out of view.
  const Canvas s = draw(walker_input(testing::bipedal_walker_scene(7.0f, 5.0f, 3.0f)));
  dump(s, "bipedal_walker_scrolled");
  EXPECT_NEAR(stats(s, is(kHull)).min_x, 7 * 30 - 30 - 90, 1.5);
  EXPECT_EQ(stats(s, is(Color{230, 51, 0, 255})).count, 0);
  // The legs: the far one (index 0) lighter than the near one.
  EXPECT_GT(stats(c, is(Color{178, 101, 152, 255})).count, 100);
  EXPECT_GT(stats(c, is(Color{128, 51, 102, 255})).count, 100);
}

TEST(ScenePainter, DrawsAnyEnvsSceneInNeutralColours) {
  envs::Scene scene;
  scene.env_id = "Custom-v0";
  scene.view[0] = 0;
  scene.view[1] = 0;
  scene.view[2] = 10;
  scene.view[3] = 10;
  testing::add_polygon(scene, "box", 0, testing::box(5, 5, 1, 1));
  PaintInput in = scene_input(scene);
  Canvas c(600, 400);
  paint(in, c);
  const auto s = stats(c, is(colors::kLightGrey));
  EXPECT_NEAR(s.mean_x, 299.5, 1.0);
  EXPECT_NEAR(s.mean_y, 199.5, 1.0);
}

TEST(ObservationBarsPainter, DrawsEachElementAsABarAgainstItsBounds) {
  PaintInput in;
  in.env_id = "Custom-v0";
  in.obs = {1.0f, -0.5f, 0.0f};
  in.observation_space = envs::Space::box({-1.0f, -1.0f, -1.0f}, {1.0f, 1.0f, 1.0f});
  Canvas c(600, 400);
  paint(in, c);
  dump(c, "observation_bars");
  const Color bar{70, 110, 200, 255};
  // Three rows of 28 px from y = 40: full to the right, a quarter of the width to the left, nothing.
  const auto r0 = stats(c, is(bar), 0, 40, 600, 68), r1 = stats(c, is(bar), 0, 68, 600, 96), r2 = stats(c, is(bar), 0, 96, 600, 124);
  const int half = (600 - 80 - 80 - 10) / 2;
  EXPECT_NEAR(r0.max_x - r0.min_x + 1, half, 1);
  EXPECT_GT(r0.min_x, 80 + half - 2);
  EXPECT_NEAR(r1.max_x - r1.min_x + 1, half / 2, 1);
  EXPECT_LT(r1.max_x, 80 + half);
  EXPECT_EQ(r2.count, 0);
}

// A range that does not hold 0 is drawn from its low bound: 3 in [2, 5] fills the first third of the
// box, and -3 in [-5, -1] the first half; a range holding 0 keeps 0 as the bar's origin.
TEST(ObservationBarsPainter, DrawsFromTheLowBoundWhenZeroIsOutsideTheRange) {
  PaintInput in;
  in.env_id = "Custom-v0";
  in.obs = {3.0f, -3.0f, 2.0f, 0.5f};
  in.observation_space = envs::Space::box({2.0f, -5.0f, 2.0f, -1.0f}, {5.0f, -1.0f, 5.0f, 3.0f});
  Canvas c(600, 400);
  paint(in, c);
  dump(c, "observation_bars_low_bound");
  const Color bar{70, 110, 200, 255};
  const int width = 600 - 80 - 80 - 10, left = 80;
  const auto row = [&](int i) { return stats(c, is(bar), 0, 40 + 28 * i, 600, 68 + 28 * i); };
  const auto r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3);
  EXPECT_NEAR(r0.min_x, left, 1);
  EXPECT_NEAR(r0.max_x - r0.min_x + 1, width / 3, 1);
  EXPECT_NEAR(r1.min_x, left, 1);
  EXPECT_NEAR(r1.max_x - r1.min_x + 1, width / 2, 1);
  EXPECT_EQ(r2.count, 0) << "the low bound itself: an empty bar";
  // [-1, 3] holds 0, a quarter of the way: 0.5 is an eighth of the box to the right of it (the
  // origin's 1-pixel tick covers the bar's first column).
  EXPECT_NEAR(r3.min_x, left + width / 4 + 1, 1);
  EXPECT_NEAR(r3.max_x - r3.min_x + 1, width / 8, 2);
}

// Golden checksums of each painter at a fixed state. A change here is a change of what users see:
// look at the pictures (APIARY_RENDER_DUMP=DIR), then update the value.
// MinAtar as its own GUI draws it: a 10 x 10 grid of 50 px cells, black where no channel is set, the
// highest set channel's cubehelix colour elsewhere, colours of different channels distinct.
TEST(MinAtarPainter, DrawsEachCellInTheColourOfItsHighestChannel) {
  std::vector<std::uint8_t> grid(400, 0);
  const auto set = [&](int y, int x, int c) { grid[static_cast<std::size_t>((y * 10 + x) * 4 + c)] = 1; };
  set(9, 4, 0);  // paddle
  set(5, 6, 1);  // ball
  set(1, 2, 3);  // brick
  set(1, 3, 3);
  set(1, 3, 2);  // a lower channel under the brick: the brick's colour wins
  envs::Scene scene;
  envs::minatar::describe_grid(grid.data(), 4, scene);
  PaintInput in = scene_input(scene);
  in.env_id = "MinAtar/Breakout-v1";
  const Canvas c = draw(in);
  dump(c, "minatar_breakout");
  ASSERT_EQ(c.width(), 500);
  ASSERT_EQ(c.height(), 500);
  const auto centre = [&](int y, int x) { return c.pixel(x * 50 + 25, y * 50 + 25); };
  const auto same = [](Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; };
  EXPECT_TRUE(same(centre(0, 0), colors::kBlack));
  EXPECT_TRUE(same(centre(9, 5), colors::kBlack));
  EXPECT_FALSE(same(centre(9, 4), colors::kBlack));
  EXPECT_FALSE(same(centre(9, 4), centre(5, 6))) << "paddle and ball differ";
  EXPECT_FALSE(same(centre(5, 6), centre(1, 2))) << "ball and brick differ";
  EXPECT_TRUE(same(centre(1, 2), centre(1, 3))) << "the highest channel decides the colour";
  // The cell is filled to its edges and no further.
  EXPECT_TRUE(same(c.pixel(4 * 50, 9 * 50), centre(9, 4)));
  EXPECT_TRUE(same(c.pixel(4 * 50 + 49, 9 * 50 + 49), centre(9, 4)));
  EXPECT_TRUE(same(c.pixel(5 * 50, 9 * 50), colors::kBlack));
}

// MinAtar's painter on a real env: drawing a lane does not change it, and what is drawn is the lane's
// observation (as many coloured cells as cells with a channel set).
TEST(MinAtarPainter, DrawsTheRealEnvsObservation) {
  auto env = envs::make_env("MinAtar/SpaceInvaders-v1", 2);
  env->reset(3);
  const PaintInput in = capture(*env, 1);
  ASSERT_EQ(in.obs.size(), 600u);
  int occupied = 0;
  for (int cell = 0; cell < 100; ++cell) {
    bool any = false;
    for (int ch = 0; ch < 6; ++ch) any = any || in.obs[static_cast<std::size_t>(cell * 6 + ch)] > 0.5f;
    occupied += any;
  }
  const Canvas c = draw(in);
  int coloured = 0;
  for (int cell = 0; cell < 100; ++cell) {
    const Color p = c.pixel((cell % 10) * 50 + 25, (cell / 10) * 50 + 25);
    coloured += !(p.r == 0 && p.g == 0 && p.b == 0);
  }
  EXPECT_EQ(occupied, 4 * 6 + 1) << "SpaceInvaders starts with a 4 x 6 block of aliens and the cannon";
  EXPECT_EQ(coloured, occupied);
}

TEST(PainterGolden, ChecksumsOfEveryEnvAtAFixedState) {
  struct Case {
    std::string name;
    PaintInput in;
    std::uint64_t golden;
  };
  const std::vector<Case> cases = {
      {"CartPole-v1", classic("CartPole-v1", {0.3f, 0.0f, 0.1f, 0.0f}), 0xcf9ce1dcb077ea08ull},
      {"Acrobot-v1", classic("Acrobot-v1", {0.8f, -1.2f, 0.0f, 0.0f}), 0xc3afb941e1e1dbe4ull},
      {"MountainCar-v0", classic("MountainCar-v0", {-0.7f, 0.01f}), 0xb259953212fe2754ull},
      {"MountainCarContinuous-v0", classic("MountainCarContinuous-v0", {0.2f, 0.01f}), 0x41f982c8cdb56bbcull},
      {"Pendulum-v1", classic("Pendulum-v1", {0.7f, 0.0f}, {1.2f}), 0x56ad599a8de78dacull},
      {"LunarLander-v3", lander_input(testing::lunar_lander_scene(9.0f, 7.0f, true, true)), 0xdcf96d19a3d206bdull},
      {"BipedalWalker-v3", walker_input(testing::bipedal_walker_scene(8.0f, 5.2f, 1.0f)), 0xc2dfd2b7aabb37dbull},
  };
  for (const Case& c : cases) {
    const Canvas canvas = draw(c.in);
    dump(canvas, "golden_" + c.name);
    EXPECT_EQ(hex(canvas.checksum()), hex(c.golden)) << c.name;
  }
}

// The Box2D envs as they run: the painter puts the lander and the walker's hull where the env's own
// observation and values say they are, step after step.
TEST(Box2DPainters, DrawTheRealEnvsBodiesWhereTheEnvSaysTheyAre) {
  for (const char* id : {"LunarLander-v3", "BipedalWalker-v3"}) {
    if (!envs::Registry::global().find(id)) GTEST_SKIP() << "SKIPPED: " << id << " is not registered in this build";
    auto env = envs::make_env(id, 1);
    env->reset(11);
    const envs::EnvSpec spec = env->spec();
    std::vector<float> action(static_cast<std::size_t>(spec.action_dim()), 0.0f);
    std::int32_t noop = 0;
    int checked = 0;
    for (int t = 0; t < 100; ++t) {
      const PaintInput in = capture(*env, 0);
      ASSERT_TRUE(in.scene.has_value()) << id;
      Canvas c(600, 400);
      paint(in, c);
      if (t == 20) dump(c, std::string("real_") + id);
      if (std::string(id) == "LunarLander-v3") {
        // Gymnasium's observation: x = (pos.x - W/2) / (W/2), y = (pos.y - (helipad_y + LEG_DOWN/SCALE)) / (H/2).
        const float helipad_y = in.scene->values.at("helipad_y");
        const float x = in.obs[0] * 10.0f + 10.0f, y = in.obs[1] * (20.0f / 3.0f) + helipad_y + 18.0f / 30.0f;
        const auto lander = stats(c, is(kLander));
        if (400.0f - y * 30.0f > 30.0f) {  // once it has come down fully into view
          ASSERT_GT(lander.count, 500) << "step " << t;
          EXPECT_NEAR(lander.mean_x, x * 30.0f, 6.0) << "step " << t;
          EXPECT_NEAR(lander.mean_y, 400.0f - y * 30.0f, 8.0) << "step " << t;
          ++checked;
        }
        env->step(envs::ActionBatch::discrete(&noop, 1));
      } else {
        const float hull_x = in.scene->values.at("hull_x"), hull_y = in.scene->values.at("hull_y");
        const auto hull = stats(c, is(kHull));
        ASSERT_GT(hull.count, 300) << "step " << t;
        // The hull's origin lies inside its polygon (x from -30 to +34 px, y from -8 to +9 px around it,
        // turned as the hull tilts), whose pixels are 64 px wide.
        const float px = (hull_x - in.scene->view[0]) * 30.0f, py = 400.0f - (hull_y - in.scene->view[1]) * 30.0f;
        EXPECT_GT(px, hull.min_x - 4) << "step " << t;
        EXPECT_LT(px, hull.max_x + 4) << "step " << t;
        EXPECT_GT(py, hull.min_y - 4) << "step " << t;
        EXPECT_LT(py, hull.max_y + 4) << "step " << t;
        EXPECT_NEAR(hull.mean_x, px, 34.0) << "step " << t;
        EXPECT_GE(hull.max_x - hull.min_x, 30) << "step " << t;
        env->step(envs::ActionBatch::continuous(action.data(), 1, spec.action_dim()));
        ++checked;
      }
    }
    EXPECT_GT(checked, 20) << id;
  }
}

// Painting reads the env through capture() and never changes it: the state and the next steps are the
// same with and without painting in between.
TEST(Capture, ReadsTheLaneWithoutChangingTheEnv) {
  for (const char* id : {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"}) {
    auto a = envs::make_env(id, 1), b = envs::make_env(id, 1);
    a->reset(7);
    b->reset(7);
    const envs::EnvSpec spec = a->spec();
    std::int32_t discrete = 0;
    float continuous = 0.3f;
    const envs::ActionBatch batch = spec.action_space.is_discrete() ? envs::ActionBatch::discrete(&discrete, 1)
                                                                    : envs::ActionBatch::continuous(&continuous, 1, 1);
    for (int t = 0; t < 20; ++t) {
      const std::vector<float> before = a->get_states();
      const PaintInput in = capture(*a, 0, {0.3f});
      ASSERT_TRUE(in.scene.has_value()) << id;
      Canvas canvas(native_size(*a).width, native_size(*a).height);
      paint(in, canvas);
      EXPECT_EQ(a->get_states(), before) << id;
      a->step(batch);
      b->step(batch);
      ASSERT_EQ(a->get_states(), b->get_states()) << id << " step " << t;
    }
    EXPECT_THROW(capture(*a, 1), std::out_of_range);
  }
}

}  // namespace
}  // namespace apiary::render

namespace apiary::render {
namespace {

// CarRacing-v3 as `apiary play` shows it (Gymnasium's 600 x 400 rgb_array size): the red car in the
// middle, a quarter of the height from the bottom (the window's (W/2, H/4) after the flip), facing up,
// and the black indicator bar along the bottom with the speed bar rising once the car moves.
TEST(CarRacingPainter, ShowsTheCarFacingUpAQuarterFromTheBottomAndTheIndicators) {
  auto env = envs::make_env("CarRacing-v3", 1);
  env->reset(4);
  const float gas[3] = {0.0f, 1.0f, 0.0f};
  for (int t = 0; t < 60; ++t) env->step(envs::ActionBatch::continuous(gas, 1, 3));
  const PaintInput in = capture(*env, 0);
  ASSERT_TRUE(in.scene.has_value());
  Canvas c(600, 400);
  paint(in, c);
  dump(c, "car_racing");
  const auto hull = stats(c, is(Color{204, 0, 0, 255}));
  ASSERT_GT(hull.count, 100);
  EXPECT_NEAR(hull.mean_x, 300.0, 6.0);
  EXPECT_NEAR(hull.mean_y, 300.0, 12.0);
  EXPECT_GT(hull.max_y - hull.min_y, hull.max_x - hull.min_x) << "the car faces up: longer than wide";
  // The bar: the bottom eighth (5 h of 40 h) is black but for the lit indicators.
  const auto black = stats(c, is(colors::kBlack), 0, 352, 600, 400);
  EXPECT_GT(black.count, 600 * 45);
  const auto speed = stats(c, is(colors::kWhite), 75, 352, 90, 400);  // vertical_ind(5): x 5 s .. 6 s
  EXPECT_GT(speed.count, 20) << "the speed bar, after a second of gas";
}

TEST(CarRacingControls, ArrowKeysAreCarRacingPysOwn) {
  const envs::Space box = envs::env_spec("CarRacing-v3").action_space;
  HeldKeys keys;
  keys.left = true;
  keys.up = true;
  EXPECT_EQ(human_action("CarRacing-v3", box, keys, -1, 0), (std::vector<float>{-1.0f, 1.0f, 0.0f}));
  keys = HeldKeys{};
  keys.right = true;
  keys.down = true;
  EXPECT_EQ(human_action("CarRacing-v3", box, keys, -1, 0), (std::vector<float>{1.0f, 0.0f, 0.8f}));
  const envs::Space discrete = envs::env_spec("CarRacing-v3", {{"continuous", 0.0}}).action_space;
  const auto pick = [&](bool left, bool right, bool up, bool down) {
    HeldKeys k;
    k.left = left;
    k.right = right;
    k.up = up;
    k.down = down;
    return human_action("CarRacing-v3", discrete, k, -1, 0).at(0);
  };
  EXPECT_EQ(pick(false, false, false, false), 0.0f);
  EXPECT_EQ(pick(false, true, false, false), 1.0f) << "right";
  EXPECT_EQ(pick(true, false, false, false), 2.0f) << "left";
  EXPECT_EQ(pick(false, false, true, false), 3.0f) << "gas";
  EXPECT_EQ(pick(false, false, false, true), 4.0f) << "brake";
  EXPECT_EQ(action_names("CarRacing-v3", discrete), (std::vector<std::string>{"noop", "right", "left", "gas", "brake"}));
  EXPECT_EQ(human_keys_help("CarRacing-v3", box), "left/right: steer, up: gas, down: brake");
}

}  // namespace
}  // namespace apiary::render
