#include "learner/dqn/dqn.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "agents/factory.h"
#include "agents/weights.h"
#include "learner/archive.h"
#include "learner/dense_view.h"
#include "learner/optim.h"
#include "learner/precision.h"

namespace apiary::learner {

namespace {

// DQN values a finite set of actions; a Box space has none to take the max over.
void check_discrete_actions(const envs::EnvSpec& spec) {
  if (spec.action_space.is_discrete()) return;
  throw std::invalid_argument("algo: dqn needs a Discrete action space, but env '" + spec.id + "' has " +
                              spec.action_space.to_string() + " actions; use algo: ppo for continuous actions");
}

TdLossKind parse_loss(const std::string& name) {
  if (name == "huber") return TdLossKind::kHuber;
  if (name == "mse") return TdLossKind::kMse;
  throw std::invalid_argument("dqn.loss: '" + name + "' is not one of huber, mse");
}

// The smallest multiple of `period` that is >= value (value >= 0, period >= 1).
std::int64_t round_up(std::int64_t value, std::int64_t period) { return (value + period - 1) / period * period; }

// max(1, train_frequency / num_envs): one gradient phase per chunk when num_envs divides it.
std::int32_t dqn_rollout_steps(const TrainConfig& config) {
  return std::max(1, config.section<DqnConfig>("dqn").train_frequency / config.env.num_envs);
}

}  // namespace

agents::EpsilonSchedule dqn_epsilon_schedule(const TrainConfig& config) {
  const DqnConfig& dqn = config.section<DqnConfig>("dqn");
  agents::EpsilonSchedule schedule;
  schedule.start_e = dqn.start_e;
  schedule.end_e = dqn.end_e;
  schedule.exploration_fraction = dqn.exploration_fraction;
  schedule.total_steps = config.total_steps;
  schedule.num_actors = std::max(1, config.actors.count);  // Ape-X epsilons across actor processes
  return schedule;
}

std::unique_ptr<Algorithm> make_dqn(const AlgorithmInit& init) {
  check_discrete_actions(init.spec);
  return std::make_unique<Dqn>(init);
}

Dqn::Dqn(const AlgorithmInit& init)
    : config_(init.config.section<DqnConfig>("dqn")),
      total_steps_(init.config.total_steps),
      device_(init.device),
      precision_(init.precision),
      loss_kind_(parse_loss(config_.loss)),
      scaler_(LossScalerOptions{/*enabled=*/init.precision == Precision::kFp16}),
      generator_(make_generator(static_cast<std::uint64_t>(init.config.seed))),
      reduce_gradients_(init.reduce_gradients) {
  check_discrete_actions(init.spec);
  check_declared_ranges(config_, "dqn");
  check_precision_supported(precision_, device_);

  const auto policy_config = to_policy_config(init.config.policy, init.spec);
  const auto obs_dim = init.spec.obs_dim();
  obs_dtype_ = init.spec.observation_space.is_uint8() ? torch::kUInt8 : torch::kFloat;
  const auto num_actions = init.spec.action_space.n;
  online_ = agents::QNetwork(obs_dim, num_actions, policy_config);
  target_ = agents::QNetwork(obs_dim, num_actions, policy_config);
  online_->to(device_);
  target_->to(device_);
  agents::copy_weights(*online_, *target_);
  for (auto& p : target_->parameters()) p.set_requires_grad(false);

  policy_ = std::make_shared<agents::EpsilonGreedyPolicy>(online_, dqn_epsilon_schedule(init.config));

  flat_ = std::make_unique<FlatParameters>(*online_);
  parameters_ = online_->parameters();
  optimizer_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{flat_->values()},
                                                    torch::optim::AdamOptions(config_.learning_rate));
  guard_ = std::make_unique<UpdateGuard>(*optimizer_, target_->parameters());
  // The hand-written step where it covers the network: an fp32 MLP on vector observations, on the CPU.
  if (config_.fused_update && device_.is_cpu() && precision_ == Precision::kFp32 && obs_dtype_ == torch::kFloat &&
      !policy_config.dueling && policy_config.encoder == "mlp" && agents::dense_kernels_available())
    fused_ = std::make_unique<FusedDqnStep>();
  reset_replay();
}

void Dqn::reset_replay() {
  const auto obs_dim = online_->obs_dim();
  uniform_replay_.reset();
  prioritized_replay_.reset();
  if (config_.prioritized) {
    PrioritizedReplayOptions options;
    options.alpha = config_.per_alpha;
    options.beta = config_.per_beta;
    prioritized_replay_.emplace(config_.buffer_size, obs_dim, std::vector<std::int64_t>{}, torch::kLong, options,
                                device_, obs_dtype_);
  } else {
    uniform_replay_.emplace(config_.buffer_size, obs_dim, std::vector<std::int64_t>{}, torch::kLong, device_,
                            obs_dtype_);
  }
  nstep_.reset();
  replay_steps_ = 0;
}


std::int64_t Dqn::buffer_size() const {
  return prioritized_replay_ ? prioritized_replay_->size() : uniform_replay_->size();
}

void Dqn::add_transitions(const Transitions& transitions) {
  if (transitions.size() == 0) return;
  if (prioritized_replay_) {
    prioritized_replay_->add(transitions);
  } else {
    uniform_replay_->add(transitions);
  }
}

void Dqn::store_chunk(const agents::TrajectoryChunk& chunk) {
  torch::NoGradGuard no_grad;
  const auto steps = chunk.num_steps();
  const auto lanes = chunk.num_envs();
  if (steps == 0) return;
  const auto obs_dim = online_->obs_dim();
  if (config_.n_step == 1) {
    // One-step transitions straight from the chunk, in the order an NStepBuffer with n = 1 would emit
    // them (by step, then lane), without its per-step bookkeeping.
    Transitions t;
    t.obs = chunk.obs.slice(0, 0, steps).reshape({steps * lanes, obs_dim});
    t.actions = chunk.actions.reshape({steps * lanes});
    t.returns = chunk.rewards.reshape({steps * lanes}).to(torch::kFloat);
    t.next_obs = chunk.next_obs.reshape({steps * lanes, obs_dim});
    t.discounts = (1.0 - chunk.terminated.reshape({steps * lanes}).to(torch::kFloat)).mul_(config_.gamma);
    add_transitions(t);
  } else {
    if (!nstep_ || nstep_->num_envs() != lanes) nstep_.emplace(lanes, config_.n_step, config_.gamma, obs_dim, device_, obs_dtype_);
    for (std::int64_t s = 0; s < steps; ++s) {
      add_transitions(nstep_->push(chunk.obs[s].reshape({lanes, obs_dim}), chunk.actions[s], chunk.rewards[s],
                                   chunk.terminated[s], chunk.truncated[s], chunk.next_obs[s].reshape({lanes, obs_dim})));
    }
  }
  replay_steps_ += steps * lanes;
}

ReplaySample Dqn::sample_batch() {
  if (prioritized_replay_) return prioritized_replay_->sample(config_.batch_size, generator_);
  return uniform_replay_->sample(config_.batch_size, generator_);
}

double Dqn::per_beta(std::int64_t global_step, std::int64_t total_steps) const {
  const double progress =
      total_steps > 0 ? std::min(1.0, static_cast<double>(global_step) / static_cast<double>(total_steps)) : 1.0;
  return config_.per_beta + (1.0 - config_.per_beta) * progress;
}

void Dqn::refresh_fused_nets() {
  const auto of = [](const agents::QNetworkImpl& net, bool grads) {
    const DenseView view(net, "DQN's fused step");
    FusedQNet n;
    n.body = view.mlp("trunk", grads);
    n.head = view.linear("q_head", grads);
    n.tanh = agents::parse_activation(net.config().activation) == agents::Activation::kTanh;
    n.obs_dim = net.obs_dim();
    n.num_actions = net.num_actions();
    n.obs_offset = view.obs_offset();
    n.obs_scale = view.obs_scale();
    return n;
  };
  fused_online_ = of(*online_, /*grads=*/true);
  fused_target_ = of(*target_, /*grads=*/false);
}

void Dqn::fused_gradient_step(StepTotals& totals) {
  torch::NoGradGuard no_grad;
  const std::int64_t rows = config_.batch_size, obs_dim = online_->obs_dim();
  FusedDqnBatch b;
  b.rows = rows;
  ReplaySample sample;  // prioritised replay (or a buffer gather_host cannot read): what b points into
  if (!prioritized_replay_ && uniform_replay_->host_floats()) {
    // The rows straight into host arrays: the same draws as sample(), without its operators.
    const torch::Tensor indices = uniform_replay_->sample_indices(rows, generator_);
    host_obs_.resize(static_cast<std::size_t>(2 * rows * obs_dim));
    host_actions_.resize(static_cast<std::size_t>(rows));
    host_scalars_.resize(static_cast<std::size_t>(2 * rows));
    uniform_replay_->gather_host(indices.data_ptr<std::int64_t>(), rows, host_obs_.data(),
                                 host_obs_.data() + rows * obs_dim, host_actions_.data(), host_scalars_.data(),
                                 host_scalars_.data() + rows);
    b.obs = host_obs_.data();
    b.next_obs = host_obs_.data() + rows * obs_dim;
    b.actions = host_actions_.data();
    b.returns = host_scalars_.data();
    b.discounts = host_scalars_.data() + rows;
  } else {
    sample = sample_batch();
    sample.obs = sample.obs.to(torch::kFloat).contiguous();
    sample.next_obs = sample.next_obs.to(torch::kFloat).contiguous();
    sample.actions = sample.actions.to(torch::kLong).contiguous();
    sample.returns = sample.returns.to(torch::kFloat).contiguous();
    sample.discounts = sample.discounts.to(torch::kFloat).contiguous();
    b.rows = sample.obs.size(0);
    b.obs = sample.obs.data_ptr<float>();
    b.next_obs = sample.next_obs.data_ptr<float>();
    b.actions = sample.actions.data_ptr<std::int64_t>();
    b.returns = sample.returns.data_ptr<float>();
    b.discounts = sample.discounts.data_ptr<float>();
    if (prioritized_replay_) {
      sample.weights = sample.weights.to(torch::kFloat).contiguous();
      b.weights = sample.weights.data_ptr<float>();
    }
  }
  const torch::Tensor td_errors = prioritized_replay_ ? torch::empty({b.rows}, torch::kFloat) : torch::Tensor();
  FusedDqnOptions options;
  options.double_dqn = config_.double_dqn;
  options.huber = loss_kind_ == TdLossKind::kHuber;
  std::fill_n(flat_->grads().data_ptr<float>(), flat_->grads().numel(), 0.0f);
  const FusedDqnOut out =
      fused_->run(fused_online_, fused_target_, b, options, td_errors.defined() ? td_errors.data_ptr<float>() : nullptr);
  totals.fused_td_loss += out.loss;
  totals.fused_q_taken += out.q_taken_mean;

  if (apply_gradients()) {
    totals.weights_changed = true;
    if (prioritized_replay_) prioritized_replay_->update_priorities(sample.indices, td_errors);
  }
  gradient_steps_ += 1;
  totals.steps += 1;
}

bool Dqn::apply_gradients() {
  // Data parallelism: the online network's gradients averaged across ranks (one all-reduce of one
  // buffer) before unscaling and clipping, so every rank takes the same step.
  if (reduce_gradients_) reduce_gradients_({flat_->grads()});
  const bool finite = scaler_.unscale_({flat_->values()});  // true without a check unless fp16
  hold_frozen(trainable_, *flat_, *optimizer_);
  if (finite && config_.max_grad_norm > 0.0) clip_grad_norm({flat_->grads()}, config_.max_grad_norm);
  if (!scaler_.update(/*found_inf=*/!finite)) return false;
  adam_step(*optimizer_);
  return true;
}

void Dqn::gradient_step(StepTotals& totals) {
  if (fused_ != nullptr) {
    fused_gradient_step(totals);
    return;
  }
  const ReplaySample batch = sample_batch();

  DqnTargets targets;
  {
    torch::NoGradGuard no_grad;
    AutocastGuard autocast(precision_, device_);
    const auto q_next_target = target_->forward(batch.next_obs);
    // Plain DQN: the target network both picks and values the next action (max_a Q_target).
    const auto q_next_online = config_.double_dqn ? online_->forward(batch.next_obs) : q_next_target;
    targets = double_dqn_targets(q_next_online, q_next_target, batch.returns, batch.discounts);
  }

  DqnLossOut td;
  {
    AutocastGuard autocast(precision_, device_);
    DqnLossIn in;
    in.q_values = online_->forward(batch.obs);
    in.actions = batch.actions;
    in.targets = targets.targets;
    if (prioritized_replay_) in.weights = batch.weights;
    in.kind = loss_kind_;
    td = dqn_loss(in);
  }

  flat_->grads().zero_();
  scaler_.scale(td.loss).backward();
  if (apply_gradients()) {
    totals.weights_changed = true;
    if (prioritized_replay_) prioritized_replay_->update_priorities(batch.indices, td.td_errors);
  }
  gradient_steps_ += 1;

  torch::NoGradGuard no_grad;
  if (totals.steps == 0) {
    totals.td_loss = td.loss.detach().clone();
    totals.q_taken = td.q_taken.detach().mean();
  } else {
    totals.td_loss.add_(td.loss.detach());
    totals.q_taken.add_(td.q_taken.detach().mean());
  }
  totals.steps += 1;
}

void Dqn::update_target_network() {
  if (config_.tau >= 1.0) {
    agents::copy_weights(*online_, *target_);
  } else {
    agents::polyak_update(*target_, *online_, config_.tau);
  }
  last_target_update_ = env_steps_at_event_;
}

Metrics Dqn::update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) {
  const std::int64_t replay_steps_before = replay_steps_;
  const std::int64_t first = env_steps_ + 1;  // the chunk covers env steps [first, last]
  store_chunk(chunk);
  env_steps_ += chunk.env_steps();
  const std::int64_t last = env_steps_;
  if (prioritized_replay_) prioritized_replay_->set_beta(per_beta(ctx.global_step, ctx.total_steps > 0 ? ctx.total_steps : total_steps_));

  // Learning is on from the env step at which this object had put learning_starts steps into the
  // replay buffer.
  const std::int64_t learn_from =
      first - 1 + std::max<std::int64_t>(1, config_.learning_starts - replay_steps_before);
  const std::int64_t start = std::max(first, learn_from);
  StepTotals totals;
  if (start <= last && buffer_size() > 0) {
    guard_->save();
    if (fused_ != nullptr) refresh_fused_nets();
    std::int64_t next_phase = round_up(start, config_.train_frequency);
    std::int64_t next_target = round_up(start, config_.target_network_frequency);
    while (std::min(next_phase, next_target) <= last) {
      const std::int64_t s = std::min(next_phase, next_target);
      env_steps_at_event_ = s;
      if (s == next_phase) {
        for (std::int32_t i = 0; i < config_.gradient_steps; ++i) gradient_step(totals);
        next_phase += config_.train_frequency;
      }
      if (s == next_target) {
        update_target_network();
        next_target += config_.target_network_frequency;
      }
    }
  }
  if (totals.steps == 0) {
    if (totals.weights_changed) policy_version_ += 1;
    return {};
  }
  const double steps = static_cast<double>(totals.steps);
  const double td_loss = (totals.td_loss.defined() ? totals.td_loss.item<double>() : totals.fused_td_loss) / steps;
  const double q_values = (totals.q_taken.defined() ? totals.q_taken.item<double>() : totals.fused_q_taken) / steps;
  // Finite-only training: an update whose losses or weights are not finite is undone and reported.
  if (!std::isfinite(td_loss) || !std::isfinite(q_values) || !guard_->finite()) {
    guard_->restore();
    return {{kNonFiniteUpdate, 1.0}};
  }
  if (totals.weights_changed) policy_version_ += 1;
  Metrics metrics;
  metrics.emplace_back("td_loss", td_loss);
  metrics.emplace_back("q_values", q_values);
  metrics.emplace_back("epsilon", policy_->schedule().epsilon(ctx.global_step, /*actor_id=*/0));
  metrics.emplace_back("learning_rate", config_.learning_rate);
  metrics.emplace_back("buffer_size", static_cast<double>(buffer_size()));
  metrics.emplace_back("gradient_steps", static_cast<double>(gradient_steps_));
  if (precision_ == Precision::kFp16) metrics.emplace_back("loss_scale", scaler_.scale_value());
  return metrics;
}

// ---- checkpoints -----------------------------------------------------------------------------------

void Dqn::save(torch::serialize::OutputArchive& archive) {
  write_part(archive, "online", *online_);
  write_part(archive, "target", *target_);
  // Adam's state in the layout of one state per parameter tensor, as LibTorch's Adam over
  // online_->parameters() writes it: checkpoints stay readable whatever layout Adam steps.
  torch::optim::Adam per_tensor(parameters_, static_cast<const torch::optim::AdamOptions&>(optimizer_->defaults()));
  set_adam_moments(per_tensor, parameters_, adam_moments(*optimizer_, {flat_->values()}));
  write_part(archive, "optimizer", per_tensor);
  write_part(archive, "scaler", scaler_);
  write_scalar(archive, "env_steps", env_steps_);
  write_scalar(archive, "gradient_steps", gradient_steps_);
  write_scalar(archive, "last_target_update", last_target_update_);
  write_scalar(archive, "policy_version", policy_version_);
  archive.write("replay_generator", generator_.get_state(), /*is_buffer=*/true);
}

void Dqn::load(torch::serialize::InputArchive& archive) {
  read_module(archive, "online", *online_);
  read_module(archive, "target", *target_);
  torch::optim::Adam per_tensor(parameters_, static_cast<const torch::optim::AdamOptions&>(optimizer_->defaults()));
  read_part(archive, "optimizer", per_tensor);
  set_adam_moments(*optimizer_, {flat_->values()}, adam_moments(per_tensor, parameters_));
  read_part(archive, "scaler", scaler_);
  env_steps_ = read_i64(archive, "env_steps");
  gradient_steps_ = read_i64(archive, "gradient_steps");
  last_target_update_ = read_i64(archive, "last_target_update");
  policy_version_ = read_i64(archive, "policy_version");

  torch::Tensor generator_state;
  archive.read("replay_generator", generator_state, /*is_buffer=*/true);
  generator_.set_state(generator_state);

  // The replay buffer and the open n-step windows are not in the checkpoint: start them afresh.
  reset_replay();
}

void Dqn::weights_loaded() { agents::copy_weights(*online_, *target_); }

bool Dqn::set_frozen(const std::function<bool(const std::string&)>& frozen) {
  trainable_ = trainable_mask(*online_, frozen);
  return true;
}

AlgorithmSpec dqn_algorithm() {
  AlgorithmSpec spec;
  spec.name = "dqn";
  spec.doc = "DQN hyperparameters (algo: dqn)";
  spec.config = core::AnySection::of(DqnConfig{});
  spec.check = [](const TrainConfig& config, const envs::EnvSpec& env, const RunContext& ctx) {
    if (!env.action_space.is_discrete())
      throw std::invalid_argument(ctx.source + ": algo: dqn needs a discrete action space; " + env.id + " has " +
                                  env.action_space.to_string() + " (use algo: ppo or sac)");
    if (ctx.actor_processes && config.section<DqnConfig>("dqn").n_step > 1)
      throw std::invalid_argument(ctx.source + ": dqn.n_step > 1 needs consecutive chunks of one actor; with actor "
                                  "processes use dqn.n_step: 1 (or actors.count: 0)");
  };
  spec.rollout_steps = dqn_rollout_steps;
  spec.chunk_log_probs = false;
  spec.data_parallel = true;  // one all-reduce of the online network's gradients per gradient step
  spec.make = make_dqn;
  spec.make_behaviour_policy = [](const TrainConfig& config, const envs::EnvSpec& env) -> std::shared_ptr<agents::Policy> {
    return std::make_shared<agents::EpsilonGreedyPolicy>(
        agents::make_q_network(env, to_policy_config(config.policy, env)), dqn_epsilon_schedule(config));
  };
  spec.policy_key = "online";
  spec.memory_bytes = [](const TrainConfig& config, const envs::EnvSpec& env) {
    // Preallocated replay per slot: obs and next_obs (fp32, or uint8 for images), action (int64),
    // reward and discount (fp32).
    const std::int64_t element = env.observation_space.is_uint8() ? 1 : 4;
    return config.section<DqnConfig>("dqn").buffer_size * (2 * element * env.obs_dim() + 16);
  };
  spec.metrics = {"td_loss", "q_values", "epsilon", "learning_rate", "buffer_size", "gradient_steps", "loss_scale"};
  return spec;
}

}  // namespace apiary::learner
