// What an actor acts with: a policy that maps a batch of observations to actions without autograd.
// In one process the actor and the learner share the same Policy object (no copy); an actor in its
// own process builds one from the config and imports the learner's weights into module().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "agents/actor_critic.h"
#include "agents/policy_config.h"
#include "agents/q_network.h"
#include "envs/env_spec.h"

namespace apiary::agents {

struct ActContext {
  bool deterministic = false;    // greedy / mean actions (evaluation)
  std::int64_t global_step = 0;  // env steps so far in the run (epsilon schedules)
  std::int32_t actor_id = 0;     // Ape-X: each actor has its own epsilon
};

struct PolicyAct {
  torch::Tensor action;    // int64 [B] or fp32 [B, A] (unclipped)
  torch::Tensor log_prob;  // fp32 [B], undefined for value-based policies
  torch::Tensor value;     // fp32 [B], undefined for value-based policies
};

// What a viewer (`apiary play`'s panel) shows of a deterministic choice.
struct PolicyView {
  enum class Kind : std::uint8_t { kProbabilities, kQValues, kActionMean };
  Kind kind = Kind::kActionMean;
  torch::Tensor action;  // the deterministic action, as act() gives it
  torch::Tensor scores;  // [B, K] fp32: one per discrete action, or per element of a continuous action
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual PolicyAct act(const torch::Tensor& obs, const ActContext& ctx) = 0;
  // The deterministic action and its scores; by default the action itself (as floats) is the score.
  virtual PolicyView view(const torch::Tensor& obs);
  // The network whose weights travel to actors (export_weights / import_weights).
  virtual torch::nn::Module& module() = 0;
  // The deterministic action alone, as evaluations play it: act()'s with ctx.deterministic unless a
  // policy has a cheaper way (PPO's skips the critic and the log-probability).
  virtual torch::Tensor deterministic_action(const torch::Tensor& obs);
};

// PPO's policy: samples from the ActorCritic (or takes its mode when deterministic).
class ActorCriticPolicy final : public Policy {
 public:
  explicit ActorCriticPolicy(ActorCritic net) : net_(std::move(net)) {}
  PolicyAct act(const torch::Tensor& obs, const ActContext& ctx) override;
  PolicyView view(const torch::Tensor& obs) override;  // probabilities, or the Gaussian mean
  torch::nn::Module& module() override { return *net_; }
  // Both on the dense kernels where they apply (ActorCriticImpl::dense_act), else LibTorch's operators.
  torch::Tensor deterministic_action(const torch::Tensor& obs) override;
  ActorCritic& net() { return net_; }

 private:
  ActorCritic net_;
};

// Linear epsilon decay from start_e to end_e over exploration_fraction of total_steps (CleanRL's
// dqn.py), and Ape-X per-actor epsilons eps_i = apex_base^(1 + i / (K - 1) * apex_alpha) when
// num_actors > 1. The decay's values come from the run's dqn: section (learner/dqn: dqn_epsilon_schedule),
// which holds their defaults.
struct EpsilonSchedule {
  double start_e = 0.0;
  double end_e = 0.0;
  double exploration_fraction = 0.0;
  std::int64_t total_steps = 0;
  std::int32_t num_actors = 1;
  double apex_base = 0.4;
  double apex_alpha = 7.0;
  double epsilon(std::int64_t global_step, std::int32_t actor_id) const;
};

// DQN's policy: epsilon-greedy on a QNetwork (greedy when deterministic).
class EpsilonGreedyPolicy final : public Policy {
 public:
  EpsilonGreedyPolicy(QNetwork net, EpsilonSchedule schedule) : net_(std::move(net)), schedule_(schedule) {}
  PolicyAct act(const torch::Tensor& obs, const ActContext& ctx) override;
  PolicyView view(const torch::Tensor& obs) override;  // the Q-values
  torch::nn::Module& module() override { return *net_; }
  QNetwork& net() { return net_; }
  const EpsilonSchedule& schedule() const { return schedule_; }

 private:
  QNetwork net_;
  EpsilonSchedule schedule_;
};

}  // namespace apiary::agents
