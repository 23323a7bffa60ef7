// Networks sized from a registered environment's spec.
#pragma once

#include "agents/actor_critic.h"
#include "agents/policy_config.h"
#include "agents/q_network.h"
#include "envs/env_spec.h"

namespace apiary::agents {

// An ActorCritic for spec's observation and action spaces (Discrete or Box). Errors name the env id.
ActorCritic make_actor_critic(const envs::EnvSpec& spec, const PolicyConfig& config = {});

// A QNetwork for spec's observation space and Discrete action space; a Box action space is an
// std::invalid_argument naming the env id. Errors name the env id.
QNetwork make_q_network(const envs::EnvSpec& spec, const PolicyConfig& config = {});

}  // namespace apiary::agents
