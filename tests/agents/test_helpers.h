// Specs and modules shared by the agents' tests.
#pragma once

#include <cstdint>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "envs/env_spec.h"
#include "envs/spaces.h"

namespace apiary::agents::testing {

inline envs::EnvSpec cartpole_like_spec() {
  envs::EnvSpec spec;
  spec.id = "CartPole-v1";
  const float inf = std::numeric_limits<float>::infinity();
  spec.observation_space = envs::Space::box({-inf, -inf, -inf, -inf}, {inf, inf, inf, inf});
  spec.action_space = envs::Space::discrete(2);
  spec.max_episode_steps = 500;
  return spec;
}

inline envs::EnvSpec pendulum_like_spec() {
  envs::EnvSpec spec;
  spec.id = "Pendulum-v1";
  spec.observation_space = envs::Space::box({-1.f, -1.f, -8.f}, {1.f, 1.f, 8.f});
  spec.action_space = envs::Space::box({-2.f}, {2.f});
  spec.max_episode_steps = 200;
  return spec;
}

// A two-dimensional continuous action space, so sums over A are exercised.
inline envs::EnvSpec two_dim_box_spec() {
  envs::EnvSpec spec;
  spec.id = "TwoDim-v0";
  spec.observation_space = envs::Space::box({-1.f, -1.f, -1.f, -1.f, -1.f}, {1.f, 1.f, 1.f, 1.f, 1.f});
  spec.action_space = envs::Space::box({-1.f, -1.f}, {1.f, 1.f});
  return spec;
}

inline torch::Tensor random_obs(std::int64_t batch, std::int64_t obs_dim, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({batch, obs_dim}, gen, torch::kFloat);
}

}  // namespace apiary::agents::testing
