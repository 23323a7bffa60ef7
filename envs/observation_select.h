// Dropping velocities, a generic env option (`env.options: {observe_velocity: false}`): each lane
// observes its env's observation without the elements the spec declares velocities
// (EnvSpec::velocity_elements), so CartPole observes (x, theta) and a policy must remember where the
// pole was to tell how it moves: the tasks that need memory (recurrent policies). The other elements
// keep their order; the space's bounds and unbounded_obs follow them, and `final_obs` is filtered
// alike. Everything else (rewards, flags, states, random streams) is the inner env's own, so the
// episodes are the same as without the option, bit for bit. The registry applies it over the back end
// and before frame stacking, which then stacks the filtered observations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "envs/params.h"
#include "envs/vec_env.h"

namespace apiary::envs {

inline constexpr const char* kObserveVelocityOption = "observe_velocity";

// The observe_velocity option's value (0 or 1; a config's false and true) and `options` without it;
// true when absent. Throws std::invalid_argument naming the env and the value otherwise.
bool take_observe_velocity(const std::string& env_id, EnvOptions& options);

// The observation elements `spec` keeps without its velocities, in order. Throws std::invalid_argument
// naming the env and the option when the spec declares no velocity elements (MinAtar, BipedalWalker),
// and naming the element when a declared one is not an element of a vector observation.
std::vector<std::int32_t> elements_without_velocity(const EnvSpec& spec);

// How EnvSpec::options lists observe_velocity for `spec`, which declares velocity elements (env_spec()
// lists it so, beside the env's own parameters, for `apiary envs` and apiary.envs()).
EnvOptionInfo observe_velocity_info(const EnvSpec& spec);

// `spec` observing only the elements `kept` (flat indices, in the order given): the shape becomes
// (kept.size(),), bounds, unbounded_obs and velocity_elements follow the kept elements.
EnvSpec selected_spec(const EnvSpec& spec, const std::vector<std::int32_t>& kept);

// Wraps `inner` so that it observes only the elements `kept` of each observation. On the host only,
// as frame stacking: an env on another device is refused, naming it.
std::unique_ptr<VecEnv> make_observation_select(std::unique_ptr<VecEnv> inner, std::vector<std::int32_t> kept);

}  // namespace apiary::envs
