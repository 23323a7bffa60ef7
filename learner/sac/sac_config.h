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
  std::int64_t buffer_size = 1000000;       // replay capacity (transitions)
  double gamma = 0.99;                      // discount
  double tau = 0.005;                       // Polyak rate of the target critics (1: hard copy)
  std::int32_t batch_size = 256;            // transitions per gradient step
  std::int64_t learning_starts = 5000;      // env steps (all lanes) before learning
  bool random_warmup = true;                // uniform random actions before learning_starts (CleanRL)
  std::int32_t train_frequency = 1;         // env steps (all lanes) between gradient phases
  std::int32_t gradient_steps = 1;          // gradient steps (critic updates) per phase
  double policy_lr = 3e-4;                  // Adam step size of the actor
  double q_lr = 1e-3;                       // Adam step size of the twin critics
  // Delayed actor updates (as TD3 and CleanRL): after every policy_frequency-th critic update, that
  // many actor (and temperature) updates on the same batch, so the counts stay equal.
  std::int32_t policy_frequency = 2;
  std::int32_t target_network_frequency = 1;  // critic updates between Polyak updates of the targets
  double alpha = 0.2;                       // entropy temperature when autotune is off
  bool autotune = true;                     // learn alpha towards the target entropy -|A|
  double init_alpha = 1.0;                  // autotune: the first alpha (CleanRL: log alpha = 0)
  double alpha_lr = 1e-3;                   // autotune: Adam step size of log alpha (CleanRL: q_lr)
  double log_std_min = -5.0;                // the actor's log-std is squashed into [min, max]
  double log_std_max = 2.0;
  // Hidden layers of each critic; empty: policy.hidden_sizes (the actor's).
  std::vector<int> critic_hidden_sizes;
  double max_grad_norm = 0.0;               // gradient-norm clip of each network (0: off, as CleanRL)
  // Temporally correlated exploration: the behaviour policy's standard-normal noise is, per lane, an
  // AR(1) process eps_t = rho eps_{t-1} + sqrt(1 - rho^2) xi_t (still N(0, 1) at each step, so the
  // learner's targets are unchanged; an Ornstein-Uhlenbeck process sampled once a step). 0: white
  // noise, as CleanRL. Envs whose reward needs a sustained push (MountainCarContinuous) need it.
  double noise_correlation = 0.0;

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
    v.field("policy_frequency", policy_frequency, "critic updates per round of (as many) actor updates",
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
            "step-to-step correlation of the exploration noise per lane (0: white; 0.99: a slow push)",
            Range::closed_open(0, 1));
  }
};

}  // namespace apiary::learner
