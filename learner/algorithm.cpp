#include "learner/algorithm.h"

#include <stdexcept>

#include "learner/dqn.h"
#include "learner/ppo.h"

namespace apiary::learner {

agents::PolicyConfig to_policy_config(const PolicySection& section) {
  agents::PolicyConfig config;
  config.hidden_sizes.assign(section.hidden_sizes.begin(), section.hidden_sizes.end());
  config.activation = section.activation;
  config.shared_trunk = section.shared_trunk;
  config.init_log_std = section.init_log_std;
  config.dueling = section.dueling;
  return config;
}

std::unique_ptr<Algorithm> make_algorithm(const AlgorithmInit& init) {
  if (init.config.algo == "ppo") return make_ppo(init);
  if (init.config.algo == "dqn") return make_dqn(init);
  throw std::invalid_argument("algo: '" + init.config.algo + "' is not one of ppo, dqn");
}

}  // namespace apiary::learner
