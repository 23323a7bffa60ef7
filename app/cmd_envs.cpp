// `apiary envs`: the registered environment ids with their spaces, limits and devices.
#include <cstdio>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "envs/registry.h"

namespace apiary::app {

void add_envs_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("envs", "List the registered environments and their spaces");
  cmd->callback([] {
    auto& registry = envs::Registry::global();
    const auto ids = registry.ids();
    for (const auto& id : ids) {
      const envs::EnvEntry& entry = registry.at(id);
      const envs::EnvSpec spec = entry.spec({});
      std::string devices;
      for (const auto& [device, maker] : entry.makers) devices += (devices.empty() ? "" : ",") + envs::to_string(device);
      std::cout << id << "\n"
                << "  observation_space: " << spec.observation_space.to_string() << "\n"
                << "  action_space:      " << spec.action_space.to_string() << "\n"
                << "  max_episode_steps: " << spec.max_episode_steps << "\n"
                << "  reward_threshold:  "
                << (spec.reward_threshold ? std::to_string(*spec.reward_threshold) : std::string("none")) << "\n"
                << "  devices:           " << devices << "\n";
    }
    std::cout << "envs: " << ids.size() << "\n";
  });
}

}  // namespace apiary::app
