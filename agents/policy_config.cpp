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
  if (parse_core_cell(config.recurrent_cell) != CoreCell::kNone && config.recurrent_hidden <= 0)
    throw std::invalid_argument("PolicyConfig.recurrent_hidden must be > 0, got " +
                                std::to_string(config.recurrent_hidden));
}

std::int64_t recurrent_state_size(const PolicyConfig& config) {
  const CoreCell cell = parse_core_cell(config.recurrent_cell);
  if (cell == CoreCell::kNone) return 0;
  const std::int64_t per_core = (cell == CoreCell::kLstm ? 2 : 1) * config.recurrent_hidden;
  return config.shared_trunk ? per_core : 2 * per_core;
}

CoreCell parse_core_cell(const std::string& name) {
  if (name.empty() || name == "none") return CoreCell::kNone;
  if (name == "lstm") return CoreCell::kLstm;
  if (name == "gru") return CoreCell::kGru;
  throw std::invalid_argument("PolicyConfig.recurrent_cell must be none, lstm or gru, got '" + name + "'");
}

}  // namespace apiary::agents
