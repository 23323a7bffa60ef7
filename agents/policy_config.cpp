#include "agents/policy_config.h"

#include <cmath>
#include <stdexcept>

namespace apiary::agents {

Activation parse_activation(const std::string& name) {
  if (name == "tanh") return Activation::kTanh;
  if (name == "relu") return Activation::kRelu;
  throw std::invalid_argument("PolicyConfig.activation must be \"tanh\" or \"relu\", got \"" + name + "\"");
}

namespace {

void check_gain(const char* field, double gain) {
  if (!std::isfinite(gain) || gain < 0.0)
    throw std::invalid_argument(std::string("PolicyConfig.") + field + " must be finite and >= 0, got " +
                                std::to_string(gain));
}

}  // namespace

void validate(const PolicyConfig& config) {
  for (std::size_t i = 0; i < config.hidden_sizes.size(); ++i) {
    if (config.hidden_sizes[i] <= 0)
      throw std::invalid_argument("PolicyConfig.hidden_sizes[" + std::to_string(i) + "] must be > 0, got " +
                                  std::to_string(config.hidden_sizes[i]));
  }
  parse_activation(config.activation);
  if (!std::isfinite(config.init_log_std))
    throw std::invalid_argument("PolicyConfig.init_log_std must be finite, got " +
                                std::to_string(config.init_log_std));
  check_gain("hidden_gain", config.hidden_gain);
  check_gain("actor_output_gain", config.actor_output_gain);
  check_gain("critic_output_gain", config.critic_output_gain);
}

}  // namespace apiary::agents
