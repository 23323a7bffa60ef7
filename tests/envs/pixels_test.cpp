// The generic pixels option (envs/pixels.h): an env observes its own picture as uint8. Each check holds
// a pixel env against a plain env of the same id, seed and actions, whose pictures render_lanes draws:
// on the Thrust back end (CartPole) and the thread pool's (LunarLander), in grayscale and RGB; the
// final observation is the picture before the auto-reset; an RGB-observing env (CarRacing) is resized.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/pixels.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/common/checks.h"

namespace apiary::envs {
namespace {

using apiary::testing::contains;

// Lane `lane`'s picture in `env` at width x height, as the pixels option makes it (channels 1 or 3).
std::vector<std::uint8_t> picture(const VecEnv& env, std::int32_t lane, int width, int height, int channels) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width * height * 3));
  env.render_lanes({lane}, height, width, rgb.data());
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width * height * channels));
  resample_rgb(rgb.data(), height, width, out.data(), height, width, channels);  // same size: a copy, or gray
  return out;
}

std::vector<std::uint8_t> row(const std::uint8_t* base, std::int32_t lane, std::size_t size) {
  return std::vector<std::uint8_t>(base + lane * size, base + (lane + 1) * size);
}

// Resets both envs with `seed` and steps them `steps` times with the same random actions.
void walk_together(VecEnv& a, VecEnv& b, std::uint64_t seed, std::uint64_t action_seed, int steps) {
  RandomActions random(b.spec(), b.num_envs(), action_seed);
  a.reset(seed);
  b.reset(seed);
  for (int t = 0; t < steps; ++t) {
    const ActionBatch actions = random.next();
    a.step(actions);
    b.step(actions);
  }
}

EnvOptions pixel_options(int width, int height, bool grayscale) {
  return EnvOptions{{"pixels", 1}, {"pixels_width", width}, {"pixels_height", height}, {"pixels_grayscale", grayscale}};
}

TEST(Pixels, TheSpaceIsAUint8PictureThatFrameStackStacks) {
  EXPECT_EQ(env_spec("CartPole-v1", {{"pixels", 1}}).observation_space.to_string(), "Box(0, 255, (84, 84, 1), uint8)");
  EXPECT_EQ(env_spec("CartPole-v1", pixel_options(64, 48, false)).observation_space.to_string(),
            "Box(0, 255, (48, 64, 3), uint8)");
  EnvOptions stacked{{"pixels", 1}, {"frame_stack", 4}};
  EXPECT_EQ(env_spec("CartPole-v1", stacked).observation_space.to_string(), "Box(0, 255, (84, 84, 4), uint8)");
  auto env = make_env("CartPole-v1", 3, Device::kCpu, stacked);
  EXPECT_EQ(env->spec().observation_space.to_string(), "Box(0, 255, (84, 84, 4), uint8)");
  EXPECT_EQ(env->spec().action_space.to_string(), "Discrete(2)");
  env->reset(1);
  EXPECT_NE(env->buffers().obs_u8, nullptr);
  EXPECT_EQ(env->buffers().obs, nullptr) << "a picture is observed as bytes only";
}

struct Case {
  std::string id;
  bool grayscale;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.id << (c.grayscale ? " in grayscale" : " in RGB"); }

class PixelsOf : public ::testing::TestWithParam<Case> {};

TEST_P(PixelsOf, EveryStepObservesThePlainEnvsPicture) {
  const Case c = GetParam();
  const int w = 40, h = 30, channels = c.grayscale ? 1 : 3;
  const std::size_t frame = static_cast<std::size_t>(w * h * channels);
  EnvOptions options = pixel_options(w, h, c.grayscale);
  options["max_episode_steps"] = 25;  // episodes end within the walk, Pendulum's too
  auto pixels = make_env(c.id, 4, Device::kCpu, options);
  auto plain = make_env(c.id, 4, Device::kCpu, {{"max_episode_steps", 25}});
  RandomActions random(plain->spec(), 4, 9);
  pixels->reset(7);
  plain->reset(7);
  int ended = 0;
  for (int t = 0; t <= 60; ++t) {
    for (std::int32_t lane = 0; lane < 4; ++lane)
      ASSERT_EQ(row(pixels->buffers().obs_u8, lane, frame), picture(*plain, lane, w, h, channels))
          << c.id << " step " << t << " lane " << lane;
    const ActionBatch a = random.next();
    pixels->step(a);
    plain->step(a);
    for (std::int32_t lane = 0; lane < 4; ++lane) ended += plain->buffers().terminated[lane] | plain->buffers().truncated[lane];
  }
  EXPECT_GT(ended, 0) << "the walk should cross an auto-reset";
}

// The final observation is the picture of the state the episode ended in, not of the new episode: a
// pixel env truncated at 5 steps against a plain env that goes on, drawn after the same 5 steps.
TEST_P(PixelsOf, TheFinalObservationIsThePictureBeforeTheAutoReset) {
  const Case c = GetParam();
  const int w = 48, h = 32, channels = c.grayscale ? 1 : 3;
  const std::size_t frame = static_cast<std::size_t>(w * h * channels);
  EnvOptions short_episodes = pixel_options(w, h, c.grayscale);
  short_episodes["max_episode_steps"] = 5;
  auto pixels = make_env(c.id, 3, Device::kCpu, short_episodes);
  auto plain = make_env(c.id, 3, Device::kCpu, {});
  walk_together(*pixels, *plain, 11, 4, 5);
  int checked = 0;
  for (std::int32_t lane = 0; lane < 3; ++lane) {
    ASSERT_TRUE(pixels->buffers().truncated[lane]) << c.id << " lane " << lane;
    if (plain->buffers().elapsed[lane] != 5) continue;  // ended earlier on its own
    const std::vector<std::uint8_t> final_obs = row(pixels->buffers().final_obs_u8, lane, frame);
    EXPECT_EQ(final_obs, picture(*plain, lane, w, h, channels)) << c.id << " lane " << lane;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Envs, PixelsOf,
                         ::testing::Values(Case{"CartPole-v1", true}, Case{"CartPole-v1", false},
                                           Case{"LunarLander-v3", true}, Case{"Pendulum-v1", false}),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           std::string name = param.param.id + (param.param.grayscale ? "_gray" : "_rgb");
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// Grayscale pictures stacked: one byte a pixel, frame f of the stack is the picture f steps back
// (oldest first), the first picture repeated after a reset.
class StackedPictures : public ::testing::TestWithParam<int> {};

TEST_P(StackedPictures, AreTheLastPicturesOldestFirst) {
  const std::size_t frame = 32 * 24;
  const int k = GetParam();
  const std::size_t depth = static_cast<std::size_t>(k);
  auto stacked = make_env("CartPole-v1", 2, Device::kCpu, EnvOptions{{"pixels", 1}, {"pixels_width", 32},
                                                                        {"pixels_height", 24}, {"frame_stack", k}});
  auto single = make_env("CartPole-v1", 2, Device::kCpu, EnvOptions{{"pixels", 1}, {"pixels_width", 32},
                                                                       {"pixels_height", 24}});
  stacked->reset(6);
  single->reset(6);
  std::vector<std::vector<std::uint8_t>> seen{row(single->buffers().obs_u8, 0, frame)};
  const std::int32_t alternate[2][2] = {{0, 1}, {1, 0}};
  for (int t = 0; t < 5; ++t) {
    const std::vector<std::uint8_t> stack = row(stacked->buffers().obs_u8, 0, frame * depth);
    for (std::size_t f = 0; f < depth; ++f) {
      const std::size_t back = std::min<std::size_t>(seen.size() - 1, depth - 1 - f);
      const std::vector<std::uint8_t>& expected = seen[seen.size() - 1 - back];
      for (std::size_t p = 0; p < frame; ++p)
        ASSERT_EQ(stack[p * depth + f], expected[p]) << "step " << t << " frame " << f << " pixel " << p;
    }
    stacked->step(ActionBatch::discrete(alternate[t % 2], 2));
    single->step(ActionBatch::discrete(alternate[t % 2], 2));
    ASSERT_FALSE(single->buffers().terminated[0]) << "the walk keeps lane 0's pole up";
    seen.push_back(row(single->buffers().obs_u8, 0, frame));
  }
}

// 4 is the word-wide path, 3 and 5 the byte loop.
INSTANTIATE_TEST_SUITE_P(Depths, StackedPictures, ::testing::Values(3, 4, 5));

TEST(Pixels, AnRgbObservationIsResizedRatherThanRedrawn) {
  auto pixels = make_env("CarRacing-v3", 2, Device::kCpu, pixel_options(84, 84, true));
  auto plain = make_env("CarRacing-v3", 2, Device::kCpu, {});
  EXPECT_EQ(pixels->spec().observation_space.to_string(), "Box(0, 255, (84, 84, 1), uint8)");
  walk_together(*pixels, *plain, 5, 3, 4);
  for (std::int32_t lane = 0; lane < 2; ++lane) {
    std::vector<std::uint8_t> expected(84 * 84);
    resample_rgb(plain->buffers().obs_u8 + lane * 96 * 96 * 3, 96, 96, expected.data(), 84, 84, 1);
    EXPECT_EQ(row(pixels->buffers().obs_u8, lane, 84 * 84), expected) << "lane " << lane;
  }
}

TEST(Pixels, AreaResamplingAveragesAndGrayIsGymnasiumsWeighting) {
  // 2x2 -> 1x1: the mean of the four pixels, rounded.
  const std::uint8_t square[12] = {0, 10, 200, 10, 20, 200, 20, 30, 201, 30, 41, 201};
  std::uint8_t one[3];
  resample_rgb(square, 2, 2, one, 1, 1, 3);
  EXPECT_EQ(one[0], 15);
  EXPECT_EQ(one[1], 25);
  EXPECT_EQ(one[2], 201);  // 200.5 rounds up
  // 3 -> 2 along a row: pixel 0 is 2/3 of p0 and 1/3 of p1.
  const std::uint8_t line[9] = {30, 30, 30, 90, 90, 90, 150, 150, 150};
  std::uint8_t two[6];
  resample_rgb(line, 1, 3, two, 1, 2, 3);
  EXPECT_EQ(two[0], 50);
  EXPECT_EQ(two[3], 130);
  // The same size is a copy; gray is 0.2125 R + 0.7154 G + 0.0721 B truncated (Gymnasium's GrayscaleObservation).
  std::uint8_t copy[12], gray[4];
  resample_rgb(square, 2, 2, copy, 2, 2, 3);
  EXPECT_EQ(std::vector<std::uint8_t>(copy, copy + 12), std::vector<std::uint8_t>(square, square + 12));
  resample_rgb(square, 2, 2, gray, 2, 2, 1);
  EXPECT_EQ(gray[0], static_cast<std::uint8_t>(0.7154 * 10 + 0.0721 * 200));  // 21.574 -> 21
  const std::uint8_t white[3] = {255, 255, 255}, red[3] = {255, 0, 0};
  resample_rgb(white, 1, 1, gray, 1, 1, 1);
  EXPECT_EQ(gray[0], 255);
  resample_rgb(red, 1, 1, gray, 1, 1, 1);
  EXPECT_EQ(gray[0], 54);  // 54.19
}

TEST(Pixels, SnapshotsRestoreThePicturesAndTheLanes) {
  auto env = make_env("CartPole-v1", 3, Device::kCpu, EnvOptions{{"pixels", 1}, {"pixels_width", 32}, {"pixels_height", 32}});
  RandomActions random(env->spec(), 3, 2);
  env->reset(3);
  for (int t = 0; t < 30; ++t) env->step(random.next());
  const std::vector<std::uint8_t> snapshot = env->save_snapshot();
  HostBatch first, again;
  std::vector<std::vector<std::int32_t>> actions;
  for (int t = 0; t < 40; ++t) {
    const ActionBatch a = random.next();
    actions.emplace_back(static_cast<const std::int32_t*>(a.data), static_cast<const std::int32_t*>(a.data) + 3);
  }
  for (const auto& a : actions) env->step(ActionBatch::discrete(a.data(), 3));
  env->copy_to_host(first);
  env->load_snapshot(snapshot);
  for (const auto& a : actions) env->step(ActionBatch::discrete(a.data(), 3));
  env->copy_to_host(again);
  EXPECT_EQ(again.obs_u8, first.obs_u8);
  EXPECT_EQ(again.final_obs_u8, first.final_obs_u8);
  EXPECT_EQ(again.elapsed, first.elapsed);
  auto other = make_env("CartPole-v1", 3, Device::kCpu, EnvOptions{{"pixels", 1}});
  try {
    other->load_snapshot(snapshot);
    ADD_FAILURE() << "a snapshot of 32x32 pictures loaded into an 84x84 env";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "another size")) << e.what();
  }
}

TEST(Pixels, HeldLanesKeepTheirPicturesAndResetLanesRedraws) {
  auto env = make_env("CartPole-v1", 2, Device::kCpu, EnvOptions{{"pixels", 1}, {"pixels_width", 32}, {"pixels_height", 32}});
  auto plain = make_env("CartPole-v1", 2, Device::kCpu, {});
  env->reset(4);
  plain->reset(4);
  const std::size_t frame = 32 * 32;
  const std::uint8_t hold[2] = {0, 1};
  env->set_active_lanes(hold);
  plain->set_active_lanes(hold);
  const std::vector<std::uint8_t> before = row(env->buffers().obs_u8, 0, frame);
  const std::int32_t push[2] = {1, 1};
  for (int t = 0; t < 6; ++t) {
    env->step(ActionBatch::discrete(push, 2));
    plain->step(ActionBatch::discrete(push, 2));
  }
  EXPECT_EQ(row(env->buffers().obs_u8, 0, frame), before) << "a held lane's picture stays";
  EXPECT_EQ(row(env->buffers().obs_u8, 1, frame), picture(*plain, 1, 32, 32, 1));
  env->set_active_lanes(nullptr);
  plain->set_active_lanes(nullptr);
  const std::uint8_t restart[2] = {0, 1};
  env->reset_lanes(restart);
  plain->reset_lanes(restart);
  EXPECT_EQ(row(env->buffers().obs_u8, 1, frame), picture(*plain, 1, 32, 32, 1)) << "reset_lanes draws the new episode";
}

TEST(Pixels, BadOptionsAreRefusedNamingTheOption) {
  const auto refused = [](const EnvOptions& options, const std::string& part) {
    try {
      make_env("CartPole-v1", 1, Device::kCpu, options);
      ADD_FAILURE() << "accepted; expected a message containing '" << part << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
      EXPECT_TRUE(contains(e.what(), "CartPole-v1")) << e.what();
    }
    try {
      env_spec("CartPole-v1", options);
      ADD_FAILURE() << "env_spec accepted; expected '" << part << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  };
  refused({{"pixels_width", 64}}, "need 'pixels': true");
  refused({{"pixels", 1}, {"pixels_width", 3}}, "'pixels_width' = 3");
  refused({{"pixels", 1}, {"pixels_height", 84.5}}, "'pixels_height' = 84.5");
  refused({{"pixels", 1}, {"pixels_width", 4096}}, "[8, 1024]");
  refused({{"pixels", 2}}, "'pixels' = 2 must be false or true");
  refused({{"pixels", 1}, {"pixels_grayscale", 0.5}}, "'pixels_grayscale' = 0.5");
  refused({{"pixels", 1}, {"observe_velocity", 0}}, "cannot go together");
}

}  // namespace
}  // namespace apiary::envs
