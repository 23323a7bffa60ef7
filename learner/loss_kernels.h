// The pieces of the RL losses on raw fp32 pointers, each a forward (the value) and a backward (its
// gradient), following LibTorch's derivatives, ties of max() included: PPO's fused step
// (learner/ppo/fused_step.cpp) composes them, with agents/dense_kernels.h's layers. No LibTorch here.
#pragma once

#include <algorithm>
#include <cstdint>

namespace apiary::learner {

// ---- Batches of rows (loss_kernels.cpp) ----------------------------------------------------------

// out[r] = (adv[r] - mean) / (std + 1e-8) with the unbiased std, as Tensor::std() (rows >= 2). The
// advantages are constants of the loss: there is no backward.
void standardize_advantages(const float* adv, std::int64_t rows, float* out);

// log_softmax of finite logits[rows, n] into log_p[rows, n] (z - max - log(sum exp(z - max)), as
// LibTorch), and per row log_prob[r] = log_p[r, actions[r]] and the entropy -sum p log p.
// Throws std::out_of_range naming the row for an action outside [0, n).
void categorical_log_prob_forward(const float* logits, const std::int64_t* actions, std::int64_t rows, std::int64_t n,
                                  float* log_p, float* log_prob, float* entropy);

// d_logits[rows, n] from g_log_prob[r] = d loss / d log_prob[r] and g_entropy = d loss / d entropy[r]
// (the same for every row): g_log_prob ([k = a] - p_k) - g_entropy p_k (log p_k + H). d_logits may be log_p.
void categorical_log_prob_backward(const float* log_p, const std::int64_t* actions, const float* entropy,
                                   const float* g_log_prob, float g_entropy, std::int64_t rows, std::int64_t n,
                                   float* d_logits);

// The log-density of actions[rows, dim] under N(mean[rows, dim], exp(log_std)^2) per row, with a
// state-independent log_std[dim], into log_prob[rows].
void diag_gaussian_log_prob_forward(const float* mean, const float* actions, const float* log_std, std::int64_t rows,
                                    std::int64_t dim, float* log_prob);

// Its entropy, the same for every row: sum_j log_std[j] + 0.5 + 0.5 log(2 pi). d/d log_std[j] = 1.
float diag_gaussian_entropy(const float* log_std, std::int64_t dim);

// Writes d_mean[rows, dim] (not aliasing mean) and adds into log_std_grad[dim], from g_log_prob[r] =
// d loss / d log_prob[r] and g_entropy_sum = d loss / d entropy summed over the rows.
void diag_gaussian_log_prob_backward(const float* mean, const float* actions, const float* log_std,
                                     const float* g_log_prob, double g_entropy_sum, std::int64_t rows,
                                     std::int64_t dim, float* d_mean, float* log_std_grad);

// ---- One row (inline: called per row in hot loops) ------------------------------------------------

// PPO's clipped surrogate max(-A r, -A clamp(r, 1 - c, 1 + c)) of the probability ratio r.
inline float clipped_surrogate_forward(float ratio, float adv, float clip) {
  return std::max(-adv * ratio, -adv * std::clamp(ratio, 1.0f - clip, 1.0f + clip));
}

// d/d ratio: through the larger term; a tie sends half each way, and the clamp passes its half only
// inside [1 - c, 1 + c] (bounds included), as LibTorch's max and clamp.
inline float clipped_surrogate_backward(float ratio, float adv, float clip) {
  const float pg1 = -adv * ratio;
  const float pg2 = -adv * std::clamp(ratio, 1.0f - clip, 1.0f + clip);
  const float through_clamp = ratio >= 1.0f - clip && ratio <= 1.0f + clip ? -adv : 0.0f;
  if (pg1 > pg2) return -adv;
  if (pg1 < pg2) return through_clamp;
  return 0.5f * -adv + 0.5f * through_clamp;
}

// (v - target)^2 and its derivative to v.
inline float squared_error_forward(float v, float target) { return (v - target) * (v - target); }
inline float squared_error_backward(float v, float target) { return 2.0f * (v - target); }

// PPO's clipped value error max((v - ret)^2, (v_clip - ret)^2), v_clip = old + clamp(v - old, -c, c).
inline float clipped_value_error_forward(float v, float old_v, float ret, float clip) {
  const float v_clipped = old_v + std::clamp(v - old_v, -clip, clip);
  return std::max((v - ret) * (v - ret), (v_clipped - ret) * (v_clipped - ret));
}

// d/dv, with the tie and clamp rules of clipped_surrogate_backward.
inline float clipped_value_error_backward(float v, float old_v, float ret, float clip) {
  const float dv_old = v - old_v;
  const float v_clipped = old_v + std::clamp(dv_old, -clip, clip);
  const float unclipped = (v - ret) * (v - ret);
  const float clipped = (v_clipped - ret) * (v_clipped - ret);
  const float d_unclipped = 2.0f * (v - ret);
  const float d_clipped = dv_old >= -clip && dv_old <= clip ? 2.0f * (v_clipped - ret) : 0.0f;
  if (unclipped > clipped) return d_unclipped;
  if (unclipped < clipped) return d_clipped;
  return 0.5f * (d_unclipped + d_clipped);
}

}  // namespace apiary::learner
