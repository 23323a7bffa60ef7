// SAC's hyperparameters: the `sac:` section of a training config. Defaults follow CleanRL's
// sac_continuous_action.py (which also uses policy.hidden_sizes [256, 256] and activation relu: set
// those in the `policy:` section, whose defaults are PPO's).
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct SacConfig {
  std::int64_t buffer_size = 1000000;
  double gamma = 0.99;
  double tau = 0.005;
  std::int32_t batch_size = 256;
  std::int64_t learning_starts = 5000;
  bool random_warmup = true;
  std::int32_t train_frequency = 1;
  std::int32_t gradient_steps = 1;
  double policy_lr = 3e-4;
  double q_lr = 1e-3;
  std::int32_t policy_frequency = 2;
  std::int32_t target_network_frequency = 1;
  double alpha = 0.2;
  bool autotune = true;
  double init_alpha = 1.0;
  double alpha_lr = 1e-3;
  double log_std_min = -5.0;
  double log_std_max = 2.0;
  std::vector<int> critic_hidden_sizes;
  double max_grad_norm = 0.0;
  double noise_correlation = 0.0;
  bool fused_update = true;

  template <class V>
  void visit(V& v) {
    v.field("buffer_size", buffer_size, "replay capacity (transitions)", Range::closed(1, 1LL << 32));
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("tau", tau, "Polyak rate of the target critics (1: hard copy)", Range::open_closed(0, 1));
    v.field("batch_size", batch_size, "transitions per gradient step", Range::closed(1, 1 << 20));
    v.field("learning_starts", learning_starts, "env steps before learning", Range::closed(0, 1LL << 40));
    v.field("random_warmup", random_warmup, "uniform random actions before learning_starts");
    v.field("train_frequency", train_frequency, "env steps between gradient phases", Range::closed(1, 1 << 20));
    v.field("gradient_steps", gradient_steps, "gradient steps per phase", Range::closed(1, 1 << 20));
    v.field("policy_lr", policy_lr, "Adam step size of the actor", Range::open_closed(0, 1));
    v.field("q_lr", q_lr, "Adam step size of the critics", Range::open_closed(0, 1));
    v.field("policy_frequency", policy_frequency,
            "delayed actor updates (TD3, CleanRL): after every policy_frequency-th critic update, as many "
            "actor (and temperature) updates on the same batch",
            Range::closed(1, 1000));
    v.field("target_network_frequency", target_network_frequency, "critic updates between target updates",
            Range::closed(1, 1 << 20));
    v.field("alpha", alpha, "entropy temperature (autotune: false)", Range::closed(0, 1e6));
    v.field("autotune", autotune, "learn the temperature towards the target entropy -|A|");
    v.field("init_alpha", init_alpha, "autotune: initial temperature", Range::greater_than(0));
    v.field("alpha_lr", alpha_lr, "autotune: Adam step size of log alpha", Range::open_closed(0, 1));
    v.field("log_std_min", log_std_min, "lower bound of the actor's log-std", Range::closed(-20, 2));
    v.field("log_std_max", log_std_max, "upper bound of the actor's log-std", Range::closed(-5, 5));
    v.field("critic_hidden_sizes", critic_hidden_sizes, "units per critic hidden layer ([]: policy.hidden_sizes)",
            Range::closed(1, 65536));
    v.field("max_grad_norm", max_grad_norm, "gradient-norm clip per network (0: off)", Range::closed(0, 1e6));
    v.field("noise_correlation", noise_correlation,
            "step-to-step correlation of the exploration noise per lane, an AR(1) that stays N(0, 1) at each "
            "step (0: white, as CleanRL; 0.99: a sustained push, MountainCarContinuous)",
            Range::closed_open(0, 1));
    v.field("fused_update", fused_update,
            "hand-written gradient step for fp32 MLP actor and critics on the CPU (learner/sac/fused_step.h); "
            "false: autograd");
  }
};

}  // namespace apiary::learner
