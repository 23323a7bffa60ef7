#include "learner/dqn.h"


#include <algorithm>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "agents/weights.h"
#include "learner/archive.h"
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

void check_config(const DqnConfig& c) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("dqn." + what); };
  if (!(c.tau > 0.0 && c.tau <= 1.0)) fail("tau must be in (0, 1], got " + std::to_string(c.tau));
  if (c.buffer_size < 1) fail("buffer_size must be >= 1, got " + std::to_string(c.buffer_size));
  if (c.batch_size < 1) fail("batch_size must be >= 1, got " + std::to_string(c.batch_size));
  if (c.train_frequency < 1) fail("train_frequency must be >= 1, got " + std::to_string(c.train_frequency));
  if (c.gradient_steps < 1) fail("gradient_steps must be >= 1, got " + std::to_string(c.gradient_steps));
  if (c.target_network_frequency < 1)
    fail("target_network_frequency must be >= 1, got " + std::to_string(c.target_network_frequency));
  if (c.n_step < 1) fail("n_step must be >= 1, got " + std::to_string(c.n_step));
}

// The smallest multiple of `period` that is >= value (value >= 0, period >= 1).
std::int64_t round_up(std::int64_t value, std::int64_t period) { return (value + period - 1) / period * period; }

// Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_, but without reading the norm on the
// host: the scale factor min(1, max_norm / (norm + 1e-6)) stays a device tensor.
void clip_grad_norm_on_device(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  norms.reserve(parameters.size());
  for (const auto& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  }
  if (norms.empty()) return;
  const auto coef = (torch::stack(norms).norm() + 1e-6).reciprocal_().mul_(max_norm).clamp_max_(1.0);
  for (const auto& p : parameters) {
    if (p.grad().defined()) p.grad().mul_(coef);
  }
}

}  // namespace

std::unique_ptr<Algorithm> make_dqn(const AlgorithmInit& init) {
  check_discrete_actions(init.spec);
  return std::make_unique<Dqn>(init);
}

Dqn::Dqn(const AlgorithmInit& init)
    : config_(init.config.dqn),
      total_steps_(init.config.total_steps),
      device_(init.device),
      precision_(init.precision),
      loss_kind_(parse_loss(init.config.dqn.loss)),
      num_envs_(init.config.env.num_envs),
      scaler_(LossScalerOptions{/*enabled=*/init.precision == Precision::kFp16}),
      generator_(make_generator(static_cast<std::uint64_t>(init.config.seed))) {
  check_discrete_actions(init.spec);
  check_config(config_);
  check_precision_supported(precision_, device_);

  const auto policy_config = to_policy_config(init.config.policy, init.spec);
  const auto obs_dim = init.spec.obs_dim();
  const auto num_actions = init.spec.action_space.n;
  online_ = agents::QNetwork(obs_dim, num_actions, policy_config);
  target_ = agents::QNetwork(obs_dim, num_actions, policy_config);
  online_->to(device_);
  target_->to(device_);
  agents::copy_weights(*online_, *target_);
  for (auto& p : target_->parameters()) p.set_requires_grad(false);

  agents::EpsilonSchedule schedule;
  schedule.start_e = config_.start_e;
  schedule.end_e = config_.end_e;
  schedule.exploration_fraction = config_.exploration_fraction;
  schedule.total_steps = total_steps_;
  policy_ = std::make_shared<agents::EpsilonGreedyPolicy>(online_, schedule);

  parameters_ = online_->parameters();
  optimizer_ = std::make_unique<torch::optim::Adam>(parameters_, torch::optim::AdamOptions(config_.learning_rate));
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
                                device_);
  } else {
    uniform_replay_.emplace(config_.buffer_size, obs_dim, std::vector<std::int64_t>{}, torch::kLong, device_);
  }
  nstep_.reset();
  replay_steps_ = 0;
}

std::int32_t Dqn::rollout_steps() const { return std::max(1, config_.train_frequency / num_envs_); }

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
    if (!nstep_ || nstep_->num_envs() != lanes) nstep_.emplace(lanes, config_.n_step, config_.gamma, obs_dim, device_);
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

void Dqn::gradient_step(StepTotals& totals) {
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

  optimizer_->zero_grad();
  scaler_.scale(td.loss).backward();
  const bool finite = scaler_.unscale_(parameters_);  // true without a check unless fp16
  if (finite && config_.max_grad_norm > 0.0) clip_grad_norm_on_device(parameters_, config_.max_grad_norm);
  if (scaler_.update(/*found_inf=*/!finite)) {
    optimizer_->step();
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
  if (totals.weights_changed) policy_version_ += 1;
  if (totals.steps == 0) return {};

  const double steps = static_cast<double>(totals.steps);
  Metrics metrics;
  metrics.emplace_back("td_loss", totals.td_loss.item<double>() / steps);
  metrics.emplace_back("q_values", totals.q_taken.item<double>() / steps);
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
  write_part(archive, "optimizer", *optimizer_);
  write_part(archive, "scaler", scaler_);
  archive.write("env_steps", c10::IValue(env_steps_));
  archive.write("gradient_steps", c10::IValue(gradient_steps_));
  archive.write("last_target_update", c10::IValue(last_target_update_));
  archive.write("policy_version", c10::IValue(policy_version_));
  archive.write("replay_generator", generator_.get_state(), /*is_buffer=*/true);
}

void Dqn::load(torch::serialize::InputArchive& archive) {
  read_part(archive, "online", *online_);
  read_part(archive, "target", *target_);
  for (auto& p : target_->parameters()) p.set_requires_grad(false);
  read_part(archive, "optimizer", *optimizer_);
  read_part(archive, "scaler", scaler_);

  const auto read_int = [&](const char* key) {
    c10::IValue value;
    archive.read(key, value);
    return value.toInt();
  };
  env_steps_ = read_int("env_steps");
  gradient_steps_ = read_int("gradient_steps");
  last_target_update_ = read_int("last_target_update");
  policy_version_ = read_int("policy_version");

  torch::Tensor generator_state;
  archive.read("replay_generator", generator_state, /*is_buffer=*/true);
  generator_.set_state(generator_state);

  // The replay buffer and the open n-step windows are not in the checkpoint: start them afresh.
  reset_replay();
}

}  // namespace apiary::learner
