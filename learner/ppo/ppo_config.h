// PPO's hyperparameters: the `ppo:` section of a training config (defaults after CleanRL's ppo.py).
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct PpoConfig {
  std::int32_t rollout_steps = 128;   // T: steps per lane per rollout
  double learning_rate = 2.5e-4;      // Adam step size
  bool anneal_lr = true;              // linear decay to 0 over total_steps
  double gamma = 0.99;                // discount
  double gae_lambda = 0.95;           // GAE lambda
  std::int32_t num_minibatches = 4;   // minibatches per epoch
  std::int32_t update_epochs = 4;     // passes over each rollout
  bool norm_adv = true;               // normalise advantages per minibatch
  double clip_coef = 0.2;             // surrogate clipping
  bool clip_vloss = true;             // clip the value loss
  double ent_coef = 0.01;             // entropy bonus
  double vf_coef = 0.5;               // value loss weight
  double max_grad_norm = 0.5;         // global gradient-norm clip
  double target_kl = 0.0;             // stop the epochs early above this approx KL (0: off)
  bool fused_update = true;           // fp32 on the CPU: the hand-written minibatch step (fused_step.h)
  template <class V>
  void visit(V& v) {
    v.field("rollout_steps", rollout_steps, "steps per lane per rollout", Range::closed(1, 1 << 20));
    v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
    v.field("anneal_lr", anneal_lr, "linearly anneal the learning rate to 0");
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("gae_lambda", gae_lambda, "GAE lambda", Range::closed(0, 1));
    v.field("num_minibatches", num_minibatches, "minibatches per epoch", Range::closed(1, 1 << 20));
    v.field("update_epochs", update_epochs, "passes over each rollout", Range::closed(1, 1000));
    v.field("norm_adv", norm_adv, "normalise advantages");
    v.field("clip_coef", clip_coef, "surrogate clipping coefficient", Range::open_closed(0, 10));
    v.field("clip_vloss", clip_vloss, "clip the value loss");
    v.field("ent_coef", ent_coef, "entropy bonus coefficient", Range::closed(0, 10));
    v.field("vf_coef", vf_coef, "value loss coefficient", Range::closed(0, 100));
    v.field("max_grad_norm", max_grad_norm, "gradient-norm clip (0: off)", Range::closed(0, 1e6));
    v.field("target_kl", target_kl, "early-stop KL (0: off)", Range::closed(0, 10));
    v.field("fused_update", fused_update,
            "fp32 on the CPU: forward, loss and backward written out by hand instead of autograd (same maths)");
  }
};

}  // namespace apiary::learner
