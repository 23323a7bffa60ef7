// Environment parameters overridable by name: every env lists its `Params` fields once, with the range
// Gymnasium documents or physics allows, and `make_params` applies user options (from a config's
// `env.options` or make_env's argument) to the defaults, refusing unknown names and values out of range.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "envs/env_spec.h"

namespace apiary::envs {

// Option name to value, e.g. {"gravity": 9.81, "max_episode_steps": 1000}.
using EnvOptions = std::map<std::string, double>;

// One overridable float field of an env's Params. The value must lie in [low, high]; low_open and
// high_open exclude an end (masses and lengths that must stay positive; LunarLander's -12 < g < 0).
template <class Params>
struct ParamField {
  const char* name;
  float Params::*member;
  float low;
  float high;
  bool low_open;
  const char* doc;
  bool high_open = false;
};

// Options every env accepts besides its own parameters.
inline constexpr const char* kMaxEpisodeStepsOption = "max_episode_steps";

// Throws std::invalid_argument naming the env id, the option and the valid names.
[[noreturn]] void throw_unknown_option(const std::string& env_id, const std::string& name,
                                       const std::vector<std::string>& valid);
// Throws std::invalid_argument naming the env id, the option, the value and the range.
[[noreturn]] void throw_option_out_of_range(const std::string& env_id, const std::string& name, double value,
                                            double low, double high, bool low_open, bool high_open = false);
// Validates the generic `max_episode_steps` option (an integer >= 1) and returns it.
std::int32_t parse_max_episode_steps(const std::string& env_id, double value);

// Env's Params with `options` applied; `max_episode_steps` is set from the option where given.
template <class Env>
typename Env::Params make_params(const EnvOptions& options, std::int32_t& max_episode_steps) {
  typename Env::Params params{};
  for (const auto& [name, value] : options) {
    if (name == kMaxEpisodeStepsOption) {
      max_episode_steps = parse_max_episode_steps(Env::kId, value);
      continue;
    }
    bool found = false;
    for (const auto& field : Env::kParamFields) {
      if (name != field.name) continue;
      // Checked as the float the env will use: 1e-50 passes (0, 100] as a double but is 0 as a float.
      const float f = static_cast<float>(value);
      const bool below = field.low_open ? !(f > field.low) : !(f >= field.low);
      const bool above = field.high_open ? !(f < field.high) : !(f <= field.high);
      if (below || above)
        throw_option_out_of_range(Env::kId, name, value, field.low, field.high, field.low_open, field.high_open);
      params.*field.member = f;
      found = true;
    }
    if (!found) {
      std::vector<std::string> valid{kMaxEpisodeStepsOption};
      for (const auto& field : Env::kParamFields) valid.emplace_back(field.name);
      throw_unknown_option(Env::kId, name, valid);
    }
  }
  return params;
}

// One option as `apiary.envs()` lists it: its name, default, valid range and meaning.
struct OptionInfo {
  std::string name;
  double default_value = 0.0;
  double low = 0.0, high = 0.0;
  bool low_open = false, high_open = false;  // an open end is excluded from the range
  std::string doc;
};

// Env's options: max_episode_steps first, then its Params fields in declaration order.
template <class Env>
std::vector<OptionInfo> option_infos() {
  std::vector<OptionInfo> out;
  out.push_back({kMaxEpisodeStepsOption, static_cast<double>(Env::kMaxEpisodeSteps), 1.0, 1e9, false, false,
                 "steps after which an episode is truncated"});
  const typename Env::Params defaults{};
  for (const auto& field : Env::kParamFields)
    out.push_back({field.name, static_cast<double>(defaults.*field.member), field.low, field.high, field.low_open,
                   field.high_open, field.doc});
  return out;
}

// Env's spec with `options` applied (this validates them): the time limit is the option's where given.
template <class Env>
EnvSpec spec_with_options(const EnvOptions& options) {
  std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
  const auto params = make_params<Env>(options, max_episode_steps);
  EnvSpec spec = Env::spec(params);
  spec.max_episode_steps = max_episode_steps;
  const typename Env::Params defaults{};
  for (const auto& field : Env::kParamFields)
    spec.options.push_back(EnvOptionInfo{field.name, static_cast<double>(defaults.*field.member), field.low, field.high,
                                         field.low_open, field.high_open, field.doc});
  return spec;
}

}  // namespace apiary::envs
