// Action distributions as free functions of their parameters: a categorical over logits for Discrete
// spaces, a diagonal Gaussian with a state-independent log-std for Box spaces. log-probabilities and
// entropies are computed in fp32 whatever the dtype of the forward pass (the inputs are cast first),
// so reduced precision never reaches PPO's ratio.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace apiary::agents {

// ---- Categorical (logits [B, n]) ------------------------------------------------------------------

// One action per row, int64 [B] in [0, n), drawn from softmax(logits). `gen` (may be null: the
// default generator) must live on the logits' device.
torch::Tensor categorical_sample(const torch::Tensor& logits, at::Generator* gen);

// log pi(action | logits), fp32 [B]. `actions` [B] (or [B, 1]) of any integer or float dtype holding
// indices in [0, n).
torch::Tensor categorical_log_prob(const torch::Tensor& logits, const torch::Tensor& actions);

// Entropy of softmax(logits) in nats, fp32 [B]; log(n) for uniform logits.
torch::Tensor categorical_entropy(const torch::Tensor& logits);

// ---- Diagonal Gaussian (mean [B, A], log_std [A]) -------------------------------------------------

// mean + exp(log_std) * N(0, I), fp32 [B, A]; not clipped to the action space. `gen` as above.
torch::Tensor gaussian_sample(const torch::Tensor& mean, const torch::Tensor& log_std, at::Generator* gen);

// Sum over the A action dimensions of log N(action; mean, exp(log_std)^2), fp32 [B].
torch::Tensor gaussian_log_prob(const torch::Tensor& mean, const torch::Tensor& log_std,
                                const torch::Tensor& actions);

// Entropy of the diagonal Gaussian, sum over A of 0.5 + 0.5 log(2 pi) + log_std, fp32 [B] (the same
// for every row, since log_std does not depend on the state).
torch::Tensor gaussian_entropy(const torch::Tensor& mean, const torch::Tensor& log_std);

}  // namespace apiary::agents
