// The multi-process runner (Sample Factory's parallel mode, as processes; docs/distributed.md): the
// learner receives trajectory chunks from actor processes over ZeroMQ, drops those acted by weights
// more than actors.max_policy_lag versions old, learns from the rest in runner::train, and broadcasts
// each new version of the weights. Actor processes are this same program (`apiary actor`), started
// and restarted by a supervisor, or started by hand on other machines.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "runner/train.h"

namespace apiary::runner {

struct DistributedOptions {
  std::string bind;            // overrides learner.bind (empty: learner.bind, else ipc in a private folder)
  // `apiary learner`: always multi-process, even with actors.count 0 (every actor started by hand).
  // `apiary train`: multi-process only when actors.count > 0 or learner.bind is set.
  bool always = false;
  std::string program;         // the actor executable (empty: this program)
  std::function<void(const std::string&)> log;  // transport events (refusals, restarts); default stderr
};

// A ChunkSourceFactory for runner::train (which keeps the in-process path when it returns nullptr).
// The source binds the learner's endpoint, starts actors.count actor processes under a supervisor,
// answers hellos with the run's config and weights, and stops its actors when destroyed.
ChunkSourceFactory make_distributed_source(DistributedOptions options);

// What the source would refuse, checked before any work starts (commands call it on the loaded
// config): endpoint syntax, a non-loopback bind without CURVE keys, dqn.n_step > 1 with actor
// processes. Throws std::invalid_argument naming the key.
void check_distributed_config(const TrainConfig& config, const DistributedOptions& options);

}  // namespace apiary::runner
