// `apiary actor --connect ENDPOINT [--id N] [--server-key FILE]`: one actor process of a multi-process
// run (docs/distributed.md). It needs no config of its own: the learner sends the run's config and
// weights when it connects. `apiary learner CONFIG [--bind ENDPOINT]` is the other side, for runs that
// span machines; `apiary train` with actors.count > 0 starts both on one machine.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "actors/actor_process.h"
#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "core/config.h"
#include "runner/remote_actors.h"
#include "runner/train.h"

namespace apiary::app {

namespace {

std::atomic<bool> g_actor_stop{false};
extern "C" void on_actor_stop_signal(int) { g_actor_stop.store(true); }

struct ActorFlags {
  std::string connect;
  std::int32_t id = -1;
  std::string server_key;
  std::int64_t max_chunks = 0;
  std::vector<std::string> plugins;
};

void run_actor(const ActorFlags& flags) {
  load_plugin_flags(flags.plugins);
  std::signal(SIGINT, on_actor_stop_signal);
  std::signal(SIGTERM, on_actor_stop_signal);
  actors::ActorProcessOptions o;
  o.connect = flags.connect;
  o.actor_id = flags.id;
  o.server_key = flags.server_key;
  o.stop_flag = &g_actor_stop;
  o.max_chunks = flags.max_chunks;
  const actors::ActorProcessResult r = actors::run_actor_process(o);
  std::printf(
      "actor_id: %d chunks_sent: %lld env_steps: %lld weight_updates: %lld send_wait_seconds: %.3f "
      "weights_seconds: %.3f env_seconds: %.3f inference_seconds: %.3f wall_seconds: %.3f\n",
      r.actor_id, static_cast<long long>(r.chunks_sent), static_cast<long long>(r.env_steps),
      static_cast<long long>(r.weight_updates), r.send_wait_seconds, r.weights_seconds, r.env_seconds,
      r.inference_seconds, r.wall_seconds);
}

struct LearnerFlags {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string bind;
  std::string resume_dir;
  bool quiet = false;
  std::vector<std::string> plugins;
};

std::atomic<bool> g_learner_stop{false};
extern "C" void on_learner_stop_signal(int) { g_learner_stop.store(true); }

void run_learner(const LearnerFlags& flags) {
  learner::TrainConfig config;
  runner::TrainOptions options;
  if (flags.resume_dir.empty()) {
    if (flags.config_path.empty()) throw UsageError("learner: give a CONFIG file (or --resume RUN_DIR)");
    core::load_config(config, flags.config_path);
    options.config_source = flags.config_path;
  } else if (!flags.overrides.empty()) {
    throw UsageError("learner: --set cannot be combined with --resume (the run keeps its config)");
  }
  core::apply_overrides(config, flags.overrides);
  load_plugin_flags(flags.plugins);
  if (flags.resume_dir.empty()) {
    config.env.plugins.insert(config.env.plugins.end(), flags.plugins.begin(), flags.plugins.end());
    check_loaded_config(config, flags.config_path + (flags.overrides.empty() ? "" : " with --set"),
                        /*always_distributed=*/true, flags.bind);
  }
  options.resume_dir = flags.resume_dir;
  options.quiet = flags.quiet;
  options.stop_flag = &g_learner_stop;
  learner::TrainConfig ranks = config;  // an unset world size is the launcher's
  runner::resolve_world_size(ranks, flags.config_path);
  if (ranks.learner.world_size > 1)
    throw UsageError("learner: learner.world_size " + std::to_string(ranks.learner.world_size) +
                     ": data-parallel ranks step their own lanes and cannot take chunks from actor processes yet; "
                     "use `apiary train` with learner.world_size (docs/distributed.md)");
  runner::DistributedOptions d;
  d.bind = flags.bind;
  d.always = true;
  if (flags.resume_dir.empty()) runner::check_distributed_config(config, d);
  options.chunk_source = runner::make_distributed_source(d);
  std::signal(SIGINT, on_learner_stop_signal);
  std::signal(SIGTERM, on_learner_stop_signal);
  const runner::TrainResult r = runner::train(config, options);
  print_transport_summary(r);
  if (r.interrupted) std::printf("stopped early: checkpoint written to %s/checkpoints/latest.pt\n", r.run_dir.c_str());
  std::printf("eval_mean_return: %.3f best_eval_mean_return: %.3f steps: %lld wall_seconds: %.3f "
              "steps_per_second: %.1f run_dir: %s\n",
              r.eval_mean_return, r.best_eval_mean_return, static_cast<long long>(r.steps), r.wall_seconds,
              static_cast<double>(r.steps) / std::max(r.wall_seconds, 1e-9), r.run_dir.c_str());
}

}  // namespace

void print_transport_summary(const runner::TrainResult& r) {
  if (r.transport.empty()) return;
  std::printf("transport:");
  for (const auto& [k, v] : r.transport) std::printf(" %s %.4g", k.c_str(), v);
  std::printf("\n");
}

void add_actor_command(CLI::App& app) {
  auto flags = std::make_shared<ActorFlags>();
  auto* cmd = app.add_subcommand("actor", "Run one actor process that streams trajectories to a learner");
  cmd->add_option("--connect", flags->connect, "Learner endpoint: tcp://HOST:PORT or ipc://PATH")->required();
  cmd->add_option("--id", flags->id, "Actor id (Ape-X epsilon, seeds); -1: the learner assigns one")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(-1, 1 << 20)));
  cmd->add_option("--server-key", flags->server_key, "The learner's public CURVE key file (apiary keys)");
  cmd->add_option("--max-chunks", flags->max_chunks, "Stop after sending this many chunks (0: until stopped)")
      ->check(in_range(core::Range::at_least(0)));
  add_plugin_flag(*cmd, flags->plugins);
  cmd->callback([flags] { run_actor(*flags); });

  auto lflags = std::make_shared<LearnerFlags>();
  auto* lcmd = app.add_subcommand("learner", "Run a learner that actor processes connect to (apiary actor)");
  lcmd->add_option("config", lflags->config_path, "YAML experiment file");
  lcmd->add_option("--set", lflags->overrides, "Override a config key (repeatable)");
  lcmd->add_option("--bind", lflags->bind, "Endpoint to listen on, e.g. tcp://127.0.0.1:5555 (default: learner.bind)");
  lcmd->add_option("--resume", lflags->resume_dir, "Continue the run in this folder from its latest checkpoint");
  lcmd->add_flag("--quiet", lflags->quiet, "Print only the final summary");
  add_plugin_flag(*lcmd, lflags->plugins);
  lcmd->callback([lflags] { run_learner(*lflags); });
}

}  // namespace apiary::app
