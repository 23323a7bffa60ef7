#include "learner/ppo/fused_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "agents/dense_kernels.h"

namespace apiary::learner {

namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 * log(2 pi)

using agents::activation_backward;
using agents::dense_backward;
using agents::dense_body_forward;
using agents::dense_forward;
using agents::ensure_size;

}  // namespace

bool fused_step_available() { return agents::dense_kernels_available(); }

FusedStats FusedPpoStep::run(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options) {
  if (!fused_step_available()) throw std::logic_error("FusedPpoStep: built without a BLAS");
  const std::int64_t rows = batch.rows;
  const std::int64_t obs_dim = net.obs_dim;
  const std::int64_t heads = net.actor_head.out;  // n logits or A means

  // Forward: the (scaled) input, each body's hidden activations, the two heads.
  const float* x = agents::dense_scale_input(batch.obs, rows, obs_dim, net.obs_offset, net.obs_scale, input_);
  const float* actor_features = dense_body_forward(net.actor_body, x, rows, net.tanh, actor_h_);
  const float* critic_features =
      net.shared_trunk ? actor_features : dense_body_forward(net.critic_body, x, rows, net.tanh, critic_h_);
  ensure_size(head_a_, rows * heads);
  ensure_size(head_c_, rows);
  dense_forward(net.actor_head, actor_features, rows, head_a_.data(), false, net.tanh);
  dense_forward(net.critic_head, critic_features, rows, head_c_.data(), false, net.tanh);

  // The loss, row by row (ppo_loss): advantages normalised with the unbiased std as Tensor::std().
  ensure_size(adv_, rows);
  ensure_size(g_logp_, rows);
  ensure_size(grad_a_, rows * heads);
  ensure_size(grad_c_, rows);
  if (options.norm_adv) {
    double sum = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) sum += batch.advantages[r];
    const double mean = sum / static_cast<double>(rows);
    double squares = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) squares += (batch.advantages[r] - mean) * (batch.advantages[r] - mean);
    const double std = std::sqrt(squares / static_cast<double>(rows - 1));
    for (std::int64_t r = 0; r < rows; ++r)
      adv_[r] = static_cast<float>((batch.advantages[r] - mean) / (std + 1e-8));
  } else {
    std::copy(batch.advantages, batch.advantages + rows, adv_.begin());
  }

  const float c = static_cast<float>(options.clip_coef);
  const double inv_rows = 1.0 / static_cast<double>(rows);
  const float ent_coef = static_cast<float>(options.ent_coef);
  double pg_sum = 0, v_sum = 0, ent_sum = 0, old_kl_sum = 0, kl_sum = 0, clip_sum = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* z = head_a_.data() + r * heads;
    float* gz = grad_a_.data() + r * heads;
    float new_logp = 0.0f;
    float entropy = 0.0f;
    if (net.discrete) {
      // log_softmax as LibTorch: z - max - log(sum exp(z - max)).
      float zmax = z[0];
      for (std::int64_t j = 1; j < heads; ++j) zmax = std::max(zmax, z[j]);
      float sum = 0.0f;
      for (std::int64_t j = 0; j < heads; ++j) sum += std::exp(z[j] - zmax);
      const float log_sum = std::log(sum);
      for (std::int64_t j = 0; j < heads; ++j) {
        const float log_p = z[j] - zmax - log_sum;
        gz[j] = log_p;  // kept here until the gradient overwrites it
        entropy -= std::exp(log_p) * log_p;
      }
      const std::int64_t action = batch.actions_d[r];
      if (action < 0 || action >= heads)
        throw std::out_of_range("PPO's fused step: action " + std::to_string(action) + " of row " + std::to_string(r) +
                                " is outside [0, " + std::to_string(heads) + ")");
      new_logp = gz[action];
    } else {
      const float* a = batch.actions_c + r * heads;
      for (std::int64_t j = 0; j < heads; ++j) {
        const float zj = (a[j] - z[j]) * std::exp(-net.log_std[j]);
        new_logp += -0.5f * zj * zj - net.log_std[j] - static_cast<float>(kHalfLog2Pi);
        entropy += net.log_std[j] + static_cast<float>(0.5 + kHalfLog2Pi);
      }
    }
    const float log_ratio = new_logp - batch.old_log_probs[r];
    const float ratio = std::exp(log_ratio);
    old_kl_sum += -log_ratio;
    kl_sum += (ratio - 1.0f) - log_ratio;
    clip_sum += std::abs(ratio - 1.0f) > c ? 1.0 : 0.0;

    // max(-A r, -A clamp(r)): the gradient reaches r through the first term when it is the larger (a
    // tie gives half to each, and inside the clip range the clamp passes its half through).
    const float adv = adv_[r];
    const float pg1 = -adv * ratio;
    const float clamped = std::clamp(ratio, 1.0f - c, 1.0f + c);
    const float pg2 = -adv * clamped;
    pg_sum += std::max(pg1, pg2);
    float d_ratio;  // d max(pg1, pg2) / d ratio
    const bool in_range = ratio >= 1.0f - c && ratio <= 1.0f + c;
    if (pg1 > pg2) {
      d_ratio = -adv;
    } else if (pg1 < pg2) {
      d_ratio = in_range ? -adv : 0.0f;
    } else {
      d_ratio = 0.5f * -adv + (in_range ? 0.5f * -adv : 0.0f);
    }
    g_logp_[r] = static_cast<float>(d_ratio * ratio * inv_rows);
    ent_sum += entropy;

    // The value loss, 0.5 * mean(max(unclipped, clipped)) or 0.5 * mean(unclipped).
    const float v = head_c_[r];
    const float ret = batch.returns[r];
    float dv;  // d (0.5 * per-row loss) / d v
    if (options.clip_vloss) {
      const float old_v = batch.old_values[r];
      const float unclipped = (v - ret) * (v - ret);
      const float dv_old = v - old_v;
      const float v_clipped = old_v + std::clamp(dv_old, -c, c);
      const float clipped = (v_clipped - ret) * (v_clipped - ret);
      const bool passes = dv_old >= -c && dv_old <= c;
      const float d_unclipped = v - ret;
      const float d_clipped = passes ? v_clipped - ret : 0.0f;
      v_sum += std::max(unclipped, clipped);
      dv = unclipped > clipped ? d_unclipped : unclipped < clipped ? d_clipped : 0.5f * (d_unclipped + d_clipped);
    } else {
      v_sum += (v - ret) * (v - ret);
      dv = v - ret;
    }
    grad_c_[r] = static_cast<float>(options.vf_coef * dv * inv_rows);

    // d loss / d actor head. Discrete: d log p_a / d z_k = [k = a] - p_k, and the entropy bonus
    // -ent_coef * H / B adds ent_coef / B * p_k (log p_k + H).
    if (net.discrete) {
      const std::int64_t action = batch.actions_d[r];
      const float g = g_logp_[r];
      const float ent_scale = static_cast<float>(ent_coef * inv_rows);
      for (std::int64_t j = 0; j < heads; ++j) {
        const float log_p = gz[j];
        const float p = std::exp(log_p);
        gz[j] = g * ((j == action ? 1.0f : 0.0f) - p) + ent_scale * p * (log_p + entropy);
      }
    } else {
      const float* a = batch.actions_c + r * heads;
      for (std::int64_t j = 0; j < heads; ++j) {
        const float inv_std = std::exp(-net.log_std[j]);
        gz[j] = g_logp_[r] * (a[j] - z[j]) * inv_std * inv_std;
      }
    }
  }
  // Box: d loss / d log_std_j = sum_r g_r (z_rj^2 - 1) - ent_coef (the entropy's mean is sum_j log_std_j + const).
  if (!net.discrete) {
    for (std::int64_t j = 0; j < heads; ++j) {
      const float inv_std = std::exp(-net.log_std[j]);
      double g = 0.0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const float zj = (batch.actions_c[r * heads + j] - head_a_[r * heads + j]) * inv_std;
        g += g_logp_[r] * (zj * zj - 1.0f);
      }
      net.log_std_grad[j] += static_cast<float>(g - options.ent_coef);
    }
  }

  // Backward through the heads and the bodies.
  const auto backward_body = [&](const std::vector<FusedLinear>& body, std::vector<std::vector<float>>& h,
                                 float* d_features) {
    // d_features: d loss / d (the body's last activation); consumed.
    float* d = d_features;
    for (std::size_t l = body.size(); l-- > 0;) {
      activation_backward(h[l].data(), d, rows * body[l].out, net.tanh);
      const float* in = l == 0 ? x : h[l - 1].data();
      float* dx = nullptr;
      if (l > 0) {
        ensure_size(delta_next_, rows * body[l].in);
        dx = delta_next_.data();
      }
      dense_backward(body[l], in, d, rows, dx);
      if (l > 0) {
        std::swap(delta_, delta_next_);
        d = delta_.data();
      }
    }
  };
  const std::int64_t actor_width = net.actor_head.in, critic_width = net.critic_head.in;
  const bool actor_has_body = !net.actor_body.empty();
  const bool critic_has_body = net.shared_trunk ? actor_has_body : !net.critic_body.empty();
  if (net.shared_trunk) {
    ensure_size(trunk_grad_, rows * actor_width);
    ensure_size(delta_, rows * actor_width);
    dense_backward(net.actor_head, actor_features, grad_a_.data(), rows, actor_has_body ? trunk_grad_.data() : nullptr);
    dense_backward(net.critic_head, critic_features, grad_c_.data(), rows, critic_has_body ? delta_.data() : nullptr);
    if (actor_has_body) {
      for (std::int64_t i = 0; i < rows * actor_width; ++i) trunk_grad_[i] += delta_[i];
      backward_body(net.actor_body, actor_h_, trunk_grad_.data());
    }
  } else {
    ensure_size(trunk_grad_, rows * actor_width);
    dense_backward(net.actor_head, actor_features, grad_a_.data(), rows, actor_has_body ? trunk_grad_.data() : nullptr);
    if (actor_has_body) backward_body(net.actor_body, actor_h_, trunk_grad_.data());
    ensure_size(trunk_grad_, rows * critic_width);
    dense_backward(net.critic_head, critic_features, grad_c_.data(), rows, critic_has_body ? trunk_grad_.data() : nullptr);
    if (critic_has_body) backward_body(net.critic_body, critic_h_, trunk_grad_.data());
  }

  FusedStats stats;
  stats.pg_loss = static_cast<float>(pg_sum * inv_rows);
  stats.v_loss = static_cast<float>(0.5 * v_sum * inv_rows);
  stats.entropy = static_cast<float>(ent_sum * inv_rows);
  stats.old_approx_kl = static_cast<float>(old_kl_sum * inv_rows);
  stats.approx_kl = static_cast<float>(kl_sum * inv_rows);
  stats.clipfrac = static_cast<float>(clip_sum * inv_rows);
  stats.loss = static_cast<float>(stats.pg_loss - options.ent_coef * stats.entropy + options.vf_coef * stats.v_loss);
  return stats;
}

}  // namespace apiary::learner
