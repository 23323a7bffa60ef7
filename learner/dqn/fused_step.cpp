#include "learner/dqn/fused_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace apiary::learner {

const float* FusedDqnStep::q_values(const FusedQNet& net, const float* x, std::int64_t rows, std::vector<float>& input,
                                    std::vector<std::vector<float>>& h, std::vector<float>& q) {
  return agents::dense_mlp_forward(net, x, rows, net.obs_dim, input, h, q);
}

FusedDqnOut FusedDqnStep::run(const FusedQNet& online, const FusedQNet& target, const FusedDqnBatch& batch,
                              const FusedDqnOptions& options, float* td_errors) {
  if (!agents::dense_kernels_available()) throw std::logic_error("DQN's fused step needs a BLAS (none was found at build time)");
  const std::int64_t rows = batch.rows, n = online.num_actions;
  for (std::int64_t r = 0; r < rows; ++r)
    if (batch.actions[r] < 0 || batch.actions[r] >= n)
      throw std::out_of_range("DQN's fused step: row " + std::to_string(r) + " has action " +
                              std::to_string(batch.actions[r]) + ", outside [0, " + std::to_string(n) + ")");

  // The targets: the target network values the action the online network picks (Double DQN), or its
  // own best one. A terminal transition (discount 0) takes the return alone, whatever the next Q is.
  const float* qt = q_values(target, batch.next_obs, rows, next_input_, next_h_, next_q_target_);
  const float* qo = options.double_dqn ? q_values(online, batch.next_obs, rows, next_input_, next_h_, next_q_online_) : qt;
  agents::ensure_size(targets_, rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float next_q = qt[r * n + agents::argmax_row(qo + r * n, n)];
    targets_[r] = batch.returns[r] + (batch.discounts[r] == 0.0f ? 0.0f : batch.discounts[r] * next_q);
  }

  // The online network on the observations, its loss, and d loss / d Q(s, a) into column a of d_q_.
  const float* q = q_values(online, batch.obs, rows, input_, h_, q_);
  const float* in = online.obs_offset != nullptr ? input_.data() : batch.obs;  // what the body read
  const float* features = online.body.empty() ? in : h_[online.body.size() - 1].data();
  agents::ensure_size(d_q_, rows * n);
  std::fill(d_q_.begin(), d_q_.begin() + rows * n, 0.0f);
  const float inv_rows = 1.0f / static_cast<float>(rows);
  const float delta = options.huber_delta;
  double loss = 0.0, q_sum = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float q_taken = q[r * n + batch.actions[r]];
    const float diff = targets_[r] - q_taken;
    if (td_errors != nullptr) td_errors[r] = diff;
    const float w = batch.weights != nullptr ? batch.weights[r] : 1.0f;
    float value, d_diff;
    if (!options.huber) {
      value = diff * diff;
      d_diff = 2.0f * diff;
    } else if (std::abs(diff) <= delta) {
      value = 0.5f * diff * diff;
      d_diff = diff;
    } else {
      value = delta * (std::abs(diff) - 0.5f * delta);
      d_diff = delta * (diff > 0.0f ? 1.0f : -1.0f);
    }
    loss += static_cast<double>(w * value);
    q_sum += q_taken;
    d_q_[r * n + batch.actions[r]] = -d_diff * w * inv_rows;  // diff = target - Q: d/dQ is minus
  }

  // Back through the head and the body into online's gradients.
  agents::ensure_size(d_features_, rows * online.head.in);
  agents::dense_backward(online.head, features, d_q_.data(), rows, online.body.empty() ? nullptr : d_features_.data());
  if (!online.body.empty())
    agents::dense_body_backward(online.body, in, h_, rows, online.tanh, d_features_.data(), nullptr, scratch_,
                                scratch_next_);
  return {static_cast<float>(loss / static_cast<double>(rows)), static_cast<float>(q_sum / static_cast<double>(rows))};
}

}  // namespace apiary::learner
