// `apiary envs [--plugin PATH ...]`: the registered environment ids with their spaces, limits, devices
// and origin ("builtin", or the plugin that registered them).
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/env_flags.h"
#include "envs/registry.h"

namespace apiary::app {

void add_envs_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("envs", "List the registered environments and their spaces");
  auto plugins = std::make_shared<std::vector<std::string>>();
  add_plugin_flag(*cmd, *plugins);
  cmd->callback([plugins] {
    load_plugin_flags(*plugins);
    auto& registry = envs::Registry::global();
    const auto ids = registry.ids();
    for (const auto& id : ids) {
      const envs::EnvEntry& entry = registry.at(id);
      const envs::EnvSpec spec = envs::env_spec(id);  // the env's options and the generic ones that apply
      std::string devices;
      for (const auto& [device, maker] : entry.makers) devices += (devices.empty() ? "" : ",") + envs::to_string(device);
      std::cout << id << "\n"
                << "  observation_space: " << spec.observation_space.to_string() << "\n"
                << "  action_space:      " << spec.action_space.to_string() << "\n"
                << "  max_episode_steps: " << spec.max_episode_steps << "\n"
                << "  reward_threshold:  "
                << (spec.reward_threshold ? std::to_string(*spec.reward_threshold) : std::string("none")) << "\n"
                << "  devices:           " << devices << "\n"
                << "  origin:            " << entry.origin << "\n";
      // env.options: name, default, range, meaning.
      std::cout << "  options:           " << (spec.options.empty() ? "max_episode_steps only" : "") << "\n";
      for (const envs::EnvOptionInfo& o : spec.options) {
        char line[256];
        std::snprintf(line, sizeof(line), "    %-24s default %-10g range %c%g, %g%c  %s\n", o.name.c_str(),
                      o.default_value, o.low_open ? '(' : '[', o.low, o.high, o.high_open ? ')' : ']', o.doc.c_str());
        std::cout << line;
      }
    }
    std::cout << "envs: " << ids.size() << "\n";
  });
}

}  // namespace apiary::app
