// The actor component: steps a batched environment with a policy and fills trajectory chunks
// (docs/architecture.md, "Data flow"). It knows nothing of the channel its chunks travel on: in one process the
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
  torch::Device device = torch::kCPU;  // where the policy runs
  bool record_log_probs = true;        // fill chunk.log_probs and chunk.values
  core::Profiler* profiler = nullptr;  // times env stepping and inference when set
  // In place: the policy reads the env's observation buffer itself (torch::from_blob on the env's
  // pointer, on the env's device), actions go back to the env from the device they were sampled on,
  // and the chunk is built on `device` from views of the env's rewards and flags; only the ended
  // episodes' returns and lengths cross to the host, once per chunk. Needs the env and the policy on
  // one device; an env on a GPU always runs this way. Off: the copying path (the chunk on the host,
  // filled by memcpy, the policy fed from it), the fastest on the CPU. Both give the same chunks.
  bool in_place = false;
};

// Tensors over an env's buffers, on its device (torch::from_blob: no copy), valid for the env's
// lifetime: obs and final_obs [N, D] in the env's dtype (fp32, or uint8 images), reward and final_return [N] fp32, terminated and truncated
// [N] uint8, final_length [N] int32. The CUDA back end runs its kernels on the legacy default stream
// and synchronises after each step, so LibTorch's default stream sees its writes in order.
struct EnvViews {
  torch::Tensor obs, final_obs, reward, terminated, truncated, final_return, final_length;
};
EnvViews env_views(const envs::VecEnv& env);

// The dtype of an env's observations in tensors and chunks: kUInt8 for a uint8 Box, else kFloat32.
torch::ScalarType obs_dtype(const envs::EnvSpec& spec);

class Actor {
 public:
  Actor(std::unique_ptr<envs::VecEnv> env, std::shared_ptr<agents::Policy> policy, ActorOptions options);

  // Seeds and resets every lane; the next chunk starts from these observations.
  void reset(std::uint64_t seed);

  // Steps every lane `num_steps` times and returns the chunk, valid until the next call (its tensors
  // are reused). ctx.global_step is advanced by the lanes' steps as the rollout goes on. The chunk's
  // tensors live on the CPU, or on options.device when in_place.
  const agents::TrajectoryChunk& collect(std::int32_t num_steps, agents::ActContext ctx, std::int64_t policy_version);

  envs::VecEnv& env() { return *env_; }
  bool in_place() const { return options_.in_place; }
  std::int64_t env_steps() const { return env_steps_; }
  void set_env_steps(std::int64_t steps) { env_steps_ = steps; }
  // Another policy to act with; the lanes' memory stays where its size does (new weights do not reset it).
  void set_policy(std::shared_ptr<agents::Policy> policy);
  // A recurrent policy's lanes' memory ([N, S]) and whether each lane's next observation begins an
  // episode ([N] 0/1): what a checkpoint keeps so that a resumed run acts as the uninterrupted one.
  // Undefined for a policy without memory.
  const torch::Tensor& memory() const { return memory_.tensor(); }
  const torch::Tensor& memory_starts() const { return starts_; }
  void set_memory(const torch::Tensor& state, const torch::Tensor& starts);

 private:
  void allocate(std::int32_t num_steps);
  void make_memory();  // memory_ and starts_ for policy_
  // Hands this step's actions (int64 indices or float, on the CPU) to the env in its dtype.
  void step_env(const torch::Tensor& action);
  // The copying path and the in-place one (ActorOptions::in_place), after the chunk's header is set.
  void collect_copying(std::int32_t num_steps, agents::ActContext& ctx);
  void collect_in_place(std::int32_t num_steps, agents::ActContext& ctx);

  std::unique_ptr<envs::VecEnv> env_;
  std::shared_ptr<agents::Policy> policy_;
  ActorOptions options_;
  agents::TrajectoryChunk chunk_;
  std::int64_t env_steps_ = 0;
  std::int64_t sequence_ = 0;
  std::vector<std::int32_t> discrete_actions_;  // staging for the env's int32 actions
  // A recurrent policy's: each lane's memory (on options_.device), and [N] fp32 0/1 where the next
  // observation begins an episode (where the chunk is built); both undefined for a policy without one.
  agents::LaneMemory memory_;
  torch::Tensor starts_;
  // The in-place path: views of the env's buffers on its device, int32 actions on that device, and
  // per-step copies of the episode-end fields ([T, N]) read by the host once per chunk.
  EnvViews views_;
  torch::Tensor device_actions_;
  torch::Tensor ended_, ended_return_, ended_length_;
};

// The chunk with its tensors copied to the host (what an actor process sends of a GPU chunk).
agents::TrajectoryChunk host_copy(const agents::TrajectoryChunk& chunk);


struct EvalResult {
  double mean_return = 0.0;
  double std_return = 0.0;
  double mean_length = 0.0;
  std::int32_t episodes = 0;
};

// Plays `episodes` whole episodes with the deterministic policy on `env` (separate lanes from
// training) from reset(seed), counting only the first `episodes` that finish, each lane's episodes in
// order so that the result does not favour short episodes. A lane that owes no more episodes is masked
// out (VecEnv::set_active_lanes) while the others finish: the CPU back ends skip its physics.
// An env on a GPU is played in place (the policy on `device` reads its buffers; `device` must be that
// GPU); an env on the CPU feeds a policy on any device.
EvalResult evaluate(envs::VecEnv& env, agents::Policy& policy, std::int32_t episodes, std::uint64_t seed,
                    torch::Device device = torch::kCPU);

}  // namespace apiary::actors
