// Registration of the classic-control suite on one Thrust system (CPU or CUDA).
#pragma once

#include <memory>

#include "envs/classic/acrobot.h"
#include "envs/classic/cartpole.h"
#include "envs/classic/mountain_car.h"
#include "envs/classic/pendulum.h"
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

template <class Env, class System>
void register_thrust_env(Registry& registry) {
  if (!registry.find(Env::kId))
    registry.add(EnvEntry{Env::kId, &spec_with_options<Env>, {}, "builtin", &probe_hd_rows<Env>});
  registry.add_maker(Env::kId, System::kDevice, &make_thrust_env<Env, System>);
}

template <class System>
void register_classic(Registry& registry) {
  register_thrust_env<CartPole, System>(registry);
  register_thrust_env<Acrobot, System>(registry);
  register_thrust_env<MountainCar, System>(registry);
  register_thrust_env<MountainCarContinuous, System>(registry);
  register_thrust_env<Pendulum, System>(registry);
}

}  // namespace apiary::envs
