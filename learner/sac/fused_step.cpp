#include "learner/sac/fused_step.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace apiary::learner {

using agents::dense_backward;
using agents::dense_body_backward;
using agents::dense_body_forward;
using agents::dense_forward;
using agents::ensure_size;

namespace {

// log(1 + e^x), stable for large |x|.
float softplus(float x) { return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

}  // namespace

void FusedSacStep::actor_pass(const FusedSacActor& actor, const float* obs, std::int64_t rows, const float* noise,
                              Pass& p) {
  const std::int64_t A = actor.action_dim;
  p.rows = rows;
  p.obs = obs;
  agents::dense_mlp_forward(actor, obs, rows, actor.obs_dim, p.input, p.h, p.out);
  for (auto* v : {&p.noise, &p.squashed_log_std, &p.tanh_u, &p.action}) ensure_size(*v, rows * A);
  ensure_size(p.log_prob, rows);
  std::copy(noise, noise + rows * A, p.noise.begin());
  // The constant of log pi: -sum log(scale) - A (log(2 pi) / 2 + 2 log 2).
  const double kLog2 = std::log(2.0), kHalfLog2Pi = 0.5 * std::log(2.0 * 3.14159265358979323846);
  double constant = -static_cast<double>(A) * (kHalfLog2Pi + 2.0 * kLog2);
  for (std::int64_t i = 0; i < A; ++i) constant -= std::log(static_cast<double>(actor.action_scale[i]));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* out = p.out.data() + r * 2 * A;
    float sum = 0.0f;
    for (std::int64_t i = 0; i < A; ++i) {
      const std::int64_t k = r * A + i;
      const float log_std = std::tanh(out[A + i]) * actor.log_std_half + actor.log_std_centre;
      const float eps = p.noise[k];
      const float u = out[i] + std::exp(log_std) * eps;
      const float t = std::tanh(u);
      p.squashed_log_std[k] = log_std;
      p.tanh_u[k] = t;
      p.action[k] = t * actor.action_scale[i] + actor.action_bias[i];
      sum += (u + softplus(-2.0f * u)) * 2.0f - log_std - eps * eps * 0.5f;
    }
    p.log_prob[r] = static_cast<float>(sum + constant);
  }
}

const float* FusedSacStep::draw(const FusedSacActor& actor, const float* obs, std::int64_t rows, const float* noise,
                                bool keep) {
  Pass& p = keep ? kept_ : next_;
  actor_pass(actor, obs, rows, noise, p);
  return p.action.data();
}

void FusedSacStep::critic_pass(const FusedSacCritics& c, const float* obs, const float* actions, std::int64_t rows,
                               CriticPass& p) {
  const std::int64_t K = c.num_critics(), in = c.obs_dim + c.action_dim;
  ensure_size(p.input, rows * in);
  // [obs', a] per row.
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = p.input.data() + r * in;
    const float* o = obs + r * c.obs_dim;
    if (c.obs_offset != nullptr) {
      for (std::int64_t j = 0; j < c.obs_dim; ++j) row[j] = (o[j] - c.obs_offset[j]) * c.obs_scale[j];
    } else {
      std::copy(o, o + c.obs_dim, row);
    }
    std::copy(actions + r * c.action_dim, actions + (r + 1) * c.action_dim, row + c.obs_dim);
  }
  if (static_cast<std::int64_t>(p.h.size()) < K) p.h.resize(static_cast<std::size_t>(K));
  ensure_size(p.q, K * rows);
  for (std::int64_t k = 0; k < K; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    const float* features = dense_body_forward(c.body[kk], p.input.data(), rows, c.tanh, p.h[kk]);
    dense_forward(c.head[kk], features, rows, p.q.data() + k * rows, /*activate=*/false, c.tanh);
  }
}

void FusedSacStep::critic_backward(const FusedSacCritics& c, CriticPass& p, std::int64_t rows, const float* d_q,
                                   float* d_input) {
  const std::int64_t K = c.num_critics(), in = c.obs_dim + c.action_dim;
  for (std::int64_t k = 0; k < K; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    const std::vector<agents::DenseLayer>& body = c.body[kk];
    const float* features = body.empty() ? p.input.data() : p.h[kk][body.size() - 1].data();
    const std::int64_t width = c.head[kk].in;
    ensure_size(d_h_, rows * width);
    float* dx = d_input != nullptr ? (ensure_size(d_k_input_, rows * in), d_k_input_.data()) : nullptr;
    if (body.empty()) {
      dense_backward(c.head[kk], features, d_q + k * rows, rows, dx);
    } else {
      dense_backward(c.head[kk], features, d_q + k * rows, rows, d_h_.data());
      dense_body_backward(body, p.input.data(), p.h[kk], rows, c.tanh, d_h_.data(), dx, scratch_, scratch_next_);
    }
    if (d_input != nullptr)
      for (std::int64_t i = 0; i < rows * in; ++i) d_input[i] += dx[i];
  }
}

FusedSacStep::CriticOut FusedSacStep::critic_step(const FusedSacCritics& online, const FusedSacCritics& target,
                                                  const FusedSacBatch& b, const float* next_actions,
                                                  const float* next_log_prob, float alpha) {
  const std::int64_t B = b.rows, K = online.num_critics();
  critic_pass(target, b.next_obs, next_actions, B, target_pass_);
  ensure_size(targets_, B);
  for (std::int64_t r = 0; r < B; ++r) {
    float q_min = target_pass_.q[static_cast<std::size_t>(r)];
    for (std::int64_t k = 1; k < target.num_critics(); ++k) q_min = std::min(q_min, target_pass_.q[k * B + r]);
    targets_[r] = b.returns[r] + b.discounts[r] * (q_min - alpha * next_log_prob[r]);
  }
  critic_pass(online, b.obs, b.actions, B, online_pass_);
  CriticOut out;
  out.q_mean.assign(static_cast<std::size_t>(K), 0.0);
  out.loss.assign(static_cast<std::size_t>(K), 0.0);
  ensure_size(d_q_, K * B);
  const float scale = 2.0f / static_cast<float>(B);
  for (std::int64_t k = 0; k < K; ++k) {
    double q_sum = 0.0, loss_sum = 0.0;
    for (std::int64_t r = 0; r < B; ++r) {
      const float q = online_pass_.q[k * B + r];
      const float e = q - targets_[r];
      q_sum += q;
      loss_sum += static_cast<double>(e) * e;
      d_q_[k * B + r] = scale * e;
    }
    out.q_mean[static_cast<std::size_t>(k)] = q_sum / static_cast<double>(B);
    out.loss[static_cast<std::size_t>(k)] = loss_sum / static_cast<double>(B);
  }
  critic_backward(online, online_pass_, B, d_q_.data(), nullptr);
  return out;
}

double FusedSacStep::actor_step(const FusedSacActor& actor, const FusedSacCritics& critics, float alpha) {
  Pass& p = kept_;
  const std::int64_t B = p.rows, A = actor.action_dim, K = critics.num_critics();
  const std::int64_t in = critics.obs_dim + A;
  // min_k Q_k(s, a~), with the critics' gradients off (weight and bias pointers cleared).
  FusedSacCritics frozen = critics;
  for (auto& layers : frozen.body)
    for (auto& l : layers) l.weight_grad = l.bias_grad = nullptr;
  for (auto& l : frozen.head) l.weight_grad = l.bias_grad = nullptr;
  critic_pass(frozen, p.obs, p.action.data(), B, pi_pass_);
  double loss = 0.0;
  ensure_size(d_q_, K * B);
  std::fill_n(d_q_.begin(), K * B, 0.0f);
  const float inv_b = 1.0f / static_cast<float>(B);
  for (std::int64_t r = 0; r < B; ++r) {
    std::int64_t best = 0;  // the first of the smallest, as amin's gradient goes to one of equals
    for (std::int64_t k = 1; k < K; ++k)
      if (pi_pass_.q[k * B + r] < pi_pass_.q[best * B + r]) best = k;
    loss += static_cast<double>(alpha) * p.log_prob[r] - pi_pass_.q[best * B + r];
    d_q_[best * B + r] = -inv_b;
  }
  loss /= static_cast<double>(B);
  ensure_size(d_input_, B * in);
  std::fill_n(d_input_.begin(), B * in, 0.0f);
  critic_backward(frozen, pi_pass_, B, d_q_.data(), d_input_.data());

  // Back through the squashed draw: d/du of a = tanh(u) scale + bias is scale (1 - tanh^2), and of
  // log pi's 2 (u + softplus(-2u)) is 2 tanh(u); u = mean + exp(log_std) eps.
  ensure_size(d_out_, B * 2 * A);
  const float d_log_prob = alpha * inv_b;
  for (std::int64_t r = 0; r < B; ++r) {
    const float* d_action = d_input_.data() + r * in + critics.obs_dim;
    float* d_out = d_out_.data() + r * 2 * A;
    const float* out = p.out.data() + r * 2 * A;
    for (std::int64_t i = 0; i < A; ++i) {
      const std::int64_t k = r * A + i;
      const float t = p.tanh_u[k];
      const float du = d_action[i] * actor.action_scale[i] * (1.0f - t * t) + d_log_prob * 2.0f * t;
      const float std_dev = std::exp(p.squashed_log_std[k]);
      const float d_log_std = du * std_dev * p.noise[k] - d_log_prob;
      const float raw = std::tanh(out[A + i]);
      d_out[i] = du;
      d_out[A + i] = d_log_std * actor.log_std_half * (1.0f - raw * raw);
    }
  }
  const float* x = actor.obs_offset != nullptr ? p.input.data() : p.obs;
  if (actor.body.empty()) {
    dense_backward(actor.head, x, d_out_.data(), B, nullptr);
  } else {
    const std::int64_t width = actor.head.in;
    ensure_size(d_body_, B * width);
    dense_backward(actor.head, p.h[actor.body.size() - 1].data(), d_out_.data(), B, d_body_.data());
    dense_body_backward(actor.body, x, p.h, B, actor.tanh, d_body_.data(), nullptr, scratch_, scratch_next_);
  }
  return loss;
}

}  // namespace apiary::learner
