// Deep Q-learning (Mnih et al. 2015) as an Algorithm, after CleanRL's dqn.py, extended with double-DQN
// targets (van Hasselt et al. 2016), n-step returns, prioritized replay (Schaul et al. 2016), a hard or
// Polyak target network, Huber or MSE TD loss, gradient-norm clipping and mixed precision.
//
// The schedule, counted in env steps over all lanes (s = 1, 2, ... since the run began):
//   - every chunk's steps go through the NStepBuffer into the replay buffer first;
//   - learning is on once `learning_starts` env steps have been put into the replay buffer by this
//     object, i.e. since the run began or since the last load() (the replay buffer is not saved);
//   - at each s with s % train_frequency == 0 while learning: a gradient phase of `gradient_steps`
//     steps (one chunk may cover several phases, or none);
//   - at each s with s % target_network_frequency == 0 while learning, after that step's phase: the
//     target network becomes the online one (tau = 1) or moves towards it (Polyak, tau < 1).
//
// One gradient step: sample batch_size transitions (uniform, or proportional with importance
// weights, beta annealed linearly from per_beta to 1 over total_steps); targets
// returns + discount * Q_target(s', argmax_a Q_online(s', a)) (the target network picks the action
// too when double_dqn is false: plain max); TD loss of learner/losses.h; Adam step after clipping.
// Precision (learner/precision.h): the forward passes and the loss run under autocast; parameters,
// Adam's state and the loss reduction stay fp32; fp16 scales the loss and skips steps whose gradients
// are not finite. On the fp32 / bf16 path without prioritized replay a gradient step makes no host
// synchronisation: diagnostics accumulate on the device and are read once per update() call.
//
// Metrics of update(), only when at least one gradient step ran (empty otherwise):
//   td_loss         mean TD loss over this update's gradient steps
//   q_values        mean Q(s, a) of the sampled actions over those steps
//   epsilon         exploration epsilon of actor 0 at ctx.global_step
//   learning_rate   Adam's step size
//   buffer_size     transitions in the replay buffer
//   gradient_steps  gradient steps since the run began (skipped fp16 steps included)
//   loss_scale      fp16 only: the loss scale after this update
//
// Checkpoints (save/load) hold the online and target networks ("online", "target"), Adam's state
// ("optimizer", one state per parameter tensor, whatever the flat layout Adam steps), the counters (env steps, gradient steps, last target update), the loss scaler's
// scale and growth tracker, policy_version and the replay sampling generator. They do not hold the
// replay buffer or the open n-step windows: a resumed DQN refills its buffer, and learning_starts
// counts again from the resume.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include "agents/policy.h"
#include "agents/q_network.h"
#include "learner/algorithm.h"
#include "learner/dqn/dqn_config.h"
#include "learner/dqn/fused_step.h"
#include "learner/loss_scaler.h"
#include "learner/losses.h"
#include "learner/nstep.h"
#include "learner/optim.h"
#include "learner/replay_buffer.h"

namespace apiary::learner {

// Builds DQN from init.config.dqn, the QNetwork of init.config.policy for init.spec, on init.device at
// init.precision. Network weights come from LibTorch's default generator (seed it first); replay
// sampling has its own generator seeded from init.config.seed. Throws std::invalid_argument for a Box
// action space (naming the env and pointing to algo: ppo) and for a precision the device cannot run.
std::unique_ptr<Algorithm> make_dqn(const AlgorithmInit& init);

// DQN's registry entry (learner/algorithm.h).
AlgorithmSpec dqn_algorithm();

// The exploration schedule of `config`'s dqn section, with Ape-X epsilons across actors.count actor
// processes: the learner's policy and every actor process's are built from this one function.
agents::EpsilonSchedule dqn_epsilon_schedule(const TrainConfig& config);

class Dqn final : public Algorithm {
 public:
  explicit Dqn(const AlgorithmInit& init);

  std::shared_ptr<agents::Policy> policy() override { return policy_; }
  std::int64_t policy_version() const override { return policy_version_; }
  // max(1, train_frequency / num_envs): one gradient phase per chunk when num_envs divides it.

  Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) override;

  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;
  void weights_loaded() override;  // the target network starts as a copy of the loaded online network
  bool set_frozen(const std::function<bool(const std::string&)>& frozen) override;

  // For tests and tools.
  agents::QNetwork& online() { return online_; }
  agents::QNetwork& target() { return target_; }
  std::int64_t env_steps() const { return env_steps_; }            // env steps seen, all lanes
  std::int64_t gradient_steps() const { return gradient_steps_; }  // gradient steps taken so far
  std::int64_t last_target_update() const { return last_target_update_; }  // env step, -1: none yet
  std::int64_t buffer_size() const;                                // transitions in the replay buffer
  torch::optim::Adam& optimizer() { return *optimizer_; }          // steps one flat buffer of online's parameters

 private:
  // Diagnostics of a run of gradient steps, kept as device tensors until the end of update().
  struct StepTotals {
    torch::Tensor td_loss;  // sum of the per-step TD losses
    torch::Tensor q_taken;  // sum of the per-step mean Q(s, a)
    double fused_td_loss = 0.0, fused_q_taken = 0.0;  // the same sums from the fused step
    std::int64_t steps = 0;
    bool weights_changed = false;
  };

  // The chunk's T steps into the n-step buffer and the replay buffer.
  void store_chunk(const agents::TrajectoryChunk& chunk);
  void add_transitions(const Transitions& transitions);
  // A fresh, empty replay buffer and n-step buffer (construction and load()).
  void reset_replay();
  ReplaySample sample_batch();
  // One sample / loss / backward / Adam step.
  void gradient_step(StepTotals& totals);
  // gradient_step on FusedDqnStep instead of autograd (dqn.fused_update where it applies): the same
  // sample, loss, gradients, clip and Adam step, with uniform replay's rows gathered straight into
  // host arrays.
  void fused_gradient_step(StepTotals& totals);
  // After either step's backward: the flat gradient all-reduced (data parallelism), unscaled (fp16),
  // frozen entries held, clipped, and Adam's step. False where fp16 found a non-finite gradient and
  // the step was skipped.
  bool apply_gradients();
  // The pointers FusedDqnStep reads, read again at every update (loading weights can re-seat them):
  // the online network's layers with their gradients (views of flat_'s), the target's without.
  void refresh_fused_nets();
  void update_target_network();
  // Linear from per_beta at step 0 to 1 at total_steps.
  double per_beta(std::int64_t global_step, std::int64_t total_steps) const;

  DqnConfig config_;
  std::int64_t total_steps_;  // the run's budget, for the epsilon schedule and beta annealing
  torch::Device device_;
  torch::Dtype obs_dtype_ = torch::kFloat;  // observations in replay: uint8 for image envs
  Precision precision_;
  TdLossKind loss_kind_;

  agents::QNetwork online_{nullptr};  // acts (shared with policy_) and learns
  agents::QNetwork target_{nullptr};  // values the next state; never has gradients
  std::shared_ptr<agents::EpsilonGreedyPolicy> policy_;
  // online_'s parameters as one buffer: Adam, the clip norm, zeroing and data parallelism's all-reduce
  // take one tensor each (learner/optim.h), and the fused step's gradients are views of it.
  std::unique_ptr<FlatParameters> flat_;
  std::unique_ptr<torch::optim::Adam> optimizer_;  // steps flat_->values()
  torch::Tensor trainable_;  // 0 over frozen parameters (init.freeze); undefined: none frozen
  std::unique_ptr<UpdateGuard> guard_;  // undoes non-finite updates
  std::unique_ptr<FusedDqnStep> fused_;  // dqn.fused_update where it applies (fp32 MLP, CPU, no dueling)
  FusedQNet fused_online_, fused_target_;  // refresh_fused_nets()
  std::vector<float> host_obs_, host_scalars_;  // fused_gradient_step's batch: obs and next_obs; returns and discounts
  std::vector<std::int64_t> host_actions_;
  std::vector<torch::Tensor> parameters_;  // online_'s, in flat_'s order (the checkpoint's optimizer layout)
  LossScaler scaler_;

  std::optional<NStepBuffer> nstep_;  // n_step > 1; built at the first chunk for its lane count
  std::optional<ReplayBuffer> uniform_replay_;          // prioritized = false
  std::optional<PrioritizedReplay> prioritized_replay_;  // prioritized = true
  at::Generator generator_;                             // replay sampling, CPU
  GradientHook reduce_gradients_;  // data-parallel runs: averages the online network's gradients across ranks

  std::int64_t env_steps_ = 0;           // env steps (all lanes) seen since the run began
  std::int64_t replay_steps_ = 0;        // env steps put into the replay buffer since construction / load
  std::int64_t gradient_steps_ = 0;      // gradient steps taken since the run began
  std::int64_t last_target_update_ = -1; // env step of the last target update
  std::int64_t policy_version_ = 0;      // update() calls that changed the online weights
  std::int64_t env_steps_at_event_ = 0;  // env step of the phase / target update being run
};

}  // namespace apiary::learner
