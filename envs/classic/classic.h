// Registration of the classic-control suite on one Thrust system (CPU or CUDA).
#pragma once

#include "envs/classic/acrobot.h"
#include "envs/classic/cartpole.h"
#include "envs/classic/mountain_car.h"
#include "envs/classic/pendulum.h"
#include "envs/thrust_registration.h"

namespace apiary::envs {

template <class System>
void register_classic(Registry& registry) {
  register_thrust_env<CartPole, System>(registry);
  register_thrust_env<Acrobot, System>(registry);
  register_thrust_env<MountainCar, System>(registry);
  register_thrust_env<MountainCarContinuous, System>(registry);
  register_thrust_env<Pendulum, System>(registry);
}

}  // namespace apiary::envs
