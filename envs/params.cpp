#include "envs/params.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace apiary::envs {

void throw_unknown_option(const std::string& env_id, const std::string& name, const std::vector<std::string>& valid) {
  std::ostringstream os;
  os << env_id << ": unknown option '" << name << "'; valid options are:";
  for (const auto& v : valid) os << " " << v;
  throw std::invalid_argument(os.str());
}

void throw_option_out_of_range(const std::string& env_id, const std::string& name, double value, double low,
                               double high, bool low_open, bool high_open) {
  std::ostringstream os;
  os << env_id << ": option '" << name << "' = " << value << " is out of range " << (low_open ? "(" : "[") << low
     << ", " << high << (high_open ? ")" : "]");
  throw std::invalid_argument(os.str());
}

std::int32_t parse_max_episode_steps(const std::string& env_id, double value) {
  return whole_option(env_id, kMaxEpisodeStepsOption, value, 1, 1000000000);
}

std::int32_t whole_option(const std::string& env_id, const char* name, double value, std::int64_t low,
                          std::int64_t high, const char* unit) {
  if (!(value >= static_cast<double>(low) && value <= static_cast<double>(high)) || std::floor(value) != value) {
    std::ostringstream os;
    os << env_id << ": option '" << name << "' = " << value << " must be a whole number"
       << (unit != nullptr ? std::string(" of ") + unit : std::string()) << " in [" << low << ", " << high << "]";
    throw std::invalid_argument(os.str());
  }
  return static_cast<std::int32_t>(value);
}

std::int32_t take_whole_option(const std::string& env_id, EnvOptions& options, const char* name, std::int32_t absent,
                               std::int64_t low, std::int64_t high) {
  const auto it = options.find(name);
  if (it == options.end()) return absent;
  const std::int32_t value = whole_option(env_id, name, it->second, low, high);
  options.erase(it);
  return value;
}

bool flag_option(const std::string& env_id, const char* name, double value) {
  if (value != 0.0 && value != 1.0) {
    std::ostringstream os;
    os << env_id << ": option '" << name << "' = " << value << " must be false or true (0 or 1)";
    throw std::invalid_argument(os.str());
  }
  return value == 1.0;
}

}  // namespace apiary::envs
