#include "agents/q_network.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/autocast_mode.h>

#include "agents/layers.h"

namespace apiary::agents {

QNetworkImpl::QNetworkImpl(std::int64_t obs_dim, std::int64_t num_actions, PolicyConfig config)
    : config_(std::move(config)), obs_dim_(obs_dim), num_actions_(num_actions) {
  validate(config_);
  if (obs_dim_ <= 0) throw std::invalid_argument("QNetwork: obs_dim must be > 0, got " + std::to_string(obs_dim_));
  if (!config_.obs_low.empty()) {
    if (static_cast<std::int64_t>(config_.obs_low.size()) != obs_dim_)
      throw std::invalid_argument("QNetwork: PolicyConfig.obs_low has " + std::to_string(config_.obs_low.size()) +
                                  " entries, expected obs_dim " + std::to_string(obs_dim_));
    obs_scaling_ = register_module("obs_scaling", ObsScaling(config_.obs_low, config_.obs_high));
  }
  if (num_actions_ <= 0)
    throw std::invalid_argument("QNetwork: num_actions must be > 0, got " + std::to_string(num_actions_));
  std::int64_t features_in = obs_dim_;
  encoder_ = make_encoder(config_, "QNetwork");  // empty for "mlp"
  if (encoder_) {
    register_module("encoder", encoder_);
    features_in = encoder_->out_features();
  }
  const std::int64_t features = mlp_out_dim(features_in, config_);
  trunk_ = register_module("trunk", make_mlp(features_in, config_));
  if (config_.dueling) {
    value_head_ = register_module("value_head", torch::nn::Linear(features, 1));
    advantage_head_ = register_module("advantage_head", torch::nn::Linear(features, num_actions_));
    if (config_.orthogonal_init) {
      layer_init(value_head_, config_.critic_output_gain);
      layer_init(advantage_head_, config_.critic_output_gain);
    }
  } else {
    q_head_ = register_module("q_head", torch::nn::Linear(features, num_actions_));
    if (config_.orthogonal_init) layer_init(q_head_, config_.critic_output_gain);
  }
}

torch::Tensor QNetworkImpl::forward(const torch::Tensor& obs) {
  if (config_.dueling) return forward_dueling(obs).q;
  return q_head_->forward(run_mlp(trunk_, encode(obs)));
}

DuelingOut QNetworkImpl::forward_dueling(const torch::Tensor& obs) {
  TORCH_CHECK(config_.dueling, "QNetwork::forward_dueling needs PolicyConfig.dueling = true");
  const torch::Tensor features = run_mlp(trunk_, encode(obs));
  DuelingOut out;
  out.value = value_head_->forward(features);
  out.advantage = advantage_head_->forward(features);
  // Centring by the mean makes V and A identifiable (Wang et al. 2016, eq. 9).
  out.q = out.value + out.advantage - out.advantage.mean(/*dim=*/-1, /*keepdim=*/true);
  return out;
}

torch::Tensor QNetworkImpl::encode(const torch::Tensor& obs) {
  return encode_observation(obs, encoder_, obs_scaling_, obs_dim_, config_, "QNetwork");
}

bool QNetworkImpl::dense_q(const torch::Tensor& obs_in, torch::Tensor& q) {
  if (!dense_kernels_available() || !obs_in.is_cpu() || obs_in.scalar_type() != torch::kFloat ||
      at::autocast::is_cpu_enabled() || encoder_ || config_.dueling)
    return false;
  thread_local DenseMlp net;
  if (!dense_mlp_net(trunk_, *q_head_, obs_scaling_, parse_activation(config_.activation) == Activation::kTanh, net))
    return false;
  const torch::Tensor obs = flatten_obs(obs_in, obs_dim_, "QNetwork").contiguous();
  const std::int64_t rows = obs.size(0);
  if (rows == 0) return false;
  thread_local std::vector<float> input;
  thread_local std::vector<std::vector<float>> h;
  const float* x = dense_scale_input(obs.data_ptr<float>(), rows, obs_dim_, net.obs_offset, net.obs_scale, input);
  const float* features = dense_body_forward(net.body, x, rows, net.tanh, h);
  q = torch::empty({rows, num_actions_}, torch::kFloat);
  dense_forward(net.head, features, rows, q.data_ptr<float>(), /*activate=*/false, net.tanh);
  return true;
}

torch::Tensor QNetworkImpl::greedy(const torch::Tensor& obs) {
  torch::NoGradGuard no_grad;
  torch::Tensor q;
  if (!dense_q(obs, q)) return forward(obs).argmax(/*dim=*/-1);
  torch::Tensor action = torch::empty({q.size(0)}, torch::kLong);
  std::int64_t* a = action.data_ptr<std::int64_t>();
  const float* values = q.data_ptr<float>();
  for (std::int64_t b = 0; b < q.size(0); ++b) a[b] = argmax_row(values + b * num_actions_, num_actions_);
  return action;
}

QActOut QNetworkImpl::epsilon_greedy(const torch::Tensor& obs, const torch::Tensor& epsilons, torch::Generator* gen) {
  torch::NoGradGuard no_grad;
  QActOut out;
  const bool dense = dense_q(obs, out.q_values);
  if (!dense) out.q_values = forward(obs).to(torch::kFloat);
  const std::int64_t batch = out.q_values.size(0);
  TORCH_CHECK(epsilons.dim() == 0 || (epsilons.dim() == 1 && epsilons.size(0) == batch),
              "QNetwork::epsilon_greedy: expected epsilons [", batch, "] or a scalar, got shape ", epsilons.sizes());
  const auto float_options = out.q_values.options();
  const auto index_options = float_options.dtype(torch::kLong);
  // Always draw both, in this order, so the stream a generator yields does not depend on the data.
  const torch::Tensor uniform = gen != nullptr ? torch::rand({batch}, *gen, float_options)
                                               : torch::rand({batch}, float_options);
  const torch::Tensor random_action = gen != nullptr ? torch::randint(num_actions_, {batch}, *gen, index_options)
                                                     : torch::randint(num_actions_, {batch}, index_options);
  if (!dense) {
    const torch::Tensor explore = uniform < epsilons.to(float_options.dtype());
    out.action = torch::where(explore, random_action, out.q_values.argmax(/*dim=*/-1));
    return out;
  }
  // The same choice as the operators above, row by row on the host.
  const torch::Tensor eps = epsilons.to(torch::kCPU, torch::kFloat).contiguous();
  const float* e = eps.data_ptr<float>();
  const float* u = uniform.data_ptr<float>();
  const std::int64_t* random = random_action.data_ptr<std::int64_t>();
  const float* q = out.q_values.data_ptr<float>();
  out.action = torch::empty({batch}, index_options);
  std::int64_t* action = out.action.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b)
    action[b] = u[b] < e[eps.dim() == 0 ? 0 : b] ? random[b] : argmax_row(q + b * num_actions_, num_actions_);
  return out;
}

}  // namespace apiary::agents
