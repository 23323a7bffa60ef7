#include "agents/sac_networks.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "agents/dense_kernels.h"

namespace apiary::agents {

namespace {

// The bounded Box SAC squashes onto: every element needs finite bounds with low < high.
void check_bounded_box(const envs::Space& space) {
  if (space.is_discrete())
    throw std::invalid_argument("SacActor: SAC needs a Box action space, got " + space.to_string());
  const auto n = static_cast<std::size_t>(space.flat_size());
  if (n == 0 || space.low.size() != n || space.high.size() != n)
    throw std::invalid_argument("SacActor: action space " + space.to_string() + " has no bounds per element");
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(space.low[i]) || !std::isfinite(space.high[i]) || !(space.low[i] < space.high[i]))
      throw std::invalid_argument("SacActor: action element " + std::to_string(i) + " has bounds [" +
                                  std::to_string(space.low[i]) + ", " + std::to_string(space.high[i]) +
                                  "]; the tanh squash needs finite bounds with low < high");
  }
}

torch::Tensor from_floats(const std::vector<float>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat));
}

}  // namespace

// ---- SacActor ---------------------------------------------------------------------------------------

SacActorImpl::SacActorImpl(std::int64_t obs_dim, const envs::Space& action_space, const agents::PolicyConfig& config,
                           double log_std_min, double log_std_max)
    : obs_dim_(obs_dim),
      action_dim_(action_space.flat_size()),
      log_std_min_(log_std_min),
      log_std_max_(log_std_max),
      obs_config_(config) {
  agents::validate(config);
  check_bounded_box(action_space);
  if (obs_dim_ <= 0) throw std::invalid_argument("SacActor: obs_dim must be > 0, got " + std::to_string(obs_dim_));
  if (!(log_std_min_ < log_std_max_))
    throw std::invalid_argument("SacActor: log_std_min (" + std::to_string(log_std_min_) +
                                ") must be below log_std_max (" + std::to_string(log_std_max_) + ")");
  if (!config.obs_low.empty()) {
    if (static_cast<std::int64_t>(config.obs_low.size()) != obs_dim_)
      throw std::invalid_argument("SacActor: PolicyConfig.obs_low has " + std::to_string(config.obs_low.size()) +
                                  " entries, expected obs_dim " + std::to_string(obs_dim_));
    obs_scaling_ = register_module("obs_scaling", agents::ObsScaling(config.obs_low, config.obs_high));
  }
  agents::PolicyConfig body_config = config;
  body_config.orthogonal_init = false;  // PyTorch's default initialisation, as CleanRL
  std::int64_t features = obs_dim_;
  encoder_ = agents::make_encoder(body_config, "SacActor");
  if (encoder_) {
    register_module("encoder", encoder_);
    features = encoder_->out_features();
  }
  body_ = register_module("body", agents::make_mlp(features, body_config));
  head_ = register_module("head", torch::nn::Linear(agents::mlp_out_dim(features, body_config), 2 * action_dim_));
  const torch::Tensor low = from_floats(action_space.low), high = from_floats(action_space.high);
  action_scale_ = register_buffer("action_scale", (high - low) / 2.0);
  action_bias_ = register_buffer("action_bias", (high + low) / 2.0);
}

SquashedGaussian SacActorImpl::forward(const torch::Tensor& obs) {
  const torch::Tensor x = agents::encode_observation(obs, encoder_, obs_scaling_, obs_dim_, obs_config_, "SacActor");
  // fp32 from here: under autocast the Linear output is fp16 / bf16, the distribution is not.
  const torch::Tensor out = head_->forward(agents::run_mlp(body_, x)).to(torch::kFloat);
  SquashedGaussian g;
  g.mean = out.narrow(1, 0, action_dim_);
  // CleanRL's LOG_STD_MIN + 0.5 (LOG_STD_MAX - LOG_STD_MIN) (tanh(x) + 1), as centre + half * tanh(x).
  const double centre = 0.5 * (log_std_max_ + log_std_min_), half = 0.5 * (log_std_max_ - log_std_min_);
  g.log_std = torch::tanh(out.narrow(1, action_dim_, action_dim_)) * half + centre;
  return g;
}

torch::Tensor SacActorImpl::deterministic_action(const torch::Tensor& obs) {
  torch::Tensor action;
  if (dense_act(obs, nullptr, action)) return action;
  return squash(forward(obs).mean);
}

bool SacActorImpl::dense_act(const torch::Tensor& obs_in, const torch::Tensor* noise, torch::Tensor& action) {
  if (!dense_kernels_available() || torch::GradMode::is_enabled() || at::autocast::is_cpu_enabled() || encoder_ ||
      !obs_in.is_cpu() || obs_in.scalar_type() != torch::kFloat || !dense_ready(action_scale_) ||
      !dense_ready(action_bias_))
    return false;
  thread_local DenseMlp net;
  if (!dense_mlp_net(body_, *head_, obs_scaling_, parse_activation(obs_config_.activation) == Activation::kTanh, net))
    return false;
  const torch::Tensor obs = flatten_obs(obs_in, obs_dim_, "SacActor").contiguous();
  const std::int64_t rows = obs.size(0), A = action_dim_;
  if (rows == 0) return false;
  torch::Tensor eps;
  if (noise != nullptr) {
    eps = noise->to(torch::kFloat).contiguous();
    TORCH_CHECK(eps.dim() == 2 && eps.size(0) == rows && eps.size(1) == A, "SacActor: expected noise [", rows, ", ", A,
                "], got shape ", eps.sizes());
  }
  thread_local std::vector<float> input, out;
  thread_local std::vector<std::vector<float>> h;
  const float* o = dense_mlp_forward(net, obs.data_ptr<float>(), rows, obs_dim_, input, h, out);
  const float centre = static_cast<float>(0.5 * (log_std_max_ + log_std_min_));
  const float half = static_cast<float>(0.5 * (log_std_max_ - log_std_min_));
  const float* scale = action_scale_.data_ptr<float>();
  const float* bias = action_bias_.data_ptr<float>();
  const float* e = noise != nullptr ? eps.data_ptr<float>() : nullptr;
  action = torch::empty({rows, A}, torch::kFloat);
  float* a = action.data_ptr<float>();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < A; ++i) {
      float u = o[r * 2 * A + i];
      if (e != nullptr) u += std::exp(std::tanh(o[r * 2 * A + A + i]) * half + centre) * e[r * A + i];
      a[r * A + i] = std::tanh(u) * scale[i] + bias[i];
    }
  return true;
}

SquashedSample squashed_gaussian_sample(const SquashedGaussian& g, const torch::Tensor& noise,
                                        const torch::Tensor& action_scale, const torch::Tensor& action_bias) {
  const double kLog2 = std::log(2.0), kHalfLog2Pi = 0.5 * std::log(2.0 * 3.14159265358979323846);
  const torch::Tensor u = g.mean + torch::exp(g.log_std) * noise;
  SquashedSample s;
  s.action = torch::tanh(u) * action_scale + action_bias;
  // Per element: log N(u; mean, std) = -noise^2 / 2 - log_std - log(2 pi) / 2 (u - mean = std * noise),
  // and -log(1 - tanh(u)^2) = 2 (u + softplus(-2 u)) - 2 log 2; the constant terms are summed once.
  const torch::Tensor per_element =
      (u + torch::softplus(u * -2.0)) * 2.0 - g.log_std - noise.square() * 0.5;
  const double actions = static_cast<double>(noise.size(-1));
  const torch::Tensor constant = torch::log(action_scale).sum() * -1.0 - actions * (kHalfLog2Pi + 2.0 * kLog2);
  s.log_prob = per_element.sum(-1) + constant;
  return s;
}

// ---- SacCritic --------------------------------------------------------------------------------------

SacCriticImpl::SacCriticImpl(std::int64_t obs_dim, std::int64_t action_dim, const std::vector<std::int64_t>& hidden_sizes,
                             const std::string& activation, const agents::PolicyConfig& obs_config,
                             std::int64_t num_critics)
    : activation_(agents::parse_activation(activation)),
      obs_dim_(obs_dim),
      action_dim_(action_dim),
      num_critics_(num_critics),
      obs_config_(obs_config) {
  const std::vector<float>& obs_low = obs_config.obs_low;
  const std::vector<float>& obs_high = obs_config.obs_high;
  if (obs_dim_ <= 0 || action_dim_ <= 0 || num_critics_ <= 0)
    throw std::invalid_argument("SacCritic: obs_dim, action_dim and num_critics must be > 0, got " +
                                std::to_string(obs_dim_) + ", " + std::to_string(action_dim_) + ", " +
                                std::to_string(num_critics_));
  if (!obs_low.empty()) {
    if (static_cast<std::int64_t>(obs_low.size()) != obs_dim_)
      throw std::invalid_argument("SacCritic: obs_low has " + std::to_string(obs_low.size()) +
                                  " entries, expected obs_dim " + std::to_string(obs_dim_));
    obs_scaling_ = register_module("obs_scaling", agents::ObsScaling(obs_low, obs_high));
  }
  agents::PolicyConfig encoder_config = obs_config;
  encoder_config.orthogonal_init = false;  // PyTorch's defaults, as the heads
  std::int64_t features = obs_dim_;
  encoder_ = agents::make_encoder(encoder_config, "SacCritic");
  if (encoder_) {
    register_module("encoder", encoder_);
    features = encoder_->out_features();
  }
  std::vector<std::int64_t> widths{features + action_dim_};
  for (const std::int64_t h : hidden_sizes) {
    if (h <= 0) throw std::invalid_argument("SacCritic: hidden sizes must be > 0, got " + std::to_string(h));
    widths.push_back(h);
  }
  widths.push_back(1);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(widths[i]));  // nn.Linear's default
    auto w = torch::empty({num_critics_, widths[i], widths[i + 1]}).uniform_(-bound, bound);
    auto b = torch::empty({num_critics_, 1, widths[i + 1]}).uniform_(-bound, bound);
    weights_.push_back(register_parameter("weight_" + std::to_string(i), w));
    biases_.push_back(register_parameter("bias_" + std::to_string(i), b));
  }
}

torch::Tensor SacCriticImpl::forward(const torch::Tensor& obs, const torch::Tensor& actions) {
  torch::Tensor x = agents::encode_observation(obs, encoder_, obs_scaling_, obs_dim_, obs_config_, "SacCritic");
  TORCH_CHECK(actions.dim() == 2 && actions.size(0) == x.size(0) && actions.size(1) == action_dim_,
              "SacCritic: expected actions [", x.size(0), ", ", action_dim_, "], got shape ", actions.sizes());
  x = torch::cat({x, actions.to(x.scalar_type())}, 1);
  torch::Tensor h = x.unsqueeze(0).expand({num_critics_, x.size(0), x.size(1)});
  const std::size_t layers = weights_.size();
  for (std::size_t i = 0; i < layers; ++i) {
    h = torch::baddbmm(biases_[i], h, weights_[i]);
    if (i + 1 < layers) h = activation_ == agents::Activation::kRelu ? torch::relu(h) : torch::tanh(h);
  }
  return h.squeeze(-1).to(torch::kFloat);
}

// ---- SacPolicy --------------------------------------------------------------------------------------

SacPolicy::SacPolicy(SacActor actor, std::int64_t random_steps, double noise_correlation)
    : actor_(std::move(actor)), random_steps_(random_steps), noise_correlation_(noise_correlation) {
  if (!(noise_correlation >= 0.0 && noise_correlation < 1.0))
    throw std::invalid_argument("SacPolicy: noise_correlation must be in [0, 1), got " + std::to_string(noise_correlation));
}

agents::PolicyAct SacPolicy::act(const torch::Tensor& obs, const agents::ActContext& ctx) {
  torch::NoGradGuard no_grad;
  agents::PolicyAct out;
  if (ctx.deterministic) {
    out.action = actor_->deterministic_action(obs);
  } else if (ctx.global_step < random_steps_) {
    // Uniform in [low, high] = bias + scale * U(-1, 1).
    const auto& scale = actor_->action_scale();
    const torch::Tensor u = torch::rand({obs.size(0), actor_->action_dim()}, scale.options()) * 2.0 - 1.0;
    out.action = u * scale + actor_->action_bias();
  } else {
    // The draw randn_like(mean) made (fp32 [B, A] on the observations' device), before the network runs.
    torch::Tensor eps = torch::randn({obs.size(0), actor_->action_dim()},
                                     torch::TensorOptions().dtype(torch::kFloat).device(obs.device()));
    if (noise_correlation_ > 0.0) {
      if (noise_.defined() && noise_.sizes() == eps.sizes() && noise_.device() == eps.device())
        eps = noise_correlation_ * noise_ + std::sqrt(1.0 - noise_correlation_ * noise_correlation_) * eps;
      noise_ = eps;  // the first step of a lane's process is a plain N(0, 1) draw
    }
    if (!actor_->dense_act(obs, &eps, out.action)) {
      const SquashedGaussian g = actor_->forward(obs);
      out.action = actor_->squash(g.mean + torch::exp(g.log_std) * eps);
    }
  }
  return out;
}

agents::PolicyView SacPolicy::view(const torch::Tensor& obs, torch::Tensor* /*state*/) {
  torch::NoGradGuard no_grad;
  agents::PolicyView v;
  v.kind = agents::PolicyView::Kind::kActionMean;
  v.action = actor_->deterministic_action(obs);
  v.scores = v.action;
  return v;
}

}  // namespace apiary::agents
