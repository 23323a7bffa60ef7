// `apiary play`: watch a checkpoint's policy (or random actions, or yourself) play one env in an SDL2
// window, or render it off-screen with --headless; --record DIR keeps every frame as PNG, --record
// FILE.gif as an animated GIF.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "envs/registry.h"
#include "runner/play_policy.h"
#include "runner/zoo.h"
#include "render/player.h"
#include "render/window.h"

namespace apiary::app {

namespace {

struct PlayFlags {
  std::string env_id;
  std::string checkpoint;
  std::int32_t episodes = -1;  // -1: until quit in a window, 1 headless
  double fps = 0.0;
  std::uint64_t seed = 1;
  std::string record_dir;
  bool headless = false;
  bool human = false;
  bool no_hud = false;
  std::int64_t max_steps = 0;
  std::vector<std::string> options;  // NAME=VALUE
  std::vector<std::string> plugins;  // --plugin: shared libraries that register envs
};

render::ScoreKind to_score_kind(runner::PlayDecision::Kind kind) {
  switch (kind) {
    case runner::PlayDecision::Kind::kProbabilities: return render::ScoreKind::kProbabilities;
    case runner::PlayDecision::Kind::kQValues: return render::ScoreKind::kQValues;
    case runner::PlayDecision::Kind::kActionMean: return render::ScoreKind::kActionMean;
  }
  return render::ScoreKind::kNone;
}

void run_play(const PlayFlags& flags) {
  if (flags.fps < 0 || !std::isfinite(flags.fps)) throw UsageError("--fps must be 0 (the env's own) or more");
  if (flags.episodes < -1) throw UsageError("--episodes must be 0 (until you quit) or more");
  if (flags.max_steps < 0) throw UsageError("--max-steps must be 0 (no limit) or more");
  // Everything that can be refused is checked before a window opens.
  load_plugin_flags(flags.plugins);  // a checkpoint's own plugins load from its config (env.plugins)
  std::unique_ptr<runner::PlayPolicy> policy;
  envs::EnvOptions options;
  std::string env_id = flags.env_id;
  if (!flags.checkpoint.empty()) {
    // zoo:NAME and zoo:ENV_ID name the zoo's entries (runner/zoo.h), as everywhere a checkpoint is taken.
    const std::string checkpoint = runner::resolve_checkpoint(flags.checkpoint);
    if (!std::filesystem::is_regular_file(checkpoint))
      throw UsageError("--checkpoint " + flags.checkpoint + ": no such file");
    policy = runner::PlayPolicy::load(checkpoint, flags.env_id);
    env_id = policy->env_id();
    options = policy->env_options();
  } else if (env_id.empty()) {
    throw UsageError("play: give --env ID (random actions) or --checkpoint PATH (a trained policy)");
  }
  options = parse_env_options(flags.options, options);
  envs::VecEnvConfig env_config;
  env_config.num_envs = 1;
  env_config.threads = 1;
  env_config.options = options;
  auto env = envs::make_env(env_id, env_config);

  render::PlayerOptions po;
  po.episodes = flags.episodes >= 0 ? flags.episodes : (flags.headless ? 1 : 0);
  po.fps = flags.fps;
  po.seed = flags.seed;
  // A path ending in .gif is an animated GIF; anything else a folder of PNG frames.
  const std::string& record = flags.record_dir;
  const bool gif = record.size() > 4 && record.compare(record.size() - 4, 4, ".gif") == 0;
  (gif ? po.record_gif : po.record_dir) = record;
  po.hud = !flags.no_hud;
  po.agent_name = policy ? policy->algo() + " checkpoint" : "random";
  po.start_human = flags.human;
  po.max_steps = flags.max_steps;
  if (flags.headless && po.episodes == 0 && po.max_steps == 0)
    throw UsageError("--headless needs --episodes N (N >= 1) or --max-steps N: there is no window to quit from");

  render::Agent agent;
  if (policy) {
    runner::PlayPolicy* p = policy.get();
    agent = [p](const std::vector<float>& obs, bool episode_start) {
      const runner::PlayDecision d = p->act(obs, episode_start);
      return render::AgentDecision{d.action, d.scores, to_score_kind(d.kind), d.memory_norm};
    };
  }

  std::unique_ptr<render::Display> display;
  const render::Size size = render::frame_size(*env, po.hud);
  if (flags.headless) {
    try {  // SDL's offscreen driver: the window code path, with no display
      display = std::make_unique<render::Window>("Apiary", size.width, size.height, render::Window::Kind::kOffScreen);
    } catch (const render::DisplayUnavailable&) {
      display = std::make_unique<render::HeadlessDisplay>();  // an SDL built without offscreen and dummy
    }
  } else {
    try {
      display = std::make_unique<render::Window>("Apiary: " + env_id + " (" + po.agent_name + ")", size.width,
                                                 size.height);
    } catch (const render::DisplayUnavailable& e) {
      throw std::runtime_error(std::string("play: ") + e.what());
    }
  }
  std::cout << "Playing " << env_id << " with " << po.agent_name << (flags.headless ? ", headless" : "")
            << (po.record_dir.empty() ? "" : ", recording frames to " + po.record_dir)
            << (po.record_gif.empty() ? "" : ", recording an animated GIF to " + po.record_gif) << "\n"
            << std::flush;
  render::Player player(*env, *display, agent, po, std::cout);
  const render::PlayResult r = player.run();
  std::printf("env: %s episodes: %d mean_return: %.3f steps: %lld frames: %lld frames_written: %lld quit: %d "
              "wall_seconds: %.3f\n",
              env_id.c_str(), r.episodes, r.mean_return, static_cast<long long>(r.steps),
              static_cast<long long>(r.frames), static_cast<long long>(r.frames_written), r.quit ? 1 : 0,
              r.wall_seconds);
}

}  // namespace

void add_play_command(CLI::App& app) {
  auto flags = std::make_shared<PlayFlags>();
  auto* cmd = app.add_subcommand("play", "Watch a policy (or random actions, or yourself) play an env");
  cmd->add_option("--env", flags->env_id, "Environment id (default: the checkpoint's)");
  cmd->add_option("--checkpoint", flags->checkpoint, "Checkpoint to play (runs/<name>/checkpoints/*.pt); "
                                                     "without one, random actions");
  cmd->add_option("--episodes", flags->episodes, "Episodes to play (0: until q in a window; default: that, 1 headless)")
      ->check(in_range(core::Range::closed(0, 1 << 24)));
  cmd->add_option("--fps", flags->fps, "Frames per second in the window (default: the env's own)")
      ->check(in_range(core::Range::open_closed(0, 1000)));
  cmd->add_option("--seed", flags->seed, "Seed of the env's reset and of random actions")->capture_default_str();
  cmd->add_option("--record", flags->record_dir,
                  "Write every frame as DIR/frame_NNNNNN.png, or into an animated GIF where the path ends in .gif");
  cmd->add_flag("--headless", flags->headless, "Render off-screen: no window, no display needed");
  cmd->add_flag("--human", flags->human, "Start under keyboard control (h toggles it)");
  cmd->add_flag("--no-hud", flags->no_hud, "Show only the env, without the side panel");
  cmd->add_option("--max-steps", flags->max_steps, "Stop after this many steps in all (0: no limit)")
      ->check(in_range(core::Range::at_least(0)));
  cmd->add_option("--option", flags->options, "Environment parameter NAME=VALUE (repeatable)");
  add_plugin_flag(*cmd, flags->plugins);
  cmd->footer(
      "Keys: space pause, n one step, + and - speed, r reset, h human control (arrow keys), q or Escape quit.");
  cmd->callback([flags] { run_play(*flags); });
}

}  // namespace apiary::app
