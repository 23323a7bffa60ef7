#include "agents/policy.h"

#include <algorithm>
#include <cmath>

namespace apiary::agents {

PolicyAct ActorCriticPolicy::act(const torch::Tensor& obs, const ActContext& ctx) {
  ActOut out = net_->act(obs, ctx.deterministic);
  return PolicyAct{out.action, out.log_prob, out.value};
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
