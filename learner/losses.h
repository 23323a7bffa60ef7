// The losses of the learner, with CleanRL's names and formulas: PPO's clipped surrogate (cleanrl
// ppo.py / ppo_continuous_action.py) and the DQN TD loss with double-DQN targets (van Hasselt et al.
// 2016) and optional prioritized-replay importance weights.
#pragma once

#include <torch/torch.h>

namespace apiary::learner {

// ---- PPO ------------------------------------------------------------------------------------------

// One minibatch of B samples, all [B] tensors on one device. new_* carry gradients; the rest are
// constants from the rollout. Reduced-precision inputs are upcast to float32 before any reduction.
struct PpoLossIn {
  torch::Tensor new_logprob;  // log pi_theta(a|s) under the current parameters (CleanRL newlogprob)
  torch::Tensor old_logprob;  // log pi of the behaviour policy, stored in the rollout (b_logprobs)
  torch::Tensor advantages;   // GAE advantages (mb_advantages)
  torch::Tensor new_values;   // V_theta(s) now (newvalue)
  torch::Tensor old_values;   // V(s) at rollout time (b_values), the centre of value clipping
  torch::Tensor returns;      // value targets, advantages + old values (b_returns)
  torch::Tensor entropy;      // policy entropy per sample, nats
  double clip_coef = 0.2;     // epsilon of the ratio clip, also the value clip range (CleanRL)
  bool norm_adv = true;       // normalise advantages in this minibatch: (A - mean) / (std + 1e-8)
  bool clip_vloss = true;     // clipped value loss (CleanRL's default) instead of plain MSE
  double ent_coef = 0.01;     // weight of the entropy bonus
  double vf_coef = 0.5;       // weight of the value loss
};

struct PpoLossOut {
  torch::Tensor loss;          // scalar, to backward: pg_loss - ent_coef * entropy_loss + vf_coef * v_loss
  torch::Tensor pg_loss;       // scalar: mean(max(-A * ratio, -A * clip(ratio, 1-c, 1+c)))
  torch::Tensor v_loss;        // scalar: 0.5 * mean of the (clipped) squared value error
  torch::Tensor entropy_loss;  // scalar: mean(entropy)
  // Diagnostics, detached scalars:
  torch::Tensor old_approx_kl;  // mean(-logratio)
  torch::Tensor approx_kl;      // mean((ratio - 1) - logratio), Schulman's low-variance estimator
  torch::Tensor clipfrac;       // fraction of samples with |ratio - 1| > clip_coef
};

PpoLossOut ppo_loss(const PpoLossIn& in);

// What norm_adv does to a minibatch's advantages: (A - mean) / (std + 1e-8), in at least fp32,
// detached. A pipeline that cuts the minibatch into micro-batches normalises the whole minibatch with
// this first and calls ppo_loss with norm_adv = false on each micro-batch.
torch::Tensor normalize_advantages(const torch::Tensor& advantages);

// 1 - Var(returns - values) / Var(returns), population variances: 1 is a perfect value function,
// 0 no better than a constant, negative worse. NaN when the returns have zero variance (as CleanRL).
// Reads the result on the host (one synchronisation); meant for logging once per update.
double explained_variance(const torch::Tensor& values, const torch::Tensor& returns);

// ---- DQN ------------------------------------------------------------------------------------------

struct DqnTargets {
  torch::Tensor targets;       // [B] returns + discounts * q_next_target[next_actions], no gradient
  torch::Tensor next_actions;  // [B] int64: argmax_a q_next_online(s', a)
  torch::Tensor next_q;        // [B] q_next_target(s', next_actions)
};

// Double DQN: the online network picks the next action, the target network values it. Passing the
// same tensor twice gives the plain DQN target max_a Q_target(s', a).
// q_next_online, q_next_target: [B, num_actions]; returns, discounts: [B] (n-step, from the replay).
DqnTargets double_dqn_targets(const torch::Tensor& q_next_online, const torch::Tensor& q_next_target,
                              const torch::Tensor& returns, const torch::Tensor& discounts);

enum class TdLossKind {
  kHuber,  // 0.5 d^2 for |d| <= delta, delta * (|d| - 0.5 delta) beyond (smooth L1 when delta = 1)
  kMse,    // d^2 (CleanRL dqn.py's F.mse_loss)
};

struct DqnLossIn {
  torch::Tensor q_values;  // [B, num_actions] online Q(s, .), with gradients
  torch::Tensor actions;   // [B] int64 actions taken
  torch::Tensor targets;   // [B] TD targets (DqnTargets::targets)
  torch::Tensor weights;   // [B] importance weights (prioritized replay); undefined: all ones
  TdLossKind kind = TdLossKind::kHuber;
  double huber_delta = 1.0;  // where the Huber loss turns from quadratic to linear, in Q units
};

struct DqnLossOut {
  torch::Tensor loss;       // scalar: mean(weights * elementwise loss)
  torch::Tensor td_errors;  // [B] detached targets - Q(s, a), for PrioritizedReplay::update_priorities
  torch::Tensor q_taken;    // [B] Q(s, a), with gradients
};

DqnLossOut dqn_loss(const DqnLossIn& in);

}  // namespace apiary::learner
