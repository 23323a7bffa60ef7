// What the keyboard does in `apiary play`'s human control, and the names of each env's actions for
// the heads-up display. Arrow keys drive the bundled envs (left / right / up as below); digit keys pick
// a discrete action by number in any discrete env.
//
//   CartPole       left: push left (0)   right: push right (1)   neither: alternate, no net push
//   Acrobot        left: torque -1 (0)   right: torque +1 (2)    neither: no torque (1)
//   MountainCar    left: accelerate left (0)   right: accelerate right (2)   neither: coast (1)
//   LunarLander    up: main engine (2)   left: left engine (1)   right: right engine (3)   neither: noop (0)
//   CarRacing      left/right: steer, up: gas, down: brake (car_racing.py's keys: full steer and gas,
//                  brake 0.8; Discrete(5) with continuous: false)
//   MinAtar        arrows: move (l, r, u, d)   space: fire (f)   none: noop; in the minimal action set
//                  (-v1) a key whose move the game lacks is a noop
//   continuous     MountainCarContinuous: left/right full force; Pendulum: left/right full torque
//                  counter-clockwise / clockwise; LunarLanderContinuous: up main engine, left/right
//                  side engines; any other: left/right drive element 0, up/down element 1.
#pragma once

#include <string>
#include <vector>

#include "envs/spaces.h"
#include "render/display.h"

namespace apiary::render {

// One name per discrete action, or per element of a continuous action ("left", "right"; "torque").
std::vector<std::string> action_names(const std::string& env_id, const envs::Space& action_space);

// The action human control takes this step (the env's action values: a discrete action as a float
// holding its integer value). `digit` is the last digit key pressed (-1: none), `step` the step in the
// episode (CartPole alternates on it when no arrow is held).
std::vector<float> human_action(const std::string& env_id, const envs::Space& action_space, const HeldKeys& keys,
                                int digit, std::int64_t step);

// Whether human control of `env_id` fires with space (MinAtar): space then fires instead of pausing.
bool human_fires(const std::string& env_id);

// A one-line reminder of the keys for the HUD ("left/right: push").
std::string human_keys_help(const std::string& env_id, const envs::Space& action_space);

}  // namespace apiary::render
