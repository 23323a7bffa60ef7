// The multi-process runner (Sample Factory's parallel mode, as processes; docs/distributed.md): the
// learner receives trajectory chunks from actor processes over ZeroMQ, drops those acted by weights
// more than actors.max_policy_lag versions old, learns from the rest in learner::train, and broadcasts
// each new version of the weights. Actor processes are this same program (`apiary actor`), started
// and restarted by a supervisor, or started by hand on other machines.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "learner/trainer.h"

namespace apiary::learner {

struct DistributedOptions {
  std::string bind;            // overrides learner.bind (empty: learner.bind, else ipc in a private folder)
  // `apiary learner`: always multi-process, even with actors.count 0 (every actor started by hand).
  // `apiary train`: multi-process only when actors.count > 0 or learner.bind is set.
  bool always = false;
  std::string program;         // the actor executable (empty: this program)
  std::function<void(const std::string&)> log;  // transport events (refusals, restarts); default stderr
};

// A ChunkSourceFactory for learner::train (which keeps the in-process path when it returns nullptr).
// The source binds the learner's endpoint, starts actors.count actor processes under a supervisor,
// answers hellos with the run's config and weights, and stops its actors when destroyed.
ChunkSourceFactory make_distributed_source(DistributedOptions options);

// What the source would refuse, checked before any work starts (commands call it on the loaded
// config): endpoint syntax, a non-loopback bind without CURVE keys, dqn.n_step > 1 with actor
// processes. Throws std::invalid_argument naming the key.
void check_distributed_config(const TrainConfig& config, const DistributedOptions& options);

struct ActorProcessOptions {
  std::string connect;           // learner endpoint (ipc://PATH or tcp://HOST:PORT)
  std::int32_t actor_id = -1;    // -1: the learner assigns one
  std::string server_key;        // the learner's public CURVE key file (empty: no CURVE)
  const std::atomic<bool>* stop_flag = nullptr;  // set by SIGINT / SIGTERM
  std::int64_t max_chunks = 0;   // stop after sending this many chunks (0: until stopped; tests)
};

struct ActorProcessResult {
  std::int32_t actor_id = -1;
  std::int64_t chunks_sent = 0;
  std::int64_t env_steps = 0;
  std::int64_t weight_updates = 0;  // weight versions applied
  double send_wait_seconds = 0;     // blocked on the learner (back-pressure or no learner)
  double weights_seconds = 0;       // receiving and applying weights
  double env_seconds = 0, inference_seconds = 0, wall_seconds = 0;
};

// `apiary actor`: connects, asks for the run's config, then steps its env and streams chunks until
// stopped; waits (and reconnects) while the learner is away. Throws std::runtime_error for a welcome
// that cannot be used.
ActorProcessResult run_actor_process(const ActorProcessOptions& options);

}  // namespace apiary::learner
