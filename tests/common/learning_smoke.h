// The learning smoke tests' loop (learner/ tests of PPO, DQN and SAC): an algorithm trains from an
// in-process actor, with a quick evaluation at a fixed interval, until one reaches a target return,
// the budget is spent or a time limit passes; optionally a longer evaluation at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "actors/actor.h"
#include "envs/registry.h"
#include "learner/algorithm.h"

namespace apiary::testing {

struct SmokeOptions {
  std::string env_id;
  envs::EnvOptions env_options;            // the env's options (training and evaluation lanes)
  std::int32_t num_envs = 8;
  std::uint64_t seed = 1;                 // the training lanes' reset seed
  std::int64_t total_steps = 100000;       // env steps (all lanes)
  bool record_log_probs = true;            // what the algorithm's chunks carry
  std::int32_t rollout_steps = 1;          // steps per lane of each chunk
  std::int64_t eval_interval_steps = 2000;
  std::int32_t eval_episodes = 20;
  std::int32_t eval_lanes = 20;
  std::uint64_t eval_seed = 1000;
  double stop_return = 0.0;                // training stops at the first evaluation reaching it
  double max_seconds = 60.0;               // and when this much wall-clock has passed
  std::int32_t final_episodes = 0;         // > 0: one more evaluation of this many episodes at the end
  std::uint64_t final_seed = 2000;
};

struct SmokeRun {
  actors::EvalResult eval;       // the last evaluation (the final one where asked for)
  std::int64_t env_steps = 0;    // env steps trained on
  double train_seconds = 0.0;    // collecting and updating (evaluations excluded)
  double seconds = 0.0;          // all of it
};

// The options a training config implies: its env, lanes, seed and budget.
inline SmokeOptions smoke_options(const learner::TrainConfig& config) {
  SmokeOptions o;
  o.env_id = config.env.id;
  o.env_options = config.env.options;
  o.num_envs = config.env.num_envs;
  o.seed = static_cast<std::uint64_t>(config.seed);
  o.total_steps = config.total_steps;
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  o.rollout_steps = algo.rollout_steps(config);
  o.record_log_probs = algo.chunk_log_probs;
  return o;
}

inline SmokeRun learn_until(learner::Algorithm& algo, const SmokeOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const auto start = Clock::now();
  envs::VecEnvConfig env_config;
  env_config.num_envs = o.num_envs;
  env_config.threads = 1;
  env_config.options = o.env_options;
  actors::ActorOptions actor_options;
  actor_options.record_log_probs = o.record_log_probs;
  actors::Actor actor(envs::make_env(o.env_id, env_config), algo.policy(), actor_options);
  actor.reset(o.seed);
  envs::VecEnvConfig eval_config;
  eval_config.num_envs = o.eval_lanes;
  eval_config.threads = 1;
  eval_config.options = o.env_options;
  auto eval_env = envs::make_env(o.env_id, eval_config);

  SmokeRun run;
  std::int64_t next_eval = o.eval_interval_steps;
  while (actor.env_steps() < o.total_steps && since(start) < o.max_seconds) {
    const auto step_start = Clock::now();
    const auto& chunk = actor.collect(o.rollout_steps, agents::ActContext{}, algo.policy_version());
    algo.update(chunk, learner::UpdateContext{actor.env_steps(), o.total_steps});
    run.train_seconds += since(step_start);
    if (actor.env_steps() >= next_eval) {
      next_eval += o.eval_interval_steps;
      run.eval = actors::evaluate(*eval_env, *algo.policy(), o.eval_episodes, o.eval_seed);
      if (run.eval.mean_return >= o.stop_return) break;
    }
  }
  if (o.final_episodes > 0) run.eval = actors::evaluate(*eval_env, *algo.policy(), o.final_episodes, o.final_seed);
  run.env_steps = actor.env_steps();
  run.seconds = since(start);
  return run;
}

}  // namespace apiary::testing
