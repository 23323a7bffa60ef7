#include "envs/plugin_loader.h"

#include <dlfcn.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "core/version.h"
#include "envs/plugin.h"

namespace apiary::envs {

namespace {

namespace fs = std::filesystem;

using VersionFn = const char* (*)();
using RegisterFn = void (*)(PluginRegistrar&);

// A plugin env: every exception its reset, step or snapshot replay throws, except the caller's own mistakes (actions
// of the wrong shape or outside the space, which the back end rejects before any lane moves), is
// reported with the plugin's path in front of the back end's "ID: lane N: what".
class PluginVecEnv final : public ForwardingVecEnv {
 public:
  PluginVecEnv(std::unique_ptr<VecEnv> inner, std::string origin)
      : ForwardingVecEnv(std::move(inner)), origin_(std::move(origin)) {}

  void reset(std::uint64_t seed) override {
    guard([&] { inner().reset(seed); });
  }
  void step(const ActionBatch& actions) override {
    guard([&] { inner().step(actions); });
  }
  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {  // replays the plugin's steps
    guard([&] { inner().load_snapshot(bytes); });
  }

 private:
  template <class F>
  void guard(F&& f) {
    try {
      f();
    } catch (const std::invalid_argument&) {
      throw;
    } catch (const std::out_of_range&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error("plugin " + origin_ + ": " + e.what());
    } catch (...) {
      throw std::runtime_error("plugin " + origin_ + ": " + spec_.id + ": unknown exception");
    }
  }

  std::string origin_;
};

struct Loaded {
  LoadedPlugin record;
  void* handle = nullptr;
};

std::mutex& plugins_mutex() {
  static std::mutex m;
  return m;
}
std::vector<Loaded>& plugins() {
  static auto* list = new std::vector<Loaded>();  // never destroyed: registry entries live in them
  return *list;
}

std::string last_dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dynamic-loader error";
}

// Closes a refused plugin's handle (nothing of it is registered by then).
struct HandleGuard {
  void* handle = nullptr;
  ~HandleGuard() {
    if (handle) dlclose(handle);
  }
};

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw PluginError("plugin " + path + ": " + why);
}

std::string version_mismatch(const std::string& built_against) {
  return std::string("built against Apiary ") + built_against + ", but this is Apiary " + kVersion +
         "; rebuild it against this Apiary's installed package (find_package(Apiary " + kVersion + "))";
}

// The library could not be loaded with every symbol bound. If that is because it was built against
// another Apiary (whose symbols this one lacks), say so: open it lazily, which binds no function yet,
// only to read its version.
[[noreturn]] void refuse_unloadable(const std::string& path, const std::string& dl_error) {
  if (void* lazy = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
    HandleGuard guard{lazy};
    if (auto version = reinterpret_cast<VersionFn>(dlsym(lazy, kPluginVersionSymbol))) {
      const char* v = version();
      if (v && std::strcmp(v, kVersion) != 0) refuse(path, version_mismatch(v) + " (the loader says: " + dl_error + ")");
    }
  }
  refuse(path, "cannot be loaded: " + dl_error);
}

}  // namespace

LoadedPlugin load_plugin(const std::string& path, Registry& registry) {
  if (path.empty()) throw PluginError("plugin path is empty");
  std::error_code ec;
  if (!fs::exists(path, ec)) refuse(path, "no such file");
  if (fs::is_directory(path, ec)) refuse(path, "is a folder, not a shared library");
  const std::string canonical = fs::canonical(path, ec).string();
  if (ec) refuse(path, "cannot resolve the path: " + ec.message());

  std::lock_guard<std::mutex> lock(plugins_mutex());
  for (const Loaded& p : plugins())
    if (p.record.path == canonical) return p.record;

  dlerror();  // clear
  HandleGuard guard{dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (!guard.handle) refuse_unloadable(canonical, last_dl_error());

  auto version = reinterpret_cast<VersionFn>(dlsym(guard.handle, kPluginVersionSymbol));
  if (!version)
    refuse(canonical, std::string("not an Apiary plugin: it exports no ") + kPluginVersionSymbol +
                          " (define the plugin with APIARY_PLUGIN from envs/plugin.h)");
  const char* built_against = version();
  if (!built_against) refuse(canonical, std::string(kPluginVersionSymbol) + " returned no version");
  if (std::strcmp(built_against, kVersion) != 0) refuse(canonical, version_mismatch(built_against));
  auto register_fn = reinterpret_cast<RegisterFn>(dlsym(guard.handle, kPluginRegisterSymbol));
  if (!register_fn)
    refuse(canonical, std::string("not an Apiary plugin: it exports no ") + kPluginRegisterSymbol +
                          " (define the plugin with APIARY_PLUGIN from envs/plugin.h)");

  std::vector<EnvEntry> entries;
  {
    PluginRegistrar registrar(canonical);
    try {
      register_fn(registrar);
    } catch (const std::exception& e) {
      refuse(canonical, std::string(kPluginRegisterSymbol) + " failed: " + e.what());
    } catch (...) {
      refuse(canonical, std::string(kPluginRegisterSymbol) + " failed with an unknown exception");
    }
    entries = registrar.take_entries();
  }
  // All or nothing: every id is checked before the first is added. Entries hold functions of the
  // plugin, so they go before the handle closes on a refusal.
  try {
    if (entries.empty()) refuse(canonical, "registers no environment ids");
    for (const EnvEntry& entry : entries) {
      if (const EnvEntry* existing = registry.find(entry.id))
        refuse(canonical, "environment id '" + entry.id + "' is already registered by " + existing->origin);
      std::string spec_id;
      try {
        spec_id = entry.spec({}).id;
      } catch (const std::exception& e) {
        refuse(canonical, "environment id '" + entry.id + "': its spec is invalid: " + e.what());
      }
      if (spec_id != entry.id)
        refuse(canonical, "environment id '" + entry.id + "': its spec names the id '" + spec_id + "'");
    }
  } catch (...) {
    entries.clear();
    throw;
  }

  LoadedPlugin record{canonical, built_against, {}};
  for (EnvEntry& entry : entries) {
    for (auto& [device, maker] : entry.makers)
      maker = [maker = std::move(maker), canonical](const VecEnvConfig& config) -> std::unique_ptr<VecEnv> {
        return std::make_unique<PluginVecEnv>(maker(config), canonical);
      };
    record.env_ids.push_back(entry.id);
    registry.add(std::move(entry));
  }
  plugins().push_back(Loaded{record, guard.handle});
  guard.handle = nullptr;  // kept open for the life of the process
  return record;
}

std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& paths, Registry& registry) {
  std::vector<LoadedPlugin> out;
  for (const auto& path : paths) out.push_back(load_plugin(path, registry));
  return out;
}

std::vector<LoadedPlugin> loaded_plugins() {
  std::lock_guard<std::mutex> lock(plugins_mutex());
  std::vector<LoadedPlugin> out;
  for (const Loaded& p : plugins()) out.push_back(p.record);
  return out;
}

}  // namespace apiary::envs
