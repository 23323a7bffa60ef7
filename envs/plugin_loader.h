// The host side of environment plugins (envs/plugin.h is the plugin side): loads a shared library at
// run time, checks that it was built against this Apiary, and adds the environment ids it declares to
// the registry. `apiary ... --plugin PATH` and a config's `env.plugins` come here.
//
// Refusals are PluginError (a std::invalid_argument: the program exits with status 2) and name the
// plugin's path: a missing file, a library the dynamic loader cannot load (an undefined symbol: the
// loader's own message is quoted), a library that is not an Apiary plugin (a missing symbol), one built
// against another Apiary version (both versions are named), a register function that throws, and an id
// that is registered already (the id and who registered it are named). A refused plugin registers
// nothing. At run time, an exception from a plugin env's step or reset reaches the caller as a
// std::runtime_error that names the plugin, the env id and the lane ("plugin /p/libx.so: X-v0: lane 3:
// ..."); the caller decides what else survives (a training run keeps the checkpoints it wrote).
//
// Loaded plugins are never unloaded: the registry holds functions that live in them.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "envs/registry.h"

namespace apiary::envs {

struct PluginError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct LoadedPlugin {
  std::string path;                  // canonical absolute path (the origin of its registry entries)
  std::string version;               // the Apiary version it was built against (this one's)
  std::vector<std::string> env_ids;  // the ids it registered
};

// Loads the plugin at `path` (relative to the working directory) into `registry` and returns what it
// registered. Loading a file that is loaded already (the same canonical path) does nothing and returns
// the earlier record. Throws PluginError as above.
LoadedPlugin load_plugin(const std::string& path, Registry& registry = Registry::global());
// load_plugin for each path, in order.
std::vector<LoadedPlugin> load_plugins(const std::vector<std::string>& paths, Registry& registry = Registry::global());
// The plugins loaded so far, in load order.
std::vector<LoadedPlugin> loaded_plugins();

}  // namespace apiary::envs
