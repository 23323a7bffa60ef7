#include "agents/actor_critic.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "agents/distributions.h"
#include "agents/layers.h"

namespace apiary::agents {

ActorCriticImpl::ActorCriticImpl(std::int64_t obs_dim, const envs::Space& action_space, PolicyConfig config)
    : config_(std::move(config)), obs_dim_(obs_dim), action_dim_(0), discrete_(action_space.is_discrete()) {
  validate(config_);
  if (config_.dueling)
    throw std::invalid_argument("PolicyConfig.dueling applies to QNetwork only; an ActorCritic has no dueling head");
  if (obs_dim_ <= 0) throw std::invalid_argument("ActorCritic: obs_dim must be > 0, got " + std::to_string(obs_dim_));
  if (!config_.obs_low.empty()) {
    if (static_cast<std::int64_t>(config_.obs_low.size()) != obs_dim_)
      throw std::invalid_argument("ActorCritic: PolicyConfig.obs_low has " + std::to_string(config_.obs_low.size()) +
                                  " entries, expected obs_dim " + std::to_string(obs_dim_));
    obs_scaling_ = register_module("obs_scaling", ObsScaling(config_.obs_low, config_.obs_high));
  }
  action_dim_ = discrete_ ? action_space.n : action_space.flat_size();
  if (action_dim_ <= 0)
    throw std::invalid_argument("ActorCritic: action space " + action_space.to_string() + " has no actions");

  const std::int64_t features = mlp_out_dim(obs_dim_, config_);
  // The categorical needs nothing beyond the logits; the Gaussian adds its state-independent log-std.
  if (!discrete_)
    log_std_ = register_parameter("log_std", torch::full({action_dim_}, config_.init_log_std, torch::kFloat));
  if (config_.shared_trunk) {
    trunk_ = register_module("trunk", make_mlp(obs_dim_, config_));
  } else {
    actor_body_ = register_module("actor_body", make_mlp(obs_dim_, config_));
  }
  actor_head_ = register_module("actor_head", torch::nn::Linear(features, action_dim_));
  if (!config_.shared_trunk) critic_body_ = register_module("critic_body", make_mlp(obs_dim_, config_));
  critic_head_ = register_module("critic_head", torch::nn::Linear(features, 1));
  if (config_.orthogonal_init) {
    layer_init(actor_head_, config_.actor_output_gain);
    layer_init(critic_head_, config_.critic_output_gain);
  }
}

PolicyOut ActorCriticImpl::forward(const torch::Tensor& obs) {
  const torch::Tensor x = scale_obs(flatten_obs(obs, obs_dim_, "ActorCritic"));
  torch::Tensor actor_features;
  torch::Tensor critic_features;
  if (config_.shared_trunk) {
    actor_features = run_mlp(trunk_, x);
    critic_features = actor_features;
  } else {
    actor_features = run_mlp(actor_body_, x);
    critic_features = run_mlp(critic_body_, x);
  }
  PolicyOut out;
  // Cast to fp32 here: under autocast the Linear outputs are fp16/bf16, the distributions are not.
  torch::Tensor head = actor_head_->forward(actor_features).to(torch::kFloat);
  if (discrete_) {
    out.logits = std::move(head);
  } else {
    out.mean = std::move(head);
  }
  out.value = critic_head_->forward(critic_features).to(torch::kFloat).squeeze(-1);
  return out;
}

ActOut ActorCriticImpl::act(const torch::Tensor& obs, bool deterministic, torch::Generator* gen) {
  torch::NoGradGuard no_grad;
  PolicyOut heads = forward(obs);
  ActOut out;
  if (discrete_) {
    out.action = deterministic ? heads.logits.argmax(/*dim=*/-1) : categorical_sample(heads.logits, gen);
    out.log_prob = categorical_log_prob(heads.logits, out.action);
  } else {
    out.action = deterministic ? heads.mean : gaussian_sample(heads.mean, log_std_, gen);
    out.log_prob = gaussian_log_prob(heads.mean, log_std_, out.action);
  }
  out.value = std::move(heads.value);
  return out;
}

torch::Tensor ActorCriticImpl::mode(const torch::Tensor& obs) {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = scale_obs(flatten_obs(obs, obs_dim_, "ActorCritic"));
  const torch::Tensor head = actor_head_->forward(run_mlp(config_.shared_trunk ? trunk_ : actor_body_, x)).to(torch::kFloat);
  return discrete_ ? head.argmax(/*dim=*/-1) : head;
}

EvalOut ActorCriticImpl::evaluate(const torch::Tensor& obs, const torch::Tensor& actions) {
  PolicyOut heads = forward(obs);
  EvalOut out;
  const std::int64_t batch = heads.value.size(0);
  TORCH_CHECK(actions.numel() == batch * (discrete_ ? 1 : action_dim_), "ActorCritic::evaluate: expected ",
              discrete_ ? "actions [B]" : "actions [B, A]", " for B = ", batch, " and A = ", action_dim_,
              ", got shape ", actions.sizes());
  if (discrete_) {
    out.log_prob = categorical_log_prob(heads.logits, actions);
    out.entropy = categorical_entropy(heads.logits);
  } else {
    out.log_prob = gaussian_log_prob(heads.mean, log_std_, actions);
    out.entropy = gaussian_entropy(heads.mean, log_std_);
  }
  out.value = std::move(heads.value);
  return out;
}

torch::Tensor ActorCriticImpl::value(const torch::Tensor& obs) {
  const torch::Tensor x = scale_obs(flatten_obs(obs, obs_dim_, "ActorCritic"));
  const torch::Tensor features = run_mlp(config_.shared_trunk ? trunk_ : critic_body_, x);
  return critic_head_->forward(features).to(torch::kFloat).squeeze(-1);
}

}  // namespace apiary::agents
