// The actor component: steps a batched environment with a policy and fills trajectory chunks
// (DESIGN.md, "Data flow"). It knows nothing of the channel its chunks travel on: in one process the
// runner hands the chunk to the learner by reference; across processes a ZeroMQ channel carries it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "agents/policy.h"
#include "agents/trajectory.h"
#include "core/profiler.h"
#include "envs/vec_env.h"

namespace apiary::actors {

struct ActorOptions {
  std::int32_t actor_id = 0;
  torch::Device device = torch::kCPU;  // where the policy runs (chunks stay on the CPU)
  bool record_log_probs = true;        // fill chunk.log_probs and chunk.values
  core::Profiler* profiler = nullptr;  // times env stepping and inference when set
};

class Actor {
 public:
  Actor(std::unique_ptr<envs::VecEnv> env, std::shared_ptr<agents::Policy> policy, ActorOptions options);

  // Seeds and resets every lane; the next chunk starts from these observations.
  void reset(std::uint64_t seed);

  // Steps every lane `num_steps` times and returns the chunk, valid until the next call (its tensors
  // are reused). ctx.global_step is advanced by the lanes' steps as the rollout goes on.
  const agents::TrajectoryChunk& collect(std::int32_t num_steps, agents::ActContext ctx, std::int64_t policy_version);

  envs::VecEnv& env() { return *env_; }
  std::int64_t env_steps() const { return env_steps_; }
  void set_env_steps(std::int64_t steps) { env_steps_ = steps; }
  void set_policy(std::shared_ptr<agents::Policy> policy) { policy_ = std::move(policy); }

 private:
  void allocate(std::int32_t num_steps);
  // Hands this step's actions (int64 indices or float) to the env in its dtype.
  void step_env(const torch::Tensor& action);

  std::unique_ptr<envs::VecEnv> env_;
  std::shared_ptr<agents::Policy> policy_;
  ActorOptions options_;
  agents::TrajectoryChunk chunk_;
  std::int64_t env_steps_ = 0;
  std::int64_t sequence_ = 0;
  std::vector<std::int32_t> discrete_actions_;  // staging for the env's int32 actions
  torch::Tensor continuous_actions_;            // staging, fp32 contiguous [N, A]
};

struct EvalResult {
  double mean_return = 0.0;
  double std_return = 0.0;
  double mean_length = 0.0;
  std::int32_t episodes = 0;
};

// Plays `episodes` whole episodes with the deterministic policy on `env` (separate lanes from
// training) from reset(seed), counting only the first `episodes` that finish, each lane's episodes in
// order so that the result does not favour short episodes.
EvalResult evaluate(envs::VecEnv& env, agents::Policy& policy, std::int32_t episodes, std::uint64_t seed,
                    torch::Device device = torch::kCPU);

}  // namespace apiary::actors
