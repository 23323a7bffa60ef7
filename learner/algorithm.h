// The learner side of an algorithm: it owns the networks, optimizer and buffers, consumes trajectory
// chunks and exposes the policy actors act with; and the registry through which each algorithm
// describes itself in one place (AlgorithmSpec). The runner (runner/train.h), the actor process
// (actors/actor_process.h), `eval` and `play` ask the registry and never name an algorithm.
//
// Adding an algorithm (docs/architecture.md): a folder learner/<name>/ whose sources define
// `AlgorithmSpec <name>_algorithm()` in this namespace; CMake compiles every such folder and registers
// each spec once, before the registry is first read. Code outside learner/ (a test, a tool) can call
// register_algorithm() itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include "agents/policy.h"
#include "agents/trajectory.h"
#include "envs/env_spec.h"
#include "learner/precision.h"
#include "learner/train_config.h"
#include "learner/update_bench.h"

namespace apiary::parallel {
class ProcessGroup;
}

namespace apiary::learner {

// Scalars for the metrics CSV and TensorBoard, by the paper's names (pg_loss, v_loss, approx_kl...).
using Metrics = std::vector<std::pair<std::string, double>>;

// The one metric of an update that was undone because its losses or weights were not finite
// (learner/optim.h UpdateGuard): the runner counts these and stops after a few in a row.
inline constexpr const char* kNonFiniteUpdate = "nonfinite_update";

struct UpdateContext {
  std::int64_t global_step = 0;  // env steps so far, including this chunk (of every rank, in data-parallel runs)
  std::int64_t total_steps = 0;  // the run's budget (annealing schedules)
  std::int32_t world_size = 1;   // data-parallel ranks: each stepped a chunk like this one before global_step
};

// Data-parallel learning (learner.world_size > 1, parallel/, docs/distributed.md): the runner
// gives the algorithm this hook, which averages gradients across ranks in place (one all-reduce of
// one flat buffer). An algorithm that supports data parallelism (AlgorithmSpec::data_parallel) calls
// it right after every backward whose gradients an optimizer steps with, before unscaling, clipping
// and the step, the same number of times on every rank; the optimizer step is then identical on
// every rank. Empty in a one-rank run. learner/ knows nothing of the ranks beyond this and
// AlgorithmInit::pipeline (model parallelism).
using GradientHook = std::function<void(const std::vector<torch::Tensor>& grads)>;

class Algorithm {
 public:
  virtual ~Algorithm() = default;

  // The policy actors act with. In one process the actor holds this same object, so new weights are
  // seen at once; policy_version() says how many updates it has had.
  virtual std::shared_ptr<agents::Policy> policy() = 0;
  virtual std::int64_t policy_version() const = 0;

  // Learns from one chunk; returns the metrics of the updates it made (empty if none).
  virtual Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) = 0;

  // Everything needed to resume: networks, optimizer state, scaler, counters.
  virtual void save(torch::serialize::OutputArchive& archive) = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;

  // Transfer learning (runner/transfer.h). After weights were copied into policy()->module() from
  // outside: re-derive what depends on them (DQN: the target network starts as a copy).
  virtual void weights_loaded() {}
  // Keeps the parameters of policy()->module() whose names `frozen` selects fixed (no optimizer step,
  // left out of gradient clipping) until called again; a selector that selects nothing unfreezes.
  // Returns false when this algorithm cannot freeze parameters (the run is then refused).
  virtual bool set_frozen(const std::function<bool(const std::string& name)>& frozen) { return false; }

  // Model parallelism (AlgorithmSpec::pipeline_parallel, learner.pipeline_stages > 1): on the ranks of
  // stages 1..S-1, which step no envs, takes part in every update that stage 0's update() starts,
  // until stage 0's algorithm is destroyed (or a peer fails: CommError). Throws std::logic_error
  // elsewhere.
  virtual void serve_stage() { throw std::logic_error("this algorithm is not a pipeline stage"); }

  // What this process holds of the learning state, in tensor elements: the parameters it trains and
  // its optimizer's state (model parallelism: its stage's only), and the parameters it keeps for
  // acting only (pipeline stage 0: the whole network). Zeros: not reported.
  struct HeldState {
    std::int64_t trained_parameters = 0;
    std::int64_t optimizer_state = 0;
    std::int64_t acting_parameters = 0;
  };
  virtual HeldState held_state() const { return {}; }
};

struct AlgorithmInit {
  TrainConfig config;
  envs::EnvSpec spec;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  GradientHook reduce_gradients;  // data-parallel runs: average these gradients across ranks (see above)
  // Model-parallel runs (learner.pipeline_stages > 1): the pipeline's ranks, stage s at rank s; it
  // outlives the algorithm. Null: the whole network in this process.
  parallel::ProcessGroup* pipeline = nullptr;
};

// Where an algorithm is about to run, for its checks.
struct RunContext {
  std::string source = "config";  // the config's file (messages)
  bool actor_processes = false;   // chunks come from actor processes (not one in-process actor)
  std::int32_t world_size = 1;    // data-parallel ranks (learner.world_size)
};

// Everything the rest of Apiary needs to know about an algorithm.
struct AlgorithmSpec {
  std::string name;          // the `algo:` value and its config section's key
  std::string doc;           // one line for listings
  core::AnySection config;   // its hyperparameter struct (with visit()), holding the defaults
  // Refuses what cannot work before any work starts (another action space, a combination of keys),
  // throwing std::invalid_argument that names ctx.source and the key. Ranges are not checked here:
  // the config struct declares them once.
  std::function<void(const TrainConfig&, const envs::EnvSpec&, const RunContext&)> check;
  // Steps per lane in each chunk (the in-process actor and actor processes alike).
  std::function<std::int32_t(const TrainConfig&)> rollout_steps;
  bool chunk_log_probs = false;  // chunks carry behaviour log-probabilities and values
  std::function<std::unique_ptr<Algorithm>(const AlgorithmInit&)> make;
  // The policy an actor process acts with (Ape-X epsilons and the like from config.actors), built on
  // the CPU; its module() receives the learner's weights. `eval` and `play` build it too, and load
  // its module from the checkpoint's "algorithm/<policy_key>".
  std::function<std::shared_ptr<agents::Policy>(const TrainConfig&, const envs::EnvSpec&)> make_behaviour_policy;
  std::string policy_key;
  std::vector<std::string> metrics;  // every name update() may report (check_reported_metrics)
  // Whether make() honours AlgorithmInit::reduce_gradients (learner.world_size > 1 is refused otherwise):
  // every optimizer step follows averaged gradients, and nothing else that changes weights depends on
  // this rank's own data.
  bool data_parallel = false;
  // Whether make() honours AlgorithmInit::pipeline (learner.pipeline_stages > 1 is refused otherwise).
  bool pipeline_parallel = false;
  // Whether make() and make_behaviour_policy honour policy.recurrent (a recurrent core; refused
  // otherwise): chunks then carry each lane's state and episode starts.
  bool recurrent = false;
  // Bytes of the algorithm's own buffers for this config (a replay buffer), for the memory check
  // before a run starts; empty: small.
  std::function<std::int64_t(const TrainConfig&, const envs::EnvSpec&)> memory_bytes;
  // `apiary bench learner --algo <name>`: one update timed on a synthetic minibatch (learner/update_bench.h);
  // throws std::invalid_argument for a bad config or a precision the device cannot run. Empty: not offered.
  std::function<UpdateBenchResult(const UpdateBenchConfig&)> bench_update;
};

// Throws std::logic_error naming the algorithm and the metric when `reported` holds a name its spec does
// not declare in `metrics` (the training loop checks every row it writes).
void check_reported_metrics(const AlgorithmSpec& spec, const Metrics& reported);

// Adds an algorithm; throws std::logic_error for an empty or taken name or a missing function.
void register_algorithm(AlgorithmSpec spec);
// The algorithm called `name`; throws std::invalid_argument listing the registered ones.
const AlgorithmSpec& find_algorithm(const std::string& name);
// Every registered algorithm, in registration order (the built-in ones first).
std::vector<const AlgorithmSpec*> registered_algorithms();

// Checks a config section's values against the ranges its visit() declares (for configs built in code;
// loaded ones were checked while loading). Throws std::invalid_argument naming "<name>.<key>".
template <class Section>
void check_declared_ranges(const Section& section, const std::string& name) {
  try {
    core::detail::Validator validator(name, name);
    const_cast<Section&>(section).visit(validator);
  } catch (const core::ConfigError& e) {
    throw std::invalid_argument(e.key() + ": " + e.problem());
  }
}

// Builds the algorithm that `config.algo` names, after its check (ctx: the in-process runner).
std::unique_ptr<Algorithm> make_algorithm(const AlgorithmInit& init);

// The PolicyConfig that `section` describes for an env with `spec` (scale_obs takes its bounds).
agents::PolicyConfig to_policy_config(const PolicySection& section, const envs::EnvSpec& spec);

}  // namespace apiary::learner
