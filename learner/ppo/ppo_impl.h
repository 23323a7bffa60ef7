// PPO's implementation, shared by its two files: ppo.cpp (the algorithm: rollout, GAE, epochs,
// minibatch steps, checkpoints; CleanRL's ppo.py is the model) and ppo_pipeline.cpp (model
// parallelism: the actor and critic cut into stages, learner.pipeline_stages / stage_devices).
// Private to learner/ppo/; the rest of Apiary reaches PPO through ppo.h's make_ppo.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/policy.h"
#include "learner/algorithm.h"
#include "learner/gae.h"
#include "learner/loss_scaler.h"
#include "learner/losses.h"
#include "learner/optim.h"
#include "learner/ppo/fused_net.h"
#include "learner/ppo/fused_step.h"
#include "learner/ppo/ppo_config.h"
#include "learner/precision.h"
#include "parallel/pipeline.h"
#include "parallel/process_group.h"

namespace apiary::learner::ppo_detail {

// The loss's options from the config, into PpoLossIn (autograd) or FusedLossOptions (the fused step).
template <class LossOptions>
inline void set_loss_options(LossOptions& out, const PpoConfig& config) {
  out.clip_coef = config.clip_coef;
  out.norm_adv = config.norm_adv;
  out.clip_vloss = config.clip_vloss;
  out.ent_coef = config.ent_coef;
  out.vf_coef = config.vf_coef;
}

// A rollout on the learner's device: what the epochs draw from. Flattened to B = T * N samples, or
// for a recurrent policy kept time-major as whole lanes ([T, N, ...], with each lane's state and
// episode starts), so that a minibatch of lanes replays the core from the chunk's start (CleanRL's
// envsperbatch).
struct RolloutBatch {
  torch::Tensor obs;         // [B, obs...]     | recurrent: [T, N, obs...]
  torch::Tensor actions;     // [B] int64 (Discrete) or [B, A] (Box) | [T, N] or [T, N, A]
  torch::Tensor log_probs;   // [B] behaviour log pi(a|s) (CleanRL b_logprobs) | [T, N]
  torch::Tensor values;      // [B] behaviour V(s) (b_values) | [T, N]
  torch::Tensor advantages;  // [B] GAE advantages (b_advantages) | [T, N]
  torch::Tensor returns;     // [B] advantages + values (b_returns) | [T, N]
  torch::Tensor state;       // recurrent: [N, S] each lane's memory before step 0; else undefined
  torch::Tensor starts;      // recurrent: [T, N] 1 where step t begins an episode; else undefined

  bool recurrent() const { return state.defined(); }
  // What a minibatch is drawn from: samples, or whole lanes for a recurrent policy.
  std::int64_t units() const { return returns.size(recurrent() ? 1 : 0); }
  // obs is undefined on the pipeline stages after the first (model parallelism): they need none.
  std::int64_t size() const { return returns.numel(); }
  RolloutBatch index_select(const torch::Tensor& indices) const {
    return map([&](const torch::Tensor& t, int dim) { return t.index_select(dim, indices); });
  }
  RolloutBatch slice(std::int64_t begin, std::int64_t end) const {
    return map([&](const torch::Tensor& t, int dim) { return t.slice(dim, begin, end); });
  }

 private:
  // The batch with f(tensor, the dimension of its samples or lanes) applied to every defined tensor.
  template <class F>
  RolloutBatch map(F f) const {
    const int dim = recurrent() ? 1 : 0;
    const auto apply = [&](const torch::Tensor& t, int d) { return t.defined() ? f(t, d) : t; };
    return RolloutBatch{apply(obs, dim),        apply(actions, dim), apply(log_probs, dim), apply(values, dim),
                        apply(advantages, dim), apply(returns, dim), apply(state, 0),       apply(starts, dim)};
  }
};

// V of the observations GAE bootstraps from, both from one batched forward pass.
struct BootstrapValues {
  torch::Tensor next_values;   // [N] V(obs[T])
  torch::Tensor final_values;  // [T, N] V(next_obs[t]) where truncated and not terminated, 0 elsewhere
};

// The per-minibatch diagnostics, in this order, stacked into one detached fp32 tensor so that an
// update sums them on the device and reads them once (no .item() in the minibatch loop).
constexpr const char* kMinibatchStatNames[] = {"pg_loss", "v_loss", "entropy", "old_approx_kl", "approx_kl",
                                               "clipfrac"};
constexpr std::int64_t kNumMinibatchStats = 6;
constexpr std::int64_t kApproxKlStat = 4;

// A minibatch's diagnostics in kMinibatchStatNames' order, detached.
inline torch::Tensor minibatch_stats(const PpoLossOut& loss) {
  return torch::stack({loss.pg_loss.detach(), loss.v_loss.detach(), loss.entropy_loss.detach(),
                       loss.old_approx_kl.detach(), loss.approx_kl.detach(), loss.clipfrac.detach()});
}

// One gradient step on a minibatch.
struct MinibatchResult {
  torch::Tensor stats;   // [kNumMinibatchStats] detached fp32, on the device
  bool stepped = false;  // false: the fp16 gradients were not finite and the step was skipped
};

// What ppo_update did, still on the device where it can be.
struct PpoUpdateResult {
  torch::Tensor stat_sums;         // [kNumMinibatchStats] sums over the minibatches that ran
  std::int64_t minibatches = 0;    // minibatches that ran
  std::int32_t epochs_run = 0;     // passes over the rollout (early stop: fewer than update_epochs)
  std::int64_t steps_taken = 0;    // optimizer steps applied
  std::int64_t steps_skipped = 0;  // optimizer steps skipped for non-finite gradients (fp16)
};

class Ppo final : public Algorithm {
 public:
  explicit Ppo(const AlgorithmInit& init);
  ~Ppo() override;

  std::shared_ptr<agents::Policy> policy() override { return policy_; }
  std::int64_t policy_version() const override { return policy_version_; }

  Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) override;

  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;
  void weights_loaded() override;
  bool set_frozen(const std::function<bool(const std::string&)>& frozen) override;
  void serve_stage() override;
  HeldState held_state() const override;

 private:
  // Model parallelism (learner.pipeline_stages > 1): this rank's stage of the actor and the critic,
  // or (learner.stage_devices) every stage here, each on its device.
  void setup_pipeline(const AlgorithmInit& init);
  bool pipelined() const { return pipe_ != nullptr || !local_devices_.empty(); }
  // What stage 0 tells the other stages to do next (the first element of the header it broadcasts).
  enum class StageCommand { kStop = 0, kUpdate = 1, kSendMoments = 2, kLoadWeights = 3, kLoadState = 4 };
  void broadcast_header(StageCommand command, std::int64_t rows = 0, double lr = 0.0);
  // Every stage: the update of one rollout (the epochs, the global finiteness check, the weights
  // gathered to stage 0). Returns the update's metrics on every stage.
  Metrics pipeline_round(const RolloutBatch& batch, double lr);
  MinibatchResult pipeline_minibatch_step(const RolloutBatch& minibatch);  // one stage per rank
  torch::Tensor stage_forward(const torch::Tensor& x);  // this rank's stage: [actor | critic] out
  MinibatchResult local_minibatch_step(const RolloutBatch& minibatch);     // stage_devices
  // Stage 0: rows [begin, end) of the minibatch as the first stage's input (scaled observations).
  torch::Tensor stage_input(const RolloutBatch& minibatch, std::int64_t begin, std::int64_t end);
  // The last stage: PPO's loss of rows [begin, end) of the minibatch from the network's outputs.
  PpoLossOut stage_loss(const torch::Tensor& actor_out, const torch::Tensor& critic_out, const RolloutBatch& minibatch,
                        const torch::Tensor& advantages, std::int64_t begin, std::int64_t end) const;
  // The stage's gradients averaged over the data-parallel replicas, clipped by the global norm, stepped.
  void step_stage_params();
  void zero_stage_grads();
  torch::Tensor stage_flat() const;  // this stage's parameters, flat, in my_slots_' order
  // Stage 0: `concat` (every stage's stage_flat(), in stage order) written into net_'s flat buffer.
  void absorb_stages(const torch::Tensor& concat);
  // Adam's moments in the unsplit network's layout (stage 0; collective over the stages).
  AdamMoments whole_moments();
  // Stage 0's whole weights (and, given, the optimizer state and shuffling generator) into every
  // stage's own parameters (collective over the stages).
  void load_stages(const AdamMoments* moments);
  // An Adam over flat_->values() with the run's options (the unsplit network's optimizer).
  std::unique_ptr<torch::optim::Adam> unsplit_adam() const;
  // CleanRL's `frac = 1 - (iteration - 1) / num_iterations`: the share of the budget left before
  // this chunk, so the first update runs at the full learning rate. Sets Adam's step size; returns it.
  double anneal_learning_rate(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx);
  void set_learning_rate(double lr);  // Adam's step size (every stage's, on a pipeline stage)
  BootstrapValues bootstrap_values(const agents::TrajectoryChunk& chunk);
  // A recurrent policy's: the core replayed over the chunk from its start state.
  BootstrapValues recurrent_bootstrap_values(const agents::TrajectoryChunk& chunk);
  // The network's outputs for a minibatch (with autograd): per sample, or the core replayed over its lanes.
  agents::EvalOut evaluate_minibatch(const RolloutBatch& minibatch);
  GaeOut compute_advantages(const agents::TrajectoryChunk& chunk);
  RolloutBatch flatten_rollout(const agents::TrajectoryChunk& chunk, const GaeOut& gae) const;
  PpoUpdateResult ppo_update(const RolloutBatch& batch);
  MinibatchResult minibatch_step(const RolloutBatch& minibatch);
  // fused_net_ from net_'s current parameters, gradients and buffers (the hand-written step,
  // learner/ppo/fused_step.h, runs where it applies: ppo.fused_update, fp32 on the CPU, one device).
  void refresh_fused_net();
  // ppo_update for the fused step (FusedPpoStep instead of autograd) on one CPU process: the same
  // shuffles (one randperm an epoch from minibatch_gen_) and the same minibatches, gathered into host
  // buffers with no tensor operators.
  PpoUpdateResult fused_host_update(const RolloutBatch& batch);
  // After a minibatch's gradients are in flat_->grads(): the all-reduce, unscaling, frozen parts,
  // clipping and Adam's step. Returns whether the step was taken (fp16: finite gradients).
  bool apply_gradients();

  PpoConfig config_;
  torch::Device device_;
  Precision precision_;
  agents::ActorCritic net_{nullptr};
  std::shared_ptr<agents::ActorCriticPolicy> policy_;  // wraps net_ (the same module)
  std::unique_ptr<FlatParameters> flat_;               // net_'s parameters and gradients, flattened
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<UpdateGuard> guard_;  // undoes non-finite updates
  std::unique_ptr<FusedPpoStep> fused_;  // the hand-written step's workspaces (null: autograd)
  FusedNet fused_net_;                   // net_ as pointers, refreshed by fused_net() every update
  // fused_host_update's shuffled rollout, one column each.
  std::vector<float> shuffled_obs_, shuffled_actions_c_, shuffled_log_probs_, shuffled_values_,
      shuffled_advantages_, shuffled_returns_;
  std::vector<std::int64_t> shuffled_actions_d_;
  torch::Tensor trainable_;             // [P] 1 where a parameter learns, 0 where frozen; undefined: all learn
  LossScaler scaler_;
  at::Generator minibatch_gen_;  // CPU; shuffles the minibatch indices
  GradientHook reduce_gradients_;  // data-parallel runs: averages flat_->grads() across ranks
  std::int64_t policy_version_ = 0;
  std::int64_t skipped_steps_total_ = 0;  // over the run, for checkpoints

  // Model parallelism. pipe_ null and local_devices_ empty: the whole network here (the rest is unused).
  parallel::ProcessGroup* pipe_ = nullptr;
  int stage_ = 0, stages_ = 1, micro_batches_ = 1;
  torch::nn::Sequential actor_stage_{nullptr}, critic_stage_{nullptr};  // shared with net_ on stage 0
  std::unique_ptr<parallel::PipelineStage> pipe_stage_;  // one stage per rank: the GPipe schedule
  std::int64_t actor_in_ = 0, critic_in_ = 0, actor_out_ = 0, critic_out_ = 0;  // features at its ends
  // learner.stage_devices: every stage on this rank, stage s (copies of net_'s layers) on device s.
  std::vector<torch::Device> local_devices_;
  std::vector<torch::nn::Sequential> local_actor_, local_critic_;
  std::vector<torch::Tensor> stage_params_;  // what this stage's Adam steps (local: every stage's)
  torch::Tensor stage_log_std_;  // Box: the last stage's log-std (undefined elsewhere)
  // Where parameters sit in the unsplit network's flat layout (net_'s parameter order).
  struct Slot {
    std::int64_t offset = 0, numel = 0;
  };
  std::vector<Slot> my_slots_;   // of stage_params_, in order
  std::vector<Slot> all_slots_;  // stage 0: every stage's, in stage order (the layout of a gather)
  std::int64_t whole_numel_ = 0;  // the unsplit network's parameter elements
  std::int64_t obs_dim_ = 0, action_dim_ = 0;
  bool discrete_ = true;
  bool stopped_ = false;  // stage 0: the stop was sent
};

}  // namespace apiary::learner::ppo_detail
