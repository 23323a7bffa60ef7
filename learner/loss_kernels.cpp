#include "learner/loss_kernels.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace apiary::learner {

namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 * log(2 pi)

// The largest of z[0, n), n >= 1. Out of line: inlined, GCC kept the running max in memory (the row's
// expf calls clobber every xmm register), a store-to-load chain per logit that cost 10% on 18 actions.
[[gnu::noinline]] float row_max(const float* z, std::int64_t n) {
  float m = z[0];
  for (std::int64_t j = 1; j < n; ++j) m = std::max(m, z[j]);
  return m;
}

}  // namespace

void standardize_advantages(const float* adv, std::int64_t rows, float* out) {
  double sum = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) sum += adv[r];
  const double mean = sum / static_cast<double>(rows);
  double squares = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) squares += (adv[r] - mean) * (adv[r] - mean);
  const double std = std::sqrt(squares / static_cast<double>(rows - 1));
  for (std::int64_t r = 0; r < rows; ++r) out[r] = static_cast<float>((adv[r] - mean) / (std + 1e-8));
}

void categorical_log_prob_forward(const float* logits, const std::int64_t* actions, std::int64_t rows, std::int64_t n,
                                  float* log_p, float* log_prob, float* entropy) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* z = logits + r * n;
    float* lp = log_p + r * n;
    const float zmax = row_max(z, n);
    float sum = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) sum += std::exp(z[j] - zmax);
    const float log_sum = std::log(sum);
    float h = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
      lp[j] = z[j] - zmax - log_sum;
      h -= std::exp(lp[j]) * lp[j];
    }
    const std::int64_t action = actions[r];
    if (action < 0 || action >= n)
      throw std::out_of_range("action " + std::to_string(action) + " of row " + std::to_string(r) + " is outside [0, " +
                              std::to_string(n) + ")");
    log_prob[r] = lp[action];
    entropy[r] = h;
  }
}

// d log p_a / d z_k = [k = a] - p_k and dH / d z_k = -p_k (log p_k + H).
void categorical_log_prob_backward(const float* log_p, const std::int64_t* actions, const float* entropy,
                                   const float* g_log_prob, float g_entropy, std::int64_t rows, std::int64_t n,
                                   float* d_logits) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t action = actions[r];
    const float g = g_log_prob[r], h = entropy[r];
    for (std::int64_t j = 0; j < n; ++j) {
      const float lp = log_p[r * n + j];
      const float p = std::exp(lp);
      d_logits[r * n + j] = g * ((j == action ? 1.0f : 0.0f) - p) - g_entropy * p * (lp + h);
    }
  }
}

void diag_gaussian_log_prob_forward(const float* mean, const float* actions, const float* log_std, std::int64_t rows,
                                    std::int64_t dim, float* log_prob) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (std::int64_t j = 0; j < dim; ++j) {
      const float zj = (actions[r * dim + j] - mean[r * dim + j]) * std::exp(-log_std[j]);
      sum += -0.5f * zj * zj - log_std[j] - static_cast<float>(kHalfLog2Pi);
    }
    log_prob[r] = sum;
  }
}

float diag_gaussian_entropy(const float* log_std, std::int64_t dim) {
  float h = 0.0f;
  for (std::int64_t j = 0; j < dim; ++j) h += log_std[j] + static_cast<float>(0.5 + kHalfLog2Pi);
  return h;
}

// With z = (a - mean) / std: d log_prob / d mean = z / std and d log_prob / d log_std = z^2 - 1.
void diag_gaussian_log_prob_backward(const float* mean, const float* actions, const float* log_std,
                                     const float* g_log_prob, double g_entropy_sum, std::int64_t rows,
                                     std::int64_t dim, float* d_mean, float* log_std_grad) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < dim; ++j) {
      const float inv_std = std::exp(-log_std[j]);
      d_mean[r * dim + j] = g_log_prob[r] * (actions[r * dim + j] - mean[r * dim + j]) * inv_std * inv_std;
    }
  }
  for (std::int64_t j = 0; j < dim; ++j) {
    const float inv_std = std::exp(-log_std[j]);
    double g = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float zj = (actions[r * dim + j] - mean[r * dim + j]) * inv_std;
      g += g_log_prob[r] * (zj * zj - 1.0f);
    }
    log_std_grad[j] += static_cast<float>(g + g_entropy_sum);
  }
}

}  // namespace apiary::learner
