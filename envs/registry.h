// Environment ids to factories. Built-in envs are registered on first use; custom envs (and, later,
// plugins) add theirs with Registry::add. `make_env` is the one way to build a batched env.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "envs/env_spec.h"
#include "envs/vec_env.h"

namespace apiary::envs {

using VecEnvMaker = std::function<std::unique_ptr<VecEnv>(const VecEnvConfig&)>;

struct EnvEntry {
  std::string id;
  std::function<EnvSpec(const EnvOptions&)> spec;  // the spec with options applied (validates them)
  std::map<Device, VecEnvMaker> makers;            // one per device this build can run it on
  std::string origin = "builtin";                  // "builtin", or the plugin that registered it
  // Runs one lane's own functions with guard values around its observation row (envs/row_probe.h):
  // "" or the write outside the row it caught. Empty for envs written directly against VecEnv.
  std::function<std::string(const EnvOptions&)> row_probe = nullptr;
};

class Registry {
 public:
  // The process-wide registry, with the built-in envs registered.
  static Registry& global();

  // Adds an id; throws std::invalid_argument if the id is taken (naming both origins).
  void add(EnvEntry entry);
  // Adds a device back end to an id registered already.
  void add_maker(const std::string& id, Device device, VecEnvMaker maker);
  // nullptr when unknown.
  const EnvEntry* find(const std::string& id) const;
  // Throws std::invalid_argument naming the id and listing the registered ones.
  const EnvEntry& at(const std::string& id) const;
  std::vector<std::string> ids() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, EnvEntry> entries_;
};

// Builds `config.num_envs` lanes of env `id` on `config.device`; `config.options` override the env's
// parameters by name, and the generic observe_velocity (envs/observation_select.h) and frame_stack
// (envs/frame_stack.h) wrap its back end. Throws std::invalid_argument for an unknown id, a bad option,
// num_envs < 1, or a device this build or machine cannot run.
std::unique_ptr<VecEnv> make_env(const std::string& id, const VecEnvConfig& config);
std::unique_ptr<VecEnv> make_env(const std::string& id, std::int32_t num_envs, Device device = Device::kCpu,
                                 const EnvOptions& options = {});
// The spec of `id` with `options` applied. Its `options` list, besides the env's own parameters, the
// generic observe_velocity where it applies (what `apiary envs` and apiary.envs() show).
EnvSpec env_spec(const std::string& id, const EnvOptions& options = {});
// `options` less those every env takes over its back end (observe_velocity, frame_stack), whose values
// it validates: what an EnvEntry's spec function, makers and row_probe are given.
EnvOptions own_options(const std::string& id, const EnvOptions& options);

// Number of CUDA devices usable by the env back end: 0 when built without CUDA or with no GPU.
int cuda_device_count();
// Whether this build contains the CUDA back end at all.
bool built_with_cuda();

// What the CUDA runtime says of one GPU (`apiary doctor`, env.num_envs: auto).
struct CudaDeviceInfo {
  std::string name;
  std::uint64_t memory_bytes = 0;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  bool bf16 = false;         // native bf16 arithmetic: compute capability 8.0 (Ampere) or newer
};
// One entry per GPU the env back end sees; empty without the CUDA back end or without a GPU.
std::vector<CudaDeviceInfo> cuda_devices();
// Whether env `id` has a back end for `device` in this build.
bool has_backend(const std::string& id, Device device);

// Called by Registry::global() to register the built-in envs.
void register_classic_cpu(Registry& registry);  // picks the widest build the CPU runs
void register_classic_cpu_baseline(Registry& registry);
void register_classic_cpu_avx2(Registry& registry);  // only in x86-64 builds (APIARY_HAVE_AVX2_BUILD)
void register_classic_cuda(Registry& registry);  // only in CUDA builds

}  // namespace apiary::envs
