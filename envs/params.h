// Environment parameters overridable by name: every env lists its `Params` fields once, with the range
// Gymnasium documents or physics allows, and `make_params` applies user options (from a config's
// `env.options` or make_env's argument) to the defaults, refusing unknown names and values out of range.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "envs/env.h"
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

// The generic options' checks (max_episode_steps, frame_stack, frame_skip, observe_velocity, pixels): `value` as a
// whole number in [low, high], or as a flag (0 or 1, a config's false and true). Throw
// std::invalid_argument "ENV: option 'NAME' = VALUE must be a whole number[ of UNIT] in [LOW, HIGH]"
// or "... must be false or true (0 or 1)".
std::int32_t whole_option(const std::string& env_id, const char* name, double value, std::int64_t low,
                          std::int64_t high, const char* unit = nullptr);
bool flag_option(const std::string& env_id, const char* name, double value);
// A generic option taken out of `options`: its whole_option() value, or `absent` where it is not set.
std::int32_t take_whole_option(const std::string& env_id, EnvOptions& options, const char* name, std::int32_t absent,
                               std::int64_t low, std::int64_t high);

namespace detail {
template <class Env, class = void>
struct HasParamFields : std::false_type {};
template <class Env>
struct HasParamFields<Env, std::void_t<decltype(std::begin(Env::kParamFields))>> : std::true_type {};
}  // namespace detail

// Env's overridable fields: its kParamFields, or none when it declares no kParamFields at all (an env
// without parameters may leave the list out; `Params` may then be an empty struct).
template <class Env>
std::vector<ParamField<typename Env::Params>> param_fields() {
  if constexpr (detail::HasParamFields<Env>::value)
    return {std::begin(Env::kParamFields), std::end(Env::kParamFields)};
  else
    return {};
}

// Env's Params with `options` applied; `max_episode_steps` is set from the option where given.
template <class Env>
typename Env::Params make_params(const EnvOptions& options, std::int32_t& max_episode_steps) {
  typename Env::Params params{};
  const auto fields = param_fields<Env>();
  for (const auto& [name, value] : options) {
    if (name == kMaxEpisodeStepsOption) {
      max_episode_steps = parse_max_episode_steps(Env::kId, value);
      continue;
    }
    bool found = false;
    for (const auto& field : fields) {
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
      for (const auto& field : fields) valid.emplace_back(field.name);
      throw_unknown_option(Env::kId, name, valid);
    }
  }
  return params;
}

// Throws std::invalid_argument when `spec`'s spaces disagree with Env's compile-time sizes, naming
// both. The back ends size every lane's rows and validate actions by the constants (kObsDim,
// kActionDim, kNumActions), the policies by the spec, so a disagreement would train on garbage.
template <class Env>
void check_spec_sizes(const EnvSpec& spec) {
  const std::string id = Env::kId;
  const Space& obs = spec.observation_space;
  if (obs.flat_size() != Env::kObsDim)
    throw std::invalid_argument(id + ": the spec's observation space " + obs.to_string() + " has " +
                                std::to_string(obs.flat_size()) + " elements, but kObsDim is " +
                                std::to_string(Env::kObsDim) +
                                " (observe() fills kObsDim floats per lane); build the space from kObsDim");
  constexpr bool kBytes = std::is_same_v<ObsType<Env>, std::uint8_t>;
  if (obs.is_uint8() != kBytes)
    throw std::invalid_argument(id + ": the spec's observation space is " + obs.to_string() + ", but observe() writes " +
                                (kBytes ? "uint8 (Env::Obs)" : "float") + " elements; declare `using Obs = "
                                "std::uint8_t;` and Space::box_u8 together, or neither");
  const Space& act = spec.action_space;
  if constexpr (Env::kDiscrete) {
    if (!act.is_discrete())
      throw std::invalid_argument(id + ": the spec's action space is " + act.to_string() +
                                  ", but kDiscrete is true (step() is given Discrete(" +
                                  std::to_string(Env::kNumActions) + ") actions)");
    if (act.n != Env::kNumActions)
      throw std::invalid_argument(id + ": the spec's action space is " + act.to_string() + ", but kNumActions is " +
                                  std::to_string(Env::kNumActions) + " (step() accepts actions 0 to " +
                                  std::to_string(Env::kNumActions - 1) +
                                  "); build the space as Space::discrete(kNumActions)");
    if (Env::kActionDim != 1)
      throw std::invalid_argument(id + ": a Discrete env has one action per lane, but kActionDim is " +
                                  std::to_string(Env::kActionDim));
  } else {
    if (act.is_discrete())
      throw std::invalid_argument(id + ": the spec's action space is " + act.to_string() +
                                  ", but kDiscrete is false (step() is given " + std::to_string(Env::kActionDim) +
                                  " floats)");
    if (act.flat_size() != Env::kActionDim)
      throw std::invalid_argument(id + ": the spec's action space " + act.to_string() + " has " +
                                  std::to_string(act.flat_size()) + " elements, but kActionDim is " +
                                  std::to_string(Env::kActionDim) + "; build the space from kActionDim");
  }
}

// Env's spec with `options` applied (this validates them): the time limit is the option's where given.
// Throws when the spec disagrees with Env's compile-time sizes (check_spec_sizes), so no env whose
// sizes disagree is ever built, and a plugin declaring one is refused when it loads.
template <class Env>
EnvSpec spec_with_options(const EnvOptions& options) {
  std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
  const auto params = make_params<Env>(options, max_episode_steps);
  EnvSpec spec = Env::spec(params);
  spec.max_episode_steps = max_episode_steps;
  const typename Env::Params defaults{};
  for (const auto& field : param_fields<Env>())
    spec.options.push_back(EnvOptionInfo{field.name, static_cast<double>(defaults.*field.member), field.low, field.high,
                                         field.low_open, field.high_open, field.doc});
  check_spec_sizes<Env>(spec);
  return spec;
}

}  // namespace apiary::envs
