// `apiary bench learner --algo NAME`: what one update of an algorithm costs for a given network, batch,
// precision and device, timed on a synthetic minibatch: the forward pass with the loss, the backward
// pass and the optimizer step separately (the device synchronised between them). An algorithm offers
// it through AlgorithmSpec::bench_update (PPO's: learner/ppo/update_bench.cpp, with its hand-written
// step fp32 on the CPU). No LibTorch header here: the command line includes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace apiary::learner {

struct UpdateBenchConfig {
  std::vector<std::int64_t> hidden{64, 64};  // hidden layer widths of the actor and of the critic
  std::int64_t obs_dim = 8;
  // A convolutional encoder over uint8 images of obs_shape (H, W, C) before the hidden layers, shared
  // by the actor and the critic (agents/encoder.h): minatar | nature | impala; "mlp": none (obs_dim
  // float elements).
  std::string encoder = "mlp";
  std::vector<std::int64_t> obs_shape;  // (H, W, C); needed by the convolutional encoders
  // A recurrent core (agents/recurrent_core.h) before the heads: none | lstm | gru, of
  // recurrent_hidden units, replayed over sequences of `sequence` steps (the batch is batch / sequence
  // whole lanes, as PPO's recurrent minibatches are).
  std::string recurrent = "none";
  std::int64_t recurrent_hidden = 128;
  std::int64_t sequence = 32;
  std::int64_t num_actions = 4;  // a Discrete head of this many logits
  std::int64_t batch = 256;      // rows of one minibatch
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (learner/precision.h)
  std::string device = "cpu";      // cpu | cuda | cuda:N
  int threads = 1;       // LibTorch's and OpenBLAS's threads, as a run's `threads` (0: every core)
  double seconds = 1.0;  // length of one timed run
  int repeats = 5;       // timed runs; the medians are reported
  // fp32 on the CPU: PPO's hand-written step (learner/ppo/fused_step.h), as training runs it there;
  // false: LibTorch's autograd.
  bool fused = true;
};

struct UpdateBenchResult {
  std::int64_t parameters = 0;
  // Floating-point operations of one update's Linear layers: 2 per multiply-add forward, and the
  // backward pass twice the forward (gradients of the inputs and of the weights). 0 with a
  // convolutional encoder, whose convolutions are not counted.
  double flops_per_update = 0.0;
  double updates_per_second = 0.0;  // median over the repeats
  double samples_per_second = 0.0;  // updates_per_second * batch
  double achieved_flops = 0.0;      // flops_per_update * updates_per_second
  double forward_us = 0.0, backward_us = 0.0, optimizer_us = 0.0;  // medians per update
  std::int64_t updates = 0;         // timed updates in all
  bool fused = false;  // the hand-written step ran: forward_us covers forward, loss and backward
};

// The update benchmark of the registered algorithm `algo` (learner/algorithm.cpp). Throws
// std::invalid_argument naming it when it is not registered ("algo: 'x' is not a registered ...") or
// offers no benchmark (listing those that do).
UpdateBenchResult run_update_bench(const std::string& algo, const UpdateBenchConfig& config);


}  // namespace apiary::learner
