#include "agents/actor_critic.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/autocast_mode.h>

#include "agents/dense_kernels.h"
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

  features_in_ = obs_dim_;
  if (ConvEncoder first = make_encoder(config_, "ActorCritic")) {  // empty for "mlp"
    if (config_.shared_trunk) {
      encoder_ = register_module("encoder", first);
      features_in_ = encoder_->out_features();
    } else {
      actor_encoder_ = register_module("actor_encoder", first);
      critic_encoder_ = register_module("critic_encoder", make_encoder(config_, "ActorCritic"));
      features_in_ = actor_encoder_->out_features();
    }
  }
  const std::int64_t body_out = mlp_out_dim(features_in_, config_);
  const CoreCell cell = parse_core_cell(config_.recurrent_cell);
  const auto make_core = [&] {
    return RecurrentCore(body_out, cell, config_.recurrent_hidden, config_.orthogonal_init);
  };
  const std::int64_t features = cell == CoreCell::kNone ? body_out : config_.recurrent_hidden;  // the heads' input
  // The categorical needs nothing beyond the logits; the Gaussian adds its state-independent log-std.
  if (!discrete_)
    log_std_ = register_parameter("log_std", torch::full({action_dim_}, config_.init_log_std, torch::kFloat));
  if (config_.shared_trunk) {
    trunk_ = register_module("trunk", make_mlp(features_in_, config_));
    if (cell != CoreCell::kNone) core_ = register_module("core", make_core());
  } else {
    actor_body_ = register_module("actor_body", make_mlp(features_in_, config_));
    if (cell != CoreCell::kNone) actor_core_ = register_module("actor_core", make_core());
  }
  actor_head_ = register_module("actor_head", torch::nn::Linear(features, action_dim_));
  if (!config_.shared_trunk) {
    critic_body_ = register_module("critic_body", make_mlp(features_in_, config_));
    if (cell != CoreCell::kNone) critic_core_ = register_module("critic_core", make_core());
  }
  critic_head_ = register_module("critic_head", torch::nn::Linear(features, 1));
  if (config_.orthogonal_init) {
    layer_init(actor_head_, config_.actor_output_gain);
    layer_init(critic_head_, config_.critic_output_gain);
  }
}

torch::Tensor ActorCriticImpl::encode(const torch::Tensor& obs, ConvEncoder& encoder) {
  return encode_observation(obs, encoder, obs_scaling_, obs_dim_, config_, "ActorCritic");
}

std::int64_t ActorCriticImpl::state_size() const {
  if (core_) return core_->state_size();
  return actor_core_ ? actor_core_->state_size() + critic_core_->state_size() : 0;
}

void ActorCriticImpl::run_cores(torch::Tensor& actor_features, torch::Tensor& critic_features, const Recurrence* rec) {
  TORCH_CHECK(rec != nullptr && rec->state.defined(),
              "ActorCritic: this network has a recurrent core and needs each lane's state (Recurrence)");
  TORCH_CHECK(rec->state.dim() == 2 && rec->state.size(1) == state_size(), "ActorCritic: the state must be [B, ",
              state_size(), "], got ", rec->state.sizes());
  if (core_) {
    actor_features = core_->sequence(actor_features, *rec);
    critic_features = actor_features;
    return;
  }
  // Two cores: each reads and writes its own columns of the lanes' state.
  const std::int64_t split = actor_core_->state_size();
  torch::Tensor finals[2], steps[2];
  Recurrence side[2] = {*rec, *rec};
  side[0].state = rec->state.slice(1, 0, split);
  side[1].state = rec->state.slice(1, split);
  for (int k = 0; k < 2; ++k) {
    side[k].final_state = rec->final_state != nullptr ? &finals[k] : nullptr;
    side[k].step_states = rec->step_states != nullptr ? &steps[k] : nullptr;
  }
  actor_features = actor_core_->sequence(actor_features, side[0]);
  critic_features = critic_core_->sequence(critic_features, side[1]);
  if (rec->final_state != nullptr) *rec->final_state = torch::cat({finals[0], finals[1]}, 1);
  if (rec->step_states != nullptr) *rec->step_states = torch::cat({steps[0], steps[1]}, 2);
}

PolicyOut ActorCriticImpl::forward(const torch::Tensor& obs, const Recurrence* rec) {
  torch::Tensor actor_features;
  torch::Tensor critic_features;
  if (config_.shared_trunk) {
    actor_features = run_mlp(trunk_, encode(obs, encoder_));
    critic_features = actor_features;
  } else if (actor_encoder_) {
    actor_features = run_mlp(actor_body_, encode(obs, actor_encoder_));
    critic_features = run_mlp(critic_body_, encode(obs, critic_encoder_));
  } else {
    const torch::Tensor x = encode(obs, actor_encoder_);  // one flattened input for both sides
    actor_features = run_mlp(actor_body_, x);
    critic_features = run_mlp(critic_body_, x);
  }
  if (recurrent()) run_cores(actor_features, critic_features, rec);
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

namespace {

// The first index of the largest logit of row r; throws naming the row when a logit is not finite.
std::int64_t dense_argmax(const float* z, std::int64_t n, std::int64_t r) {
  std::int64_t best = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    TORCH_CHECK(std::isfinite(z[j]), "ActorCritic: the logits of row ", r,
                " are not finite (a non-finite observation or weight)");
    if (z[j] > z[best]) best = j;
  }
  return best;
}

}  // namespace

bool ActorCriticImpl::dense_heads(const torch::Tensor& obs_in, bool with_critic, DenseHeads& heads_out) {
  if (!dense_kernels_available() || !obs_in.is_cpu() || obs_in.scalar_type() != torch::kFloat ||
      at::autocast::is_cpu_enabled() || encoder_ || actor_encoder_ || recurrent())
    return false;
  thread_local std::vector<DenseLayer> actor, critic, heads;
  actor.clear(), critic.clear(), heads.clear();
  auto& actor_seq = config_.shared_trunk ? trunk_ : actor_body_;
  if (!dense_mlp(actor_seq, actor) || (with_critic && !config_.shared_trunk && !dense_mlp(critic_body_, critic)) ||
      !dense_linear(*actor_head_, heads) || (with_critic && !dense_linear(*critic_head_, heads)) ||
      (!discrete_ && !dense_ready(log_std_)))
    return false;

  const torch::Tensor obs = flatten_obs(obs_in, obs_dim_, "ActorCritic").contiguous();
  const std::int64_t rows = obs.size(0);
  const bool tanh = parse_activation(config_.activation) == Activation::kTanh;
  thread_local std::vector<float> input, head_a, head_c;
  thread_local std::vector<std::vector<float>> h_actor, h_critic;
  const float* x = obs_scaling_ ? dense_scale_input(obs.data_ptr<float>(), rows, obs_dim_,
                                                    obs_scaling_->offset().data_ptr<float>(),
                                                    obs_scaling_->scale().data_ptr<float>(), input)
                                : obs.data_ptr<float>();
  const float* actor_features = dense_body_forward(actor, x, rows, tanh, h_actor);
  ensure_size(head_a, rows * action_dim_);
  dense_forward(heads[0], actor_features, rows, head_a.data(), /*activate=*/false, tanh);
  if (with_critic) {
    const float* critic_features =
        config_.shared_trunk ? actor_features : dense_body_forward(critic, x, rows, tanh, h_critic);
    ensure_size(head_c, rows);
    dense_forward(heads[1], critic_features, rows, head_c.data(), /*activate=*/false, tanh);
  }
  heads_out.rows = rows;
  heads_out.actor = head_a.data();
  heads_out.critic = with_critic ? head_c.data() : nullptr;
  return true;
}

bool ActorCriticImpl::dense_mode(const torch::Tensor& obs, torch::Tensor& action) {
  torch::NoGradGuard no_grad;
  DenseHeads heads;
  if (!dense_heads(obs, /*with_critic=*/false, heads)) return false;
  const std::int64_t rows = heads.rows, n = action_dim_;
  if (discrete_) {
    action = torch::empty({rows}, torch::kLong);
    std::int64_t* a = action.data_ptr<std::int64_t>();
    for (std::int64_t r = 0; r < rows; ++r) a[r] = dense_argmax(heads.actor + r * n, n, r);
  } else {
    action = torch::from_blob(const_cast<float*>(heads.actor), {rows, n}, torch::kFloat).clone();
  }
  return true;
}

bool ActorCriticImpl::dense_act(const torch::Tensor& obs, bool deterministic, torch::Generator* gen, ActOut& out) {
  torch::NoGradGuard no_grad;
  DenseHeads heads;
  if (!dense_heads(obs, /*with_critic=*/true, heads)) return false;
  const std::int64_t rows = heads.rows;
  const float* head_a = heads.actor;
  const std::int64_t n = action_dim_;
  const auto floats = torch::TensorOptions().dtype(torch::kFloat);
  out.value = torch::from_blob(const_cast<float*>(heads.critic), {rows}, floats).clone();
  if (discrete_) {
    out.log_prob = torch::empty({rows}, floats);
    float* log_prob = out.log_prob.data_ptr<float>();
    // Categorical: the inverse CDF of the softmax at one uniform draw per row (the same distribution as
    // categorical_sample's multinomial), or the first argmax; log-probabilities as log_softmax.
    out.action = torch::empty({rows}, torch::kLong);
    std::int64_t* action = out.action.data_ptr<std::int64_t>();
    torch::Tensor uniform;
    if (!deterministic) uniform = gen != nullptr ? torch::rand({rows}, *gen, floats) : torch::rand({rows}, floats);
    const float* u = deterministic ? nullptr : uniform.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* z = head_a + r * n;
      const std::int64_t best = dense_argmax(z, n, r);
      const float zmax = z[best];
      float sum = 0.0f;
      for (std::int64_t j = 0; j < n; ++j) sum += std::exp(z[j] - zmax);
      std::int64_t a = best;
      if (!deterministic) {
        const float target = u[r] * sum;
        float cumulative = 0.0f;
        a = -1;
        for (std::int64_t j = 0; j < n && a < 0; ++j) {
          cumulative += std::exp(z[j] - zmax);
          if (target < cumulative) a = j;
        }
        if (a < 0) a = best;  // rounding left the draw past the last bin
      }
      action[r] = a;
      log_prob[r] = z[a] - zmax - std::log(sum);
    }
  } else {
    // Gaussian: the distribution's own sample and log-probability (agents/distributions.h) on the mean.
    const torch::Tensor mean = torch::from_blob(const_cast<float*>(head_a), {rows, n}, floats);
    out.action = deterministic ? mean.clone() : gaussian_sample(mean, log_std_, gen);
    out.log_prob = gaussian_log_prob(mean, log_std_, out.action);
  }
  return true;
}

namespace {

// One step of a network with a core from `state`, which is replaced by the state after it; no
// Recurrence (and `state` untouched) for a network without one.
struct StepRecurrence {
  Recurrence rec;
  torch::Tensor next;
  torch::Tensor* state;
  StepRecurrence(torch::Tensor* lane_state, bool recurrent) : state(recurrent ? lane_state : nullptr) {
    TORCH_CHECK(!recurrent || lane_state != nullptr,
                "ActorCritic: this network has a recurrent core; act with each lane's state");
    if (state != nullptr) {
      rec.state = *state;
      rec.final_state = &next;
    }
  }
  const Recurrence* get() const { return state != nullptr ? &rec : nullptr; }
  void done() {
    if (state != nullptr) *state = next;
  }
};

}  // namespace

ActOut ActorCriticImpl::act(const torch::Tensor& obs, bool deterministic, torch::Generator* gen, torch::Tensor* state) {
  torch::NoGradGuard no_grad;
  StepRecurrence step(state, recurrent());
  PolicyOut heads = forward(obs, step.get());
  step.done();
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

torch::Tensor ActorCriticImpl::mode(const torch::Tensor& obs, torch::Tensor* state) {
  torch::NoGradGuard no_grad;
  if (recurrent()) {
    StepRecurrence step(state, true);
    const PolicyOut heads = forward(obs, step.get());
    step.done();
    return discrete_ ? heads.logits.argmax(/*dim=*/-1) : heads.mean;
  }
  const torch::Tensor x = encode(obs, config_.shared_trunk ? encoder_ : actor_encoder_);
  const torch::Tensor head = actor_head_->forward(run_mlp(config_.shared_trunk ? trunk_ : actor_body_, x)).to(torch::kFloat);
  return discrete_ ? head.argmax(/*dim=*/-1) : head;
}

EvalOut ActorCriticImpl::evaluate(const torch::Tensor& obs, const torch::Tensor& actions, const Recurrence* rec) {
  PolicyOut heads = forward(obs, rec);
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

torch::Tensor ActorCriticImpl::value(const torch::Tensor& obs, const Recurrence* rec) {
  if (recurrent()) return forward(obs, rec).value;
  const torch::Tensor x = encode(obs, config_.shared_trunk ? encoder_ : critic_encoder_);
  const torch::Tensor features = run_mlp(config_.shared_trunk ? trunk_ : critic_body_, x);
  return critic_head_->forward(features).to(torch::kFloat).squeeze(-1);
}

}  // namespace apiary::agents
