// The training loop (Sample Factory's serial mode, and its parallel mode through a ChunkSource): one
// actor and the learner in one process, chunks and weights handed over by reference, or chunks from
// actor processes (runner/remote_actors.h). It owns the run folder (runner/run_folder.h) and the
// checkpoints (runner/checkpoint.h). It never names an algorithm: it asks the registry
// (learner/algorithm.h). No LibTorch in this header (app/ includes it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "learner/train_config.h"

namespace apiary::agents {
struct TrajectoryChunk;
class Policy;
}  // namespace apiary::agents
namespace apiary::core {
class Profiler;
}  // namespace apiary::core

namespace apiary::runner {

using learner::TrainConfig;

// Where chunks come from when they do not come from the in-process actor: the multi-process runner
// (runner/remote_actors.h) receives them from actor processes and broadcasts the weights back.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;  // stops whatever the source started (actor processes)
  // The next chunk to learn from (valid until the next call), or nullptr once `stop` is raised.
  virtual const agents::TrajectoryChunk* next(std::int64_t policy_version, const std::atomic<bool>* stop) = 0;
  // The policy has new weights (after an update, and once before the first chunk).
  virtual void publish(agents::Policy& policy, std::int64_t policy_version) = 0;
  // Transport counters and timings for the metrics rows and the summary.
  virtual std::vector<std::pair<std::string, double>> metrics() = 0;
};
using ChunkSourceFactory = std::function<std::unique_ptr<ChunkSource>(
    const TrainConfig& config, const std::string& run_dir, core::Profiler& profiler)>;

struct TrainOptions {
  std::string config_source = "config";  // the file the config came from (messages)
  std::string resume_dir;                // continue this run folder from its latest checkpoint
  bool progress = true;                  // draw a progress line when stderr is a terminal
  bool quiet = false;                    // no per-evaluation lines on stdout
  const std::atomic<bool>* stop_flag = nullptr;  // set (e.g. by SIGINT) to end the run with a checkpoint
  // End this session, as an interruption would, once it has trained this many env steps (0: no limit);
  // `apiary train --session-steps` and the resume tests use it.
  std::int64_t session_steps = 0;
  ChunkSourceFactory chunk_source;  // set: chunks come from it (multi-process runs), not the in-process actor
};

struct TrainResult {
  std::string run_dir;
  std::int64_t steps = 0;            // env steps trained on
  std::int64_t updates = 0;          // policy updates
  double wall_seconds = 0.0;         // since the start of this process's training
  double eval_mean_return = 0.0;     // the last evaluation
  double eval_std_return = 0.0;
  double best_eval_mean_return = 0.0;
  double solved_wall_seconds = -1.0; // first time an evaluation reached stop.mean_return (-1: never)
  std::int64_t solved_steps = -1;
  bool stopped_early = false;        // stop.mean_return reached
  bool interrupted = false;          // stop_flag was raised
  double env_seconds = 0, inference_seconds = 0, learning_seconds = 0, other_seconds = 0;
  std::vector<std::pair<std::string, double>> transport;  // ChunkSource::metrics() at the end (multi-process)
  // Data-parallel runs (learner.world_size > 1): this process's rank, the world size, and its
  // communication (all-reduce of gradients and control flags, weight-hash checks, gathers of episode
  // statistics): seconds, bytes, and the profiler's line ("communication 1.52s: all-reduce ...").
  int rank = 0;
  int world_size = 1;
  double comm_seconds = 0, allreduce_seconds = 0, hash_seconds = 0, gather_seconds = 0;
  double comm_bytes = 0;
  std::string communication;  // empty in one-rank runs
};

// Fills an unset learner.world_size (0) the way torchrun and SLURM users expect: the launcher's
// WORLD_SIZE (SLURM_NTASKS) when this process is a rank of a launch, else learner.pipeline_stages
// (one stage per rank, no stage_devices), else 1. A launcher's world size that pipeline_stages does
// not divide is refused naming both (std::invalid_argument, `source` first). A value already set is
// left for train() to compare with the launcher's.
void resolve_world_size(TrainConfig& config, const std::string& source);

// The world size of this config's run (learner.world_size, or the resumed run's), for
// parallel::launch_local: it starts that many ranks on this machine, unless torchrun or SLURM
// variables say this process is one rank of them already. Throws
// std::invalid_argument when the launcher's world size differs from the config's, with a message of
// its own for a resumed run ("resume with the same world size"). Library callers need not call it:
// train() checks the same before any file is created. An unset world size is resolved first
// (resolve_world_size).
int world_size_to_launch(const TrainConfig& config, const TrainOptions& options);

// Trains as `config` says; writes the run folder; returns the summary. Throws std::invalid_argument
// for configuration problems (naming the key) and std::runtime_error for the rest.
// With learner.world_size W > 1 this process must be one rank of W (the variables of
// parallel/rendezvous.h: launch_local, torchrun or SLURM): it joins the others (a rank started
// with another config is refused, naming the difference), steps its own lanes with its own seeds,
// averages gradients through the algorithm's GradientHook and compares weight hashes every
// learner.check_weights_interval updates. Rank 0 alone writes the run folder, metrics, TensorBoard,
// checkpoints and evaluations, from the episodes of every rank; steps count every rank's env steps.
// A peer that dies or times out throws (rank 0 writes its latest checkpoint first).
TrainResult train(const TrainConfig& config, const TrainOptions& options = {});

// Whether this process's LibTorch has CUDA compiled in (Debian's has not), GPU or no GPU.
bool libtorch_built_with_cuda();

// What `apiary doctor` reports of LibTorch, from here so that the command line includes no LibTorch
// header (its compile units took 40 s each for LibTorch's templates alone).
struct TorchInfo {
  std::string version;        // TORCH_VERSION
  int intra_op_threads = 0;   // torch::get_num_threads()
  bool cuda_available = false;
  int cuda_devices = 0;
};
TorchInfo torch_info();

// Measured fp32 512x512 matrix multiply speed through LibTorch, GFLOP/s: the reference BLAS shows as ~1-3.
double torch_matmul_gflops();

struct EvalCheckpointResult {
  std::string env_id;
  double mean_return = 0.0;
  double std_return = 0.0;
  double mean_length = 0.0;
  std::int32_t episodes = 0;
};

// Loads a checkpoint written by train() and evaluates its deterministic policy on fresh lanes.
// `options` are set over the checkpoint's env options (a variant: gravity, wind, pole length); the env
// refuses a name it does not have.
EvalCheckpointResult evaluate_checkpoint(const std::string& path, std::int32_t episodes, std::uint64_t seed,
                                         std::int32_t num_envs = 0, const std::map<std::string, double>& options = {});

// Writes the policy of checkpoint `path` alone (its config and policy network, no optimizer, counters
// or env snapshot) to `out`, atomically: a zoo entry, a few tens of kilobytes. eval, play and
// init.checkpoint read it like any checkpoint (runner/checkpoint.cpp).
void export_policy(const std::string& path, const std::string& out);


}  // namespace apiary::runner
