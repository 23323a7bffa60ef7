// Command-line numbers checked as config keys are (core::Range, the same wording), and the checks of a
// loaded training config that need more than its own ranges, named with the file and the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/config.h"

namespace apiary::learner {
struct TrainConfig;
}  // namespace apiary::learner

namespace apiary::app {

// Lanes one env may have, as the training config's env.num_envs allows; threads as its `threads`.
inline constexpr std::int64_t kMaxNumEnvs = 1 << 24;
inline constexpr std::int64_t kMaxThreads = 1024;

// A CLI11 check that holds a flag's number to `range`: "--num-envs: value 100000000 is out of range
// [1, 16777216]" (exit status 2), and NaN refused. Words that are not numbers are refused too.
CLI::Validator in_range(const core::Range& range);

// "unknown command 'fooo' (did you mean 'train'?); commands: envs, rollout, ..." for `word`, which is
// not one of `app`'s subcommands; "" when it is one.
std::string unknown_command_message(const CLI::App& app, const std::string& word);

// Checks of `config`, loaded from `source`, that need the env registry and the transport: its plugins
// load, env.id is registered, env.options fit the env, and the actor-process settings are possible.
// Throws core::ConfigError naming `source` and the key; run it before anything is created.
void check_loaded_config(learner::TrainConfig& config, const std::string& source, bool always_distributed = false,
                         const std::string& bind_flag = "");

}  // namespace apiary::app
