// Flags shared by the commands that build an environment: --env, --num-envs, --device, --threads,
// --seed and --option NAME=VALUE (the env's parameters by name).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "envs/vec_env.h"

namespace apiary::app {

struct EnvFlags {
  std::string env_id = "CartPole-v1";
  std::int32_t num_envs = 16;
  std::string device = "cpu";
  std::int32_t threads = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> options;  // NAME=VALUE

  void add_to(CLI::App& cmd);
  // The VecEnvConfig these flags describe; throws UsageError naming the flag at fault.
  envs::VecEnvConfig to_config() const;
};

}  // namespace apiary::app
