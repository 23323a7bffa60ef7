// Registration of the Box2D suite (CPU only: one b2World per lane, lanes on a thread pool).
#pragma once

#include "envs/registry.h"

namespace apiary::envs {

void register_box2d(Registry& registry);
// Each env's own registration (envs/box2d/lunar_lander.cpp, envs/box2d/bipedal_walker.cpp).
void register_lunar_lander(Registry& registry);    // LunarLander-v3, LunarLanderContinuous-v3
void register_bipedal_walker(Registry& registry);  // BipedalWalker-v3, BipedalWalkerHardcore-v3
void register_car_racing(Registry& registry);      // CarRacing-v3 (continuous: false for Discrete(5))

}  // namespace apiary::envs
