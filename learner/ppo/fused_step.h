// PPO's minibatch step written out by hand for the common case: an fp32 ActorCritic MLP on the CPU.
//
// Autograd runs the forward pass, the loss and the backward pass of a 64x64 actor-critic as about a
// hundred small LibTorch operators, and at a minibatch of 256 rows their dispatch costs more than their
// arithmetic. FusedPpoStep computes the same loss (learner/losses.h: ppo_loss with its diagnostics)
// and the same gradients with one BLAS GEMM per matrix product and plain loops for everything else,
// in workspaces allocated once. The maths follows LibTorch's derivatives, ties of max() included (a tie
// sends half the gradient each way), so the gradients agree with autograd's to float rounding
// (tests/learner/fused_step_test.cpp checks both action spaces, both activations, the shared trunk,
// observation scaling and the loss options).
//
// It reads the parameters and accumulates into the gradients through raw pointers: the caller zeroes
// the gradients first and re-reads the pointers after anything re-seats the parameters' storage.
// Nothing here includes LibTorch: the step composes the layers of agents/dense_kernels.h and the loss
// pieces of learner/loss_kernels.h, each a forward and a backward.
#pragma once

#include <cstdint>
#include <vector>

#include "agents/dense_kernels.h"

namespace apiary::learner {

// One Linear layer, y = x W^T + b, as pointers into the flat parameter and gradient buffers.
using FusedLinear = agents::DenseLayer;

// The network: hidden layers (each followed by the activation) and a linear head per side.
struct FusedNet {
  std::vector<FusedLinear> actor_body;   // shared_trunk: the trunk
  std::vector<FusedLinear> critic_body;  // shared_trunk: empty (the critic head reads the trunk)
  bool shared_trunk = false;
  FusedLinear actor_head;   // logits [n] or the Gaussian mean [A]
  FusedLinear critic_head;  // V(s) [1]
  bool tanh = true;         // the activation: tanh, or relu when false
  bool discrete = true;
  std::int64_t obs_dim = 0, action_dim = 0;
  // Box only: the state-independent log-std [A] and its gradient.
  const float* log_std = nullptr;
  float* log_std_grad = nullptr;
  // Observation scaling, x' = (x - offset) * scale per element; null: none.
  const float* obs_offset = nullptr;
  const float* obs_scale = nullptr;
};

// One minibatch, rows contiguous.
struct FusedBatch {
  std::int64_t rows = 0;
  const float* obs = nullptr;                // [B, obs_dim]
  const std::int64_t* actions_d = nullptr;   // Discrete: [B]
  const float* actions_c = nullptr;          // Box: [B, A]
  const float* old_log_probs = nullptr;      // [B]
  const float* old_values = nullptr;         // [B]
  const float* advantages = nullptr;         // [B]
  const float* returns = nullptr;            // [B]
};

struct FusedLossOptions {
  double clip_coef = 0.2;
  bool norm_adv = true;
  bool clip_vloss = true;
  double ent_coef = 0.01;
  double vf_coef = 0.5;
};

// The minibatch's diagnostics, in the order of PPO's kMinibatchStatNames.
struct FusedStats {
  float pg_loss = 0, v_loss = 0, entropy = 0, old_approx_kl = 0, approx_kl = 0, clipfrac = 0;
  float loss = 0;  // pg_loss - ent_coef * entropy + vf_coef * v_loss
};

// Whether this process can run the fused step: a BLAS with sgemm_ was linked at build time.
bool fused_step_available();

class FusedPpoStep {
 public:
  // Forward pass, loss and backward pass of one minibatch: adds d loss / d parameter into the
  // gradients of `net` and returns the loss and its diagnostics. Throws std::logic_error when
  // fused_step_available() is false.
  FusedStats run(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options);

 private:
  // The input the bodies read (the scaled observations or the batch's own) and each body's output.
  struct Features {
    const float* input = nullptr;
    const float* actor = nullptr;
    const float* critic = nullptr;
  };
  Features forward(const FusedNet& net, const FusedBatch& batch);
  // log pi(a|s) into log_prob_ and the entropy into entropy_ per row (discrete: log_softmax into grad_a_).
  void policy_forward(const FusedNet& net, const FusedBatch& batch);
  // d loss / d the actor head into grad_a_ (and d loss / d log_std into the net's gradient).
  void policy_backward(const FusedNet& net, const FusedBatch& batch, const FusedLossOptions& options);
  // From grad_a_ and grad_c_ through the heads and the bodies into the parameters' gradients.
  void backward(const FusedNet& net, const Features& features, std::int64_t rows);

  // Workspaces, grown on demand and reused across minibatches.
  std::vector<float> input_;                          // scaled observations [B, obs_dim]
  std::vector<std::vector<float>> actor_h_, critic_h_;  // hidden activations per layer
  std::vector<float> head_a_, head_c_;                // actor head [B, n|A], critic head [B]
  std::vector<float> grad_a_, grad_c_;                // d loss / d head outputs
  std::vector<float> delta_, delta_next_;             // back-propagated activations' gradients
  std::vector<float> trunk_grad_;                     // shared trunk: both heads' feature gradients
  std::vector<float> log_prob_, entropy_;             // log pi(a|s) and the policy's entropy per row
  std::vector<float> g_logp_;                         // d loss / d log pi(a|s) per row
  std::vector<float> adv_;                            // the (normalised) advantages
};

}  // namespace apiary::learner
