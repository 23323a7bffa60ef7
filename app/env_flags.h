// Flags shared by the commands that build an environment: --env, --num-envs, --device, --threads,
// --seed, --option NAME=VALUE (the env's parameters by name) and --plugin PATH (a shared library that
// registers more environment ids; docs/custom-envs.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "envs/vec_env.h"

namespace apiary::app {

// `--plugin PATH` (repeatable) on `cmd`, collected into `paths`. Every command that names an env id
// takes it: envs, rollout, bench, check-env, train, eval, play.
void add_plugin_flag(CLI::App& cmd, std::vector<std::string>& paths);
// Loads the plugins named by --plugin (envs/plugin_loader.h): call before the env id is looked up.
// A refused plugin throws envs::PluginError (exit status 2), naming the plugin and the reason.
void load_plugin_flags(const std::vector<std::string>& paths);

// The --option NAME=VALUE pairs set onto `into` (a checkpoint's own options, say); throws UsageError
// naming an option that is not NAME=finite number. The env refuses names it does not have.
envs::EnvOptions parse_env_options(const std::vector<std::string>& options, envs::EnvOptions into = {});

struct EnvFlags {
  std::string env_id = "CartPole-v1";
  std::int32_t num_envs = 16;
  std::string device = "cpu";
  std::int32_t threads = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> options;  // NAME=VALUE
  std::vector<std::string> plugins;  // shared libraries to load before the env is built

  void add_to(CLI::App& cmd);
  // Loads --plugin's libraries, then returns the VecEnvConfig these flags describe; throws UsageError
  // naming the flag at fault.
  envs::VecEnvConfig to_config() const;
};

}  // namespace apiary::app
