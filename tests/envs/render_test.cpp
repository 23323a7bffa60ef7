// Batched pictures (VecEnv::render_lanes): every bundled family draws [N, H, W, 3] uint8 frames in
// which frame k is exactly lane k's own drawing (VecEnv::draw_lane), for every lane or a chosen subset,
// with the same bytes on one thread and on two; bad lanes, sizes and envs without a picture are
// refused before a byte is written.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/cpu_vec_env.h"
#include "envs/plugin.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/common/pixels_env.h"

namespace apiary::envs {
namespace {

// One id of each back end and drawing: Thrust (classic, MinAtar) and the thread pool (Box2D).
const char* const kIds[] = {"CartPole-v1",    "Acrobot-v1",     "MountainCar-v0", "MountainCarContinuous-v0",
                            "Pendulum-v1",    "LunarLander-v3", "BipedalWalker-v3", "MinAtar/Breakout-v1"};

constexpr std::uint8_t kGuard = 0xAB;

// `env` after a reset and `steps` random steps, so that the lanes differ.
std::unique_ptr<VecEnv> stepped(const std::string& id, std::int32_t lanes, int steps) {
  auto env = make_env(id, lanes);
  env->reset(5);
  RandomActions random(env->spec(), lanes, 9);
  for (int t = 0; t < steps; ++t) env->step(random.next());
  return env;
}

// Lane `lane` drawn alone, on an RGB canvas of its own.
std::vector<std::uint8_t> single(const VecEnv& env, std::int32_t lane, int height, int width) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(height) * width * 3, 0);
  draw::Canvas canvas = draw::Canvas::over(rgb.data(), width, height, 3);
  EXPECT_TRUE(env.draw_lane(lane, canvas));
  return rgb;
}

// render_lanes into a buffer with guard bytes after [lanes.size(), height, width, 3]: the guards
// must survive (nothing is written past the batch).
std::vector<std::uint8_t> rendered(const VecEnv& env, const std::vector<std::int32_t>& lanes, int height, int width) {
  const std::size_t size = lanes.size() * static_cast<std::size_t>(height) * width * 3;
  std::vector<std::uint8_t> out(size + 64, kGuard);
  env.render_lanes(lanes, height, width, out.data());
  for (std::size_t i = size; i < out.size(); ++i) EXPECT_EQ(out[i], kGuard) << env.spec().id << ": byte " << i;
  out.resize(size);
  return out;
}

std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& batch, std::size_t k, int height, int width) {
  const std::size_t n = static_cast<std::size_t>(height) * width * 3;
  return std::vector<std::uint8_t>(batch.begin() + static_cast<std::ptrdiff_t>(k * n),
                                   batch.begin() + static_cast<std::ptrdiff_t>((k + 1) * n));
}

TEST(Render, EachFrameIsItsLanesOwnDrawingForEveryBundledFamily) {
  const int height = 36, width = 52;
  for (const char* id : kIds) {
    if (!Registry::global().find(id)) continue;
    const auto env = stepped(id, 3, 15);
    ASSERT_TRUE(env->has_picture()) << id;
    std::vector<std::uint8_t> all(3 * static_cast<std::size_t>(height) * width * 3 + 64, kGuard);
    env->render(height, width, all.data());
    all.resize(3 * static_cast<std::size_t>(height) * width * 3);
    for (std::int32_t lane = 0; lane < 3; ++lane)
      EXPECT_EQ(frame(all, static_cast<std::size_t>(lane), height, width), single(*env, lane, height, width))
          << id << " lane " << lane;
    // A picture is more than its background.
    std::size_t differing = 0;
    for (std::size_t i = 3; i < static_cast<std::size_t>(height) * width * 3; i += 3)
      differing += all[i] != all[0] || all[i + 1] != all[1] || all[i + 2] != all[2];
    EXPECT_GT(differing, 10u) << id;
  }
}

TEST(Render, DrawsAChosenSubsetInTheOrderAsked) {
  const int height = 30, width = 40;
  for (const char* id : {"CartPole-v1", "LunarLander-v3"}) {
    if (!Registry::global().find(id)) continue;
    const auto env = stepped(id, 4, 30);
    const std::vector<std::int32_t> lanes = {3, 0, 3};
    const std::vector<std::uint8_t> out = rendered(*env, lanes, height, width);
    for (std::size_t k = 0; k < lanes.size(); ++k)
      EXPECT_EQ(frame(out, k, height, width), single(*env, lanes[k], height, width)) << id << " entry " << k;
    EXPECT_NE(frame(out, 0, height, width), frame(out, 1, height, width)) << id << ": lanes 3 and 0 differ";
    // No lanes: nothing to draw, and no buffer needed.
    EXPECT_NO_THROW(env->render_lanes({}, height, width, nullptr));
  }
}

TEST(Render, TheSameBytesOnOneThreadAndOnTwo) {
  const int height = 84, width = 84;
  for (const char* id : {"CartPole-v1", "Pendulum-v1", "LunarLander-v3", "BipedalWalker-v3", "MinAtar/Breakout-v1"}) {
    if (!Registry::global().find(id)) continue;
    const auto env = stepped(id, 9, 20);
    std::vector<std::int32_t> lanes;
    for (std::int32_t lane = 0; lane < 9; ++lane) lanes.push_back(lane);
    env->set_threads(1);
    const std::vector<std::uint8_t> one = rendered(*env, lanes, height, width);
    env->set_threads(2);
    const std::vector<std::uint8_t> two = rendered(*env, lanes, height, width);
    EXPECT_EQ(one, two) << id;
  }
}

// At the native size, a batch frame is the RGB of the picture `apiary play` shows (an RGBA canvas).
TEST(Render, AtTheNativeSizeAFrameIsThePlayPictureInRgb) {
  for (const char* id : {"Acrobot-v1", "BipedalWalker-v3"}) {
    if (!Registry::global().find(id)) continue;
    const auto env = stepped(id, 2, 10);
    const PictureSize size = env->picture_size();
    const std::vector<std::uint8_t> out = rendered(*env, {1}, size.height, size.width);
    draw::Canvas rgba(size.width, size.height);
    ASSERT_TRUE(env->draw_lane(1, rgba));
    for (int y = 0; y < size.height; y += 7)
      for (int x = 0; x < size.width; x += 5) {
        const draw::Color c = rgba.pixel(x, y);
        const std::size_t i = (static_cast<std::size_t>(y) * size.width + x) * 3;
        ASSERT_EQ((draw::Color{out[i], out[i + 1], out[i + 2], 255}), c) << id << " at " << x << ", " << y;
      }
  }
  EXPECT_EQ(make_env("Pendulum-v1", 1)->picture_size().width, 500);
  EXPECT_EQ(make_env("CartPole-v1", 1)->picture_size().height, 400);
}

// The generic wrappers (frame stack, dropped velocities) draw the inner env's lanes.
TEST(Render, WrappersDrawTheInnerEnv) {
  auto plain = make_env("CartPole-v1", 2);
  auto stacked = make_env("CartPole-v1", 2, Device::kCpu, {{"frame_stack", 3}});
  auto blind = make_env("CartPole-v1", 2, Device::kCpu, {{"observe_velocity", 0}});
  plain->reset(3);
  stacked->reset(3);
  blind->reset(3);
  const std::vector<std::uint8_t> want = rendered(*plain, {0, 1}, 20, 30);
  EXPECT_EQ(rendered(*stacked, {0, 1}, 20, 30), want);
  EXPECT_EQ(rendered(*blind, {0, 1}, 20, 30), want);
}

void expect_refused(const VecEnv& env, const std::vector<std::int32_t>& lanes, int height, int width,
                    std::uint8_t* out, const std::string& says, bool out_of_range) {
  try {
    env.render_lanes(lanes, height, width, out);
    ADD_FAILURE() << "render_lanes accepted what should be refused (" << says << ")";
  } catch (const std::out_of_range& e) {
    EXPECT_TRUE(out_of_range) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  } catch (const std::invalid_argument& e) {
    EXPECT_FALSE(out_of_range) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(Render, RefusesBadLanesSizesAndBuffersBeforeDrawing) {
  for (const char* id : {"CartPole-v1", "LunarLander-v3"}) {
    if (!Registry::global().find(id)) continue;
    auto env = make_env(id, 2);
    env->reset(1);
    std::vector<std::uint8_t> out(4 * 10 * 10 * 3, kGuard);
    expect_refused(*env, {0, 2}, 10, 10, out.data(), "lane 2 (entry 1) is outside the env's lanes 0..1", true);
    expect_refused(*env, {-1}, 10, 10, out.data(), "lane -1", true);
    expect_refused(*env, {0}, 0, 10, out.data(), "0 x 10 pixels", false);
    expect_refused(*env, {0}, 10, 20000, out.data(), "1..16384", false);
    expect_refused(*env, {0}, 10, 10, nullptr, "output buffer is null", false);
    for (std::uint8_t b : out) ASSERT_EQ(b, kGuard) << id << ": a refused call wrote";
    draw::Canvas canvas(10, 10);
    EXPECT_THROW(env->draw_lane(2, canvas), std::out_of_range);
  }
}

// An env that describes no Scene has no picture: refused by name, and draw_lane says false.
TEST(Render, AnEnvWithoutAPictureIsRefused) {
  VecEnvConfig config;
  config.num_envs = 2;
  const auto env = make_cpu_env<testing_envs::Pixels>(config);
  env->reset(0);
  EXPECT_FALSE(env->has_picture());
  std::vector<std::uint8_t> out(2 * 8 * 8 * 3);
  expect_refused(*env, {0, 1}, 8, 8, out.data(), "TestPixels-v0: render: this env has no picture", false);
  draw::Canvas canvas(8, 8);
  EXPECT_FALSE(env->draw_lane(0, canvas));
}

// VecEnv's own render_lanes (one lane after another, for an env written by hand) draws what the back
// ends draw on their threads.
class HandWritten final : public ForwardingVecEnv {
 public:
  using ForwardingVecEnv::ForwardingVecEnv;
  bool has_picture() const override { return VecEnv::has_picture(); }
  void render_lanes(const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out) const override {
    VecEnv::render_lanes(lanes, height, width, out);
  }
};

TEST(Render, TheDefaultOneByOneDrawingMatchesTheBackEnds) {
  for (const char* id : {"MountainCar-v0", "LunarLander-v3"}) {
    if (!Registry::global().find(id)) continue;
    auto inner = stepped(id, 3, 12);
    const std::vector<std::uint8_t> want = rendered(*inner, {2, 1, 0}, 24, 24);
    HandWritten env(std::move(inner));
    EXPECT_TRUE(env.has_picture());
    EXPECT_EQ(rendered(env, {2, 1, 0}, 24, 24), want) << id;
  }
}

}  // namespace
}  // namespace apiary::envs
