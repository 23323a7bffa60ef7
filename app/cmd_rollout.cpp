// `apiary rollout`: steps an environment with uniformly random actions and reports the episodes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "envs/random_actions.h"
#include "envs/registry.h"

namespace apiary::app {

namespace {

struct RolloutFlags {
  EnvFlags env;
  std::int64_t steps = 1000;  // batched steps
};

void run_rollout(const RolloutFlags& flags) {
  auto env = envs::make_env(flags.env.env_id, flags.env.to_config());
  envs::RandomActions random(env->spec(), env->num_envs(), flags.env.seed);
  envs::HostBatch host;
  env->reset(flags.env.seed);
  std::int64_t episodes = 0, terminated = 0, truncated = 0, length_sum = 0;
  double return_sum = 0.0, best = -1e300, worst = 1e300;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t t = 0; t < flags.steps; ++t) {
    env->step(random.next());
    env->copy_to_host(host);
    for (std::int32_t lane = 0; lane < env->num_envs(); ++lane) {
      if (!host.terminated[lane] && !host.truncated[lane]) continue;
      ++episodes;
      terminated += host.terminated[lane];
      truncated += host.truncated[lane] && !host.terminated[lane];
      const double ret = host.final_return[lane];
      return_sum += ret;
      length_sum += host.final_length[lane];
      best = std::max(best, ret);
      worst = std::min(worst, ret);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::int64_t lane_steps = flags.steps * env->num_envs();
  std::cout << "Random rollout of " << env->spec().id << ": " << env->num_envs() << " lanes x " << flags.steps
            << " steps on " << envs::to_string(env->device()) << "\n";
  std::cout << "  observation_space " << env->spec().observation_space.to_string() << ", action_space "
            << env->spec().action_space.to_string() << "\n";
  if (episodes > 0) {
    std::printf("  %lld episodes ended (%lld terminated, %lld truncated by the %d-step limit)\n",
                static_cast<long long>(episodes), static_cast<long long>(terminated),
                static_cast<long long>(truncated), env->spec().max_episode_steps);
    std::printf("  return: mean %.2f, min %.2f, max %.2f; mean length %.1f steps\n", return_sum / episodes, worst,
                best, static_cast<double>(length_sum) / episodes);
  } else {
    std::printf("  no episode ended within %lld steps\n", static_cast<long long>(flags.steps));
  }
  std::printf("env: %s steps: %lld episodes: %lld mean_return: %.3f wall_seconds: %.3f\n", env->spec().id.c_str(),
              static_cast<long long>(lane_steps), static_cast<long long>(episodes),
              episodes ? return_sum / episodes : 0.0, seconds);
}

}  // namespace

void add_rollout_command(CLI::App& app) {
  auto flags = std::make_shared<RolloutFlags>();
  auto* cmd = app.add_subcommand("rollout", "Step an environment with random actions and summarise the episodes");
  flags->env.add_to(*cmd);
  cmd->add_option("--steps", flags->steps, "Batched steps to take")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1e12)));
  cmd->callback([flags] { run_rollout(*flags); });
}

}  // namespace apiary::app
