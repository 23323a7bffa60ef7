#include "learner/ppo/fused_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#ifdef APIARY_HAVE_BLAS
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

namespace apiary::learner {

namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 * log(2 pi)

// Row-major C[m, n] = op(A) op(B) + beta C, with op(A) [m, k] and op(B) [k, n]; trans_a / trans_b say
// whether A / B are stored transposed. BLAS is column-major: row-major C is column-major C^T = B^T A^T.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
#ifdef APIARY_HAVE_BLAS
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(lda), ildb = static_cast<int>(ldb), ildc = static_cast<int>(ldc);
  const float one = 1.0f;
  sgemm_(&tb, &ta, &in, &im, &ik, &one, b, &ildb, a, &ilda, &beta, c, &ildc);
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)beta,
      (void)c, (void)ldc;
  throw std::logic_error("FusedPpoStep: built without a BLAS");
#endif
}

// tanh for a whole row, in plain arithmetic the compiler vectorises (libm's tanhf is a scalar call and
// took 40% of the step). |x| < 0.2: the odd Taylor series to x^9 (remainder below 2e-10); otherwise
// sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) by Cody-Waite range reduction, e = 2^n e^r with
// |r| <= ln2 / 2, and e^r by its Taylor series to r^6 (relative remainder below 2e-7). |x| is capped at
// 9, where tanh is 1 in float. Within a few ulp of std::tanh (tests/learner/fused_step_test.cpp).
void tanh_inplace(float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = v[i];
    const float a = std::min(std::fabs(x), 9.0f);
    // e = exp(-2a)
    const float y = -2.0f * a;
    const float t = y * 1.44269504088896341f;  // y / ln 2
    const int k = static_cast<int>(t - 0.5f);   // round to nearest (t <= 0)
    const float kf = static_cast<float>(k);
    const float r = (y - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;  // ln 2, split hi + lo
    const float p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    std::int32_t bits = (k + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float e = p * scale;
    const float big = (1.0f - e) / (1.0f + e);
    const float x2 = a * a;
    const float small = a * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    const float m = a < 0.2f ? small : big;
    v[i] = x < 0.0f ? -m : m;
  }
}

void ensure(std::vector<float>& buffer, std::int64_t size) {
  if (static_cast<std::int64_t>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
}

// y[B, out] = x[B, in] W^T + b, then the activation unless this is a head.
void linear_forward(const FusedLinear& layer, const float* x, std::int64_t rows, float* y, bool activate,
                    bool tanh) {
  gemm(false, true, rows, layer.out, layer.in, x, layer.in, layer.weight, layer.in, 0.0f, y, layer.out);
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = y + r * layer.out;
    for (std::int64_t j = 0; j < layer.out; ++j) row[j] += layer.bias[j];
    if (!activate) continue;
    if (tanh) {
      tanh_inplace(row, layer.out);
    } else {
      for (std::int64_t j = 0; j < layer.out; ++j) row[j] = std::max(row[j], 0.0f);
    }
  }
}

// Given dz [B, out], the gradient at the layer's output before any activation: accumulates the
// weight and bias gradients from the layer's input x, and writes dx [B, in] (unless dx is null).
void linear_backward(const FusedLinear& layer, const float* x, const float* dz, std::int64_t rows, float* dx) {
  gemm(true, false, layer.out, layer.in, rows, dz, layer.out, x, layer.in, 1.0f, layer.weight_grad, layer.in);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = dz + r * layer.out;
    for (std::int64_t j = 0; j < layer.out; ++j) layer.bias_grad[j] += row[j];
  }
  if (dx != nullptr) gemm(false, false, rows, layer.in, layer.out, dz, layer.out, layer.weight, layer.in, 0.0f, dx, layer.in);
}

// d[i] *= act'(h[i]) for the post-activation values h.
void activation_backward(const float* h, float* d, std::int64_t n, bool tanh) {
  if (tanh) {
    for (std::int64_t i = 0; i < n; ++i) d[i] *= 1.0f - h[i] * h[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) d[i] = h[i] > 0.0f ? d[i] : 0.0f;
  }
}

}  // namespace

bool fused_step_available() {
#ifdef APIARY_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

FusedStats FusedPpoStep::run(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options) {
  if (!fused_step_available()) throw std::logic_error("FusedPpoStep: built without a BLAS");
  const std::int64_t rows = batch.rows;
  const std::int64_t obs_dim = net.obs_dim;
  const std::int64_t heads = net.actor_head.out;  // n logits or A means

  // Forward: the (scaled) input, each body's hidden activations, the two heads.
  const float* x = batch.obs;
  if (net.obs_offset != nullptr) {
    ensure(input_, rows * obs_dim);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < obs_dim; ++j)
        input_[r * obs_dim + j] = (batch.obs[r * obs_dim + j] - net.obs_offset[j]) * net.obs_scale[j];
    x = input_.data();
  }
  const auto run_body = [&](const std::vector<FusedLinear>& body, std::vector<std::vector<float>>& h) {
    if (h.size() < body.size()) h.resize(body.size());
    const float* in = x;
    for (std::size_t l = 0; l < body.size(); ++l) {
      ensure(h[l], rows * body[l].out);
      linear_forward(body[l], in, rows, h[l].data(), /*activate=*/true, net.tanh);
      in = h[l].data();
    }
    return in;  // the body's features
  };
  const float* actor_features = run_body(net.actor_body, actor_h_);
  const float* critic_features = net.shared_trunk ? actor_features : run_body(net.critic_body, critic_h_);
  ensure(head_a_, rows * heads);
  ensure(head_c_, rows);
  linear_forward(net.actor_head, actor_features, rows, head_a_.data(), false, net.tanh);
  linear_forward(net.critic_head, critic_features, rows, head_c_.data(), false, net.tanh);

  // The loss, row by row (ppo_loss): advantages normalised with the unbiased std as Tensor::std().
  ensure(adv_, rows);
  ensure(g_logp_, rows);
  ensure(grad_a_, rows * heads);
  ensure(grad_c_, rows);
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
        ensure(delta_next_, rows * body[l].in);
        dx = delta_next_.data();
      }
      linear_backward(body[l], in, d, rows, dx);
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
    ensure(trunk_grad_, rows * actor_width);
    ensure(delta_, rows * actor_width);
    linear_backward(net.actor_head, actor_features, grad_a_.data(), rows, actor_has_body ? trunk_grad_.data() : nullptr);
    linear_backward(net.critic_head, critic_features, grad_c_.data(), rows, critic_has_body ? delta_.data() : nullptr);
    if (actor_has_body) {
      for (std::int64_t i = 0; i < rows * actor_width; ++i) trunk_grad_[i] += delta_[i];
      backward_body(net.actor_body, actor_h_, trunk_grad_.data());
    }
  } else {
    ensure(trunk_grad_, rows * actor_width);
    linear_backward(net.actor_head, actor_features, grad_a_.data(), rows, actor_has_body ? trunk_grad_.data() : nullptr);
    if (actor_has_body) backward_body(net.actor_body, actor_h_, trunk_grad_.data());
    ensure(trunk_grad_, rows * critic_width);
    linear_backward(net.critic_head, critic_features, grad_c_.data(), rows, critic_has_body ? trunk_grad_.data() : nullptr);
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
