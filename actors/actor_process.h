// The actor process (`apiary actor`, Sample Factory's rollout worker as a process): it says hello to a
// learner, receives the run's config and weights, steps its env with the behaviour policy that the
// run's algorithm builds (learner::AlgorithmSpec::make_behaviour_policy) and streams trajectory chunks
// until stopped, taking newer weights as they come without ever blocking on them.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "actors/wire.h"
#include "envs/env_spec.h"
#include "learner/train_config.h"

namespace apiary::actors {

// The shape every chunk of a run has (the learner refuses others).
wire::ChunkSchema chunk_schema(const learner::TrainConfig& config, const envs::EnvSpec& spec);
// The data sockets' kernel buffer size: the largest chunk of `schema`, at most 64 MiB.
int chunk_bytes(const wire::ChunkSchema& schema);

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

// Connects, asks for the run's config, then steps its env and streams chunks until
// stopped; waits (and reconnects) while the learner is away. Throws std::runtime_error for a welcome
// that cannot be used.
ActorProcessResult run_actor_process(const ActorProcessOptions& options);

}  // namespace apiary::actors
