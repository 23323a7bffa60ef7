// Soft Actor-Critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications") as an
// Algorithm, after CleanRL's sac_continuous_action.py: a tanh-squashed Gaussian actor rescaled onto the
// Box's bounds, twin soft Q-networks with Polyak-averaged target networks, clipped double-Q targets,
// delayed actor updates and automatic entropy tuning towards the target entropy -|A|. Continuous (Box)
// action spaces with finite bounds only.
//
// The schedule, counted in env steps over all lanes (s = 1, 2, ... since the run began), as DQN's:
//   - every chunk's steps go into the replay buffer first (uniform, learner/replay_buffer.h);
//   - learning is on once `learning_starts` env steps have been put into the replay buffer by this
//     object (since the run began or since the last load(): the replay buffer is not saved); before
//     that the actors act uniformly at random when random_warmup is set;
//   - at each s with s % train_frequency == 0 while learning: a phase of `gradient_steps` gradient steps.
// One gradient step (counted g = 1, 2, ...):
//   critic   y = r + discount * (min_k Q'_k(s', a') - alpha log pi(a'|s')), a' ~ pi(.|s');
//            qf_loss = sum_k mean (Q_k(s, a) - y)^2, one Adam step on both critics;
//   actor    when g % policy_frequency == 0, policy_frequency times on the same batch:
//            actor_loss = mean(alpha log pi(a~|s) - min_k Q_k(s, a~)), a~ ~ pi(.|s) reparameterised,
//            one Adam step on the actor (the critics get no gradient from it);
//   alpha    after each actor step (autotune): alpha_loss = mean(-alpha (log pi(a~|s) + target_entropy))
//            with the log pi of that actor step's draw (CleanRL draws once more), an Adam step on log alpha;
//   targets  when g % target_network_frequency == 0: Q' <- tau Q + (1 - tau) Q' (one lerp over the
//            flattened parameters).
// fp32 MLP networks on the CPU (sac.fused_update, on by default) take the same step written out by hand
// (learner/sac/fused_step.h): the same replay rows and noise from the same generator, the same
// arithmetic to float rounding, a third of the time.
// Precision (learner/precision.h): the forward passes and losses run under autocast; the network
// outputs are cast to fp32 first, so log-probabilities, targets and the loss reductions are fp32, as are
// the parameters and Adam's state; fp16 scales the critic and actor losses (a LossScaler each) and skips
// steps whose gradients are not finite. On the fp32 / bf16 path a gradient step makes no host
// synchronisation: diagnostics accumulate on the device and are read once per update() call.
//
// Metrics of update(), by CleanRL's names, only when at least one gradient step ran:
//   qf1_values, qf2_values   mean Q_1(s, a), Q_2(s, a) of the sampled batches
//   qf1_loss, qf2_loss       mean squared TD errors; qf_loss their mean (CleanRL logs qf_loss / 2)
//   actor_loss               mean over the actor steps of this update (NaN when none ran)
//   alpha                    the temperature after this update
//   alpha_loss               autotune only: mean over the actor steps of this update
//   buffer_size              transitions in the replay buffer
//   gradient_steps           critic updates since the run began (skipped fp16 steps included)
//   loss_scale               fp16 only: the critic's loss scale after this update
//
// Checkpoints (save/load) hold the actor ("actor", what eval and play load), the critics ("critic",
// "target_critic"), the three Adam states, log alpha, both loss scalers, the counters (env steps,
// gradient steps, policy_version) and the generator of replay sampling and noise. Not the replay buffer:
// a resumed SAC refills it, and learning_starts counts again from the resume.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include "agents/sac_networks.h"
#include "learner/algorithm.h"
#include "learner/loss_scaler.h"
#include "learner/optim.h"
#include "learner/replay_buffer.h"
#include "learner/sac/fused_step.h"
#include "learner/sac/sac_config.h"

namespace apiary::learner {

// SAC's networks and policy live with the others in agents/ (agents/sac_networks.h).
using agents::SacActor;
using agents::SacCritic;
using agents::SacPolicy;
using agents::SquashedGaussian;
using agents::SquashedSample;
using agents::squashed_gaussian_sample;

// Builds SAC from init.config's sac section, with the actor of init.config.policy and critics of
// sac.critic_hidden_sizes for init.spec, on init.device at init.precision. Network weights come from
// LibTorch's default generator (seed it first); replay sampling and the learner's noise have their own
// generator seeded from init.config.seed. Throws std::invalid_argument for a Discrete or unbounded
// action space (naming the env and pointing to ppo / dqn), a bad setting, or a precision the device
// cannot run.
std::unique_ptr<Algorithm> make_sac(const AlgorithmInit& init);

// SAC's registry entry (learner/algorithm.h).
AlgorithmSpec sac_algorithm();

// The critic side of one gradient step, with autograd into the critics.
struct SacCriticLoss {
  torch::Tensor q_values;      // fp32 [K, B]: Q_k(s, a) of the batch
  torch::Tensor next_q_value;  // fp32 [B]: the soft TD target y (no autograd)
  torch::Tensor qf_losses;     // fp32 [K]: mean (Q_k(s, a) - y)^2
  torch::Tensor qf_loss;       // fp32 scalar: their sum, what the critics minimise
};

// The actor side of one gradient step, with autograd into the actor.
struct SacActorLoss {
  torch::Tensor actor_loss;  // fp32 scalar
  torch::Tensor log_pi;      // fp32 [B]: log pi(a~ | s) of the draw (detached)
};

class Sac final : public Algorithm {
 public:
  explicit Sac(const AlgorithmInit& init);

  std::shared_ptr<agents::Policy> policy() override { return policy_; }
  std::int64_t policy_version() const override { return policy_version_; }
  // max(1, train_frequency / num_envs): one gradient phase per chunk when num_envs divides it.

  Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext& ctx) override;

  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;

  // ---- the pieces of a gradient step, for tests and tools ----
  // The losses on `batch` with the given standard-normal noise [B, A] for the actor's draws (a' at
  // next_obs, a~ at obs), under this object's precision.
  SacCriticLoss critic_loss(const ReplaySample& batch, const torch::Tensor& next_noise);
  SacActorLoss actor_loss(const torch::Tensor& obs, const torch::Tensor& noise);
  torch::Tensor alpha_loss(const torch::Tensor& log_pi);  // fp32 scalar, autograd into log alpha
  // One Adam step of log alpha on alpha_loss(log_pi) (autotune only; a no-op otherwise).
  void alpha_step(const torch::Tensor& log_pi);
  // Q' <- tau Q + (1 - tau) Q'.
  void update_target_networks();

  // Whether gradient steps run on the hand-written kernels (sac.fused_update on an fp32 MLP on the CPU).
  bool fused() const { return fused_ != nullptr; }
  SacActor& actor() { return actor_; }
  SacCritic& critic() { return critic_; }
  SacCritic& target_critic() { return target_critic_; }
  double alpha() const;                // the current temperature (one host read)
  double target_entropy() const { return target_entropy_; }
  std::int64_t env_steps() const { return env_steps_; }            // env steps seen, all lanes
  std::int64_t gradient_steps() const { return gradient_steps_; }  // critic updates so far
  std::int64_t actor_steps() const { return actor_steps_; }        // actor updates so far
  std::int64_t buffer_size() const { return replay_->size(); }

 private:
  // Diagnostics of a run of gradient steps, device tensors until the end of update().
  struct StepTotals {
    torch::Tensor critic;  // [K + K]: sums of the per-step mean Q_k and qf_k losses
    torch::Tensor actor;   // [2]: sums of actor_loss and alpha_loss
    std::int64_t critic_steps = 0;
    std::int64_t actor_steps = 0;
    bool actor_changed = false;
    // The fused step's sums, on the host: [K + K] and [2] as above.
    std::vector<double> critic_host, actor_host;
  };

  void store_chunk(const agents::TrajectoryChunk& chunk);
  void reset_replay();
  torch::Tensor draw_noise(std::int64_t rows);  // standard normal [rows, A] on the device
  // A draw from the actor under this object's precision (autograd as the caller's mode says).
  SquashedSample sample_policy(const torch::Tensor& obs, const torch::Tensor& noise);
  SacCriticLoss critic_loss_given(const ReplaySample& batch, const SquashedSample& next);
  SacActorLoss actor_loss_given(const torch::Tensor& obs, const SquashedSample& pi);
  void gradient_step(StepTotals& totals);
  void refresh_fused_nets();  // the fused step's pointers into the networks, once per update
  void fused_gradient_step(StepTotals& totals);
  // One actor (and temperature) update on obs, with the draw `drawn` when given (else a fresh one).
  void actor_step(const torch::Tensor& obs, const SquashedSample* drawn, StepTotals& totals);
  void refresh_alpha();  // alpha_ from log alpha (or the constant)
  // The Adam step of alpha_step; returns alpha_loss(log_pi), detached.
  torch::Tensor temperature_step(const torch::Tensor& log_pi);
  void set_critic_requires_grad(bool on);

  SacConfig config_;
  torch::Device device_;
  Precision precision_;
  double target_entropy_;  // -|A|
  torch::Dtype obs_dtype_ = torch::kFloat;  // the observations' dtype, as replay stores them (uint8: images)

  SacActor actor_{nullptr};
  SacCritic critic_{nullptr};         // the twin critics, learning
  SacCritic target_critic_{nullptr};  // their Polyak average; never has gradients
  std::shared_ptr<SacPolicy> policy_;  // acts with actor_ (the same module)
  std::unique_ptr<FlatParameters> actor_flat_, critic_flat_, target_flat_;
  std::unique_ptr<torch::optim::Adam> actor_optimizer_, critic_optimizer_, alpha_optimizer_;
  torch::Tensor log_alpha_;  // fp32 [1] on the device; learned when autotune
  torch::Tensor alpha_;      // fp32 [] on the device: exp(log alpha) (or sac.alpha), no autograd
  LossScaler actor_scaler_, critic_scaler_;

  std::optional<ReplayBuffer> replay_;
  bool tanh_ = false;  // the actor's and the critics' activation (policy.activation): tanh, else relu
  std::unique_ptr<FusedSacStep> fused_;  // null: autograd
  FusedSacActor fused_actor_;
  FusedSacCritics fused_critic_, fused_target_;
  std::vector<float> host_obs_, host_actions_, host_scalars_;  // one replay batch
  at::Generator generator_;  // CPU: replay sampling and the learner's noise

  std::int64_t env_steps_ = 0;       // env steps (all lanes) seen since the run began
  std::int64_t replay_steps_ = 0;    // env steps put into the replay buffer since construction / load
  std::int64_t gradient_steps_ = 0;  // critic updates since the run began
  std::int64_t actor_steps_ = 0;     // actor updates since the run began
  std::int64_t policy_version_ = 0;  // update() calls that changed the actor's weights
};

}  // namespace apiary::learner
