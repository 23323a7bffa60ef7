#include "envs/vec_env.h"
#include "envs/wrapper_snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "envs/thread_pool.h"

namespace apiary::envs {

std::string to_string(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

double lane_bytes_estimate(const EnvSpec& spec) {
  const double obs = static_cast<double>(spec.obs_dim());
  const double act = static_cast<double>(std::max<std::int64_t>(1, spec.action_dim()));
  const double element = spec.observation_space.is_uint8() ? 1.0 : 4.0;
  return element * 3.0 * obs + 4.0 * (act + 8.0) + 256.0;  // obs, final obs, a copy; actions, counters, state
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

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

std::vector<float> observation_row(const HostBatch& host, std::int64_t lane, std::int64_t obs_dim) {
  const auto begin = static_cast<std::size_t>(lane * obs_dim), end = begin + static_cast<std::size_t>(obs_dim);
  if (lane < 0 || obs_dim < 1) return {};
  if (!host.obs_u8.empty()) {
    if (end > host.obs_u8.size()) return {};
    return std::vector<float>(host.obs_u8.begin() + static_cast<std::ptrdiff_t>(begin),
                              host.obs_u8.begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (end > host.obs.size()) return {};
  return std::vector<float>(host.obs.begin() + static_cast<std::ptrdiff_t>(begin),
                            host.obs.begin() + static_cast<std::ptrdiff_t>(end));
}

void copy_host_buffers(const BatchBuffers& b, std::int32_t num_envs, std::int64_t obs_dim, HostBatch& out) {
  const auto n = static_cast<std::size_t>(num_envs), d = n * static_cast<std::size_t>(obs_dim);
  if (b.obs_u8 != nullptr) {
    out.obs_u8.assign(b.obs_u8, b.obs_u8 + d);
    out.final_obs_u8.assign(b.final_obs_u8, b.final_obs_u8 + d);
    out.obs.clear();
    out.final_obs.clear();
  } else {
    out.obs.assign(b.obs, b.obs + d);
    out.final_obs.assign(b.final_obs, b.final_obs + d);
  }
  out.reward.assign(b.reward, b.reward + n);
  out.terminated.assign(b.terminated, b.terminated + n);
  out.truncated.assign(b.truncated, b.truncated + n);
  out.elapsed.assign(b.elapsed, b.elapsed + n);
  out.episode_return.assign(b.episode_return, b.episode_return + n);
  out.final_return.assign(b.final_return, b.final_return + n);
  out.final_length.assign(b.final_length, b.final_length + n);
}

// ---- pictures ------------------------------------------------------------------------------------------

bool VecEnv::draw_lane(std::int32_t lane, draw::Canvas& canvas) const {
  Scene scene;
  if (!describe(lane, scene)) return false;
  draw_scene(scene, canvas);
  return true;
}

void VecEnv::render(int height, int width, std::uint8_t* out) const {
  std::vector<std::int32_t> lanes(static_cast<std::size_t>(num_envs_));
  std::iota(lanes.begin(), lanes.end(), 0);
  render_lanes(lanes, height, width, out);
}

void VecEnv::check_render(const std::vector<std::int32_t>& lanes, int height, int width,
                          const std::uint8_t* out) const {
  if (height < 1 || width < 1 || height > 16384 || width > 16384)
    throw std::invalid_argument(spec_.id + ": render: a picture of " + std::to_string(height) + " x " +
                                std::to_string(width) + " pixels (height x width); each must be in 1..16384");
  for (std::size_t k = 0; k < lanes.size(); ++k)
    if (lanes[k] < 0 || lanes[k] >= num_envs_)
      throw std::out_of_range(spec_.id + ": render: lane " + std::to_string(lanes[k]) + " (entry " + std::to_string(k) +
                              ") is outside the env's lanes 0.." + std::to_string(num_envs_ - 1));
  if (!lanes.empty() && out == nullptr) throw std::invalid_argument(spec_.id + ": render: the output buffer is null");
  if (!has_picture())
    throw std::invalid_argument(spec_.id + ": render: this env has no picture (it describes no Scene: a CPU env "
                                "gives one with `void describe(Scene&) const`, docs/custom-envs.md)");
}

void draw_scenes(ThreadPool* pool, const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out,
                 const std::function<void(std::int32_t lane, Scene& scene)>& describe_lane) {
  const std::size_t frame = static_cast<std::size_t>(height) * static_cast<std::size_t>(width) * 3;
  const auto draw_one = [&](std::int64_t k) {
    Scene scene;
    describe_lane(lanes[static_cast<std::size_t>(k)], scene);
    draw::Canvas canvas = draw::Canvas::over(out + static_cast<std::size_t>(k) * frame, width, height, 3);
    draw_scene(scene, canvas);
  };
  const auto n = static_cast<std::int64_t>(lanes.size());
  if (pool == nullptr || pool->threads() <= 1 || n <= 1) {
    for (std::int64_t k = 0; k < n; ++k) draw_one(k);
    return;
  }
  pool->run(n, draw_one);
}

}  // namespace apiary::envs

namespace apiary::envs {

std::vector<std::uint8_t> wrap_snapshot(std::uint64_t magic, std::uint64_t layout, const std::vector<std::uint8_t>& inner,
                                        std::initializer_list<const std::vector<std::uint8_t>*> own) {
  const std::uint64_t header[3] = {magic, layout, inner.size()};
  std::size_t size = sizeof(header) + inner.size();
  for (const auto* buffer : own) size += buffer->size();
  std::vector<std::uint8_t> out(size);
  std::uint8_t* at = out.data();
  const auto put = [&at](const void* from, std::size_t n) {
    if (n > 0) std::memcpy(at, from, n);
    at += n;
  };
  put(header, sizeof(header));
  put(inner.data(), inner.size());
  for (const auto* buffer : own) put(buffer->data(), buffer->size());
  return out;
}

void unwrap_snapshot(const std::vector<std::uint8_t>& bytes, std::uint64_t magic, std::uint64_t layout,
                     std::initializer_list<std::vector<std::uint8_t>*> own, const std::string& what,
                     const std::string& other_layout,
                     const std::function<void(const std::vector<std::uint8_t>& inner)>& load_inner) {
  std::uint64_t header[3] = {};
  if (bytes.size() < sizeof(header)) throw std::invalid_argument(what + ": it ends early");
  std::memcpy(header, bytes.data(), sizeof(header));
  if (header[0] != magic || header[1] != layout) throw std::invalid_argument(what + ": " + other_layout);
  std::size_t own_size = 0;
  for (const auto* buffer : own) own_size += buffer->size();
  if (header[2] > bytes.size() - sizeof(header) || bytes.size() - sizeof(header) - header[2] != own_size)
    throw std::invalid_argument(what + ": its size does not match");
  const auto* inner_begin = bytes.data() + sizeof(header);
  load_inner(std::vector<std::uint8_t>(inner_begin, inner_begin + header[2]));
  const auto* at = inner_begin + header[2];
  for (auto* buffer : own) {
    std::memcpy(buffer->data(), at, buffer->size());
    at += buffer->size();
  }
}

}  // namespace apiary::envs
