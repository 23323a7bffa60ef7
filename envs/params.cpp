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
  if (!(value >= 1 && value <= 1e9) || std::floor(value) != value) {
    std::ostringstream os;
    os << env_id << ": option '" << kMaxEpisodeStepsOption << "' = " << value
       << " must be a whole number in [1, 1000000000]";
    throw std::invalid_argument(os.str());
  }
  return static_cast<std::int32_t>(value);
}

}  // namespace apiary::envs
