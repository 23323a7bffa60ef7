// Registration of an env written in the __host__ __device__ contract (envs/env.h) on one Thrust
// system (envs/cpu_system.h, envs/cuda_system.cuh), through envs/thrust_vec_env.h.
#pragma once

#include <memory>

#include "envs/registry.h"
#include "envs/row_probe.h"
#include "envs/thrust_vec_env.h"

namespace apiary::envs {

template <class Env, class System>
std::unique_ptr<VecEnv> make_thrust_env(const VecEnvConfig& config) {
  std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
  const auto params = make_params<Env>(config.options, max_episode_steps);
  const EnvSpec spec = spec_with_options<Env>(config.options);
  return std::make_unique<ThrustVecEnv<Env, System>>(params, max_episode_steps, spec, config.num_envs,
                                                     config.threads);
}

// Registers Env's id (unless another back end did) with this system's maker.
template <class Env, class System>
void register_thrust_env(Registry& registry) {
  if (!registry.find(Env::kId))
    registry.add(EnvEntry{Env::kId, &spec_with_options<Env>, {}, "builtin", &probe_hd_rows<Env>});
  registry.add_maker(Env::kId, System::kDevice, &make_thrust_env<Env, System>);
}

}  // namespace apiary::envs
