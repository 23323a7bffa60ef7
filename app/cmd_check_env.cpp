// `apiary check-env ID [--plugin PATH ...]`: checks an environment against the contract as
// Gymnasium's env checker does (envs/env_checker.h): spaces, observations finite and within bounds,
// rewards finite, auto-reset and final_obs, the time limit, same seed same trajectory, another seed
// another one, snapshots. Each failure names the step and lane; any failure exits with status 1.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "envs/env_checker.h"
#include "envs/registry.h"

namespace apiary::app {

namespace {

struct CheckEnvFlags {
  std::string env_id;
  std::vector<std::string> plugins;
  std::vector<std::string> options;  // NAME=VALUE
  envs::CheckOptions check;
};

void run_check_env(const CheckEnvFlags& flags) {
  load_plugin_flags(flags.plugins);
  envs::CheckOptions options = flags.check;
  EnvFlags parse;  // --option parsing and validation, shared with the other env commands
  parse.options = flags.options;
  options.options = parse.to_config().options;
  if (options.num_envs < 1) throw UsageError("--num-envs must be at least 1, got " + std::to_string(options.num_envs));
  if (options.steps < 2) throw UsageError("--steps must be at least 2, got " + std::to_string(options.steps));
  if (options.short_time_limit < 1)
    throw UsageError("--time-limit must be at least 1, got " + std::to_string(options.short_time_limit));
  const envs::EnvEntry& entry = envs::Registry::global().at(flags.env_id);  // unknown id: exit 2, listing ids

  std::printf("check-env %s (%s): %d lanes, %lld steps per run, seed %llu\n", flags.env_id.c_str(),
              entry.origin.c_str(), options.num_envs, static_cast<long long>(options.steps),
              static_cast<unsigned long long>(options.seed));
  const envs::CheckReport report = envs::check_env(flags.env_id, options);
  std::string failed_names;
  for (const auto& c : report.checks) {
    std::printf("  %-4s  %-12s %s", c.passed ? "ok" : "FAIL", c.name.c_str(), c.message.c_str());
    if (c.failures > 1) std::printf(" (and %lld more)", static_cast<long long>(c.failures - 1));
    std::printf("\n");
    if (!c.passed) failed_names += (failed_names.empty() ? "" : ", ") + c.name;
  }
  std::printf("env: %s checks: %zu failed: %d steps: %lld\n", report.env_id.c_str(), report.checks.size(),
              report.failed(), static_cast<long long>(report.steps));
  std::fflush(stdout);
  if (!report.ok())
    throw std::runtime_error("check-env: " + report.env_id + " failed " + std::to_string(report.failed()) + " of " +
                             std::to_string(report.checks.size()) + " checks: " + failed_names);
}

}  // namespace

void add_check_env_command(CLI::App& app) {
  auto flags = std::make_shared<CheckEnvFlags>();
  auto* cmd = app.add_subcommand("check-env", "Check an environment against the env contract (as Gymnasium's checker)");
  cmd->add_option("id", flags->env_id, "Environment id (see 'apiary envs')")->required();
  add_plugin_flag(*cmd, flags->plugins);
  cmd->add_option("--option", flags->options, "Environment parameter NAME=VALUE (repeatable)");
  cmd->add_option("--num-envs", flags->check.num_envs, "Lanes of every env checked")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, kMaxNumEnvs)));
  cmd->add_option("--steps", flags->check.steps, "Random-action steps per run")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(2, 1e9)));
  cmd->add_option("--seed", flags->check.seed, "Seed (the seeding check also uses seed + 1)")->capture_default_str();
  cmd->add_option("--time-limit", flags->check.short_time_limit, "max_episode_steps of the short time-limit run")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 20)));
  cmd->add_flag("--allow-deterministic", flags->check.allow_deterministic,
                "Pass the seeding check for an env that draws no random numbers at all");
  cmd->callback([flags] { run_check_env(*flags); });
}

}  // namespace apiary::app
