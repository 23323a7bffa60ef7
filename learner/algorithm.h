// The learner side of an algorithm: it owns the networks, optimizer and buffers, consumes trajectory
// chunks and exposes the policy actors act with. PPO (learner/ppo.h) and DQN (learner/dqn.h) implement
// it; the runner (learner/trainer.h) drives it without knowing which one it has.
#pragma once

#include <cstdint>
#include <memory>
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

namespace apiary::learner {

// Scalars for the metrics CSV and TensorBoard, by the paper's names (pg_loss, v_loss, approx_kl...).
using Metrics = std::vector<std::pair<std::string, double>>;

struct UpdateContext {
  std::int64_t global_step = 0;  // env steps so far, including this chunk
  std::int64_t total_steps = 0;  // the run's budget (annealing schedules)
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;

  // The policy actors act with. In one process the actor holds this same object, so new weights are
  // seen at once; policy_version() says how many updates it has had.
  virtual std::shared_ptr<agents::Policy> policy() = 0;
  virtual std::int64_t policy_version() const = 0;

  // Steps per lane in each chunk this algorithm wants (PPO: rollout_steps; DQN: a few).
  virtual std::int32_t rollout_steps() const = 0;
  // Whether chunks must carry log_probs and values (policy-gradient methods).
  virtual bool needs_log_probs() const = 0;

  // Learns from one chunk; returns the metrics of the updates it made (empty if none).
  virtual Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) = 0;

  // Everything needed to resume: networks, optimizer state, scaler, counters.
  virtual void save(torch::serialize::OutputArchive& archive) = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
};

struct AlgorithmInit {
  TrainConfig config;
  envs::EnvSpec spec;
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
};

// Builds the algorithm that `config.algo` names. Throws std::invalid_argument naming the config key
// when the combination cannot work (e.g. DQN on a continuous action space).
std::unique_ptr<Algorithm> make_algorithm(const AlgorithmInit& init);

// The PolicyConfig that `section` describes for an env with `spec` (scale_obs takes its bounds).
agents::PolicyConfig to_policy_config(const PolicySection& section, const envs::EnvSpec& spec);

}  // namespace apiary::learner
