// Proximal Policy Optimization (Schulman et al. 2017) as an Algorithm, after CleanRL's ppo.py and
// ppo_continuous_action.py: GAE(lambda) with the bootstrap through truncation, `update_epochs` passes of
// `num_minibatches` shuffled minibatches over each rollout, the clipped surrogate with value clipping
// and an entropy bonus (learner/losses.h), global gradient-norm clipping, linear learning-rate annealing
// and an optional target-KL early stop. Discrete (categorical) and Box (Gaussian) action spaces.
//
// Precision (learner/precision.h): the minibatch forward pass and the loss run under autocast; the
// parameters, Adam's state and every reduction stay fp32. fp16 scales the loss dynamically and skips
// the optimizer steps whose gradients are not finite (learner/loss_scaler.h).
//
// Metrics of update(), by CleanRL's names, averaged over the minibatches the update ran:
//   pg_loss, v_loss, entropy, approx_kl, clipfrac   the losses and diagnostics of learner/losses.h
//   explained_var   1 - Var(returns - values) / Var(returns) of the behaviour values (NaN: flat returns)
//   learning_rate   Adam's step size used by this update (after annealing)
//   loss_scale      fp16 only: the loss scale after this update
//   skipped_steps   optimizer steps skipped in this update for non-finite gradients (fp16)
//   epochs_run      passes over the rollout (< update_epochs when target_kl stopped early)
//
// Model parallelism (learner.pipeline_stages S > 1, AlgorithmInit::pipeline; docs/distributed.md;
// ppo_pipeline.cpp): the actor and critic (a convolutional encoder, the MLP, the head) are cut into S
// stages, one per rank; stage 0 steps the envs with a whole copy
// of the network and starts every update, the other stages run serve_stage(). A minibatch runs on the
// GPipe schedule over learner.micro_batches micro-batches, the last stage computes ppo_loss, gradient
// clipping uses the global norm, each stage steps its own Adam: the update equals the unsplit one.
//
// Checkpoints (save/load) hold everything a bit-exact resume needs on the same device and build: the
// ActorCritic parameters ("model"), Adam's state ("optimizer"), the loss scaler ("scaler"),
// policy_version and the state of the minibatch-shuffling generator ("minibatch_generator").
#pragma once

#include <memory>

#include "learner/algorithm.h"
#include "learner/ppo/ppo_config.h"

namespace apiary::learner {

// Builds PPO from init.config's ppo section with the network of init.config.policy for init.spec, on init.device
// at init.precision. The initial weights come from LibTorch's default generator (seed it first); the
// minibatch shuffling has its own CPU generator seeded from init.config.seed. Throws
// std::invalid_argument naming the field for a config that cannot work, or a precision the device
// cannot run. update() throws std::invalid_argument when ppo.num_minibatches exceeds the samples of a
// chunk (rollout_steps * num_envs), naming both.
std::unique_ptr<Algorithm> make_ppo(const AlgorithmInit& init);

// PPO's update timed on a synthetic minibatch (AlgorithmSpec::bench_update; update_bench.cpp).
UpdateBenchResult bench_ppo_update(const UpdateBenchConfig& config);

// PPO's registry entry (learner/algorithm.h).
AlgorithmSpec ppo_algorithm();

}  // namespace apiary::learner
