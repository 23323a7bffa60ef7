#include "agents/factory.h"

#include <stdexcept>
#include <string>

namespace apiary::agents {

ActorCritic make_actor_critic(const envs::EnvSpec& spec, const PolicyConfig& config) {
  try {
    return ActorCritic(spec.obs_dim(), spec.action_space, config);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("make_actor_critic(" + spec.id + "): " + e.what());
  }
}

QNetwork make_q_network(const envs::EnvSpec& spec, const PolicyConfig& config) {
  if (!spec.action_space.is_discrete())
    throw std::invalid_argument("make_q_network(" + spec.id + "): the action space " + spec.action_space.to_string() +
                                " is continuous; a Q-network needs a Discrete action space (use PPO for " + spec.id +
                                ")");
  try {
    return QNetwork(spec.obs_dim(), spec.action_space.n, config);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("make_q_network(" + spec.id + "): " + e.what());
  }
}

}  // namespace apiary::agents
