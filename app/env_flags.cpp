#include "app/env_flags.h"

#include <cmath>
#include <cstdlib>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "envs/plugin_loader.h"

namespace apiary::app {

void add_plugin_flag(CLI::App& cmd, std::vector<std::string>& paths) {
  cmd.add_option("--plugin", paths, "Shared library that registers environments (repeatable; docs/custom-envs.md)");
}

void load_plugin_flags(const std::vector<std::string>& paths) { envs::load_plugins(paths); }

void EnvFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--env", env_id, "Environment id (see 'apiary envs')")->capture_default_str();
  cmd.add_option("--num-envs", num_envs, "Lanes stepped together")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, kMaxNumEnvs)));
  cmd.add_option("--device", device, "cpu or cuda")->capture_default_str();
  cmd.add_option("--threads", threads, "CPU worker threads (0: all cores)")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(0, kMaxThreads)));
  cmd.add_option("--seed", seed, "Seed of every lane's random stream")->capture_default_str();
  cmd.add_option("--option", options, "Environment parameter NAME=VALUE (repeatable)");
  add_plugin_flag(cmd, plugins);
}

envs::EnvOptions parse_env_options(const std::vector<std::string>& options, envs::EnvOptions into) {
  for (const auto& option : options) {
    const auto eq = option.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--option '" + option + "': expected NAME=VALUE");
    const std::string name = option.substr(0, eq), text = option.substr(eq + 1);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') throw UsageError("--option " + name + ": '" + text + "' is not a number");
    if (!std::isfinite(value)) throw UsageError("--option " + name + ": '" + text + "' is not a finite number");
    into[name] = value;
  }
  return into;
}

envs::VecEnvConfig EnvFlags::to_config() const {
  load_plugin_flags(plugins);
  envs::VecEnvConfig config;
  if (num_envs < 1) throw UsageError("--num-envs must be at least 1, got " + std::to_string(num_envs));
  if (threads < 0) throw UsageError("--threads must be 0 (all cores) or more, got " + std::to_string(threads));
  config.num_envs = num_envs;
  config.threads = threads;
  try {
    config.device = envs::parse_device(device);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
  config.options = parse_env_options(options);
  return config;
}

}  // namespace apiary::app
