#include "learner/ppo/ppo.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/distributions.h"
#include "agents/factory.h"
#include "agents/layers.h"
#include "learner/archive.h"
#include "learner/gae.h"
#include "learner/loss_scaler.h"
#include "learner/losses.h"
#include "learner/optim.h"
#include "learner/ppo/fused_net.h"
#include "learner/ppo/fused_step.h"
#include "parallel/pipeline.h"
#include "parallel/process_group.h"

namespace apiary::learner {

namespace {

// The loss's options from the config, into PpoLossIn (autograd) or FusedLossOptions (the fused step).
template <class LossOptions>
void set_loss_options(LossOptions& out, const PpoConfig& config) {
  out.clip_coef = config.clip_coef;
  out.norm_adv = config.norm_adv;
  out.clip_vloss = config.clip_vloss;
  out.ent_coef = config.ent_coef;
  out.vf_coef = config.vf_coef;
}

// A rollout flattened to B = T * N samples on the learner's device: what the epochs draw from.
struct RolloutBatch {
  torch::Tensor obs;         // [B, obs...]
  torch::Tensor actions;     // [B] int64 (Discrete) or [B, A] (Box)
  torch::Tensor log_probs;   // [B] behaviour log pi(a|s) (CleanRL b_logprobs)
  torch::Tensor values;      // [B] behaviour V(s) (b_values)
  torch::Tensor advantages;  // [B] GAE advantages (b_advantages)
  torch::Tensor returns;     // [B] advantages + values (b_returns)

  // obs is undefined on the pipeline stages after the first (model parallelism): they need none.
  std::int64_t size() const { return returns.size(0); }
  RolloutBatch index_select(const torch::Tensor& indices) const {
    return RolloutBatch{obs.defined() ? obs.index_select(0, indices) : obs, actions.index_select(0, indices),
                        log_probs.index_select(0, indices), values.index_select(0, indices),
                        advantages.index_select(0, indices), returns.index_select(0, indices)};
  }
  RolloutBatch slice(std::int64_t begin, std::int64_t end) const {
    return RolloutBatch{obs.defined() ? obs.slice(0, begin, end) : obs, actions.slice(0, begin, end),
                        log_probs.slice(0, begin, end),  values.slice(0, begin, end),
                        advantages.slice(0, begin, end), returns.slice(0, begin, end)};
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
torch::Tensor minibatch_stats(const PpoLossOut& loss) {
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
  std::int32_t rollout_steps() const override { return config_.rollout_steps; }
  bool needs_log_probs() const override { return true; }

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
  GaeOut compute_advantages(const agents::TrajectoryChunk& chunk);
  RolloutBatch flatten_rollout(const agents::TrajectoryChunk& chunk, const GaeOut& gae) const;
  PpoUpdateResult ppo_update(const RolloutBatch& batch);
  MinibatchResult minibatch_step(const RolloutBatch& minibatch);
  // fused_net_ from net_'s current parameters, gradients and buffers (the hand-written step,
  // learner/ppo/fused_step.h, runs where it applies: ppo.fused_update, fp32 on the CPU, one device).
  void refresh_fused_net();
  // Adds the minibatch's gradients to flat_->grads() through FusedPpoStep instead of autograd;
  // returns its diagnostics as minibatch_stats does.
  torch::Tensor fused_minibatch(const RolloutBatch& minibatch);

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

LossScalerOptions scaler_options(Precision precision) {
  LossScalerOptions options;
  options.enabled = precision == Precision::kFp16;
  return options;
}

Ppo::Ppo(const AlgorithmInit& init)
    : config_(init.config.section<PpoConfig>("ppo")),
      device_(init.device),
      precision_(init.precision),
      scaler_(scaler_options(init.precision)),
      minibatch_gen_(at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(init.config.seed))),
      reduce_gradients_(init.reduce_gradients) {
  check_precision_supported(precision_, device_);
  check_declared_ranges(config_, "ppo");

  net_ = agents::ActorCritic(init.spec.obs_dim(), init.spec.action_space, to_policy_config(init.config.policy, init.spec));
  net_->to(device_);
  if ((init.pipeline != nullptr && init.pipeline->world_size() > 1) || !init.config.learner.stage_devices.empty()) {
    setup_pipeline(init);
    return;
  }
  policy_ = std::make_shared<agents::ActorCriticPolicy>(net_);
  flat_ = std::make_unique<FlatParameters>(*net_);
  // eps 1e-5 as CleanRL (PyTorch's default is 1e-8). Adam is elementwise, so stepping the flat buffer
  // is the same as stepping each parameter.
  optimizer_ = std::make_unique<torch::optim::Adam>(
      std::vector<torch::Tensor>{flat_->values()}, torch::optim::AdamOptions(config_.learning_rate).eps(1e-5));
  guard_ = std::make_unique<UpdateGuard>(*optimizer_);
  // The hand-written step is an MLP's on float vectors; images and convolutional encoders take autograd.
  const bool mlp_on_vectors = net_->config().encoder == "mlp" && !init.spec.observation_space.is_uint8();
  if (mlp_on_vectors && fused_step_applies(config_.fused_update, device_, precision_))
    fused_ = std::make_unique<FusedPpoStep>();
}

void Ppo::set_learning_rate(double lr) {
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

double Ppo::anneal_learning_rate(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) {
  double lr = config_.learning_rate;
  if (config_.anneal_lr && ctx.total_steps > 0) {
    const auto steps_before =
        std::max<std::int64_t>(0, ctx.global_step - chunk.env_steps() * std::max<std::int32_t>(1, ctx.world_size));
    const double frac = 1.0 - static_cast<double>(steps_before) / static_cast<double>(ctx.total_steps);
    lr = config_.learning_rate * std::clamp(frac, 0.0, 1.0);
  }
  set_learning_rate(lr);
  return lr;
}

BootstrapValues Ppo::bootstrap_values(const agents::TrajectoryChunk& chunk) {
  torch::NoGradGuard no_grad;
  const auto steps = chunk.num_steps();
  const auto lanes = chunk.num_envs();
  // Only a truncated, non-terminated step bootstraps from its final observation (terminated wins).
  const auto bootstraps = chunk.truncated.to(device_, torch::kBool)
                              .logical_and(chunk.terminated.to(device_, torch::kBool).logical_not())
                              .flatten();
  const auto last_obs = chunk.obs[steps].to(device_);  // [N, obs...]
  torch::Tensor inputs = last_obs;
  torch::Tensor final_obs;
  if (chunk.next_obs.defined()) {
    // Boolean indexing reads the number of selected rows on the host: one sync per update.
    final_obs = chunk.next_obs.to(device_).flatten(0, 1).index({bootstraps});
    inputs = torch::cat({last_obs, final_obs}, 0);
  } else {
    TORCH_CHECK(!bootstraps.any().item<bool>(),
                "PPO: the chunk has truncated steps but no next_obs to bootstrap them from");
  }
  const auto values = net_->value(inputs);  // fp32 [N + k]

  BootstrapValues out;
  out.next_values = values.slice(0, 0, lanes);
  out.final_values = torch::zeros({steps * lanes}, values.options());
  if (final_obs.defined()) out.final_values.index_put_({bootstraps}, values.slice(0, lanes));
  out.final_values = out.final_values.view({steps, lanes});
  return out;
}

GaeOut Ppo::compute_advantages(const agents::TrajectoryChunk& chunk) {
  const BootstrapValues boot = bootstrap_values(chunk);
  GaeIn in;
  in.rewards = chunk.rewards.to(device_);
  in.values = chunk.values.to(device_, torch::kFloat);
  in.next_values = boot.next_values;
  in.terminated = chunk.terminated.to(device_);
  in.truncated = chunk.truncated.to(device_);
  in.final_values = boot.final_values;
  in.gamma = config_.gamma;
  in.gae_lambda = config_.gae_lambda;
  return compute_gae(in);
}

RolloutBatch Ppo::flatten_rollout(const agents::TrajectoryChunk& chunk, const GaeOut& gae) const {
  const auto steps = chunk.num_steps();
  RolloutBatch batch;
  batch.obs = chunk.obs.slice(0, 0, steps).to(device_).flatten(0, 1);
  batch.actions = chunk.actions.to(device_).flatten(0, 1);
  batch.log_probs = chunk.log_probs.to(device_, torch::kFloat).flatten();
  batch.values = chunk.values.to(device_, torch::kFloat).flatten();
  batch.advantages = gae.advantages.flatten();
  batch.returns = gae.returns.flatten();
  return batch;
}

void Ppo::refresh_fused_net() { fused_net_ = fused_net_of(*net_); }

torch::Tensor Ppo::fused_minibatch(const RolloutBatch& minibatch) {
  const auto floats = [](const torch::Tensor& t) {
    TORCH_CHECK(t.scalar_type() == torch::kFloat && t.is_contiguous(), "PPO's fused step: a batch tensor is not contiguous fp32");
    return t.data_ptr<float>();
  };
  FusedBatch batch;
  batch.rows = minibatch.size();
  batch.obs = floats(minibatch.obs);
  if (fused_net_.discrete) {
    TORCH_CHECK(minibatch.actions.scalar_type() == torch::kLong && minibatch.actions.is_contiguous(),
                "PPO's fused step: discrete actions must be contiguous int64");
    batch.actions_d = minibatch.actions.data_ptr<std::int64_t>();
  } else {
    batch.actions_c = floats(minibatch.actions);
  }
  batch.old_log_probs = floats(minibatch.log_probs);
  batch.old_values = floats(minibatch.values);
  batch.advantages = floats(minibatch.advantages);
  batch.returns = floats(minibatch.returns);
  FusedLossOptions options;
  set_loss_options(options, config_);
  const FusedStats s = fused_->run(fused_net_, batch, options);
  return torch::tensor({s.pg_loss, s.v_loss, s.entropy, s.old_approx_kl, s.approx_kl, s.clipfrac}, torch::kFloat);
}

MinibatchResult Ppo::minibatch_step(const RolloutBatch& minibatch) {
  if (pipe_ != nullptr) return pipeline_minibatch_step(minibatch);
  if (!local_devices_.empty()) return local_minibatch_step(minibatch);
  flat_->grads().zero_();
  MinibatchResult out;
  if (fused_ != nullptr) {
    out.stats = fused_minibatch(minibatch);
  } else {
    PpoLossOut loss;
    {
      // Reduced precision for the forward pass and the loss only; backward runs outside autocast.
      AutocastGuard autocast(precision_, device_);
      const agents::EvalOut now = net_->evaluate(minibatch.obs, minibatch.actions);
      PpoLossIn in;
      in.new_logprob = now.log_prob;
      in.old_logprob = minibatch.log_probs;
      in.advantages = minibatch.advantages;
      in.new_values = now.value;
      in.old_values = minibatch.values;
      in.returns = minibatch.returns;
      in.entropy = now.entropy;
      set_loss_options(in, config_);
      loss = ppo_loss(in);
    }
    scaler_.scale(loss.loss).backward();
    torch::NoGradGuard no_grad;
    out.stats = minibatch_stats(loss);
  }
  // Data parallelism: one all-reduce of the flat gradient, before unscaling and clipping, so that every
  // rank sees the same (in)finite gradient and takes the same step.
  if (reduce_gradients_) reduce_gradients_({flat_->grads()});
  const bool finite = scaler_.unscale_({flat_->values()});  // disabled (fp32, bf16): true, no sync
  // Frozen parameters get no gradient: left out of the clip norm, and Adam (whose moments for them stay
  // zero) leaves them bitwise unchanged.
  if (trainable_.defined()) flat_->grads().mul_(trainable_);
  if (finite) {
    if (config_.max_grad_norm > 0.0) clip_grad_norm({flat_->grads()}, config_.max_grad_norm);
    adam_step(*optimizer_);
  }
  scaler_.update(/*found_inf=*/!finite);
  out.stepped = finite;
  return out;
}

PpoUpdateResult Ppo::ppo_update(const RolloutBatch& batch) {
  const std::int64_t batch_size = batch.size();
  const std::int64_t num_minibatches = config_.num_minibatches;
  if (num_minibatches > batch_size)
    throw std::invalid_argument("ppo.num_minibatches (" + std::to_string(num_minibatches) +
                                ") exceeds the samples per rollout, rollout_steps * num_envs = " +
                                std::to_string(batch_size));
  PpoUpdateResult result;
  result.stat_sums = torch::zeros({kNumMinibatchStats}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  MinibatchResult last;
  for (std::int32_t epoch = 0; epoch < config_.update_epochs; ++epoch) {
    // One shuffle per epoch, then contiguous minibatches of the shuffled rollout (CleanRL's b_inds).
    const auto permutation = torch::randperm(batch_size, minibatch_gen_, torch::kLong).to(device_);
    const RolloutBatch shuffled = batch.index_select(permutation);
    for (std::int64_t i = 0; i < num_minibatches; ++i) {
      const auto begin = i * batch_size / num_minibatches;
      const auto end = (i + 1) * batch_size / num_minibatches;
      last = minibatch_step(shuffled.slice(begin, end));
      result.stat_sums.add_(last.stats);
      result.minibatches += 1;
      (last.stepped ? result.steps_taken : result.steps_skipped) += 1;
    }
    result.epochs_run = epoch + 1;
    // CleanRL checks the approx KL of the epoch's last minibatch: one host read per epoch.
    if (config_.target_kl > 0.0) {
      const double approx_kl = last.stats[kApproxKlStat].item<double>();
      if (approx_kl > config_.target_kl) break;
    }
  }
  return result;
}

Metrics Ppo::update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) {
  TORCH_CHECK(chunk.num_steps() > 0 && chunk.num_envs() > 0, "PPO: empty trajectory chunk");
  TORCH_CHECK(chunk.log_probs.defined() && chunk.values.defined(),
              "PPO: the chunk must carry log_probs and values (needs_log_probs() is true)");
  const double lr = anneal_learning_rate(chunk, ctx);
  const GaeOut gae = compute_advantages(chunk);
  const RolloutBatch batch = flatten_rollout(chunk, gae);
  if (pipe_ != nullptr) {
    broadcast_header(StageCommand::kUpdate, batch.size(), lr);
    // What the later stages need of the rollout (stage 0 alone needs the observations).
    pipe_->broadcast(batch.actions.to(discrete_ ? torch::kLong : torch::kFloat).contiguous(), 0);
    for (const auto& t : {batch.log_probs, batch.values, batch.advantages, batch.returns})
      pipe_->broadcast(t.to(torch::kFloat).contiguous(), 0);
    return pipeline_round(batch, lr);
  }
  guard_->save();
  if (fused_ != nullptr) refresh_fused_net();
  const PpoUpdateResult result = ppo_update(batch);

  // The one host read of the update's diagnostics.
  const auto means = (result.stat_sums / static_cast<double>(result.minibatches)).to(torch::kCPU, torch::kDouble);
  const double* mean = means.data_ptr<double>();
  // Finite-only training: an update whose losses or weights are not finite is undone and reported.
  bool finite = guard_->finite();
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) finite = finite && std::isfinite(mean[i]);
  if (!finite) {
    guard_->restore();
    return {{kNonFiniteUpdate, 1.0}};
  }
  if (!local_devices_.empty()) absorb_stages(stage_flat());  // the stages' new weights into the copy that acts
  if (result.steps_taken > 0) policy_version_ += 1;
  skipped_steps_total_ += result.steps_skipped;
  Metrics metrics;
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) metrics.emplace_back(kMinibatchStatNames[i], mean[i]);
  metrics.emplace_back("explained_var", explained_variance(batch.values, batch.returns));
  metrics.emplace_back("learning_rate", lr);
  if (scaler_.enabled()) metrics.emplace_back("loss_scale", scaler_.scale_value());
  metrics.emplace_back("skipped_steps", static_cast<double>(result.steps_skipped));
  metrics.emplace_back("epochs_run", static_cast<double>(result.epochs_run));
  return metrics;
}

void Ppo::save(torch::serialize::OutputArchive& archive) {
  // Model parallelism: net_ on stage 0 holds the whole network (gathered after every update) and the
  // stages' Adam states are written in the unsplit network's layout, so that the checkpoint is the
  // one an unsplit run writes (eval, play, transfer and resume read it alike).
  if (pipe_ != nullptr && stage_ != 0) throw std::logic_error("PPO: only pipeline stage 0 writes checkpoints");
  write_part(archive, "model", *net_);
  if (pipelined()) {
    if (pipe_ != nullptr) broadcast_header(StageCommand::kSendMoments);
    const AdamMoments whole = whole_moments();
    auto adam = unsplit_adam();
    set_adam_moments(*adam, {flat_->values()}, whole);
    write_part(archive, "optimizer", *adam);
  } else {
    write_part(archive, "optimizer", *optimizer_);
  }
  write_part(archive, "scaler", scaler_);
  write_scalar(archive, "skipped_steps", skipped_steps_total_);
  write_scalar(archive, "policy_version", policy_version_);
  archive.write("minibatch_generator", minibatch_gen_.get_state());
}

void Ppo::load(torch::serialize::InputArchive& archive) {
  if (pipe_ != nullptr && stage_ != 0) throw std::logic_error("PPO: only pipeline stage 0 reads checkpoints");
  read_module(archive, "model", *net_);  // copies into the parameters, which stay views of the flat buffer
  std::unique_ptr<torch::optim::Adam> unsplit = pipelined() ? unsplit_adam() : nullptr;
  read_part(archive, "optimizer", unsplit ? *unsplit : *optimizer_);
  read_part(archive, "scaler", scaler_);
  skipped_steps_total_ = read_i64(archive, "skipped_steps");
  policy_version_ = read_i64(archive, "policy_version");
  torch::Tensor gen_state;
  archive.read("minibatch_generator", gen_state);
  minibatch_gen_.set_state(gen_state);
  if (unsplit) {
    const AdamMoments whole = adam_moments(*unsplit, {flat_->values()});
    load_stages(&whole);
  }
}

void Ppo::weights_loaded() {
  if (pipelined()) load_stages(nullptr);  // init.checkpoint: the stages take the loaded weights
}

}  // namespace

bool Ppo::set_frozen(const std::function<bool(const std::string&)>& frozen) {
  if (pipelined()) return false;
  torch::Tensor mask = torch::ones_like(flat_->values());
  std::int64_t offset = 0;
  bool any = false;
  for (const auto& p : net_->named_parameters()) {
    const std::int64_t n = p.value().numel();
    if (frozen(p.key())) {
      mask.narrow(0, offset, n).zero_();
      any = true;
    }
    offset += n;
  }
  trainable_ = any ? mask : torch::Tensor();
  return true;
}

// ---- Model parallelism (learner.pipeline_stages > 1, docs/distributed.md) ---------------------------
//
// The actor (actor_body's layers, then actor_head) and the critic (critic_body's, then critic_head)
// are each cut into S consecutive stages by parallel::plan_stages; rank s holds stage s of
// both, and an Adam over those parameters only. Stage 0 (rank 0) also keeps the whole network for
// acting, GAE and checkpoints; after every update the stages' weights are gathered into it. A
// minibatch runs on the GPipe schedule: M micro-batches go forward (stage s sends [actor | critic]
// activations to s + 1), the last stage computes PPO's loss (ppo_loss, on advantages normalised over
// the whole minibatch first, each micro-batch weighted by its rows, so that the sum is the
// minibatch's loss), the activations' gradients come back in reverse, and each stage clips with the
// global gradient norm (one all-reduce of the squared norms) and steps its own Adam.

namespace {

std::int64_t elements(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

// A convolutional encoder as one pipeline layer, so that a cut may fall between it and the MLP after
// it: its input is the observation flattened to [rows, obs_dim] (uint8 as the env gives it, or
// float), its output the encoder's features, as ActorCritic encodes.
class EncoderLayerImpl : public torch::nn::Module, public parallel::WholeLayer {
 public:
  EncoderLayerImpl(agents::ConvEncoder encoder, std::int64_t obs_dim, agents::PolicyConfig config)
      : encoder_(register_module("encoder", std::move(encoder))), obs_dim_(obs_dim), config_(std::move(config)) {}

  torch::Tensor forward(const torch::Tensor& x) {
    agents::ObsScaling none{nullptr};  // an encoder reads the observation unscaled
    return agents::encode_observation(x, encoder_, none, obs_dim_, config_, "PPO pipeline");
  }
  std::int64_t in_features() const override { return obs_dim_; }
  std::int64_t out_features() const override { return encoder_->out_features(); }

  // A copy with these weights on `device` (Sequential::clone, for learner.stage_devices). Like
  // LibTorch's Cloneable, it initialises a new module (drawing from the default generator), then
  // copies the weights over.
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override {
    torch::NoGradGuard no_grad;
    auto copy = std::make_shared<EncoderLayerImpl>(agents::make_encoder(config_, "PPO pipeline"), obs_dim_, config_);
    const auto mine = parameters(), theirs = copy->parameters();
    TORCH_CHECK(mine.size() == theirs.size(), "PPO pipeline: the encoder's copy has other parameters");
    for (std::size_t i = 0; i < mine.size(); ++i) theirs[i].copy_(mine[i]);
    if (device) copy->to(*device);
    return copy;
  }

 private:
  agents::ConvEncoder encoder_;
  std::int64_t obs_dim_;
  agents::PolicyConfig config_;
};

// [encoder,] body's modules, then head, as one Sequential holding the same module objects.
torch::nn::Sequential chain(const std::shared_ptr<torch::nn::Module>& encoder, const std::shared_ptr<torch::nn::Module>& body,
                            const std::shared_ptr<torch::nn::Module>& head, std::int64_t obs_dim,
                            const agents::PolicyConfig& config) {
  torch::nn::Sequential out;
  if (encoder) {
    auto conv = std::dynamic_pointer_cast<agents::ConvEncoderImpl>(encoder);
    TORCH_CHECK(conv != nullptr, "PPO pipeline: expected a convolutional encoder");
    out->push_back(std::make_shared<EncoderLayerImpl>(agents::ConvEncoder(conv), obs_dim, config));
  }
  const auto seq = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(body);
  TORCH_CHECK(seq != nullptr, "PPO pipeline: expected a Sequential body");
  for (const auto& m : *seq) out->push_back(m);
  const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(head);
  TORCH_CHECK(linear != nullptr, "PPO pipeline: expected a Linear head");
  out->push_back(torch::nn::Linear(linear));
  return out;
}

}  // namespace

void Ppo::setup_pipeline(const AlgorithmInit& init) {
  using namespace parallel;
  const auto& learner = init.config.learner;
  const bool local = !learner.stage_devices.empty();
  if (local) {
    for (const auto& name : learner.stage_devices) local_devices_.emplace_back(name);
    stages_ = static_cast<int>(local_devices_.size());
  } else {
    pipe_ = init.pipeline;
    stage_ = pipe_->rank();
    stages_ = pipe_->world_size();
  }
  micro_batches_ = learner.micro_batches;
  obs_dim_ = init.spec.obs_dim();
  discrete_ = net_->is_discrete();
  action_dim_ = net_->action_dim();
  if (net_->config().shared_trunk)
    throw std::invalid_argument("learner.pipeline_stages: PPO's pipeline splits separate actor and critic MLPs "
                                "(policy.shared_trunk: false)");
  if (precision_ == Precision::kFp16)
    throw std::invalid_argument("learner.pipeline_stages: PPO's pipeline runs in fp32 or bf16 (fp16's loss scaling "
                                "is not shared between stages)");
  // The same seed on every rank made the same whole network; each keeps its stage of it.
  // A convolutional encoder (policy.encoder) is one layer at the front of each side: a cut may fall
  // after it.
  std::shared_ptr<torch::nn::Module> encoder_a, body_a, head_a, encoder_c, body_c, head_c;
  for (const auto& item : net_->named_children()) {
    if (item.key() == "actor_encoder") encoder_a = item.value();
    if (item.key() == "actor_body") body_a = item.value();
    if (item.key() == "actor_head") head_a = item.value();
    if (item.key() == "critic_encoder") encoder_c = item.value();
    if (item.key() == "critic_body") body_c = item.value();
    if (item.key() == "critic_head") head_c = item.value();
  }
  auto actor = chain(encoder_a, body_a, head_a, obs_dim_, net_->config());
  auto critic = chain(encoder_c, body_c, head_c, obs_dim_, net_->config());
  StagePlan actor_plan, critic_plan;
  try {
    actor_plan = plan_stages(actor, stages_);
    critic_plan = plan_stages(critic, stages_);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("learner.pipeline_stages: ") + e.what() +
                                " (the actor and the critic each have policy.hidden's layers plus a head, and "
                                "a convolutional policy.encoder in front as one more)");
  }
  // Each stage's parameters (actor's, critic's, then on the last stage a Box space's log-std) and
  // where they sit in the unsplit network's flat layout.
  const auto whole = net_->parameters();
  const auto slot_of = [&whole](const torch::Tensor& p) {
    std::int64_t offset = 0;
    for (const auto& w : whole) {
      if (w.unsafeGetTensorImpl() == p.unsafeGetTensorImpl()) return Slot{offset, p.numel()};
      offset += w.numel();
    }
    throw std::logic_error("PPO pipeline: a stage parameter is not the network's");
  };
  for (const auto& w : whole) whole_numel_ += w.numel();
  const auto params_of = [&](int s) {
    auto params = make_stage(actor, actor_plan, s)->parameters();
    for (const auto& p : make_stage(critic, critic_plan, s)->parameters()) params.push_back(p);
    if (!discrete_ && s == stages_ - 1) params.push_back(net_->log_std());
    return params;
  };
  for (int s = 0; s < stages_; ++s) {
    std::vector<Slot> slots;
    for (const auto& p : params_of(s)) slots.push_back(slot_of(p));
    if (local || s == stage_) my_slots_.insert(my_slots_.end(), slots.begin(), slots.end());
    all_slots_.insert(all_slots_.end(), slots.begin(), slots.end());
  }
  if (local) {
    // Every stage here: copies of its layers on its device; net_ stays whole on the run's device to act.
    for (int s = 0; s < stages_; ++s) {
      const torch::Device d = local_devices_[static_cast<std::size_t>(s)];
      local_actor_.emplace_back(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(make_stage(actor, actor_plan, s)->clone(d)));
      local_critic_.emplace_back(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(make_stage(critic, critic_plan, s)->clone(d)));
      for (const auto& p : local_actor_.back()->parameters()) stage_params_.push_back(p);
      for (const auto& p : local_critic_.back()->parameters()) stage_params_.push_back(p);
    }
    if (!discrete_) {
      stage_log_std_ = net_->log_std().detach().to(local_devices_.back()).clone().set_requires_grad(true);
      stage_params_.push_back(stage_log_std_);
    }
  } else {
    actor_stage_ = make_stage(actor, actor_plan, stage_);
    critic_stage_ = make_stage(critic, critic_plan, stage_);
    std::tie(actor_in_, actor_out_) = parallel::stage_features(actor_stage_);
    std::tie(critic_in_, critic_out_) = parallel::stage_features(critic_stage_);
    stage_params_ = params_of(stage_);
    if (!discrete_ && stage_ == stages_ - 1) stage_log_std_ = net_->log_std();
    // The GPipe schedule (parallel::PipelineStage) over this stage's actor and critic side by side.
    pipe_stage_ = std::make_unique<parallel::PipelineStage>(
        *pipe_, [this](const torch::Tensor& x) { return stage_forward(x); }, stage_params_,
        stage_ == 0 ? obs_dim_ : actor_in_ + critic_in_, actor_out_ + critic_out_,
        torch::TensorOptions().dtype(torch::kFloat).device(device_), micro_batches_);
  }
  if (stage_ == 0) {
    policy_ = std::make_shared<agents::ActorCriticPolicy>(net_);
    flat_ = std::make_unique<FlatParameters>(*net_);  // the whole copy; stage 0's own layers are its views
  } else {
    net_ = nullptr;  // the other stages' layers go with it: this rank holds its own stage only
  }
  actor = nullptr;
  critic = nullptr;
  optimizer_ = std::make_unique<torch::optim::Adam>(stage_params_,
                                                    torch::optim::AdamOptions(config_.learning_rate).eps(1e-5));
  guard_ = std::make_unique<UpdateGuard>(*optimizer_);
}

std::unique_ptr<torch::optim::Adam> Ppo::unsplit_adam() const {
  return std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{flat_->values()},
                                              torch::optim::AdamOptions(config_.learning_rate).eps(1e-5));
}

Ppo::~Ppo() {
  if (pipe_ != nullptr && stage_ == 0 && !stopped_) {
    try {
      broadcast_header(StageCommand::kStop);
    } catch (const std::exception&) {
      // A peer is gone already: it ends on its own (its next call fails or times out).
    }
  }
}

void Ppo::broadcast_header(StageCommand command, std::int64_t rows, double lr) {
  auto header = torch::tensor({static_cast<double>(command), static_cast<double>(rows), lr}, torch::kDouble);
  pipe_->broadcast(header, 0);
  if (command == StageCommand::kStop) stopped_ = true;
}

void Ppo::serve_stage() {
  if (pipe_ == nullptr || stage_ == 0) throw std::logic_error("PPO::serve_stage: not a pipeline stage after the first");
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  for (;;) {
    auto header = torch::zeros({3}, torch::kDouble);
    pipe_->broadcast(header, 0);
    const double* h = header.data_ptr<double>();
    const auto command = static_cast<StageCommand>(static_cast<int>(h[0]));
    switch (command) {
      case StageCommand::kStop:
        return;
      case StageCommand::kSendMoments:
        whole_moments();
        break;
      case StageCommand::kLoadWeights:
      case StageCommand::kLoadState: {
        AdamMoments moments;  // filled by the broadcast
        load_stages(command == StageCommand::kLoadState ? &moments : nullptr);
        break;
      }
      case StageCommand::kUpdate: {
        const auto rows = static_cast<std::int64_t>(h[1]);
        const double lr = h[2];
        set_learning_rate(lr);  // stage 0's annealed step size
        RolloutBatch batch;
        batch.actions = discrete_ ? torch::empty({rows}, torch::TensorOptions().dtype(torch::kLong).device(device_))
                                  : torch::empty({rows, action_dim_}, f32);
        batch.log_probs = torch::empty({rows}, f32);
        batch.values = torch::empty({rows}, f32);
        batch.advantages = torch::empty({rows}, f32);
        batch.returns = torch::empty({rows}, f32);
        for (const auto& t : {batch.actions, batch.log_probs, batch.values, batch.advantages, batch.returns})
          pipe_->broadcast(t, 0);
        pipeline_round(batch, lr);
        break;
      }
      default:
        throw std::runtime_error("PPO pipeline stage " + std::to_string(stage_) + ": unknown command " +
                                 std::to_string(h[0]) + " from stage 0");
    }
  }
}

torch::Tensor Ppo::stage_flat() const {
  std::vector<torch::Tensor> flat;
  for (const auto& p : stage_params_) flat.push_back(p.detach().reshape({-1}).to(torch::kCPU, torch::kFloat));
  return torch::cat(flat);
}

void Ppo::absorb_stages(const torch::Tensor& concat) {
  torch::NoGradGuard no_grad;
  const auto host = concat.to(torch::kCPU, torch::kFloat);
  std::int64_t pos = 0;
  for (const auto& slot : all_slots_) {
    flat_->values().narrow(0, slot.offset, slot.numel).copy_(host.narrow(0, pos, slot.numel));
    pos += slot.numel;
  }
  TORCH_CHECK(pos == concat.numel() && pos == flat_->values().numel(),
              "PPO pipeline: the stages' weights do not fit the network");
}

AdamMoments Ppo::whole_moments() {
  AdamMoments mine = adam_moments(*optimizer_, stage_params_);
  torch::Tensor avg = mine.exp_avg, avg_sq = mine.exp_avg_sq;
  if (pipe_ != nullptr) {
    avg = pipe_->gather_flat(avg, 0);
    avg_sq = pipe_->gather_flat(avg_sq, 0);
  }
  if (stage_ != 0) return {};
  AdamMoments whole;
  whole.step = mine.step;  // every stage has taken the same steps
  whole.exp_avg = torch::zeros({whole_numel_});
  whole.exp_avg_sq = torch::zeros({whole_numel_});
  std::int64_t pos = 0;
  for (const auto& slot : all_slots_) {
    whole.exp_avg.narrow(0, slot.offset, slot.numel).copy_(avg.narrow(0, pos, slot.numel));
    whole.exp_avg_sq.narrow(0, slot.offset, slot.numel).copy_(avg_sq.narrow(0, pos, slot.numel));
    pos += slot.numel;
  }
  return whole;
}

void Ppo::load_stages(const AdamMoments* moments) {
  torch::NoGradGuard no_grad;
  torch::Tensor weights, avg, avg_sq, step, gen;
  if (stage_ == 0) {
    weights = flat_->values().detach().to(torch::kCPU, torch::kFloat).clone();
    if (moments != nullptr) {
      avg = moments->exp_avg.to(torch::kFloat).contiguous();
      avg_sq = moments->exp_avg_sq.to(torch::kFloat).contiguous();
      step = torch::tensor({static_cast<double>(moments->step)}, torch::kDouble);
      gen = minibatch_gen_.get_state().to(torch::kFloat);
    }
  } else {
    weights = torch::empty({whole_numel_});
    if (moments != nullptr) {
      avg = torch::empty({whole_numel_});
      avg_sq = torch::empty({whole_numel_});
      step = torch::empty({1}, torch::kDouble);
      gen = torch::empty({minibatch_gen_.get_state().numel()});
    }
  }
  if (pipe_ != nullptr) {
    if (stage_ == 0) broadcast_header(moments != nullptr ? StageCommand::kLoadState : StageCommand::kLoadWeights);
    pipe_->broadcast(weights, 0);
    if (moments != nullptr)
      for (const auto& t : {avg, avg_sq, step, gen}) pipe_->broadcast(t, 0);
  }
  const auto mine = [this](const torch::Tensor& whole) {
    std::vector<torch::Tensor> parts;
    for (const auto& slot : my_slots_) parts.push_back(whole.narrow(0, slot.offset, slot.numel));
    return torch::cat(parts);
  };
  const auto own = mine(weights);
  std::int64_t pos = 0;
  for (auto& p : stage_params_) {
    p.copy_(own.narrow(0, pos, p.numel()).view(p.sizes()));
    pos += p.numel();
  }
  if (moments == nullptr) return;
  AdamMoments stage_moments;
  stage_moments.exp_avg = mine(avg);
  stage_moments.exp_avg_sq = mine(avg_sq);
  stage_moments.step = static_cast<std::int64_t>(step.item<double>());
  set_adam_moments(*optimizer_, stage_params_, stage_moments);
  if (stage_ != 0) minibatch_gen_.set_state(gen.to(torch::kUInt8));
}

Metrics Ppo::pipeline_round(const RolloutBatch& batch, double lr) {
  guard_->save();
  PpoUpdateResult result = ppo_update(batch);
  // The diagnostics are the last stage's; every stage learns them (and so the same finiteness).
  result.stat_sums = result.stat_sums.contiguous();
  pipe_->broadcast(result.stat_sums, stages_ - 1);
  const auto means = (result.stat_sums / static_cast<double>(result.minibatches)).to(torch::kCPU, torch::kDouble);
  const double* mean = means.data_ptr<double>();
  bool finite = guard_->finite();
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) finite = finite && std::isfinite(mean[i]);
  auto bad = torch::full({1}, finite ? 0.0f : 1.0f);
  pipe_->average_gradients(bad);  // > 0: some stage's weights are not finite
  if (bad.item<float>() > 0.0f) {
    guard_->restore();  // every stage undoes it, so stage 0's whole copy is still every stage's
    return {{kNonFiniteUpdate, 1.0}};
  }
  // Acting needs the whole network: the stages' weights, gathered into stage 0's copy.
  const auto gathered = pipe_->gather_flat(stage_flat(), 0);
  if (stage_ == 0) absorb_stages(gathered);
  policy_version_ += 1;
  Metrics metrics;
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) metrics.emplace_back(kMinibatchStatNames[i], mean[i]);
  if (stage_ == 0) metrics.emplace_back("explained_var", explained_variance(batch.values, batch.returns));
  metrics.emplace_back("learning_rate", lr);
  metrics.emplace_back("skipped_steps", 0.0);
  metrics.emplace_back("epochs_run", static_cast<double>(result.epochs_run));
  return metrics;
}

torch::Tensor Ppo::stage_input(const RolloutBatch& minibatch, std::int64_t begin, std::int64_t end) {
  // A convolutional encoder takes the observation as the env gave it (uint8 stays uint8), flattened.
  if (net_->config().encoder != "mlp") return minibatch.obs.slice(0, begin, end).reshape({end - begin, obs_dim_});
  torch::Tensor x = agents::flatten_obs(minibatch.obs.slice(0, begin, end), obs_dim_, "PPO pipeline",
                                          net_->config().uint8_high);
  for (const auto& item : net_->named_children())
    if (item.key() == "obs_scaling") x = std::dynamic_pointer_cast<agents::ObsScalingImpl>(item.value())->forward(x);
  return x;
}

PpoLossOut Ppo::stage_loss(const torch::Tensor& actor_out, const torch::Tensor& critic_out,
                           const RolloutBatch& minibatch, const torch::Tensor& advantages, std::int64_t begin,
                           std::int64_t end) const {
  const auto out = actor_out.to(torch::kFloat);
  const auto actions = minibatch.actions.slice(0, begin, end);
  PpoLossIn in;
  if (discrete_) {
    in.new_logprob = agents::categorical_log_prob(out, actions);
    in.entropy = agents::categorical_entropy(out);
  } else {
    const auto log_std = stage_log_std_.to(out.device());
    in.new_logprob = agents::gaussian_log_prob(out, log_std, actions);
    in.entropy = agents::gaussian_entropy(out, log_std);
  }
  in.new_values = critic_out.to(torch::kFloat).squeeze(-1);
  in.old_logprob = minibatch.log_probs.slice(0, begin, end);
  in.advantages = advantages.slice(0, begin, end);
  in.old_values = minibatch.values.slice(0, begin, end);
  in.returns = minibatch.returns.slice(0, begin, end);
  set_loss_options(in, config_);
  in.norm_adv = false;  // done by the caller, over the whole minibatch
  return ppo_loss(in);
}

void Ppo::zero_stage_grads() {
  // In place: on stage 0 the gradients are views of the whole copy's flat buffer, which
  // Optimizer::zero_grad (detach_) refuses.
  torch::NoGradGuard no_grad;
  for (auto& p : stage_params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void Ppo::step_stage_params() {
  // Data parallelism: this stage's gradients averaged over the replicas (one all-reduce), before
  // clipping, as the unsplit update does.
  if (reduce_gradients_) reduce_gradients_(grads_of(stage_params_));
  if (config_.max_grad_norm > 0.0) {
    // The global norm, as the unsplit update clips: over every stage (one all-reduce of the stages'
    // squared norms when the stages are ranks).
    torch::NoGradGuard no_grad;
    auto squares = torch::zeros({1}, torch::kFloat);
    for (const auto& p : stage_params_)
      if (p.grad().defined()) squares += p.grad().pow(2).sum().to(torch::kCPU, torch::kFloat);
    if (pipe_ != nullptr) {
      pipe_->average_gradients(squares);
      squares *= static_cast<double>(stages_);
    }
    const auto coef = (config_.max_grad_norm / (squares.sqrt() + 1e-6)).clamp_max(1.0);
    for (const auto& p : stage_params_)
      if (p.grad().defined()) p.grad().mul_(coef.to(p.device()));
  }
  optimizer_->step();
}

torch::Tensor Ppo::stage_forward(const torch::Tensor& x) {
  // Stage 0 feeds the observations to both networks; a later stage receives [actor | critic].
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  torch::Tensor ya, yc;
  {
    AutocastGuard autocast(precision_, device_);  // bf16: the stage's layers in reduced precision
    ya = actor_stage_->forward(first ? x : x.narrow(1, 0, actor_in_));
    yc = critic_stage_->forward(first ? x : x.narrow(1, actor_in_, critic_in_));
  }
  const auto y = torch::cat({ya, yc}, 1);
  // Activations travel as fp32 (bf16 values convert exactly); the next stage's autocast casts back.
  return last ? y : y.to(torch::kFloat);
}

MinibatchResult Ppo::pipeline_minibatch_step(const RolloutBatch& minibatch) {
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  const std::int64_t rows = minibatch.size();
  zero_stage_grads();
  // norm_adv over the whole minibatch, as the unsplit update does; then each micro-batch's mean
  // losses weighted by its share of the rows (PipelineStage::step) add up to the minibatch's.
  const torch::Tensor advantages =
      last ? (config_.norm_adv ? normalize_advantages(minibatch.advantages) : minibatch.advantages) : torch::Tensor();
  torch::Tensor stats = torch::zeros({kNumMinibatchStats}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  pipe_stage_->step(rows, first ? stage_input(minibatch, 0, rows) : torch::Tensor(),
                    [&](const torch::Tensor& y, std::int64_t begin, std::int64_t end) {
                      const PpoLossOut loss = stage_loss(y.narrow(1, 0, actor_out_), y.narrow(1, actor_out_, critic_out_),
                                                         minibatch, advantages, begin, end);
                      torch::NoGradGuard no_grad;
                      stats += minibatch_stats(loss) * (static_cast<double>(end - begin) / static_cast<double>(rows));
                      return loss.loss;
                    });
  step_stage_params();
  MinibatchResult out;
  out.stats = stats;
  out.stepped = true;
  return out;
}

MinibatchResult Ppo::local_minibatch_step(const RolloutBatch& minibatch) {
  // GPipe on one rank: every micro-batch goes forward through the stages (its activations hop to
  // each stage's device), then they come back in reverse order; autograd carries the gradients
  // across the devices. With CUDA devices the kernels queue asynchronously, so stage s works on
  // micro-batch m + 1 while stage s + 1 works on m.
  const std::int64_t rows = minibatch.size();
  const auto ranges = parallel::micro_batch_ranges(rows, micro_batches_);
  zero_stage_grads();
  const torch::Tensor advantages =
      config_.norm_adv ? normalize_advantages(minibatch.advantages) : minibatch.advantages;
  torch::Tensor stats = torch::zeros({kNumMinibatchStats}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  std::vector<torch::Tensor> losses;
  for (const auto& r : ranges) {
    torch::Tensor ya = stage_input(minibatch, r.begin, r.end), yc = ya;
    for (int s = 0; s < stages_; ++s) {
      const torch::Device d = local_devices_[static_cast<std::size_t>(s)];
      AutocastGuard autocast(precision_, d);  // bf16: each stage's layers in reduced precision
      ya = local_actor_[static_cast<std::size_t>(s)]->forward(ya.to(d));
      yc = local_critic_[static_cast<std::size_t>(s)]->forward(yc.to(d));
    }
    const PpoLossOut loss = stage_loss(ya.to(device_), yc.to(device_), minibatch, advantages, r.begin, r.end);
    const double share = static_cast<double>(r.rows()) / static_cast<double>(rows);
    losses.push_back(loss.loss * share);
    torch::NoGradGuard no_grad;
    stats += minibatch_stats(loss) * share;
  }
  for (auto it = losses.rbegin(); it != losses.rend(); ++it) {
    it->backward();
    *it = torch::Tensor();
  }
  step_stage_params();
  MinibatchResult out;
  out.stats = stats;
  out.stepped = true;
  return out;
}

Algorithm::HeldState Ppo::held_state() const {
  HeldState held;
  std::vector<torch::Tensor> trained = pipelined() ? stage_params_ : std::vector<torch::Tensor>{flat_->values()};
  held.trained_parameters = elements(trained);
  for (const auto& [key, state] : optimizer_->state()) {
    const auto& adam = static_cast<const torch::optim::AdamParamState&>(*state);
    held.optimizer_state += adam.exp_avg().numel() + adam.exp_avg_sq().numel();
  }
  if (net_) held.acting_parameters = elements(net_->parameters());
  return held;
}

std::unique_ptr<Algorithm> make_ppo(const AlgorithmInit& init) { return std::make_unique<Ppo>(init); }

AlgorithmSpec ppo_algorithm() {
  AlgorithmSpec spec;
  spec.name = "ppo";
  spec.doc = "PPO hyperparameters (algo: ppo)";
  spec.config = core::AnySection::of(PpoConfig{});
  spec.check = [](const TrainConfig& config, const envs::EnvSpec& env, const RunContext& ctx) {
    const PpoConfig& ppo = config.section<PpoConfig>("ppo");
    const std::int64_t samples = static_cast<std::int64_t>(ppo.rollout_steps) * config.env.num_envs;
    if (ppo.num_minibatches > samples)
      throw std::invalid_argument(ctx.source + ": ppo.num_minibatches (" + std::to_string(ppo.num_minibatches) +
                                  ") exceeds the samples of one rollout, ppo.rollout_steps x env.num_envs = " +
                                  std::to_string(samples));
    if (ctx.world_size > 1 && ppo.target_kl > 0.0)
      throw std::invalid_argument(ctx.source + ": ppo.target_kl: the early stop reads each rank's own KL, so data-parallel "
                                  "ranks (learner.world_size " + std::to_string(ctx.world_size) +
                                  ") would stop at different epochs; use ppo.target_kl: 0");
    const std::int32_t stages = config.learner.pipeline_stages;
    if (stages > 1) {
      const std::string key = ctx.source + ": learner.pipeline_stages " + std::to_string(stages) + ": ";
      const std::int64_t rows = samples / ppo.num_minibatches;  // the smallest minibatch
      if (config.learner.micro_batches > rows)
        throw std::invalid_argument(ctx.source + ": learner.micro_batches (" + std::to_string(config.learner.micro_batches) +
                                    ") exceeds the rows of a minibatch, ppo.rollout_steps x env.num_envs / "
                                    "ppo.num_minibatches = " + std::to_string(rows));
      if (config.policy.shared_trunk)
        throw std::invalid_argument(key + "PPO's pipeline splits separate actor and critic MLPs; use "
                                    "policy.shared_trunk: false");
      if (config.precision == "fp16")
        throw std::invalid_argument(key + "PPO's pipeline runs in fp32 or bf16, not fp16 (its dynamic loss scale "
                                    "would have to be shared between the stages); use precision: bf16");
      if (ppo.target_kl > 0.0 && config.learner.stage_devices.empty())
        throw std::invalid_argument(key + "ppo.target_kl: the approx KL lives on the last stage only; use ppo.target_kl: 0");
      if (!config.policy.freeze.empty())
        throw std::invalid_argument(key + "policy.freeze cannot be combined with pipeline stages: each stage's Adam "
                                    "steps all its parameters");
    }
  };
  spec.rollout_steps = [](const TrainConfig& config) { return config.section<PpoConfig>("ppo").rollout_steps; };
  spec.chunk_log_probs = true;
  spec.data_parallel = true;  // one all-reduce of the flat gradient per minibatch
  spec.pipeline_parallel = true;  // learner.pipeline_stages: the actor and critic MLPs cut into stages
  spec.make = make_ppo;
  spec.make_behaviour_policy = [](const TrainConfig& config, const envs::EnvSpec& env) -> std::shared_ptr<agents::Policy> {
    return std::make_shared<agents::ActorCriticPolicy>(
        agents::make_actor_critic(env, to_policy_config(config.policy, env)));
  };
  spec.policy_key = "model";
  spec.metrics = {"pg_loss", "v_loss", "entropy", "old_approx_kl", "approx_kl", "clipfrac", "explained_var",
                  "learning_rate", "loss_scale", "skipped_steps", "epochs_run"};
  return spec;
}

}  // namespace apiary::learner
