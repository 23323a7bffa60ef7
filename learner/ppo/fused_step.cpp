#include "learner/ppo/fused_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "agents/dense_kernels.h"
#include "learner/loss_kernels.h"

namespace apiary::learner {

namespace {

using agents::dense_backward;
using agents::dense_body_backward;
using agents::dense_body_forward;
using agents::dense_forward;
using agents::ensure_size;

// ppo_loss's sums over the rows, in double; divided by the rows they are its means.
struct LossSums {
  double pg = 0, v = 0, entropy = 0, old_kl = 0, kl = 0, clipped = 0;
};

// The policy's terms per row: the ratio's diagnostics, the clipped surrogate, and d loss / d log pi(a|s)
// into g_logp.
void policy_loss_rows(const float* log_prob, const float* old_log_prob, const float* adv, std::int64_t rows, float clip,
                      float* g_logp, LossSums& sums) {
  const double inv_rows = 1.0 / static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float log_ratio = log_prob[r] - old_log_prob[r];
    const float ratio = std::exp(log_ratio);
    sums.old_kl += -log_ratio;
    sums.kl += (ratio - 1.0f) - log_ratio;
    sums.clipped += std::abs(ratio - 1.0f) > clip ? 1.0 : 0.0;
    sums.pg += clipped_surrogate_forward(ratio, adv[r], clip);
    g_logp[r] = static_cast<float>(clipped_surrogate_backward(ratio, adv[r], clip) * ratio * inv_rows);
  }
}

// The value loss, 0.5 * mean((clipped) squared error), per row: its sum, and d loss / d V(s) into grad_v.
void value_loss_rows(const float* v, const FusedBatch& batch, const FusedLossOptions& options, float* grad_v,
                     LossSums& sums) {
  const float c = static_cast<float>(options.clip_coef);
  const double inv_rows = 1.0 / static_cast<double>(batch.rows);
  for (std::int64_t r = 0; r < batch.rows; ++r) {
    const float ret = batch.returns[r];
    float error, d_error;
    if (options.clip_vloss) {
      error = clipped_value_error_forward(v[r], batch.old_values[r], ret, c);
      d_error = clipped_value_error_backward(v[r], batch.old_values[r], ret, c);
    } else {
      error = squared_error_forward(v[r], ret);
      d_error = squared_error_backward(v[r], ret);
    }
    sums.v += error;
    grad_v[r] = static_cast<float>(0.5 * options.vf_coef * d_error * inv_rows);  // d (vf_coef * v_loss) / d v
  }
}

// The sums as ppo_loss's means, and its loss.
FusedStats stats_of(const LossSums& sums, std::int64_t rows, const FusedLossOptions& options) {
  const double inv_rows = 1.0 / static_cast<double>(rows);
  FusedStats stats;
  stats.pg_loss = static_cast<float>(sums.pg * inv_rows);
  stats.v_loss = static_cast<float>(0.5 * sums.v * inv_rows);
  stats.entropy = static_cast<float>(sums.entropy * inv_rows);
  stats.old_approx_kl = static_cast<float>(sums.old_kl * inv_rows);
  stats.approx_kl = static_cast<float>(sums.kl * inv_rows);
  stats.clipfrac = static_cast<float>(sums.clipped * inv_rows);
  stats.loss = static_cast<float>(stats.pg_loss - options.ent_coef * stats.entropy + options.vf_coef * stats.v_loss);
  return stats;
}

}  // namespace

bool fused_step_available() { return agents::dense_kernels_available(); }

FusedStats FusedPpoStep::run(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options) {
  if (!fused_step_available()) throw std::logic_error("FusedPpoStep: built without a BLAS");
  const std::int64_t rows = batch.rows;
  const Features features = forward(net, batch);
  policy_forward(net, batch);

  // The loss, row by row (ppo_loss): advantages normalised with the unbiased std as Tensor::std().
  ensure_size(adv_, rows);
  ensure_size(g_logp_, rows);
  ensure_size(grad_c_, rows);
  if (options.norm_adv) {
    standardize_advantages(batch.advantages, rows, adv_.data());
  } else {
    std::copy(batch.advantages, batch.advantages + rows, adv_.begin());
  }
  LossSums sums;
  policy_loss_rows(log_prob_.data(), batch.old_log_probs, adv_.data(), rows, static_cast<float>(options.clip_coef),
                   g_logp_.data(), sums);
  for (std::int64_t r = 0; r < rows; ++r) sums.entropy += entropy_[r];
  value_loss_rows(head_c_.data(), batch, options, grad_c_.data(), sums);

  policy_backward(net, batch, options);
  backward(net, features, rows);
  return stats_of(sums, rows, options);
}

FusedPpoStep::Features FusedPpoStep::forward(const FusedNet& net, const FusedBatch& batch) {
  const std::int64_t rows = batch.rows;
  Features f;
  f.input = agents::dense_scale_input(batch.obs, rows, net.obs_dim, net.obs_offset, net.obs_scale, input_);
  f.actor = dense_body_forward(net.actor_body, f.input, rows, net.tanh, actor_h_);
  f.critic = net.shared_trunk ? f.actor : dense_body_forward(net.critic_body, f.input, rows, net.tanh, critic_h_);
  ensure_size(head_a_, rows * net.actor_head.out);
  ensure_size(head_c_, rows);
  dense_forward(net.actor_head, f.actor, rows, head_a_.data(), false, net.tanh);
  dense_forward(net.critic_head, f.critic, rows, head_c_.data(), false, net.tanh);
  return f;
}

void FusedPpoStep::policy_forward(const FusedNet& net, const FusedBatch& batch) {
  const std::int64_t rows = batch.rows, heads = net.actor_head.out;
  ensure_size(log_prob_, rows);
  ensure_size(entropy_, rows);
  ensure_size(grad_a_, rows * heads);
  if (net.discrete) {
    try {
      categorical_log_prob_forward(head_a_.data(), batch.actions_d, rows, heads, grad_a_.data(), log_prob_.data(),
                                   entropy_.data());
    } catch (const std::out_of_range& e) {
      throw std::out_of_range(std::string("PPO's fused step: ") + e.what());
    }
  } else {
    diag_gaussian_log_prob_forward(head_a_.data(), batch.actions_c, net.log_std, rows, heads, log_prob_.data());
    std::fill(entropy_.begin(), entropy_.begin() + rows, diag_gaussian_entropy(net.log_std, heads));
  }
}

void FusedPpoStep::policy_backward(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options) {
  // The loss has -ent_coef * mean(entropy): each row's entropy gets -ent_coef / B (from a float ent_coef).
  const std::int64_t rows = batch.rows, heads = net.actor_head.out;
  if (net.discrete) {
    const float ent_coef = static_cast<float>(options.ent_coef);
    const float g_entropy = -static_cast<float>(ent_coef * (1.0 / static_cast<double>(rows)));
    categorical_log_prob_backward(grad_a_.data(), batch.actions_d, entropy_.data(), g_logp_.data(), g_entropy, rows,
                                  heads, grad_a_.data());
  } else {
    diag_gaussian_log_prob_backward(head_a_.data(), batch.actions_c, net.log_std, g_logp_.data(), -options.ent_coef,
                                    rows, heads, grad_a_.data(), net.log_std_grad);
  }
}

void FusedPpoStep::backward(const FusedNet& net, const Features& f, std::int64_t rows) {
  const std::int64_t actor_width = net.actor_head.in, critic_width = net.critic_head.in;
  const bool actor_has_body = !net.actor_body.empty();
  const bool critic_has_body = net.shared_trunk ? actor_has_body : !net.critic_body.empty();
  ensure_size(trunk_grad_, rows * actor_width);
  dense_backward(net.actor_head, f.actor, grad_a_.data(), rows, actor_has_body ? trunk_grad_.data() : nullptr);
  if (net.shared_trunk) {
    // Both heads read the trunk: their feature gradients add up before it.
    ensure_size(delta_, rows * actor_width);
    dense_backward(net.critic_head, f.critic, grad_c_.data(), rows, critic_has_body ? delta_.data() : nullptr);
    if (!actor_has_body) return;
    for (std::int64_t i = 0; i < rows * actor_width; ++i) trunk_grad_[i] += delta_[i];
    dense_body_backward(net.actor_body, f.input, actor_h_, rows, net.tanh, trunk_grad_.data(), nullptr, delta_,
                        delta_next_);
    return;
  }
  dense_body_backward(net.actor_body, f.input, actor_h_, rows, net.tanh, trunk_grad_.data(), nullptr, delta_,
                      delta_next_);
  ensure_size(trunk_grad_, rows * critic_width);
  dense_backward(net.critic_head, f.critic, grad_c_.data(), rows, critic_has_body ? trunk_grad_.data() : nullptr);
  dense_body_backward(net.critic_body, f.input, critic_h_, rows, net.tanh, trunk_grad_.data(), nullptr, delta_,
                      delta_next_);
}

}  // namespace apiary::learner
