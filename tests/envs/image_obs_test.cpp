// uint8 (image) observations through the env layer: the space's dtype and how Gymnasium prints it, the
// thread-pool back end's uint8 buffers (auto-reset, final_obs, snapshots), the row probe on byte rows,
// and the generic frame stack (env.options frame_stack) on images and on vectors.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/cpu_vec_env.h"
#include "envs/frame_stack.h"
#include "envs/registry.h"
#include "tests/common/pixels_env.h"

namespace apiary::envs {
namespace {

using testing_envs::Pixels;

// Writes one byte past its row: the probe must say so.
struct PixelsOverrun : Pixels {
  static constexpr const char* kId = "TestPixelsOverrun-v0";
  using Pixels::Pixels;
  void observe(std::uint8_t* obs) const {
    Pixels::observe(obs);
    obs[kObsDim] = 7;
  }
};

// Leaves one byte unwritten: the probe must say so, whatever value the buffer held.
struct PixelsHole : Pixels {
  static constexpr const char* kId = "TestPixelsHole-v0";
  using Pixels::Pixels;
  void observe(std::uint8_t* obs) const {
    std::vector<std::uint8_t> full(kObsDim);
    Pixels::observe(full.data());
    std::memcpy(obs, full.data(), kObsDim - 1);
  }
};

std::unique_ptr<CpuVecEnv<Pixels>> make_pixels(std::int32_t lanes, std::int32_t threads) {
  return std::make_unique<CpuVecEnv<Pixels>>(Pixels::Params{}, Pixels::kMaxEpisodeSteps, Pixels::spec({}), lanes,
                                             threads);
}

TEST(ImageSpaces, PrintAsGymnasiumAndCarryTheirDtype) {
  const Space image = Space::box_u8({96, 96, 3});
  EXPECT_EQ(image.to_string(), "Box(0, 255, (96, 96, 3), uint8)");
  EXPECT_TRUE(image.is_uint8());
  EXPECT_EQ(image.flat_size(), 96 * 96 * 3);
  EXPECT_EQ(Space::box_u8({10, 10, 4}, 0, 1).to_string(), "Box(0, 1, (10, 10, 4), uint8)");
  EXPECT_EQ(Space::box({-1.0f, -1.0f}, {1.0f, 1.0f}).to_string(), "Box(-1.0, 1.0, (2,), float32)");
  EXPECT_FALSE(Space::box({0.0f}, {1.0f}).is_uint8());
  const std::uint8_t inside[3] = {0, 1, 1}, outside[3] = {0, 2, 1};
  EXPECT_TRUE(Space::box_u8({3}, 0, 1).contains(inside));
  EXPECT_FALSE(Space::box_u8({3}, 0, 1).contains(outside));
  EXPECT_THROW(Space::box_u8({10, 0, 3}), std::invalid_argument);
}

TEST(ImageObs, TheBackEndKeepsBytesWithAutoResetAndFinalObs) {
  auto env = make_pixels(3, 2);
  const BatchBuffers& b = env->buffers();
  ASSERT_EQ(b.obs, nullptr) << "a uint8 env has no float observation buffer";
  ASSERT_NE(b.obs_u8, nullptr);
  env->reset(5);
  std::vector<std::int32_t> right(3, 1);
  std::vector<int> steps(3, 0);  // steps into each lane's episode
  // Every lane reaches position 3 within 3 steps; check the final and the reset observation.
  for (int t = 1; t <= 3; ++t) {
    std::vector<std::uint8_t> before(b.obs_u8, b.obs_u8 + 3 * Pixels::kObsDim);
    env->step(ActionBatch::discrete(right.data(), 3));
    for (int lane = 0; lane < 3; ++lane) {
      const std::uint8_t* row = b.obs_u8 + lane * Pixels::kObsDim;
      ++steps[lane];
      if (b.terminated[lane]) {
        const std::uint8_t* final_row = b.final_obs_u8 + lane * Pixels::kObsDim;
        EXPECT_EQ(final_row[0], 3) << "final_obs is the terminal observation";
        EXPECT_EQ(final_row[1], 10 * steps[lane]) << "the step count of the episode that ended";
        EXPECT_LE(row[0], 1) << "obs is the new episode's first observation";
        EXPECT_EQ(row[1], 0);
        steps[lane] = 0;
      } else {
        EXPECT_EQ(row[0], before[lane * Pixels::kObsDim] + 1);
        EXPECT_EQ(row[11], 5 + 10 * steps[lane]);
      }
    }
  }
  HostBatch host;
  env->copy_to_host(host);
  EXPECT_TRUE(host.obs.empty());
  ASSERT_EQ(host.obs_u8.size(), 3u * Pixels::kObsDim);
  EXPECT_EQ(0, std::memcmp(host.obs_u8.data(), b.obs_u8, host.obs_u8.size()));
}

TEST(ImageObs, SnapshotsRestoreTheBytesExactly) {
  auto env = make_pixels(4, 1);
  env->reset(9);
  std::vector<std::int32_t> actions{1, 0, 1, 1};
  env->step(ActionBatch::discrete(actions.data(), 4));
  const auto snapshot = env->save_snapshot();
  std::vector<std::uint8_t> expected(env->buffers().obs_u8, env->buffers().obs_u8 + 4 * Pixels::kObsDim);
  env->step(ActionBatch::discrete(actions.data(), 4));
  env->step(ActionBatch::discrete(actions.data(), 4));
  env->load_snapshot(snapshot);
  EXPECT_EQ(0, std::memcmp(expected.data(), env->buffers().obs_u8, expected.size()));
}

TEST(ImageObs, TheRowProbeFindsByteRowsWrittenOutsideOrLeftUnwritten) {
  EXPECT_EQ(probe_cpu_rows<Pixels>({}), "");
  EXPECT_NE(probe_cpu_rows<PixelsOverrun>({}).find("past its row"), std::string::npos);
  EXPECT_NE(probe_cpu_rows<PixelsHole>({}).find("obs_row[11] unwritten"), std::string::npos);
}

TEST(FrameStack, ImagesStackAlongChannelsOldestFirstAndResetsPadWithTheFirstFrame) {
  auto stacked = make_frame_stack(make_pixels(2, 1), 3);
  const Space& space = stacked->spec().observation_space;
  EXPECT_EQ(space.to_string(), "Box(0, 255, (2, 3, 6), uint8)");
  const BatchBuffers& b = stacked->buffers();
  stacked->reset(3);
  const int d = 2 * 3 * 6;
  // After reset: three copies of the first frame in every pixel.
  for (int lane = 0; lane < 2; ++lane)
    for (int f = 0; f < 3; ++f) EXPECT_EQ(b.obs_u8[lane * d + 2 * f + 1], 0) << "step count 0 in frame " << f;
  std::vector<std::int32_t> stay{0, 0};
  stacked->step(ActionBatch::discrete(stay.data(), 2));
  stacked->step(ActionBatch::discrete(stay.data(), 2));
  // Pixel 4's channel 1 is 4 + 10 * steps: frames hold steps 0, 1, 2, oldest first.
  const std::uint8_t* pixel4 = b.obs_u8 + 4 * 6;
  EXPECT_EQ(pixel4[1], 4);
  EXPECT_EQ(pixel4[3], 14);
  EXPECT_EQ(pixel4[5], 24);
  // Walk lane 0 to its end: final_obs is the stack that ended, obs the new episode's first frame x3.
  std::vector<std::int32_t> right{1, 0};
  for (int t = 0; t < 3 && !b.terminated[0]; ++t) stacked->step(ActionBatch::discrete(right.data(), 2));
  ASSERT_TRUE(b.terminated[0]);
  EXPECT_EQ(b.final_obs_u8[4], 3) << "the newest frame of the final stack is the terminal one";
  for (int f = 0; f < 3; ++f) {
    EXPECT_EQ(b.obs_u8[2 * f + 1], 0) << "frame " << f << " of the reset stack is the first frame";
    EXPECT_LE(b.obs_u8[2 * f], 1);
  }
}

TEST(FrameStack, VectorsConcatenateAndSnapshotsIncludeTheStack) {
  EnvOptions options{{kFrameStackOption, 4.0}};
  const EnvSpec spec = env_spec("CartPole-v1", options);
  ASSERT_EQ(spec.obs_dim(), 16);
  EXPECT_EQ(spec.observation_space.shape, (std::vector<std::int64_t>{16}));
  auto env = make_env("CartPole-v1", 3, Device::kCpu, options);
  auto plain = make_env("CartPole-v1", 3, Device::kCpu, {});
  env->reset(11);
  plain->reset(11);
  std::vector<std::int32_t> actions{1, 0, 1};
  std::vector<std::vector<float>> history;
  history.emplace_back(plain->buffers().obs, plain->buffers().obs + 12);
  for (int t = 0; t < 5; ++t) {
    env->step(ActionBatch::discrete(actions.data(), 3));
    plain->step(ActionBatch::discrete(actions.data(), 3));
    history.emplace_back(plain->buffers().obs, plain->buffers().obs + 12);
  }
  // The stack of lane 1 is the plain env's last four observations of lane 1, oldest first.
  for (int f = 0; f < 4; ++f)
    for (int k = 0; k < 4; ++k)
      EXPECT_EQ(env->buffers().obs[16 + 4 * f + k], history[static_cast<std::size_t>(2 + f)][4 + k]);
  const auto snapshot = env->save_snapshot();
  std::vector<float> expected(env->buffers().obs, env->buffers().obs + 48);
  env->step(ActionBatch::discrete(actions.data(), 3));
  env->load_snapshot(snapshot);
  EXPECT_EQ(0, std::memcmp(expected.data(), env->buffers().obs, expected.size() * sizeof(float)));
  EnvOptions bad{{kFrameStackOption, 2.5}};
  try {
    make_env("CartPole-v1", 1, Device::kCpu, bad);
    FAIL() << "a fractional frame_stack was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("frame_stack"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace apiary::envs
