#include "agents/policy.h"

#include <algorithm>
#include <cmath>

namespace apiary::agents {

PolicyView Policy::view(const torch::Tensor& obs, torch::Tensor* state) {
  torch::NoGradGuard no_grad;
  ActContext ctx;
  ctx.deterministic = true;
  ctx.state = state;
  PolicyView v;
  v.action = act(obs, ctx).action;
  v.scores = v.action.to(torch::kFloat32).reshape({obs.size(0), -1});
  return v;
}

PolicyView ActorCriticPolicy::view(const torch::Tensor& obs, torch::Tensor* state) {
  torch::NoGradGuard no_grad;
  PolicyOut out;
  if (net_->recurrent()) {
    TORCH_CHECK(state != nullptr, "ActorCriticPolicy::view: a recurrent policy needs each lane's state");
    torch::Tensor next;
    Recurrence rec;
    rec.state = *state;
    rec.final_state = &next;
    out = net_->forward(obs, &rec);
    *state = next;
  } else {
    out = net_->forward(obs);
  }
  PolicyView v;
  if (out.logits.defined()) {
    v.kind = PolicyView::Kind::kProbabilities;
    v.scores = torch::softmax(out.logits.to(torch::kFloat32), 1);
    v.action = out.logits.argmax(1);
  } else {
    v.kind = PolicyView::Kind::kActionMean;
    v.scores = out.mean.to(torch::kFloat32);
    v.action = v.scores;
  }
  return v;
}

PolicyView EpsilonGreedyPolicy::view(const torch::Tensor& obs, torch::Tensor* /*state*/) {
  torch::NoGradGuard no_grad;
  PolicyView v;
  v.kind = PolicyView::Kind::kQValues;
  v.scores = net_->forward(obs).to(torch::kFloat32);
  v.action = v.scores.argmax(1);
  return v;
}

torch::Tensor Policy::deterministic_action(const torch::Tensor& obs, torch::Tensor* state) {
  ActContext ctx;
  ctx.deterministic = true;
  ctx.state = state;
  return act(obs, ctx).action;
}

PolicyAct ActorCriticPolicy::act(const torch::Tensor& obs, const ActContext& ctx) {
  ActOut out;
  if (!net_->dense_act(obs, ctx.deterministic, nullptr, out)) out = net_->act(obs, ctx.deterministic, nullptr, ctx.state);
  return PolicyAct{out.action, out.log_prob, out.value};
}

torch::Tensor ActorCriticPolicy::deterministic_action(const torch::Tensor& obs, torch::Tensor* state) {
  torch::Tensor action;
  return net_->dense_mode(obs, action) ? action : net_->mode(obs, state);
}

LaneMemory::LaneMemory(std::int64_t state_size, std::int64_t lanes, torch::Device device) {
  if (state_size > 0) state_ = torch::zeros({lanes, state_size}, torch::TensorOptions().dtype(torch::kFloat).device(device));
}

void LaneMemory::set(const torch::Tensor& state) {
  TORCH_CHECK(!empty() && state.sizes() == state_.sizes(), "LaneMemory: a state of shape ", state.sizes(),
              " where the lanes' memory is ", empty() ? torch::IntArrayRef{} : state_.sizes());
  state_ = state.to(state_.device(), torch::kFloat).clone();
}

void LaneMemory::reset() {
  if (!empty()) state_ = torch::zeros_like(state_);
}

void LaneMemory::reset_where(const torch::Tensor& ended) {
  if (empty()) return;
  state_ = state_.masked_fill(ended.to(state_.device(), torch::kBool).view({-1, 1}), 0.0);
}

void LaneMemory::reset_where(const std::uint8_t* terminated, const std::uint8_t* truncated) {
  if (empty()) return;
  const std::int64_t lanes = state_.size(0);
  torch::Tensor ended = torch::empty({lanes}, torch::kUInt8);
  std::uint8_t* e = ended.data_ptr<std::uint8_t>();
  bool any = false;
  for (std::int64_t i = 0; i < lanes; ++i) any |= (e[i] = static_cast<std::uint8_t>(terminated[i] | truncated[i])) != 0;
  if (any) reset_where(ended);
}

double EpsilonSchedule::epsilon(std::int64_t global_step, std::int32_t actor_id) const {
  if (num_actors > 1) {
    const double power = 1.0 + static_cast<double>(actor_id) / static_cast<double>(num_actors - 1) * apex_alpha;
    return std::pow(apex_base, power);
  }
  const double duration = exploration_fraction * static_cast<double>(total_steps);
  const double progress = duration > 0 ? std::min(1.0, static_cast<double>(global_step) / duration) : 1.0;
  return start_e + (end_e - start_e) * progress;
}

PolicyAct EpsilonGreedyPolicy::act(const torch::Tensor& obs, const ActContext& ctx) {
  torch::NoGradGuard no_grad;
  if (ctx.deterministic) return PolicyAct{net_->greedy(obs), {}, {}};
  const double eps = schedule_.epsilon(ctx.global_step, ctx.actor_id);
  const auto epsilons = torch::full({}, eps, torch::TensorOptions().dtype(torch::kFloat32).device(obs.device()));
  QActOut out = net_->epsilon_greedy(obs, epsilons);
  return PolicyAct{out.action, {}, {}};
}

}  // namespace apiary::agents
