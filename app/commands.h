// The subcommands of `apiary`. Each add_* function declares its options on `app` and sets a callback
// that runs the command; errors are exceptions, mapped to exit codes in main.cpp (2 for usage and
// configuration errors, 1 otherwise). Every command ends with one line of `key: value` pairs.
#pragma once

#include <CLI/CLI.hpp>

namespace apiary::app {

// A usage or configuration error (exit status 2); the message names the flag, key or file at fault.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void add_envs_command(CLI::App& app);
void add_rollout_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_train_command(CLI::App& app);  // train and eval

}  // namespace apiary::app
