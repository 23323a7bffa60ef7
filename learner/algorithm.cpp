#include "learner/algorithm.h"

#include <stdexcept>

#include "learner/dqn.h"
#include "learner/ppo.h"

namespace apiary::learner {

agents::PolicyConfig to_policy_config(const PolicySection& section, const envs::EnvSpec& spec) {
  agents::PolicyConfig config;
  config.hidden_sizes.assign(section.hidden_sizes.begin(), section.hidden_sizes.end());
  config.activation = section.activation;
  config.shared_trunk = section.shared_trunk;
  config.init_log_std = section.init_log_std;
  config.dueling = section.dueling;
  if (section.scale_obs) {
    config.obs_low = spec.observation_space.low;
    config.obs_high = spec.observation_space.high;
  }
  return config;
}

std::unique_ptr<Algorithm> make_algorithm(const AlgorithmInit& init) {
  if (init.config.algo == "ppo") return make_ppo(init);
  if (init.config.algo == "dqn") return make_dqn(init);
  throw std::invalid_argument("algo: '" + init.config.algo + "' is not one of ppo, dqn");
}

}  // namespace apiary::learner
