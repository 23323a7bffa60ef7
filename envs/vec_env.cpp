#include "envs/vec_env.h"

#include <sstream>
#include <stdexcept>

namespace apiary::envs {

std::string to_string(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  throw std::invalid_argument("unknown device '" + name + "'; expected cpu or cuda");
}

void check_action_batch(const EnvSpec& spec, std::int32_t num_envs, Device env_device, const ActionBatch& batch) {
  const bool discrete = spec.action_space.is_discrete();
  if (batch.data == nullptr) throw std::invalid_argument(spec.id + ": step() got no action data");
  if (batch.dtype != (discrete ? DType::kInt32 : DType::kFloat32))
    throw std::invalid_argument(spec.id + ": actions must be " + (discrete ? "int32" : "float32") + " for " +
                                spec.action_space.to_string());
  if (batch.rows != num_envs || batch.cols != spec.action_dim()) {
    std::ostringstream os;
    os << spec.id << ": action batch of shape [" << batch.rows << ", " << batch.cols << "], expected [" << num_envs
       << ", " << spec.action_dim() << "]";
    throw std::invalid_argument(os.str());
  }
  if (batch.device != env_device && batch.device != Device::kCpu)
    throw std::invalid_argument(spec.id + ": actions on " + to_string(batch.device) + " for an env on " +
                                to_string(env_device));
}

void throw_invalid_action(const EnvSpec& spec, std::int64_t index, double value) {
  const bool discrete = spec.action_space.is_discrete();
  const std::int64_t dim = discrete ? 1 : spec.action_dim();
  std::ostringstream os;
  os << spec.id << ": action ";
  if (discrete)
    os << static_cast<long long>(value);
  else
    os << value;
  os << " at lane " << index / dim << " is "
     << (discrete ? "outside " : "not finite for ") << spec.action_space.to_string();
  throw std::out_of_range(os.str());
}

}  // namespace apiary::envs
