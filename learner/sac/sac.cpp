#include "learner/sac/sac.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "agents/dense_kernels.h"
#include "agents/weights.h"
#include "learner/archive.h"
#include "learner/dense_view.h"
#include "learner/precision.h"

namespace apiary::learner {

namespace {

// SAC squashes its actions onto a bounded Box; a Discrete space has no density to squash.
void check_bounded_box(const envs::EnvSpec& spec, const std::string& source) {
  const envs::Space& space = spec.action_space;
  if (space.is_discrete())
    throw std::invalid_argument(source + ": algo: sac needs a continuous (Box) action space, but env '" + spec.id +
                                "' has " + space.to_string() + " actions; use algo: ppo or algo: dqn for it");
  for (std::size_t i = 0; i < space.low.size() && i < space.high.size(); ++i) {
    if (!std::isfinite(space.low[i]) || !std::isfinite(space.high[i]))
      throw std::invalid_argument(source + ": algo: sac squashes actions onto finite bounds, but env '" + spec.id +
                                  "' has " + space.to_string() + " actions; use algo: ppo for it");
  }
}

// The combinations the ranges cannot express, and the policy fields SAC has no use for (refused rather
// than ignored).
void check_settings(const TrainConfig& config, const std::string& source) {
  const SacConfig& sac = config.section<SacConfig>("sac");
  if (!(sac.log_std_min < sac.log_std_max))
    throw std::invalid_argument(source + ": sac.log_std_min (" + std::to_string(sac.log_std_min) +
                                ") must be below sac.log_std_max (" + std::to_string(sac.log_std_max) + ")");
  if (config.policy.shared_trunk)
    throw std::invalid_argument(source + ": policy.shared_trunk: SAC's actor and critics never share a trunk; "
                                         "remove the key");
  if (config.policy.dueling)
    throw std::invalid_argument(source + ": policy.dueling applies to algo: dqn only; remove the key");
  if (config.policy.init_log_std != 0.0)
    throw std::invalid_argument(source + ": policy.init_log_std: SAC's log-std is an output of the actor, bounded by "
                                         "sac.log_std_min and sac.log_std_max; remove the key");
}

// max(1, train_frequency / num_envs): one gradient phase per chunk when num_envs divides it.
std::int32_t sac_rollout_steps(const TrainConfig& config) {
  return std::max(1, config.section<SacConfig>("sac").train_frequency / config.env.num_envs);
}

// The smallest multiple of `period` that is >= value (value >= 0, period >= 1).
std::int64_t round_up(std::int64_t value, std::int64_t period) { return (value + period - 1) / period * period; }

SacActor make_actor(const TrainConfig& config, const envs::EnvSpec& spec) {
  const SacConfig& sac = config.section<SacConfig>("sac");
  return SacActor(spec.obs_dim(), spec.action_space, to_policy_config(config.policy, spec), sac.log_std_min,
                  sac.log_std_max);
}

// Env steps of each actor during which it acts uniformly at random: learning_starts shared among the
// actor processes (each counts its own steps), or none.
std::int64_t random_steps(const TrainConfig& config) {
  const SacConfig& sac = config.section<SacConfig>("sac");
  return sac.random_warmup ? sac.learning_starts / std::max(1, config.actors.count) : 0;
}

std::unique_ptr<torch::optim::Adam> make_adam(const torch::Tensor& parameters, double lr) {
  return std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{parameters}, torch::optim::AdamOptions(lr));
}

}  // namespace

std::unique_ptr<Algorithm> make_sac(const AlgorithmInit& init) { return std::make_unique<Sac>(init); }

Sac::Sac(const AlgorithmInit& init)
    : config_(init.config.section<SacConfig>("sac")),
      device_(init.device),
      precision_(init.precision),
      target_entropy_(-static_cast<double>(init.spec.action_dim())),
      actor_scaler_(LossScalerOptions{/*enabled=*/init.precision == Precision::kFp16}),
      critic_scaler_(LossScalerOptions{/*enabled=*/init.precision == Precision::kFp16}),
      generator_(make_generator(static_cast<std::uint64_t>(init.config.seed))) {
  check_bounded_box(init.spec, "sac");
  check_declared_ranges(config_, "sac");
  check_settings(init.config, "sac");
  check_precision_supported(precision_, device_);
  obs_dtype_ = init.spec.observation_space.is_uint8() ? torch::kUInt8 : torch::kFloat;

  const agents::PolicyConfig policy_config = to_policy_config(init.config.policy, init.spec);
  std::vector<std::int64_t> critic_hidden(config_.critic_hidden_sizes.begin(), config_.critic_hidden_sizes.end());
  if (critic_hidden.empty()) critic_hidden = policy_config.hidden_sizes;
  actor_ = make_actor(init.config, init.spec);
  const auto make_critic = [&] {
    return SacCritic(init.spec.obs_dim(), init.spec.action_dim(), critic_hidden, policy_config.activation,
                     policy_config);
  };
  critic_ = make_critic();
  target_critic_ = make_critic();
  actor_->to(device_);
  critic_->to(device_);
  target_critic_->to(device_);
  agents::copy_weights(*critic_, *target_critic_);

  actor_flat_ = std::make_unique<FlatParameters>(*actor_);
  critic_flat_ = std::make_unique<FlatParameters>(*critic_);
  target_flat_ = std::make_unique<FlatParameters>(*target_critic_);
  for (auto& p : target_critic_->parameters()) p.set_requires_grad(false);

  policy_ = std::make_shared<SacPolicy>(actor_, random_steps(init.config), config_.noise_correlation);
  actor_optimizer_ = make_adam(actor_flat_->values(), config_.policy_lr);
  critic_optimizer_ = make_adam(critic_flat_->values(), config_.q_lr);
  const double initial_alpha = config_.autotune ? config_.init_alpha : config_.alpha;
  log_alpha_ = torch::full({1}, std::log(std::max(initial_alpha, std::numeric_limits<double>::min())),
                           torch::TensorOptions().dtype(torch::kFloat).device(device_));
  if (config_.autotune) {
    log_alpha_.set_requires_grad(true);
    alpha_optimizer_ = make_adam(log_alpha_, config_.alpha_lr);
  }
  refresh_alpha();
  reset_replay();
  tanh_ = agents::parse_activation(policy_config.activation) == agents::Activation::kTanh;
  if (config_.fused_update && device_.is_cpu() && precision_ == Precision::kFp32 && obs_dtype_ == torch::kFloat &&
      policy_config.encoder == "mlp" && agents::dense_kernels_available() && replay_->host_floats())
    fused_ = std::make_unique<FusedSacStep>();
}

void Sac::reset_replay() {
  replay_.emplace(config_.buffer_size, actor_->obs_dim(), std::vector<std::int64_t>{actor_->action_dim()}, torch::kFloat,
                  device_, obs_dtype_);
  replay_steps_ = 0;
}

double Sac::alpha() const { return config_.autotune ? std::exp(log_alpha_.item<double>()) : config_.alpha; }

torch::Tensor Sac::draw_noise(std::int64_t rows) {
  return torch::randn({rows, actor_->action_dim()}, generator_, torch::TensorOptions().dtype(torch::kFloat))
      .to(device_);
}

void Sac::set_critic_requires_grad(bool on) {
  for (auto& p : critic_->parameters()) p.set_requires_grad(on);
}

void Sac::store_chunk(const agents::TrajectoryChunk& chunk) {
  torch::NoGradGuard no_grad;
  const auto steps = chunk.num_steps(), lanes = chunk.num_envs();
  if (steps == 0) return;
  const auto obs_dim = actor_->obs_dim(), action_dim = actor_->action_dim();
  Transitions t;
  t.obs = chunk.obs.slice(0, 0, steps).reshape({steps * lanes, obs_dim});
  t.actions = chunk.actions.reshape({steps * lanes, action_dim});
  t.returns = chunk.rewards.reshape({steps * lanes}).to(torch::kFloat);
  // The observation after each step, before any auto-reset: truncated episodes bootstrap from their
  // final observation, terminated ones not at all (discount 0).
  t.next_obs = chunk.next_obs.reshape({steps * lanes, obs_dim});
  t.discounts = (1.0 - chunk.terminated.reshape({steps * lanes}).to(torch::kFloat)).mul_(config_.gamma);
  replay_->add(t);
  replay_steps_ += steps * lanes;
}

// ---- the losses ------------------------------------------------------------------------------------

SquashedSample Sac::sample_policy(const torch::Tensor& obs, const torch::Tensor& noise) {
  AutocastGuard autocast(precision_, device_);
  return squashed_gaussian_sample(actor_->forward(obs), noise, actor_->action_scale(), actor_->action_bias());
}

SacCriticLoss Sac::critic_loss_given(const ReplaySample& batch, const SquashedSample& next) {
  AutocastGuard autocast(precision_, device_);
  SacCriticLoss out;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor q_next_target = target_critic_->forward(batch.next_obs, next.action.detach());  // [K, B]
    out.next_q_value =
        batch.returns + batch.discounts * (torch::amin(q_next_target, 0) - alpha_ * next.log_prob.detach());
  }
  out.q_values = critic_->forward(batch.obs, batch.actions);  // fp32 [K, B]
  out.qf_losses = (out.q_values - out.next_q_value.unsqueeze(0)).square().mean(1);
  out.qf_loss = out.qf_losses.sum();
  return out;
}

SacCriticLoss Sac::critic_loss(const ReplaySample& batch, const torch::Tensor& next_noise) {
  SquashedSample next;
  {
    torch::NoGradGuard no_grad;
    next = sample_policy(batch.next_obs, next_noise);
  }
  return critic_loss_given(batch, next);
}

SacActorLoss Sac::actor_loss_given(const torch::Tensor& obs, const SquashedSample& pi) {
  AutocastGuard autocast(precision_, device_);
  const torch::Tensor min_q_pi = torch::amin(critic_->forward(obs, pi.action), 0);
  SacActorLoss out;
  out.actor_loss = (alpha_ * pi.log_prob - min_q_pi).mean();
  out.log_pi = pi.log_prob.detach();
  return out;
}

SacActorLoss Sac::actor_loss(const torch::Tensor& obs, const torch::Tensor& noise) {
  return actor_loss_given(obs, sample_policy(obs, noise));
}

torch::Tensor Sac::alpha_loss(const torch::Tensor& log_pi) {
  return (-log_alpha_.exp() * (log_pi.detach() + target_entropy_)).mean();
}

void Sac::alpha_step(const torch::Tensor& log_pi) {
  if (config_.autotune) temperature_step(log_pi);
}

torch::Tensor Sac::temperature_step(const torch::Tensor& log_pi) {
  torch::NoGradGuard no_grad;
  // alpha_loss = -exp(log alpha) * mean(log_pi + target_entropy) is its own derivative in log alpha,
  // so the gradient is the loss itself: no backward pass.
  const torch::Tensor loss = -(alpha_ * (log_pi.mean() + target_entropy_));
  log_alpha_.mutable_grad() = loss.reshape({1});
  adam_step(*alpha_optimizer_);
  refresh_alpha();
  return loss;
}

void Sac::refresh_alpha() {
  torch::NoGradGuard no_grad;
  alpha_ = config_.autotune ? log_alpha_.detach().exp().squeeze(0)
                            : torch::full({}, config_.alpha, torch::TensorOptions().dtype(torch::kFloat).device(device_));
}

void Sac::update_target_networks() {
  torch::NoGradGuard no_grad;
  // lerp is exact at both ends: tau = 1 copies the critics.
  target_flat_->values().lerp_(critic_flat_->values(), config_.tau);
}

// ---- one gradient step -----------------------------------------------------------------------------

void Sac::actor_step(const torch::Tensor& obs, const SquashedSample* drawn, StepTotals& totals) {
  set_critic_requires_grad(false);  // the actor's loss differentiates through Q into a~, not into Q
  SacActorLoss loss;
  try {
    loss = drawn ? actor_loss_given(obs, *drawn) : actor_loss(obs, draw_noise(obs.size(0)));
    actor_flat_->grads().zero_();
    actor_scaler_.scale(loss.actor_loss).backward();
  } catch (...) {
    set_critic_requires_grad(true);
    throw;
  }
  set_critic_requires_grad(true);
  const bool finite = actor_scaler_.unscale_({actor_flat_->values()});  // true without a check unless fp16
  if (finite && config_.max_grad_norm > 0.0) clip_grad_norm({actor_flat_->grads()}, config_.max_grad_norm);
  if (actor_scaler_.update(/*found_inf=*/!finite)) {
    adam_step(*actor_optimizer_);
    totals.actor_changed = true;
  }
  ++actor_steps_;

  torch::Tensor alpha_loss_value;
  if (config_.autotune) {
    alpha_loss_value = temperature_step(loss.log_pi);
  } else {
    alpha_loss_value = torch::zeros({}, loss.actor_loss.options());
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor stats = torch::stack({loss.actor_loss.detach(), alpha_loss_value});
  totals.actor = totals.actor_steps == 0 ? stats : totals.actor.add_(stats);
  ++totals.actor_steps;
}

void Sac::refresh_fused_nets() {
  const DenseView actor(*actor_, "SAC's fused step");
  fused_actor_.body = actor.mlp("body", /*grads=*/true);
  fused_actor_.head = actor.linear("head", /*grads=*/true);
  fused_actor_.tanh = tanh_;
  fused_actor_.obs_dim = actor_->obs_dim();
  fused_actor_.action_dim = actor_->action_dim();
  fused_actor_.obs_offset = actor.obs_offset();
  fused_actor_.obs_scale = actor.obs_scale();
  fused_actor_.action_scale = actor.floats(actor_->action_scale(), "action_scale");
  fused_actor_.action_bias = actor.floats(actor_->action_bias(), "action_bias");
  fused_actor_.log_std_centre = static_cast<float>(0.5 * (config_.log_std_max + config_.log_std_min));
  fused_actor_.log_std_half = static_cast<float>(0.5 * (config_.log_std_max - config_.log_std_min));
  // The K critics' layers are slices of the stacked [K, in, out] weights and [K, 1, out] biases.
  const auto critics_of = [&](SacCritic& net, bool grads) {
    const DenseView view(*net, "SAC's fused step");
    FusedSacCritics c;
    const std::int64_t K = net->num_critics(), layers = net->num_layers();
    c.body.assign(static_cast<std::size_t>(K), {});
    c.head.assign(static_cast<std::size_t>(K), {});
    for (std::int64_t i = 0; i < layers; ++i) {
      const std::string w = "weight_" + std::to_string(i), b = "bias_" + std::to_string(i);
      const torch::Tensor& weight = net->weight(i);
      const std::int64_t in = weight.size(1), out = weight.size(2);
      for (std::int64_t k = 0; k < K; ++k) {
        agents::DenseLayer l;
        l.weight = view.parameter(w) + k * in * out;
        l.bias = view.parameter(b) + k * out;
        if (grads) {
          l.weight_grad = view.gradient(w) + k * in * out;
          l.bias_grad = view.gradient(b) + k * out;
        }
        l.in = in;
        l.out = out;
        l.weight_in_out = true;
        if (i + 1 < layers) {
          c.body[static_cast<std::size_t>(k)].push_back(l);
        } else {
          c.head[static_cast<std::size_t>(k)] = l;
        }
      }
    }
    c.tanh = tanh_;
    c.obs_dim = actor_->obs_dim();
    c.action_dim = actor_->action_dim();
    c.obs_offset = view.obs_offset();
    c.obs_scale = view.obs_scale();
    return c;
  };
  fused_critic_ = critics_of(critic_, /*grads=*/true);
  fused_target_ = critics_of(target_critic_, /*grads=*/false);
}

void Sac::fused_gradient_step(StepTotals& totals) {
  torch::NoGradGuard no_grad;
  const std::int64_t rows = config_.batch_size, obs_dim = actor_->obs_dim(), A = actor_->action_dim();
  const std::int64_t K = critic_->num_critics();
  // The rows straight into host arrays: the same draws as sample(), without its operators.
  const torch::Tensor indices = replay_->sample_indices(rows, generator_);
  host_obs_.resize(static_cast<std::size_t>(2 * rows * obs_dim));
  host_actions_.resize(static_cast<std::size_t>(rows * A));
  host_scalars_.resize(static_cast<std::size_t>(2 * rows));
  FusedSacBatch b;
  b.rows = rows;
  b.obs = host_obs_.data();
  b.next_obs = host_obs_.data() + rows * obs_dim;
  b.actions = host_actions_.data();
  b.returns = host_scalars_.data();
  b.discounts = host_scalars_.data() + rows;
  replay_->gather_host(indices.data_ptr<std::int64_t>(), rows, host_obs_.data(), host_obs_.data() + rows * obs_dim,
                       host_actions_.data(), host_scalars_.data(), host_scalars_.data() + rows);

  // The same noise as the operator path: rows [0, B) for a' at next_obs, [B, 2B) for the first a~.
  const bool actor_round = (gradient_steps_ + 1) % config_.policy_frequency == 0;
  const torch::Tensor noise = draw_noise(actor_round ? 2 * rows : rows);
  const float* eps = noise.data_ptr<float>();
  float alpha = alpha_.item<float>();
  const float* next_actions = fused_->draw(fused_actor_, b.next_obs, rows, eps, /*keep=*/false);
  if (actor_round) fused_->draw(fused_actor_, b.obs, rows, eps + rows * A, /*keep=*/true);

  std::fill_n(critic_flat_->grads().data_ptr<float>(), critic_flat_->grads().numel(), 0.0f);
  const FusedSacStep::CriticOut critic =
      fused_->critic_step(fused_critic_, fused_target_, b, next_actions, fused_->log_prob(/*kept=*/false), alpha);
  if (config_.max_grad_norm > 0.0) clip_grad_norm({critic_flat_->grads()}, config_.max_grad_norm);
  adam_step(*critic_optimizer_);
  ++gradient_steps_;
  totals.critic_host.resize(static_cast<std::size_t>(2 * K), 0.0);
  for (std::int64_t k = 0; k < K; ++k) {
    totals.critic_host[static_cast<std::size_t>(k)] += critic.q_mean[static_cast<std::size_t>(k)];
    totals.critic_host[static_cast<std::size_t>(K + k)] += critic.loss[static_cast<std::size_t>(k)];
  }
  ++totals.critic_steps;

  if (actor_round) {
    for (std::int32_t i = 0; i < config_.policy_frequency; ++i) {
      if (i > 0) {  // a fresh draw on the same observations, as actor_loss(obs, draw_noise(B))
        const torch::Tensor more = draw_noise(rows);
        fused_->draw(fused_actor_, b.obs, rows, more.data_ptr<float>(), /*keep=*/true);
      }
      std::fill_n(actor_flat_->grads().data_ptr<float>(), actor_flat_->grads().numel(), 0.0f);
      const double actor_loss = fused_->actor_step(fused_actor_, fused_critic_, alpha);
      if (config_.max_grad_norm > 0.0) clip_grad_norm({actor_flat_->grads()}, config_.max_grad_norm);
      adam_step(*actor_optimizer_);
      totals.actor_changed = true;
      ++actor_steps_;
      double alpha_loss = 0.0;
      if (config_.autotune) {
        // from_blob: a view of the kept pass's log-probabilities, read before the next draw.
        const torch::Tensor log_pi =
            torch::from_blob(const_cast<float*>(fused_->log_prob(/*kept=*/true)), {rows}, torch::kFloat);
        alpha_loss = temperature_step(log_pi).item<double>();
        alpha = alpha_.item<float>();
      }
      totals.actor_host.resize(2, 0.0);
      totals.actor_host[0] += actor_loss;
      totals.actor_host[1] += alpha_loss;
      ++totals.actor_steps;
    }
  }
  if (gradient_steps_ % config_.target_network_frequency == 0) update_target_networks();
}

void Sac::gradient_step(StepTotals& totals) {
  if (fused_ != nullptr) {
    fused_gradient_step(totals);
    return;
  }
  const std::int64_t rows = config_.batch_size;
  const ReplaySample batch = replay_->sample(rows, generator_);
  const bool actor_round = (gradient_steps_ + 1) % config_.policy_frequency == 0;
  SquashedSample next, pi;
  if (actor_round) {
    // One actor pass over [next_obs; obs]: the target's a' and the first actor step's a~ come from the
    // same weights either way (the critic step does not touch the actor), at half the calls.
    const SquashedSample both = sample_policy(torch::cat({batch.next_obs, batch.obs}), draw_noise(2 * rows));
    next = SquashedSample{both.action.narrow(0, 0, rows), both.log_prob.narrow(0, 0, rows)};
    pi = SquashedSample{both.action.narrow(0, rows, rows), both.log_prob.narrow(0, rows, rows)};
  } else {
    torch::NoGradGuard no_grad;
    next = sample_policy(batch.next_obs, draw_noise(rows));
  }

  const SacCriticLoss loss = critic_loss_given(batch, next);
  critic_flat_->grads().zero_();
  critic_scaler_.scale(loss.qf_loss).backward();
  const bool finite = critic_scaler_.unscale_({critic_flat_->values()});
  if (finite && config_.max_grad_norm > 0.0) clip_grad_norm({critic_flat_->grads()}, config_.max_grad_norm);
  if (critic_scaler_.update(/*found_inf=*/!finite)) adam_step(*critic_optimizer_);
  ++gradient_steps_;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor stats = torch::cat({loss.q_values.detach().mean(1), loss.qf_losses.detach()});
    totals.critic = totals.critic_steps == 0 ? stats : totals.critic.add_(stats);
    ++totals.critic_steps;
  }

  if (actor_round)
    for (std::int32_t i = 0; i < config_.policy_frequency; ++i) actor_step(batch.obs, i == 0 ? &pi : nullptr, totals);
  if (gradient_steps_ % config_.target_network_frequency == 0) update_target_networks();
}

Metrics Sac::update(const agents::TrajectoryChunk& chunk, const UpdateContext& /*ctx*/) {
  const std::int64_t replay_steps_before = replay_steps_;
  const std::int64_t first = env_steps_ + 1;  // the chunk covers env steps [first, last]
  store_chunk(chunk);
  env_steps_ += chunk.env_steps();
  const std::int64_t last = env_steps_;

  // Learning is on from the env step at which this object had put learning_starts steps into the
  // replay buffer.
  const std::int64_t learn_from = first - 1 + std::max<std::int64_t>(1, config_.learning_starts - replay_steps_before);
  const std::int64_t start = std::max(first, learn_from);
  StepTotals totals;
  if (start <= last && buffer_size() > 0) {
    if (fused_ != nullptr) refresh_fused_nets();
    for (std::int64_t s = round_up(start, config_.train_frequency); s <= last; s += config_.train_frequency)
      for (std::int32_t i = 0; i < config_.gradient_steps; ++i) gradient_step(totals);
  }
  if (totals.actor_changed) policy_version_ += 1;
  if (totals.critic_steps == 0) return {};

  // The one host read of this update's diagnostics (the fused step's are on the host already).
  const auto steps = static_cast<double>(totals.critic_steps);
  std::vector<double> c = totals.critic_host;
  if (totals.critic.defined()) {
    const torch::Tensor critic = totals.critic.to(torch::kCPU, torch::kDouble).contiguous();
    c.assign(critic.data_ptr<double>(), critic.data_ptr<double>() + critic.numel());
  }
  for (double& v : c) v /= steps;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double actor_loss_mean = nan, alpha_loss_mean = nan;
  if (totals.actor_steps > 0) {
    std::vector<double> a = totals.actor_host;
    if (totals.actor.defined()) {
      const torch::Tensor actor = totals.actor.to(torch::kCPU, torch::kDouble).contiguous();
      a.assign(actor.data_ptr<double>(), actor.data_ptr<double>() + actor.numel());
    }
    actor_loss_mean = a[0] / static_cast<double>(totals.actor_steps);
    alpha_loss_mean = a[1] / static_cast<double>(totals.actor_steps);
  }
  Metrics metrics;
  metrics.emplace_back("qf1_values", c[0]);
  metrics.emplace_back("qf2_values", c[1]);
  metrics.emplace_back("qf1_loss", c[2]);
  metrics.emplace_back("qf2_loss", c[3]);
  metrics.emplace_back("qf_loss", 0.5 * (c[2] + c[3]));
  metrics.emplace_back("actor_loss", actor_loss_mean);
  metrics.emplace_back("alpha", alpha());
  if (config_.autotune) metrics.emplace_back("alpha_loss", alpha_loss_mean);
  metrics.emplace_back("buffer_size", static_cast<double>(buffer_size()));
  metrics.emplace_back("gradient_steps", static_cast<double>(gradient_steps_));
  if (precision_ == Precision::kFp16) metrics.emplace_back("loss_scale", critic_scaler_.scale_value());
  return metrics;
}

// ---- checkpoints -----------------------------------------------------------------------------------

void Sac::save(torch::serialize::OutputArchive& archive) {
  write_part(archive, "actor", *actor_);
  write_part(archive, "critic", *critic_);
  write_part(archive, "target_critic", *target_critic_);
  write_part(archive, "actor_optimizer", *actor_optimizer_);
  write_part(archive, "critic_optimizer", *critic_optimizer_);
  if (alpha_optimizer_) write_part(archive, "alpha_optimizer", *alpha_optimizer_);
  archive.write("log_alpha", log_alpha_.detach(), /*is_buffer=*/true);
  write_part(archive, "actor_scaler", actor_scaler_);
  write_part(archive, "critic_scaler", critic_scaler_);
  write_scalar(archive, "env_steps", env_steps_);
  write_scalar(archive, "gradient_steps", gradient_steps_);
  write_scalar(archive, "actor_steps", actor_steps_);
  write_scalar(archive, "policy_version", policy_version_);
  archive.write("generator", generator_.get_state(), /*is_buffer=*/true);
}

void Sac::load(torch::serialize::InputArchive& archive) {
  // Module loads copy into the parameters, which stay views of the flat buffers.
  read_module(archive, "actor", *actor_);
  read_module(archive, "critic", *critic_);
  read_module(archive, "target_critic", *target_critic_);
  read_part(archive, "actor_optimizer", *actor_optimizer_);
  read_part(archive, "critic_optimizer", *critic_optimizer_);
  if (alpha_optimizer_) read_part(archive, "alpha_optimizer", *alpha_optimizer_);
  torch::Tensor log_alpha;
  archive.read("log_alpha", log_alpha, /*is_buffer=*/true);
  {
    torch::NoGradGuard no_grad;
    log_alpha_.copy_(log_alpha.reshape({1}));
  }
  refresh_alpha();
  read_part(archive, "actor_scaler", actor_scaler_);
  read_part(archive, "critic_scaler", critic_scaler_);
  env_steps_ = read_i64(archive, "env_steps");
  gradient_steps_ = read_i64(archive, "gradient_steps");
  actor_steps_ = read_i64(archive, "actor_steps");
  policy_version_ = read_i64(archive, "policy_version");
  torch::Tensor generator_state;
  archive.read("generator", generator_state, /*is_buffer=*/true);
  generator_.set_state(generator_state);
  reset_replay();  // not in the checkpoint: refilled, and learning_starts counts from here
}

AlgorithmSpec sac_algorithm() {
  AlgorithmSpec spec;
  spec.name = "sac";
  spec.doc = "SAC hyperparameters (algo: sac)";
  spec.config = core::AnySection::of(SacConfig{});
  spec.check = [](const TrainConfig& config, const envs::EnvSpec& env, const RunContext& ctx) {
    check_bounded_box(env, ctx.source);
    check_settings(config, ctx.source);
  };
  spec.rollout_steps = sac_rollout_steps;
  spec.chunk_log_probs = false;
  spec.make = make_sac;
  spec.make_behaviour_policy = [](const TrainConfig& config, const envs::EnvSpec& env) -> std::shared_ptr<agents::Policy> {
    return std::make_shared<SacPolicy>(make_actor(config, env), random_steps(config),
                                       config.section<SacConfig>("sac").noise_correlation);
  };
  spec.policy_key = "actor";
  spec.metrics = {"qf1_values", "qf2_values", "qf1_loss", "qf2_loss", "qf_loss",       "actor_loss",
                  "alpha",      "alpha_loss", "buffer_size", "gradient_steps", "loss_scale"};
  return spec;
}

}  // namespace apiary::learner
