#include "envs/registry.h"

#include "envs/box2d/box2d_envs.h"
#include "envs/frame_skip.h"
#include "envs/frame_stack.h"
#include "envs/minatar/minatar.h"
#include "envs/observation_select.h"
#include "envs/pixels.h"

#include <sstream>
#include <stdexcept>

namespace apiary::envs {

namespace {

// The options every env takes over its back end, out of an env's options: `own` are the rest (the
// env's Params and max_episode_steps), which its spec function and makers are given.
struct GenericOptions {
  EnvOptions own;
  bool observe_velocity = true;  // false: observation_select.h drops the velocities
  PixelsOptions pixels;          // pixels.h: observe the env's picture (never beside observe_velocity: false)
  std::int32_t frame_skip = 1;   // frame_skip.h plays each action K frames (after dropping or drawing)
  std::int32_t frame_stack = 1;  // frame_stack.h stacks the last K observations (one per decision)
};

GenericOptions split_options(const std::string& id, const EnvOptions& options) {
  GenericOptions out;
  out.own = options;
  out.observe_velocity = take_observe_velocity(id, out.own);
  out.pixels = take_pixels(id, out.own);
  out.frame_skip = take_frame_skip(id, out.own);
  out.frame_stack = take_frame_stack(id, out.own);
  if (out.pixels.on && !out.observe_velocity)
    throw std::invalid_argument(id + ": options '" + kPixelsOption + "' and '" + kObserveVelocityOption +
                                "': false cannot go together: a picture has no velocity elements to drop");
  return out;
}

}  // namespace

void register_classic_cpu(Registry& registry) {
#ifdef APIARY_HAVE_AVX2_BUILD
  if (__builtin_cpu_supports("avx2")) {
    register_classic_cpu_avx2(registry);
    return;
  }
#endif
  register_classic_cpu_baseline(registry);
}

Registry& Registry::global() {
  static Registry* registry = [] {
    auto* r = new Registry();  // never destroyed: plugins may hold entries until exit
    register_classic_cpu(*r);
    register_box2d(*r);
    register_minatar(*r);
#ifdef APIARY_WITH_CUDA
    register_classic_cuda(*r);
    register_minatar_cuda(*r);
#endif
    return r;
  }();
  return *registry;
}

void Registry::add(EnvEntry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(entry.id);
  if (it != entries_.end())
    throw std::invalid_argument("environment id '" + entry.id + "' from " + entry.origin +
                                " is already registered by " + it->second.origin);
  std::string id = entry.id;
  entries_.emplace(std::move(id), std::move(entry));
}

void Registry::add_maker(const std::string& id, Device device, VecEnvMaker maker) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) throw std::invalid_argument("add_maker: environment id '" + id + "' is not registered");
  it->second.makers[device] = std::move(maker);
}

const EnvEntry* Registry::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

const EnvEntry& Registry::at(const std::string& id) const {
  if (const EnvEntry* e = find(id)) return *e;
  std::ostringstream os;
  os << "unknown environment id '" << id << "'; registered ids:";
  for (const auto& known : ids()) os << " " << known;
  throw std::invalid_argument(os.str());
}

std::vector<std::string> Registry::ids() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [id, entry] : entries_) out.push_back(id);
  return out;
}

std::unique_ptr<VecEnv> make_env(const std::string& id, const VecEnvConfig& config) {
  const EnvEntry& entry = Registry::global().at(id);
  if (config.num_envs < 1)
    throw std::invalid_argument(id + ": num_envs must be at least 1, got " + std::to_string(config.num_envs));
  if (config.threads < 0)
    throw std::invalid_argument(id + ": threads must be 0 (all) or more, got " + std::to_string(config.threads));
  auto it = entry.makers.find(config.device);
  if (it == entry.makers.end()) {
    if (config.device == Device::kCuda && !built_with_cuda())
      throw std::invalid_argument(id + ": this build of Apiary has no CUDA back end (configure with APIARY_CUDA=ON)");
    throw std::invalid_argument(id + ": no " + to_string(config.device) + " back end for this environment");
  }
  if (config.device == Device::kCuda && cuda_device_count() == 0)
    throw std::invalid_argument(id + ": device cuda requested but no CUDA device is available");
  // observe_velocity, pixels, frame_skip and frame_stack are every env's options, applied over its back end
  // in that order (the stack holds observations without velocities, or pictures, one per decision); the
  // env's own options go on.
  // An env without velocities is refused before any lane is built.
  const GenericOptions generic = split_options(id, config.options);
  VecEnvConfig inner = config;
  inner.options = generic.own;
  std::vector<std::int32_t> kept;
  if (!generic.observe_velocity) kept = elements_without_velocity(entry.spec(inner.options));
  std::unique_ptr<VecEnv> env = it->second(inner);
  if (!generic.observe_velocity) env = make_observation_select(std::move(env), std::move(kept));
  env = make_pixels(std::move(env), generic.pixels);
  env = make_frame_skip(std::move(env), generic.frame_skip);
  return make_frame_stack(std::move(env), generic.frame_stack);
}

std::unique_ptr<VecEnv> make_env(const std::string& id, std::int32_t num_envs, Device device,
                                 const EnvOptions& options) {
  VecEnvConfig config;
  config.num_envs = num_envs;
  config.device = device;
  config.options = options;
  return make_env(id, config);
}

EnvSpec env_spec(const std::string& id, const EnvOptions& options) {
  const EnvEntry& entry = Registry::global().at(id);
  const GenericOptions generic = split_options(id, options);
  EnvSpec spec = entry.spec(generic.own);
  // Listed beside the env's own parameters where it applies: the registry, not the env, takes it.
  if (!spec.velocity_elements.empty()) spec.options.push_back(observe_velocity_info(spec));
  if (!generic.observe_velocity) spec = selected_spec(spec, elements_without_velocity(spec));
  return stacked_spec(skipped_spec(pixels_spec(spec, generic.pixels), generic.frame_skip), generic.frame_stack);
}

EnvOptions own_options(const std::string& id, const EnvOptions& options) { return split_options(id, options).own; }

bool has_backend(const std::string& id, Device device) {
  const EnvEntry* entry = Registry::global().find(id);
  return entry != nullptr && entry->makers.count(device) > 0;
}

#ifndef APIARY_WITH_CUDA
int cuda_device_count() { return 0; }
bool built_with_cuda() { return false; }
std::vector<CudaDeviceInfo> cuda_devices() { return {}; }
#endif

}  // namespace apiary::envs
