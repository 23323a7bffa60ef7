#include "learner/ppo/ppo.h"
#include "learner/ppo/ppo_impl.h"

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
namespace ppo_detail {

namespace {

LossScalerOptions scaler_options(Precision precision) {
  LossScalerOptions options;
  options.enabled = precision == Precision::kFp16;
  return options;
}

}  // namespace

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
  const bool mlp_on_vectors =
      net_->config().encoder == "mlp" && !init.spec.observation_space.is_uint8() && !net_->recurrent();
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

BootstrapValues Ppo::recurrent_bootstrap_values(const agents::TrajectoryChunk& chunk) {
  torch::NoGradGuard no_grad;
  const auto steps = chunk.num_steps();
  const auto lanes = chunk.num_envs();
  TORCH_CHECK(chunk.state.defined() && chunk.starts.defined(),
              "PPO: a recurrent policy's chunk must carry each lane's state and episode starts");
  const auto terminated = chunk.terminated.to(device_, torch::kBool);
  const auto truncated = chunk.truncated.to(device_, torch::kBool);
  // The core over obs[0..T]: obs[T] begins an episode where step T-1 ended one.
  agents::Recurrence rec;
  torch::Tensor states;  // [T+1, N, S] after each step, before any reset
  rec.state = chunk.state.to(device_);
  rec.starts = torch::cat({chunk.starts.to(device_, torch::kFloat),
                           terminated[steps - 1].logical_or(truncated[steps - 1]).to(torch::kFloat).unsqueeze(0)});
  rec.steps = steps + 1;
  rec.step_states = &states;
  const auto values = net_->value(chunk.obs.to(device_).flatten(0, 1), &rec);  // [(T+1) * N]
  BootstrapValues out;
  out.next_values = values.slice(0, steps * lanes);
  out.final_values = torch::zeros({steps * lanes}, values.options());
  // A truncated step's final observation, read with the state the lane had after that step.
  const auto bootstraps = truncated.logical_and(terminated.logical_not()).flatten();
  if (bootstraps.any().item<bool>()) {
    TORCH_CHECK(chunk.next_obs.defined(), "PPO: the chunk has truncated steps but no next_obs to bootstrap them from");
    const auto rows = bootstraps.nonzero().squeeze(1);
    agents::Recurrence one;
    one.state = states.slice(0, 0, steps).flatten(0, 1).index_select(0, rows);
    const auto final_obs = chunk.next_obs.to(device_).flatten(0, 1).index_select(0, rows);
    out.final_values.index_put_({rows}, net_->value(final_obs, &one));
  }
  out.final_values = out.final_values.view({steps, lanes});
  return out;
}

BootstrapValues Ppo::bootstrap_values(const agents::TrajectoryChunk& chunk) {
  if (net_->recurrent()) return recurrent_bootstrap_values(chunk);
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
  if (config_.reward_scale != 1.0) in.rewards = in.rewards * config_.reward_scale;
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
  if (net_->recurrent()) {  // whole lanes, time-major
    batch.obs = chunk.obs.slice(0, 0, steps).to(device_);
    batch.actions = chunk.actions.to(device_);
    batch.log_probs = chunk.log_probs.to(device_, torch::kFloat);
    batch.values = chunk.values.to(device_, torch::kFloat);
    batch.advantages = gae.advantages;
    batch.returns = gae.returns;
    batch.state = chunk.state.to(device_, torch::kFloat);
    batch.starts = chunk.starts.to(device_, torch::kFloat);
    return batch;
  }
  batch.obs = chunk.obs.slice(0, 0, steps).to(device_).flatten(0, 1);
  batch.actions = chunk.actions.to(device_).flatten(0, 1);
  batch.log_probs = chunk.log_probs.to(device_, torch::kFloat).flatten();
  batch.values = chunk.values.to(device_, torch::kFloat).flatten();
  batch.advantages = gae.advantages.flatten();
  batch.returns = gae.returns.flatten();
  return batch;
}

void Ppo::refresh_fused_net() { fused_net_ = fused_net_of(*net_); }

agents::EvalOut Ppo::evaluate_minibatch(const RolloutBatch& minibatch) {
  if (!minibatch.recurrent()) return net_->evaluate(minibatch.obs, minibatch.actions);
  // The core replayed over the minibatch's lanes from their stored start state, reset where an
  // episode began, with gradients truncated every ppo.bptt_steps steps.
  agents::Recurrence rec;
  rec.state = minibatch.state;
  rec.starts = minibatch.starts;
  rec.steps = minibatch.obs.size(0);
  rec.bptt_steps = config_.bptt_steps;
  return net_->evaluate(minibatch.obs.flatten(0, 1), minibatch.actions.flatten(0, 1), &rec);
}

MinibatchResult Ppo::minibatch_step(const RolloutBatch& minibatch) {
  if (pipe_ != nullptr) return pipeline_minibatch_step(minibatch);
  if (!local_devices_.empty()) return local_minibatch_step(minibatch);
  flat_->grads().zero_();
  MinibatchResult out;
  PpoLossOut loss;
  {
    // Reduced precision for the forward pass and the loss only; backward runs outside autocast.
    AutocastGuard autocast(precision_, device_);
    const agents::EvalOut now = evaluate_minibatch(minibatch);
    PpoLossIn in;
    in.new_logprob = now.log_prob;
    in.old_logprob = minibatch.log_probs.flatten();
    in.advantages = minibatch.advantages.flatten();
    in.new_values = now.value;
    in.old_values = minibatch.values.flatten();
    in.returns = minibatch.returns.flatten();
    in.entropy = now.entropy;
    set_loss_options(in, config_);
    loss = ppo_loss(in);
  }
  scaler_.scale(loss.loss).backward();
  {
    torch::NoGradGuard no_grad;
    out.stats = minibatch_stats(loss);
  }
  out.stepped = apply_gradients();
  return out;
}

bool Ppo::apply_gradients() {
  // Data parallelism: one all-reduce of the flat gradient, before unscaling and clipping, so that every
  // rank sees the same (in)finite gradient and takes the same step.
  if (reduce_gradients_) reduce_gradients_({flat_->grads()});
  const bool finite = scaler_.unscale_({flat_->values()});  // disabled (fp32, bf16): true, no sync
  // Frozen parameters: gradients and Adam moments held at zero, so the clip norm leaves them out and
  // Adam leaves them bitwise unchanged.
  hold_frozen(trainable_, *flat_, *optimizer_);
  if (finite) {
    if (config_.max_grad_norm > 0.0) clip_grad_norm({flat_->grads()}, config_.max_grad_norm);
    adam_step(*optimizer_);
  }
  scaler_.update(/*found_inf=*/!finite);
  return finite;
}

namespace {

// Rows idx[0..rows) of a row-major [*, width] array, in that order.
template <class T>
void gather_rows(const T* src, std::int64_t width, const std::int64_t* idx, std::int64_t rows, std::vector<T>& out) {
  out.resize(static_cast<std::size_t>(rows * width));
  T* dst = out.data();
  for (std::int64_t r = 0; r < rows; ++r) std::copy(src + idx[r] * width, src + (idx[r] + 1) * width, dst + r * width);
}

}  // namespace

PpoUpdateResult Ppo::fused_host_update(const RolloutBatch& batch) {
  const std::int64_t rows = batch.size(), num_minibatches = config_.num_minibatches;
  const auto host = [](const torch::Tensor& t, torch::ScalarType type) {
    return t.to(torch::kCPU, type).contiguous();
  };
  const torch::Tensor obs = host(batch.obs, torch::kFloat).reshape({rows, -1});
  const torch::Tensor actions = fused_net_.discrete ? host(batch.actions, torch::kLong).reshape({rows})
                                                    : host(batch.actions, torch::kFloat).reshape({rows, -1});
  const torch::Tensor log_probs = host(batch.log_probs, torch::kFloat), values = host(batch.values, torch::kFloat);
  const torch::Tensor advantages = host(batch.advantages, torch::kFloat), returns = host(batch.returns, torch::kFloat);
  const std::int64_t obs_width = obs.size(1), action_width = fused_net_.discrete ? 1 : actions.size(1);
  FusedLossOptions options;
  set_loss_options(options, config_);
  float* grads = flat_->grads().data_ptr<float>();
  const std::int64_t num_grads = flat_->grads().numel();

  PpoUpdateResult result;
  float sums[kNumMinibatchStats] = {};
  float last_approx_kl = 0.0f;
  for (std::int32_t epoch = 0; epoch < config_.update_epochs; ++epoch) {
    // ppo_update's shuffle (the same draw from minibatch_gen_), applied on the host.
    const torch::Tensor permutation = torch::randperm(rows, minibatch_gen_, torch::kLong);
    const std::int64_t* idx = permutation.data_ptr<std::int64_t>();
    gather_rows(obs.data_ptr<float>(), obs_width, idx, rows, shuffled_obs_);
    if (fused_net_.discrete) {
      gather_rows(actions.data_ptr<std::int64_t>(), 1, idx, rows, shuffled_actions_d_);
    } else {
      gather_rows(actions.data_ptr<float>(), action_width, idx, rows, shuffled_actions_c_);
    }
    gather_rows(log_probs.data_ptr<float>(), 1, idx, rows, shuffled_log_probs_);
    gather_rows(values.data_ptr<float>(), 1, idx, rows, shuffled_values_);
    gather_rows(advantages.data_ptr<float>(), 1, idx, rows, shuffled_advantages_);
    gather_rows(returns.data_ptr<float>(), 1, idx, rows, shuffled_returns_);
    for (std::int64_t i = 0; i < num_minibatches; ++i) {
      const std::int64_t begin = i * rows / num_minibatches, end = (i + 1) * rows / num_minibatches;
      FusedBatch mb;
      mb.rows = end - begin;
      mb.obs = shuffled_obs_.data() + begin * obs_width;
      if (fused_net_.discrete) {
        mb.actions_d = shuffled_actions_d_.data() + begin;
      } else {
        mb.actions_c = shuffled_actions_c_.data() + begin * action_width;
      }
      mb.old_log_probs = shuffled_log_probs_.data() + begin;
      mb.old_values = shuffled_values_.data() + begin;
      mb.advantages = shuffled_advantages_.data() + begin;
      mb.returns = shuffled_returns_.data() + begin;
      std::fill(grads, grads + num_grads, 0.0f);
      const FusedStats s = fused_->run(fused_net_, mb, options);
      const float stats[kNumMinibatchStats] = {s.pg_loss, s.v_loss, s.entropy, s.old_approx_kl, s.approx_kl, s.clipfrac};
      for (std::int64_t k = 0; k < kNumMinibatchStats; ++k) sums[k] += stats[k];
      last_approx_kl = s.approx_kl;
      const bool stepped = apply_gradients();
      result.minibatches += 1;
      (stepped ? result.steps_taken : result.steps_skipped) += 1;
    }
    result.epochs_run = epoch + 1;
    if (config_.target_kl > 0.0 && static_cast<double>(last_approx_kl) > config_.target_kl) break;
  }
  result.stat_sums = torch::from_blob(sums, {kNumMinibatchStats}, torch::kFloat).clone().to(device_);
  return result;
}

PpoUpdateResult Ppo::ppo_update(const RolloutBatch& batch) {
  const std::int64_t batch_size = batch.units();  // samples, or a recurrent policy's lanes
  const std::int64_t num_minibatches = config_.num_minibatches;
  if (num_minibatches > batch_size)
    throw std::invalid_argument("ppo.num_minibatches (" + std::to_string(num_minibatches) + ") exceeds the " +
                                (batch.recurrent() ? "lanes of a rollout (a recurrent policy's minibatches are whole "
                                                     "lanes), num_envs = "
                                                   : "samples per rollout, rollout_steps * num_envs = ") +
                                std::to_string(batch_size));
  if (fused_ != nullptr && !pipelined()) return fused_host_update(batch);  // fused_: an MLP, never recurrent
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
              "PPO: the chunk must carry log_probs and values (its AlgorithmSpec's chunk_log_probs)");
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
  metrics.emplace_back("explained_var", explained_variance(batch.values.flatten(), batch.returns.flatten()));
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


bool Ppo::set_frozen(const std::function<bool(const std::string&)>& frozen) {
  if (pipelined()) return false;
  trainable_ = trainable_mask(*net_, frozen);
  return true;
}

}  // namespace ppo_detail

using ppo_detail::Ppo;

std::unique_ptr<Algorithm> make_ppo(const AlgorithmInit& init) { return std::make_unique<Ppo>(init); }

AlgorithmSpec ppo_algorithm() {
  AlgorithmSpec spec;
  spec.name = "ppo";
  spec.doc = "PPO hyperparameters (algo: ppo)";
  spec.config = core::AnySection::of(PpoConfig{});
  spec.bench_update = bench_ppo_update;
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
    if (config.policy.recurrent.cell != "none") {
      if (ppo.num_minibatches > config.env.num_envs)
        throw std::invalid_argument(ctx.source + ": ppo.num_minibatches (" + std::to_string(ppo.num_minibatches) +
                                    ") exceeds env.num_envs (" + std::to_string(config.env.num_envs) +
                                    "): a recurrent policy's minibatches are whole lanes");
    }
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
  spec.recurrent = true;      // policy.recurrent: the core replayed over whole lanes
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
