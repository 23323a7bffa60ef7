// The subcommands of `apiary`. Each add_* function declares its options on `app` and sets a callback
// that runs the command; errors are exceptions, mapped to exit codes in main.cpp (2 for usage and
// configuration errors, 1 otherwise). Every command ends with one line of `key: value` pairs.
#pragma once

#include <CLI/CLI.hpp>

namespace apiary::runner {
struct TrainResult;
}  // namespace apiary::runner

namespace apiary::app {

// Prints the "transport: ..." line of a multi-process run (app/cmd_actor.cpp); nothing otherwise.
void print_transport_summary(const runner::TrainResult& result);

// Runs the command line `argv` as the `apiary` program does and returns its exit status (app/main.cpp).
int run_cli(int argc, char** argv);

// A usage or configuration error (exit status 2); the message names the flag, key or file at fault.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void add_envs_command(CLI::App& app);
void add_rollout_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_train_command(CLI::App& app);  // train and eval
void add_check_env_command(CLI::App& app);  // app/cmd_check_env.cpp
void add_play_command(CLI::App& app);   // app/cmd_play.cpp
void add_plot_command(CLI::App& app);   // app/cmd_plot.cpp
void add_actor_command(CLI::App& app);  // app/cmd_actor.cpp: actor and learner (multi-process runs)
void add_keys_command(CLI::App& app);   // app/cmd_keys.cpp: CURVE key pairs
void add_config_command(CLI::App& app); // app/cmd_config.cpp: every training-config key

}  // namespace apiary::app
