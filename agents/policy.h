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
  // A recurrent policy's lanes' memory (Policy::state_size() > 0; a LaneMemory's state()): read as
  // the state before this step and replaced by the state after it. Required by such a policy.
  torch::Tensor* state = nullptr;
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
  // `state`: a recurrent policy's lanes' memory, as ActContext::state.
  virtual PolicyView view(const torch::Tensor& obs, torch::Tensor* state = nullptr);
  // The network whose weights travel to actors (export_weights / import_weights).
  virtual torch::nn::Module& module() = 0;
  // The deterministic action alone, as evaluations play it: act()'s with ctx.deterministic unless a
  // policy has a cheaper way (PPO's skips the critic and the log-probability).
  virtual torch::Tensor deterministic_action(const torch::Tensor& obs, torch::Tensor* state = nullptr);
  // Elements of one lane's memory ([B, state_size()] fp32 states); 0: the policy has none.
  virtual std::int64_t state_size() const { return 0; }
};

// Each lane's memory for a recurrent policy, held by whoever steps lanes with it (the actor,
// evaluations, `apiary play`, Python): zeros at the start, and a lane's row zeroed when its episode
// ends, which under same-step auto-reset is before the next episode's first observation. New weights
// leave it alone. Empty (state() null) for a policy without memory, so callers need no branch.
class LaneMemory {
 public:
  LaneMemory() = default;
  LaneMemory(std::int64_t state_size, std::int64_t lanes, torch::Device device);
  LaneMemory(const Policy& policy, std::int64_t lanes, torch::Device device)
      : LaneMemory(policy.state_size(), lanes, device) {}
  bool empty() const { return !state_.defined(); }
  // What ActContext::state and deterministic_action take: null when empty.
  torch::Tensor* state() { return empty() ? nullptr : &state_; }
  const torch::Tensor& tensor() const { return state_; }  // [N, S] fp32
  void set(const torch::Tensor& state);  // a resumed run's: [N, S], copied to the memory's device
  void reset();                          // every lane's row zeroed
  // Rows zeroed where `ended` ([N], bool, uint8 or float 0/1, any device) is set.
  void reset_where(const torch::Tensor& ended);
  // Rows zeroed where terminated[i] | truncated[i] (host flags of N lanes).
  void reset_where(const std::uint8_t* terminated, const std::uint8_t* truncated);

 private:
  torch::Tensor state_;
};

// PPO's policy: samples from the ActorCritic (or takes its mode when deterministic).
class ActorCriticPolicy final : public Policy {
 public:
  explicit ActorCriticPolicy(ActorCritic net) : net_(std::move(net)) {}
  PolicyAct act(const torch::Tensor& obs, const ActContext& ctx) override;
  // Probabilities, or the Gaussian mean.
  PolicyView view(const torch::Tensor& obs, torch::Tensor* state = nullptr) override;
  torch::nn::Module& module() override { return *net_; }
  // Both on the dense kernels where they apply (ActorCriticImpl::dense_act), else LibTorch's operators.
  torch::Tensor deterministic_action(const torch::Tensor& obs, torch::Tensor* state = nullptr) override;
  std::int64_t state_size() const override { return net_->state_size(); }
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
  PolicyView view(const torch::Tensor& obs, torch::Tensor* state = nullptr) override;  // the Q-values
  torch::nn::Module& module() override { return *net_; }
  QNetwork& net() { return net_; }
  const EpsilonSchedule& schedule() const { return schedule_; }

 private:
  QNetwork net_;
  EpsilonSchedule schedule_;
};

}  // namespace apiary::agents
