// PPO's hyperparameters: the `ppo:` section of a training config (defaults after CleanRL's ppo.py).
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct PpoConfig {
  std::int32_t rollout_steps = 128;
  double learning_rate = 2.5e-4;
  bool anneal_lr = true;
  double gamma = 0.99;
  double gae_lambda = 0.95;
  std::int32_t num_minibatches = 4;
  std::int32_t update_epochs = 4;
  bool norm_adv = true;
  double clip_coef = 0.2;
  bool clip_vloss = true;
  double ent_coef = 0.01;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;
  double reward_scale = 1.0;
  double target_kl = 0.0;
  bool fused_update = true;
  std::int32_t bptt_steps = 0;
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
    v.field("reward_scale", reward_scale,
            "rewards are multiplied by this for the advantages and the value targets only (returns are reported "
            "and judged as the env gives them): keeps a critic's targets near 1 where rewards are large",
            Range::open_closed(0, 1e6));
    v.field("target_kl", target_kl, "early-stop KL (0: off)", Range::closed(0, 10));
    v.field("fused_update", fused_update,
            "fp32 on the CPU: forward, loss and backward written out by hand instead of autograd (same maths)");
    v.field("bptt_steps", bptt_steps,
            "a recurrent policy (policy.recurrent): gradients flow back through at most this many steps of the "
            "replayed core (truncated backpropagation through time; 0: the whole chunk)",
            Range::closed(0, 1 << 20));
  }
};

}  // namespace apiary::learner
