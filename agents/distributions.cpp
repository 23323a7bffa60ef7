#include "agents/distributions.h"

#include <cmath>
#include <limits>

namespace apiary::agents {

namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 * log(2 pi)

}  // namespace

torch::Tensor categorical_sample(const torch::Tensor& logits, at::Generator* gen) {
  const torch::Tensor probs = torch::softmax(logits.to(torch::kFloat), /*dim=*/-1);
  torch::Tensor sample = gen != nullptr ? torch::multinomial(probs, /*num_samples=*/1, /*replacement=*/true, *gen)
                                        : torch::multinomial(probs, /*num_samples=*/1, /*replacement=*/true);
  return sample.squeeze(-1);
}

torch::Tensor categorical_log_prob(const torch::Tensor& logits, const torch::Tensor& actions) {
  const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat), /*dim=*/-1);
  const torch::Tensor index = actions.reshape({-1, 1}).to(torch::kLong);
  return log_p.gather(/*dim=*/-1, index).squeeze(-1);
}

torch::Tensor categorical_entropy(const torch::Tensor& logits) {
  const torch::Tensor log_p = torch::log_softmax(logits.to(torch::kFloat), /*dim=*/-1);
  // Clamp so that a masked action (logit -inf, p = 0) adds 0 * finite = 0 instead of NaN.
  const torch::Tensor safe_log_p = log_p.clamp_min(std::numeric_limits<float>::lowest());
  return -(log_p.exp() * safe_log_p).sum(-1);
}

torch::Tensor gaussian_sample(const torch::Tensor& mean, const torch::Tensor& log_std, at::Generator* gen) {
  const torch::Tensor mean_f = mean.to(torch::kFloat);
  const torch::Tensor noise = gen != nullptr ? torch::randn(mean_f.sizes(), *gen, mean_f.options())
                                             : torch::randn(mean_f.sizes(), mean_f.options());
  return mean_f + log_std.to(torch::kFloat).exp() * noise;
}

torch::Tensor gaussian_log_prob(const torch::Tensor& mean, const torch::Tensor& log_std,
                                const torch::Tensor& actions) {
  const torch::Tensor mean_f = mean.to(torch::kFloat);
  const torch::Tensor log_std_f = log_std.to(torch::kFloat);
  const torch::Tensor z = (actions.to(torch::kFloat).reshape(mean_f.sizes()) - mean_f) * (-log_std_f).exp();
  return (-0.5 * z * z - log_std_f - kHalfLog2Pi).sum(-1);
}

torch::Tensor gaussian_entropy(const torch::Tensor& mean, const torch::Tensor& log_std) {
  const torch::Tensor per_row = (log_std.to(torch::kFloat) + (0.5 + kHalfLog2Pi)).sum();
  return per_row.expand({mean.size(0)});
}

}  // namespace apiary::agents
