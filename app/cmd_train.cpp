// `apiary train CONFIG [--set key=value ...] [--resume RUN_DIR] [--plugin PATH ...]` and
// `apiary eval CHECKPOINT [--plugin PATH ...]`. Plugins given with --plugin join the config's
// env.plugins, so the run's config.yaml (and its checkpoints) name them; eval and play load a
// checkpoint's plugins from there unless its env id is registered already.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "core/config.h"
#include "parallel/launch.h"
#include "runner/remote_actors.h"
#include "runner/train.h"

namespace apiary::app {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

struct TrainFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume_dir;
  bool quiet = false;
  std::int64_t session_steps = 0;
  std::vector<std::string> plugins;
};

void train_rank(const learner::TrainConfig& config, runner::TrainOptions options, int rank);

void run_train(const TrainFlags& flags) {
  learner::TrainConfig config;
  runner::TrainOptions options;
  if (flags.resume_dir.empty()) {
    if (flags.config_path.empty()) throw UsageError("train: give a CONFIG file (or --resume RUN_DIR)");
    core::load_config(config, flags.config_path);
    options.config_source = flags.config_path;
  } else if (!flags.overrides.empty()) {
    throw UsageError("train: --set cannot be combined with --resume (the run keeps its config)");
  }
  core::apply_overrides(config, flags.overrides);
  load_plugin_flags(flags.plugins);  // refused before any work starts
  if (flags.resume_dir.empty()) {
    config.env.plugins.insert(config.env.plugins.end(), flags.plugins.begin(), flags.plugins.end());
    check_loaded_config(config, flags.config_path + (flags.overrides.empty() ? "" : " with --set"));
  }
  options.resume_dir = flags.resume_dir;
  options.quiet = flags.quiet;
  options.session_steps = flags.session_steps;
  options.stop_flag = &g_stop;
  runner::check_distributed_config(config, {});  // actors.count > 0 or learner.bind: actor processes
  options.chunk_source = runner::make_distributed_source({});
  // learner.world_size W > 1: this process becomes the agent of W ranks (torchrun --standalone style),
  // each a copy of this command that finds RANK in its environment and trains below. Under torchrun or
  // SLURM, or with W = 1, the lambda runs here at once.
  const int ranks = runner::world_size_to_launch(config, options);
  try {
    parallel::launch_local(ranks, [&](const parallel::RendezvousInfo& info) {
      train_rank(config, options, info.rank);
      return 0;
    });
  } catch (const parallel::RankFailure& e) {
    if (e.agent_exit_status() == 2) throw UsageError(std::string("train: ") + e.what());
    throw;
  }
}

void train_rank(const learner::TrainConfig& config, runner::TrainOptions options, int rank) {
  if (rank > 0) {  // rank 0 speaks for the run
    options.quiet = true;
    options.progress = false;
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const runner::TrainResult r = runner::train(config, options);
  if (rank > 0) return;
  std::printf("profile: env %.2f s, inference %.2f s, learning %.2f s, evaluation and checkpoints %.2f s\n",
              r.env_seconds, r.inference_seconds, r.learning_seconds, r.other_seconds);
  if (r.world_size > 1)
    std::printf("%s; %d ranks (learner.world_size), %.1f %% of the wall time\n", r.communication.c_str(), r.world_size,
                100.0 * r.comm_seconds / std::max(r.wall_seconds, 1e-9));
  print_transport_summary(r);
  if (r.interrupted) std::printf("stopped early: checkpoint written to %s/checkpoints/latest.pt\n", r.run_dir.c_str());
  std::printf(
      "eval_mean_return: %.3f eval_std_return: %.3f best_eval_mean_return: %.3f steps: %lld wall_seconds: %.3f "
      "steps_per_second: %.1f solved_wall_seconds: %.3f solved_steps: %lld run_dir: %s\n",
      r.eval_mean_return, r.eval_std_return, r.best_eval_mean_return, static_cast<long long>(r.steps),
      r.wall_seconds, static_cast<double>(r.steps) / std::max(r.wall_seconds, 1e-9), r.solved_wall_seconds,
      static_cast<long long>(r.solved_steps), r.run_dir.c_str());
}

struct EvalFlags {
  std::string checkpoint;
  std::int32_t episodes = 100;
  std::uint64_t seed = 12345;
  std::int32_t num_envs = 0;
  std::vector<std::string> options;  // NAME=VALUE
  std::vector<std::string> plugins;
};

void run_eval(const EvalFlags& flags) {
  load_plugin_flags(flags.plugins);
  const runner::EvalCheckpointResult r = runner::evaluate_checkpoint(flags.checkpoint, flags.episodes, flags.seed,
                                                                     flags.num_envs, parse_env_options(flags.options));
  std::printf("%s: %d episodes, mean length %.1f\n", r.env_id.c_str(), r.episodes, r.mean_length);
  std::printf("mean_return: %.3f std: %.3f\n", r.mean_return, r.std_return);
}

}  // namespace

void add_train_command(CLI::App& app) {

  auto flags = std::make_shared<TrainFlags>();
  auto* cmd = app.add_subcommand("train", "Train an agent from a YAML config (writes runs/<name>/)");
  cmd->add_option("config", flags->config_path, "YAML experiment file (see configs/)");
  cmd->add_option("--set", flags->overrides, "Override a config key: --set ppo.learning_rate=3e-4 (repeatable)");
  cmd->add_option("--resume", flags->resume_dir, "Continue the run in this folder from its latest checkpoint");
  cmd->add_flag("--quiet", flags->quiet, "Print only the final summary");
  cmd->add_option("--session-steps", flags->session_steps,
                  "Stop after this many env steps, with a checkpoint to --resume from (0: no limit)")
      ->check(in_range(core::Range::at_least(0)));
  add_plugin_flag(*cmd, flags->plugins);
  cmd->footer("Config keys: 'apiary config' lists every key with its type, default, allowed values and description\n"
              "(also in docs/configs.md); 'apiary config CONFIG' shows the values CONFIG resolves to.");
  cmd->callback([flags] { run_train(*flags); });

  auto eflags = std::make_shared<EvalFlags>();
  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint's deterministic policy");
  eval->add_option("checkpoint", eflags->checkpoint, "Checkpoint file (runs/<name>/checkpoints/*.pt)")->required();
  eval->add_option("--episodes", eflags->episodes, "Episodes to play")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 24)));
  eval->add_option("--seed", eflags->seed, "Seed of the evaluation lanes")->capture_default_str();
  eval->add_option("--num-envs", eflags->num_envs, "Lanes (0: min(episodes, 64))")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(0, kMaxNumEnvs)));
  eval->add_option("--option", eflags->options,
                   "Environment parameter NAME=VALUE over the checkpoint's own (repeatable), e.g. gravity=-5");
  add_plugin_flag(*eval, eflags->plugins);
  eval->callback([eflags] { run_eval(*eflags); });

  auto xflags = std::make_shared<std::pair<std::string, std::string>>();
  auto* xport = app.add_subcommand("export", "Write a checkpoint's policy alone (config and network): a zoo entry");
  xport->add_option("checkpoint", xflags->first, "Checkpoint file or zoo:NAME")->required();
  xport->add_option("out", xflags->second, "Output file (.pt)")->required();
  xport->callback([xflags] {
    runner::export_policy(xflags->first, xflags->second);
    std::printf("exported: %s\n", xflags->second.c_str());
  });
}

}  // namespace apiary::app
