// Checkpoints of a training run: the run's counters, its resolved config, the env's snapshot, the
// random state and the algorithm's own parts (learner/archive.h), in one LibTorch archive written
// atomically (core/atomic_file.h: temp file, fsync, rename, fsync of the folder).
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <string>

#include <torch/serialize/archive.h>

#include "agents/policy.h"
#include "agents/trajectory.h"
#include "envs/env_spec.h"
#include "envs/vec_env.h"
#include "learner/algorithm.h"
#include "learner/train_config.h"
#include "runner/train.h"

namespace apiary::runner {

// The checkpoint's envelope, spelled here alone: the algorithm's own archive (learner/archive.h) and
// the run's resolved config (YAML bytes).
inline constexpr const char* kAlgorithmKey = "algorithm";
inline constexpr const char* kConfigKey = "apiary.config";

// Counters of the run that a checkpoint carries besides the algorithm's own state.
struct RunCounters {
  std::int64_t steps = 0;
  std::int64_t updates = 0;
  std::int64_t episodes = 0;
  std::int64_t next_eval = 0;
  std::int64_t next_checkpoint = 0;
  double best_eval = -std::numeric_limits<double>::infinity();
  double previous_wall_seconds = 0;        // wall time of earlier sessions of this run
  std::deque<agents::EpisodeStat> recent;  // the last training episodes (mean_return)
  // A recurrent policy's lanes (actors::Actor::memory): each lane's memory [N, S] and whether its next
  // observation begins an episode [N]; undefined for a policy without memory.
  torch::Tensor lane_memory, lane_starts;
};

// Writes `path` atomically.
void save_checkpoint(const std::string& path, const learner::TrainConfig& config, const RunCounters& counters,
                     learner::Algorithm& algo, const envs::VecEnv& env);

// Restores the counters, the env's snapshot, the random state and the algorithm from `path`. Throws
// std::invalid_argument naming the file when it is of another env or algorithm than `config`, or its
// weights do not fit (parameter and both shapes) or are not finite.
RunCounters load_checkpoint(const std::string& path, const learner::TrainConfig& config, learner::Algorithm& algo,
                            envs::VecEnv& env);

// The archive at `path` (or zoo:NAME, runner/zoo.h); throws std::invalid_argument naming the file when it
// is missing, not a LibTorch archive or not an Apiary checkpoint of this format.
torch::serialize::InputArchive open_checkpoint(const std::string& path);

// The config stored in a checkpoint, with its env's plugins loaded (unless its env id is registered
// already). Throws std::invalid_argument naming the file when it is not an Apiary checkpoint.
learner::TrainConfig read_checkpoint_config(const std::string& path);

// A checkpoint's deterministic policy, as `eval` and `play` use it: the behaviour policy its algorithm
// builds (learner::AlgorithmSpec), on the CPU, with the weights of "algorithm/<policy_key>".
struct LoadedPolicy {
  learner::TrainConfig config;
  envs::EnvSpec spec;
  std::shared_ptr<agents::Policy> policy;
};
// Throws std::invalid_argument when the checkpoint was trained on another env than `env_id` (when
// given; naming both) or its weights do not fit the network its config describes (naming the file,
// the parameter and both shapes) or it is not an Apiary checkpoint.
LoadedPolicy load_policy(const std::string& path, const std::string& env_id = "");



// export_policy (a checkpoint's policy alone: a zoo entry) is declared in runner/train.h, which the
// command line includes without LibTorch.

// Loads env.plugins (envs/plugin_loader.h) and rewrites them as absolute paths, so that the run's
// config.yaml (and every checkpoint's copy) names the same files from any working directory. A
// refusal names `source` and the key.
void load_env_plugins(learner::EnvSection& env, const std::string& source);

}  // namespace apiary::runner
