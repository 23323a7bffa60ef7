// A tiny uint8 (image) env for tests of the image path: "TestPixels-v0", a 2x3 image with 2 channels.
#pragma once

#include <cstdint>

#include "envs/cpu_vec_env.h"
#include "envs/registry.h"

namespace apiary::testing_envs {

using envs::EnvSpec;
using envs::LaneRng;
using envs::Space;
using envs::StepOut;

// A 2x3 image with 2 channels. Channel 0 holds the position in every pixel, channel 1 the pixel's
// index plus 10 * (steps so far). Action 1 steps right, 0 stays; the episode ends at position 3.
struct Pixels {
  static constexpr const char* kId = "TestPixels-v0";
  static constexpr int kObsDim = 2 * 3 * 2;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr std::int32_t kMaxEpisodeSteps = 8;
  using Action = std::int32_t;
  using Obs = std::uint8_t;
  struct Params {};
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box_u8({2, 3, 2});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit Pixels(const Params&) {}
  void reset(LaneRng& rng) {
    position = static_cast<std::uint8_t>(rng.uniform_int(2u));  // 0 or 1
    steps = 0;
  }
  StepOut step(const Action* a, LaneRng&) {
    position = static_cast<std::uint8_t>(position + a[0]);
    ++steps;
    return StepOut{1.0f, position >= 3};
  }
  void observe(std::uint8_t* obs) const {
    for (int p = 0; p < 6; ++p) {
      obs[2 * p] = position;
      obs[2 * p + 1] = static_cast<std::uint8_t>(p + 10 * steps);
    }
  }
  std::uint8_t position = 0, steps = 0;
};

// An image env with a Box action, for SAC on pixels: "TestPixelReacher-v0", a 10x10 one-channel
// picture (0 or 255) of a dot the action Box(-1, 1, (2,)) moves by its rounded value, one cell at
// most per axis and step; the reward is minus the dot's distance to the centre cell (5, 5), and the
// episode is truncated after 20 steps.
struct PixelReacher {
  static constexpr const char* kId = "TestPixelReacher-v0";
  static constexpr int kObsDim = 10 * 10;
  static constexpr int kActionDim = 2;
  static constexpr bool kDiscrete = false;
  static constexpr std::int32_t kMaxEpisodeSteps = 20;
  using Action = float;
  using Obs = std::uint8_t;
  struct Params {};
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box_u8({10, 10, 1});
    s.action_space = Space::box({-1.0f, -1.0f}, {1.0f, 1.0f});
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit PixelReacher(const Params&) {}
  void reset(LaneRng& rng) {
    x = rng.uniform_int(0, 10);
    y = rng.uniform_int(0, 10);
  }
  StepOut step(const Action* a, LaneRng&) {
    x = move(x, a[0]);
    y = move(y, a[1]);
    const float dx = static_cast<float>(x - 5), dy = static_cast<float>(y - 5);
    return StepOut{-(dx * dx + dy * dy) / 50.0f, false};
  }
  void observe(std::uint8_t* obs) const {
    for (int i = 0; i < kObsDim; ++i) obs[i] = 0;
    obs[y * 10 + x] = 255;
  }
  static int move(int v, float d) {
    const int n = v + (d > 0.5f ? 1 : 0) - (d < -0.5f ? 1 : 0);
    return n < 0 ? 0 : (n > 9 ? 9 : n);
  }
  int x = 0, y = 0;
};

// Registers TestPixels-v0 and TestPixelReacher-v0 in the global registry once (tests of actors,
// chunks and learners use them).
inline void register_pixels() {
  static const bool registered = [] {
    envs::register_cpu_env<Pixels>(envs::Registry::global(), "tests");
    envs::register_cpu_env<PixelReacher>(envs::Registry::global(), "tests");
    return true;
  }();
  (void)registered;
}

}  // namespace apiary::testing_envs
