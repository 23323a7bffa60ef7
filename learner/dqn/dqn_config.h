// DQN's hyperparameters: the `dqn:` section of a training config (defaults after CleanRL's dqn.py).
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct DqnConfig {
  double learning_rate = 2.5e-4;
  std::int64_t buffer_size = 10000;
  double gamma = 0.99;
  double tau = 1.0;
  std::int64_t target_network_frequency = 500;
  std::int32_t batch_size = 128;
  double start_e = 1.0;
  double end_e = 0.05;
  double exploration_fraction = 0.5;
  std::int64_t learning_starts = 10000;
  std::int32_t train_frequency = 10;
  std::int32_t gradient_steps = 1;
  std::int32_t n_step = 1;
  bool double_dqn = true;
  bool prioritized = false;
  double per_alpha = 0.6;
  double per_beta = 0.4;
  std::string loss = "huber";
  double max_grad_norm = 10.0;
  bool fused_update = true;
  template <class V>
  void visit(V& v) {
    v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
    v.field("buffer_size", buffer_size, "replay capacity", Range::closed(1, 1LL << 32));
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("tau", tau, "target update rate (1: hard copy)", Range::open_closed(0, 1));
    v.field("target_network_frequency", target_network_frequency, "env steps between target updates",
            Range::closed(1, 1LL << 40));
    v.field("batch_size", batch_size, "transitions per gradient step", Range::closed(1, 1 << 20));
    v.field("start_e", start_e, "initial epsilon", Range::closed(0, 1));
    v.field("end_e", end_e, "final epsilon", Range::closed(0, 1));
    v.field("exploration_fraction", exploration_fraction, "fraction of the run spent decaying epsilon",
            Range::closed(0, 1));
    v.field("learning_starts", learning_starts, "env steps before learning", Range::closed(0, 1LL << 40));
    v.field("train_frequency", train_frequency, "env steps between gradient phases", Range::closed(1, 1 << 20));
    v.field("gradient_steps", gradient_steps, "gradient steps per phase", Range::closed(1, 1 << 20));
    v.field("n_step", n_step, "n-step returns", Range::closed(1, 1000));
    v.field("double_dqn", double_dqn, "double DQN targets");
    v.field("prioritized", prioritized, "prioritised replay");
    v.field("per_alpha", per_alpha, "priority exponent", Range::closed(0, 1));
    v.field("per_beta", per_beta, "initial importance-sampling exponent", Range::closed(0, 1));
    v.choice("loss", loss, {"huber", "mse"}, "TD loss");
    v.field("max_grad_norm", max_grad_norm, "gradient-norm clip (0: off)", Range::closed(0, 1e6));
    v.field("fused_update", fused_update,
            "hand-written gradient step for fp32 MLP Q-networks on the CPU (learner/dqn/fused_step.h); false: autograd");
  }
};

}  // namespace apiary::learner
