// The public API of environment plugins: what a shared library built against the installed Apiary
// package (`find_package(Apiary)`, target `Apiary::envs`) writes to add environment ids at run time,
// without rebuilding Apiary (`apiary train CONFIG --plugin ./libmyenv.so`). docs/custom-envs.md walks
// through it; envs/examples/ holds two complete plugins.
//
//   #include "envs/plugin.h"
//
//   struct MyEnv { ... };             // the CPU contract (envs/cpu_vec_env.h: plain C++, one object
//                                     // per lane) or the __host__ __device__ one (envs/env.h)
//   APIARY_PLUGIN(registrar) {
//     registrar.add_cpu_env<MyEnv>(); // or registrar.add_hd_env<MyEnv>()
//   }
//
// APIARY_PLUGIN defines the plugin's two exported C symbols:
//
//   const char* apiary_plugin_abi_version();  // the Apiary version of the headers it was built with
//   void apiary_plugin_register(apiary::envs::PluginRegistrar& registrar);
//
// The host (envs/plugin_loader.h) reads the version first and refuses a plugin built against another
// Apiary version, naming both; only then does it call the register function, and it adds the ids the
// plugin declared only if every one of them is new (all or nothing).
//
// The C++ ABI assumption: C++ types (std::string, std::function, VecEnv's vtable) cross the boundary.
// That is sound because the version check guarantees the same Apiary headers, and because plugins are
// built by the same compiler family with the same C++ standard library as Apiary (GCC and libstdc++
// on Debian; the installed package warns when the compiler differs).
//
// Where the plugin's calls into Apiary go: a plugin links no Apiary library. Its references to
// Apiary's out-of-line functions (Space::box, option validation, the thread pool, ...) stay undefined
// in the .so and resolve, when the plugin is loaded, against the program that loads it: `apiary`
// exports its apiary::envs symbols (cmake/apiary_envs.dynlist). So the process holds one copy of the
// back ends and one registry, whatever the number of plugins.
//
// Pictures: an env draws itself through the Scene it describes (envs/scene.h), which `apiary play`
// shows and VecEnv::render_lanes draws in batches. CPU envs give one with a member
// `void describe(Scene&) const`; __host__ __device__ envs with a static
// `void describe(const Params&, const State&, Scene&)`, called on the host with a copy of the lane's
// state. `play` shows an env without either as its observation, one bar per element.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/version.h"
#include "envs/cpu_system.h"
#include "envs/cpu_vec_env.h"
#include "envs/params.h"
#include "envs/registry.h"
#include "envs/row_probe.h"
#include "envs/scene.h"
#include "envs/thrust_vec_env.h"
#include "envs/vec_env.h"

namespace apiary::envs {

// The names of the two symbols every plugin exports (APIARY_PLUGIN writes them).
inline constexpr const char* kPluginVersionSymbol = "apiary_plugin_abi_version";
inline constexpr const char* kPluginRegisterSymbol = "apiary_plugin_register";

// A VecEnv that passes every call to another one. Plugin and back-end decorators derive from it and
// override what they change; the batch buffers are the inner env's own (no copy, same pointers).
class ForwardingVecEnv : public WrappingVecEnv {
 public:
  explicit ForwardingVecEnv(std::unique_ptr<VecEnv> inner) : WrappingVecEnv(inner->spec(), std::move(inner)) {
    buffers_ = inner_->buffers();
  }
  VecEnv& inner() { return *inner_; }
  const VecEnv& inner() const { return *inner_; }

  void reset(std::uint64_t seed) override { inner_->reset(seed); }
  void step(const ActionBatch& actions) override { inner_->step(actions); }
  void reset_lanes(const std::uint8_t* mask) override { inner_->reset_lanes(mask); }
  void copy_to_host(HostBatch& out) const override { inner_->copy_to_host(out); }
  void set_states(const std::vector<float>& states) override { inner_->set_states(states); }
  std::vector<std::uint8_t> save_snapshot() const override { return inner_->save_snapshot(); }
  void load_snapshot(const std::vector<std::uint8_t>& bytes) override { inner_->load_snapshot(bytes); }
};


// Builds a __host__ __device__ env on a Thrust system (CpuSystem here; CudaSystem in a CUDA
// translation unit, envs/plugin_cuda.cuh).
template <class Env, class System>
std::unique_ptr<VecEnv> make_hd_env(const VecEnvConfig& config) {
  std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
  const auto params = make_params<Env>(config.options, max_episode_steps);
  return std::make_unique<ThrustVecEnv<Env, System>>(params, max_episode_steps,
                                                     spec_with_options<Env>(config.options), config.num_envs,
                                                     config.threads);
}

// What a plugin's register function receives: it declares the plugin's environment ids here, and the
// host adds them to the registry afterwards, all of them or none (a duplicate id refuses the plugin
// without leaving half of it registered). Every entry's origin is the plugin's path.
class PluginRegistrar {
 public:
  explicit PluginRegistrar(std::string origin) : origin_(std::move(origin)) {}
  PluginRegistrar(const PluginRegistrar&) = delete;
  PluginRegistrar& operator=(const PluginRegistrar&) = delete;

  // The plugin's path as the host loaded it (every message about the plugin names it).
  const std::string& origin() const { return origin_; }

  // A plain C++ env (the contract in envs/cpu_vec_env.h), batched by the thread-pool back end.
  template <class Env>
  void add_cpu_env() {
    add(EnvEntry{Env::kId, &spec_with_options<Env>, {{Device::kCpu, &make_cpu_env<Env>}}, origin_,
                 &probe_cpu_rows<Env>});
  }

  // A __host__ __device__ env (the contract in envs/env.h), batched by Thrust on the CPU. A CUDA
  // translation unit of the plugin adds the GPU back end with add_hd_env_cuda (envs/plugin_cuda.cuh).
  template <class Env>
  void add_hd_env() {
    add(EnvEntry{Env::kId, &spec_with_options<Env>, {{Device::kCpu, &make_hd_env<Env, CpuSystem>}}, origin_,
                 &probe_hd_rows<Env>});
  }

  // An entry made by hand (a VecEnv written directly against envs/vec_env.h). Throws
  // std::invalid_argument for an empty id, an id this plugin declared already, or no maker.
  void add(EnvEntry entry) {
    if (entry.id.empty()) throw std::invalid_argument("an environment id is empty");
    if (find(entry.id)) throw std::invalid_argument("environment id '" + entry.id + "' is declared twice");
    if (entry.makers.empty() || !entry.spec)
      throw std::invalid_argument("environment id '" + entry.id + "' has no spec function or no back end");
    entry.origin = origin_;
    entries_.push_back(std::move(entry));
  }

  // Adds a device back end to an id this plugin declared.
  void add_maker(const std::string& id, Device device, VecEnvMaker maker) {
    EnvEntry* entry = find(id);
    if (!entry) throw std::invalid_argument("add_maker: environment id '" + id + "' was not declared by this plugin");
    entry->makers[device] = std::move(maker);
  }

  const std::vector<EnvEntry>& entries() const { return entries_; }
  std::vector<EnvEntry> take_entries() { return std::move(entries_); }

 private:
  EnvEntry* find(const std::string& id) {
    for (auto& e : entries_)
      if (e.id == id) return &e;
    return nullptr;
  }

  std::string origin_;
  std::vector<EnvEntry> entries_;
};

}  // namespace apiary::envs

// Defines the plugin's exported symbols; the block that follows is its register function, with the
// PluginRegistrar named `registrar`:  APIARY_PLUGIN(r) { r.add_cpu_env<MyEnv>(); }
#define APIARY_PLUGIN(registrar)                                                                        \
  extern "C" __attribute__((visibility("default"))) const char* apiary_plugin_abi_version() {           \
    return ::apiary::kVersion;                                                                          \
  }                                                                                                     \
  extern "C" __attribute__((visibility("default"))) void apiary_plugin_register(                        \
      ::apiary::envs::PluginRegistrar& registrar)
