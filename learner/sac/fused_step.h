// SAC's gradient step written out by hand for the common case: fp32 MLP actor and critics (no image
// encoder) on the CPU, as PPO's (learner/ppo/fused_step.h) and DQN's (learner/dqn/fused_step.h) are.
//
// Autograd runs a SAC gradient step (two actor passes, the target and online critics, the soft TD
// target, both losses and two backward passes) as about two hundred small LibTorch operators, whose
// dispatch, not arithmetic, is what a 64x64 network on a batch of 128 spends its time on. FusedSacStep
// computes the same quantities with one BLAS GEMM per matrix product (agents/dense_kernels.h) and plain
// loops, in workspaces allocated once. The pieces are the ones Sac composes (learner/sac/sac.h): a
// squashed-Gaussian draw, the critic's loss and gradients, the actor's loss and gradients through the
// critics into the action; tests/learner/sac_test.cpp holds each to autograd. No LibTorch here.
#pragma once

#include <cstdint>
#include <vector>

#include "agents/dense_kernels.h"

namespace apiary::learner {

// The actor: an MLP whose head has 2A outputs (the means, then the raw log-stds, squashed onto
// [log_std_min, log_std_max] as centre + half tanh(raw)).
struct FusedSacActor : agents::DenseMlp {
  std::int64_t obs_dim = 0, action_dim = 0;
  const float* action_scale = nullptr;  // [A]: (high - low) / 2
  const float* action_bias = nullptr;   // [A]: (high + low) / 2
  float log_std_centre = 0.0f, log_std_half = 1.0f;
};

// K critics Q_k([obs', a]), each hidden layers then a linear layer to one output, their weights
// stored [in, out] (DenseLayer::weight_in_out).
struct FusedSacCritics {
  std::vector<std::vector<agents::DenseLayer>> body;  // [K][hidden layers]
  std::vector<agents::DenseLayer> head;               // [K], out = 1
  bool tanh = false;
  std::int64_t obs_dim = 0, action_dim = 0;
  const float* obs_offset = nullptr;
  const float* obs_scale = nullptr;
  std::int64_t num_critics() const { return static_cast<std::int64_t>(head.size()); }
};

// One replay batch, rows contiguous.
struct FusedSacBatch {
  std::int64_t rows = 0;
  const float* obs = nullptr;        // [B, obs_dim]
  const float* actions = nullptr;    // [B, A]
  const float* returns = nullptr;    // [B]
  const float* next_obs = nullptr;   // [B, obs_dim]
  const float* discounts = nullptr;  // [B] gamma, 0 where the episode terminated
};

class FusedSacStep {
 public:
  // A draw from the actor on obs [rows, obs_dim] with standard-normal noise [rows, A]: the actions
  // [rows, A] and log pi [rows] (agents::squashed_gaussian_sample's arithmetic). With `keep`, the
  // pass is kept for actor_backward (one kept pass at a time). Returns the actions; log_prob() the
  // log-probabilities, both valid until the next draw of the same kind (kept or not).
  const float* draw(const FusedSacActor& actor, const float* obs, std::int64_t rows, const float* noise, bool keep);
  const float* log_prob(bool kept) const { return kept ? kept_.log_prob.data() : next_.log_prob.data(); }

  struct CriticOut {
    std::vector<double> q_mean;  // [K]: mean Q_k(s, a)
    std::vector<double> loss;    // [K]: mean (Q_k(s, a) - y)^2
  };
  // The soft TD target y = r + discount (min_k Q'_k(s', a') - alpha log pi(a'|s')) from `target` with
  // the given next actions and log-probabilities, and sum_k mean (Q_k(s, a) - y)^2 of `online`:
  // its gradients added into online's gradient pointers.
  CriticOut critic_step(const FusedSacCritics& online, const FusedSacCritics& target, const FusedSacBatch& batch,
                        const float* next_actions, const float* next_log_prob, float alpha);

  // The actor's loss mean(alpha log pi(a~|s) - min_k Q_k(s, a~)) on the kept draw (its obs), with the
  // critics' current weights (no gradient into them): its gradients added into the actor's gradient
  // pointers. Returns the loss.
  double actor_step(const FusedSacActor& actor, const FusedSacCritics& critics, float alpha);

 private:
  struct Pass {  // one actor pass on `rows` observations
    std::int64_t rows = 0;
    const float* obs = nullptr;   // the caller's (kept passes: its obs must outlive actor_step)
    std::vector<float> input;     // scaled observations
    std::vector<std::vector<float>> h;
    std::vector<float> out;       // [rows, 2A] head outputs
    std::vector<float> noise, squashed_log_std, tanh_u, action, log_prob;
  };
  struct CriticPass {  // the K critics on one [obs', a] input
    std::vector<float> input;  // [rows, obs_dim + A]
    std::vector<std::vector<std::vector<float>>> h;  // [K][layer]
    std::vector<float> q;      // [K, rows]
  };
  void actor_pass(const FusedSacActor& actor, const float* obs, std::int64_t rows, const float* noise, Pass& pass);
  void critic_pass(const FusedSacCritics& critics, const float* obs, const float* actions, std::int64_t rows,
                   CriticPass& pass);
  // d loss / d q [K, rows] back through every critic; d loss / d input added into d_input unless null.
  void critic_backward(const FusedSacCritics& critics, CriticPass& pass, std::int64_t rows, const float* d_q,
                       float* d_input);

  Pass next_, kept_;
  CriticPass target_pass_, online_pass_, pi_pass_;
  std::vector<float> targets_, d_q_, d_input_, d_h_, d_out_, d_body_, scratch_, scratch_next_, d_k_input_;
};

}  // namespace apiary::learner
