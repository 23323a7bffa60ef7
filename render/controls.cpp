#include "render/controls.h"

#include <algorithm>

#include "envs/minatar/minatar.h"

namespace apiary::render {

namespace {

// MinAtar's action letters (n, l, u, r, d, f) of `id`'s action space, or "" for another env.
std::string minatar_letters(const std::string& id) { return envs::minatar::action_letters(id); }

}  // namespace

std::vector<std::string> action_names(const std::string& id, const envs::Space& space) {
  if (id == "CartPole-v1") return {"left", "right"};
  if (id == "Acrobot-v1") return {"-1", "0", "+1"};
  if (id == "MountainCar-v0") return {"left", "none", "right"};
  if (id == "LunarLander-v3") return {"noop", "left", "main", "right"};
  if (id == "MountainCarContinuous-v0") return {"force"};
  if (id == "Pendulum-v1") return {"torque"};
  if (id == "LunarLanderContinuous-v3") return {"main", "lateral"};
  if (id == "BipedalWalker-v3" || id == "BipedalWalkerHardcore-v3") return {"hip0", "knee0", "hip1", "knee1"};
  if (id == "CarRacing-v3")
    return space.is_discrete() ? std::vector<std::string>{"noop", "right", "left", "gas", "brake"}
                               : std::vector<std::string>{"steer", "gas", "brake"};
  if (const std::string letters = minatar_letters(id); !letters.empty()) {
    std::vector<std::string> names;
    for (const char c : letters)
      names.push_back(c == 'n' ? "noop" : c == 'l' ? "left" : c == 'u' ? "up" : c == 'r' ? "right" : c == 'd' ? "down" : "fire");
    return names;
  }
  std::vector<std::string> names;
  const std::int64_t n = space.is_discrete() ? space.n : space.flat_size();
  for (std::int64_t i = 0; i < n; ++i)
    names.push_back(space.is_discrete() ? std::to_string(space.start + i) : "a" + std::to_string(i));
  return names;
}

namespace {

float bound(const envs::Space& space, std::size_t i, bool high) {
  const auto& v = high ? space.high : space.low;
  return i < v.size() ? v[i] : (high ? 1.0f : -1.0f);
}

}  // namespace

std::vector<float> human_action(const std::string& id, const envs::Space& space, const HeldKeys& keys, int digit,
                                std::int64_t step) {
  if (space.is_discrete()) {
    auto value = [&](std::int64_t index) { return std::vector<float>{static_cast<float>(space.start + index)}; };
    if (id == "CartPole-v1") {
      if (keys.left != keys.right) return value(keys.right ? 1 : 0);
      return value(step % 2);
    }
    if (id == "Acrobot-v1" || id == "MountainCar-v0") {
      if (keys.left != keys.right) return value(keys.right ? 2 : 0);
      return value(1);
    }
    if (id == "CarRacing-v3") {  // Discrete(5): noop, right, left, gas, brake
      if (keys.left != keys.right) return value(keys.left ? 2 : 1);
      if (keys.up) return value(3);
      if (keys.down) return value(4);
      return value(0);
    }
    if (id == "LunarLander-v3") {
      if (keys.up) return value(2);
      if (keys.left != keys.right) return value(keys.left ? 1 : 3);
      return value(0);
    }
    if (const std::string letters = minatar_letters(id); !letters.empty()) {
      const char want = keys.fire ? 'f' : keys.left ? 'l' : keys.right ? 'r' : keys.up ? 'u' : keys.down ? 'd' : 'n';
      const std::size_t at = letters.find(want);
      return value(at == std::string::npos ? 0 : static_cast<std::int64_t>(at));
    }
    return value(digit >= 0 && digit < space.n ? digit : 0);
  }
  const auto dim = static_cast<std::size_t>(space.flat_size());
  std::vector<float> action(dim, 0.0f);
  if (dim == 0) return action;
  auto clamp_to_space = [&] {
    for (std::size_t i = 0; i < dim; ++i) action[i] = std::clamp(action[i], bound(space, i, false), bound(space, i, true));
  };
  if (id == "Pendulum-v1") {
    // Positive torque turns the pendulum counter-clockwise: left arrow.
    if (keys.left != keys.right) action[0] = keys.left ? bound(space, 0, true) : bound(space, 0, false);
    return action;
  }
  if (id == "CarRacing-v3" && dim >= 3) {
    // car_racing.py's own keys: left/right steer fully, up is full gas, down brakes at 0.8.
    if (keys.left != keys.right) action[0] = keys.left ? -1.0f : 1.0f;
    action[1] = keys.up ? 1.0f : 0.0f;
    action[2] = keys.down ? 0.8f : 0.0f;
    return action;
  }
  if (id == "LunarLanderContinuous-v3" && dim >= 2) {
    action[0] = keys.up ? 1.0f : -1.0f;  // main engine: off below 0, full at 1
    if (keys.left != keys.right) action[1] = keys.left ? -1.0f : 1.0f;
    clamp_to_space();
    return action;
  }
  if (keys.left != keys.right) action[0] = keys.left ? bound(space, 0, false) : bound(space, 0, true);
  if (dim >= 2 && keys.up != keys.down) action[1] = keys.up ? bound(space, 1, true) : bound(space, 1, false);
  clamp_to_space();
  return action;
}

bool human_fires(const std::string& id) { return !minatar_letters(id).empty(); }

std::string human_keys_help(const std::string& id, const envs::Space& space) {
  if (human_fires(id)) return "arrows: move, space: fire";
  if (id == "CartPole-v1") return "left/right: push";
  if (id == "Acrobot-v1") return "left/right: torque";
  if (id == "MountainCar-v0" || id == "MountainCarContinuous-v0") return "left/right: accelerate";
  if (id == "LunarLander-v3" || id == "LunarLanderContinuous-v3") return "up: main, left/right: side";
  if (id == "Pendulum-v1") return "left/right: torque";
  if (id == "CarRacing-v3") return "left/right: steer, up: gas, down: brake";
  if (space.is_discrete()) return "0-9: action";
  return "arrows: action[0], action[1]";
}

}  // namespace apiary::render
