#include "learner/losses.h"

#include <limits>

namespace apiary::learner {

namespace {

// Reductions and log-probabilities stay float32 even when the forward pass ran in fp16 or bf16.
torch::Tensor at_least_float(const torch::Tensor& t) {
  const auto type = t.scalar_type();
  return (type == torch::kHalf || type == torch::kBFloat16) ? t.to(torch::kFloat) : t;
}

void check_batch(const torch::Tensor& t, std::int64_t rows, const char* name) {
  TORCH_CHECK(t.defined() && t.dim() == 1 && t.size(0) == rows, name, " must be [B] = [", rows,
              "], got ", t.defined() ? t.sizes() : torch::IntArrayRef{});
}

}  // namespace

torch::Tensor normalize_advantages(const torch::Tensor& advantages) {
  const auto a = at_least_float(advantages).detach();
  return (a - a.mean()) / (a.std() + 1e-8);
}

PpoLossOut ppo_loss(const PpoLossIn& in) {
  TORCH_CHECK(in.new_logprob.defined() && in.new_logprob.dim() == 1,
              "ppo_loss: new_logprob must be [B]");
  const auto rows = in.new_logprob.size(0);
  check_batch(in.old_logprob, rows, "ppo_loss: old_logprob");
  check_batch(in.advantages, rows, "ppo_loss: advantages");
  check_batch(in.new_values, rows, "ppo_loss: new_values");
  check_batch(in.old_values, rows, "ppo_loss: old_values");
  check_batch(in.returns, rows, "ppo_loss: returns");
  check_batch(in.entropy, rows, "ppo_loss: entropy");

  const auto c = in.clip_coef;
  const auto logratio = at_least_float(in.new_logprob) - at_least_float(in.old_logprob);
  const auto ratio = logratio.exp();

  PpoLossOut out;
  {
    torch::NoGradGuard no_grad;
    out.old_approx_kl = (-logratio).mean();
    out.approx_kl = ((ratio - 1.0) - logratio).mean();
    out.clipfrac = ((ratio - 1.0).abs() > c).to(torch::kFloat).mean();
  }

  auto advantages = in.norm_adv ? normalize_advantages(in.advantages) : at_least_float(in.advantages).detach();

  const auto pg_loss1 = -advantages * ratio;
  const auto pg_loss2 = -advantages * torch::clamp(ratio, 1.0 - c, 1.0 + c);
  out.pg_loss = torch::max(pg_loss1, pg_loss2).mean();

  const auto new_values = at_least_float(in.new_values);
  const auto returns = at_least_float(in.returns).detach();
  if (in.clip_vloss) {
    const auto old_values = at_least_float(in.old_values).detach();
    const auto v_loss_unclipped = (new_values - returns).pow(2);
    const auto v_clipped = old_values + torch::clamp(new_values - old_values, -c, c);
    const auto v_loss_clipped = (v_clipped - returns).pow(2);
    out.v_loss = 0.5 * torch::max(v_loss_unclipped, v_loss_clipped).mean();
  } else {
    out.v_loss = 0.5 * (new_values - returns).pow(2).mean();
  }

  out.entropy_loss = at_least_float(in.entropy).mean();
  out.loss = out.pg_loss - in.ent_coef * out.entropy_loss + in.vf_coef * out.v_loss;
  return out;
}

double explained_variance(const torch::Tensor& values, const torch::Tensor& returns) {
  TORCH_CHECK(values.sizes() == returns.sizes(), "explained_variance: values ", values.sizes(),
              " and returns ", returns.sizes(), " differ in shape");
  torch::NoGradGuard no_grad;
  const auto y = returns.to(torch::kDouble).flatten();
  const auto y_pred = values.to(torch::kDouble).flatten();
  // Population variance written out: the overloads of var() differ between LibTorch 1.13 and 2.x.
  const auto population_var = [](const torch::Tensor& t) { return (t - t.mean()).pow(2).mean(); };
  const double var_y = population_var(y).item<double>();
  if (var_y == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 - population_var(y - y_pred).item<double>() / var_y;
}

DqnTargets double_dqn_targets(const torch::Tensor& q_next_online, const torch::Tensor& q_next_target,
                              const torch::Tensor& returns, const torch::Tensor& discounts) {
  TORCH_CHECK(q_next_online.dim() == 2 && q_next_online.sizes() == q_next_target.sizes(),
              "double_dqn_targets: q_next_online and q_next_target must both be [B, num_actions], got ",
              q_next_online.sizes(), " and ", q_next_target.sizes());
  const auto rows = q_next_online.size(0);
  check_batch(returns, rows, "double_dqn_targets: returns");
  check_batch(discounts, rows, "double_dqn_targets: discounts");
  torch::NoGradGuard no_grad;
  DqnTargets out;
  out.next_actions = q_next_online.argmax(/*dim=*/1);
  out.next_q = at_least_float(q_next_target).gather(1, out.next_actions.unsqueeze(1)).squeeze(1);
  // A terminal transition has discount 0; where() keeps a non-finite next Q (e.g. a NaN sentinel
  // row of an unused next_obs) from leaking through 0 * inf.
  const auto discounts_f = at_least_float(discounts).to(out.next_q.scalar_type());
  out.targets = at_least_float(returns).to(out.next_q.scalar_type()) +
                torch::where(discounts_f == 0, torch::zeros_like(out.next_q), discounts_f * out.next_q);
  return out;
}

DqnLossOut dqn_loss(const DqnLossIn& in) {
  TORCH_CHECK(in.q_values.defined() && in.q_values.dim() == 2,
              "dqn_loss: q_values must be [B, num_actions]");
  const auto rows = in.q_values.size(0);
  check_batch(in.actions, rows, "dqn_loss: actions");
  check_batch(in.targets, rows, "dqn_loss: targets");
  TORCH_CHECK(in.huber_delta > 0.0, "dqn_loss: huber_delta must be > 0, got ", in.huber_delta);

  DqnLossOut out;
  out.q_taken = at_least_float(in.q_values)
                    .gather(1, in.actions.to(torch::kLong).unsqueeze(1))
                    .squeeze(1);
  const auto targets = at_least_float(in.targets).detach();
  const auto diff = targets - out.q_taken;
  out.td_errors = diff.detach();

  torch::Tensor elementwise;
  if (in.kind == TdLossKind::kMse) {
    elementwise = diff.pow(2);
  } else {
    const auto delta = in.huber_delta;
    const auto magnitude = diff.abs();
    elementwise = torch::where(magnitude <= delta, 0.5 * diff.pow(2),
                               delta * (magnitude - 0.5 * delta));
  }
  if (in.weights.defined()) {
    check_batch(in.weights, rows, "dqn_loss: weights");
    elementwise = elementwise * at_least_float(in.weights).detach();
  }
  out.loss = elementwise.mean();
  return out;
}

}  // namespace apiary::learner
