#include "agents/layers.h"

#include <cmath>
#include <stdexcept>

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

namespace apiary::agents {

torch::nn::Sequential make_mlp(std::int64_t in_dim, const PolicyConfig& config) {
  const Activation activation = parse_activation(config.activation);
  torch::nn::Sequential mlp;
  std::int64_t width = in_dim;
  for (const std::int64_t hidden : config.hidden_sizes) {
    torch::nn::Linear linear(torch::nn::LinearOptions(width, hidden));
    if (config.orthogonal_init) layer_init(linear, config.hidden_gain);
    mlp->push_back(linear);
    if (activation == Activation::kTanh) {
      mlp->push_back(torch::nn::Tanh());
    } else {
      mlp->push_back(torch::nn::ReLU());
    }
    width = hidden;
  }
  return mlp;
}

std::int64_t mlp_out_dim(std::int64_t in_dim, const PolicyConfig& config) {
  return config.hidden_sizes.empty() ? in_dim : config.hidden_sizes.back();
}

torch::Tensor run_mlp(torch::nn::Sequential& mlp, const torch::Tensor& x) {
  return mlp->is_empty() ? x : mlp->forward(x);
}

void layer_init(torch::nn::Linear& layer, double gain) {
  torch::nn::init::orthogonal_(layer->weight, gain);
  if (layer->bias.defined()) torch::nn::init::zeros_(layer->bias);
}

torch::Tensor flatten_obs(const torch::Tensor& obs, std::int64_t obs_dim, const char* who, double uint8_high) {
  TORCH_CHECK(obs.dim() >= 2, who, ": expected observations [B, ", obs_dim, "], got shape ", obs.sizes());
  torch::Tensor flat = obs.dim() == 2 ? obs : obs.flatten(1);
  TORCH_CHECK(flat.size(1) == obs_dim, who, ": expected observations [B, ", obs_dim, "], got shape ",
              obs.sizes());
  if (flat.scalar_type() == torch::kUInt8) {
    torch::Tensor x = flat.to(torch::kFloat);
    return uint8_high == 1.0 ? x : x.mul_(static_cast<float>(1.0 / uint8_high));
  }
  return flat;
}

torch::Tensor image_batch(const torch::Tensor& obs, const std::vector<std::int64_t>& shape) {
  std::int64_t flat = 1;
  for (const std::int64_t d : shape) flat *= d;
  if (obs.dim() == static_cast<std::int64_t>(shape.size()) + 1 && obs.sizes().slice(1).vec() == shape) return obs;
  TORCH_CHECK(obs.dim() == 2 && obs.size(1) == flat, "expected observations [B, ", shape, "] or [B, ", flat,
              "], got shape ", obs.sizes());
  std::vector<std::int64_t> sizes{obs.size(0)};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  return obs.reshape(sizes);
}

ObsScalingImpl::ObsScalingImpl(const std::vector<float>& low, const std::vector<float>& high) {
  if (low.size() != high.size())
    throw std::invalid_argument("PolicyConfig.obs_low and obs_high differ in size");
  std::vector<float> offset(low.size(), 0.0f), scale(low.size(), 1.0f);
  for (std::size_t i = 0; i < low.size(); ++i) {
    const float half = 0.5f * (high[i] - low[i]);
    if (std::isfinite(low[i]) && std::isfinite(high[i]) && half > 0.0f && half <= 5e5f) {
      offset[i] = 0.5f * (high[i] + low[i]);
      scale[i] = 1.0f / half;
    }
  }
  const auto n = static_cast<std::int64_t>(low.size());
  offset_ = register_buffer("offset", torch::from_blob(offset.data(), {n}, torch::kFloat).clone());
  scale_ = register_buffer("scale", torch::from_blob(scale.data(), {n}, torch::kFloat).clone());
}

bool dense_ready(const torch::Tensor& t) {
  return t.defined() && t.scalar_type() == torch::kFloat && t.is_cpu() && t.is_contiguous();
}

bool dense_linear(torch::nn::LinearImpl& linear, std::vector<DenseLayer>& layers) {
  if (!dense_ready(linear.weight) || !dense_ready(linear.bias)) return false;
  DenseLayer layer;
  layer.weight = linear.weight.data_ptr<float>();
  layer.bias = linear.bias.data_ptr<float>();
  layer.out = linear.weight.size(0);
  layer.in = linear.weight.size(1);
  layers.push_back(layer);
  return true;
}

bool dense_mlp_net(torch::nn::Sequential& body, torch::nn::LinearImpl& head, const ObsScaling& scaling, bool tanh,
                   DenseMlp& net) {
  net.body.clear();
  std::vector<DenseLayer> heads;
  if (!dense_mlp(body, net.body) || !dense_linear(head, heads)) return false;
  if (scaling && (!dense_ready(scaling->offset()) || !dense_ready(scaling->scale()))) return false;
  net.head = heads.front();
  net.tanh = tanh;
  net.obs_offset = scaling ? scaling->offset().data_ptr<float>() : nullptr;
  net.obs_scale = scaling ? scaling->scale().data_ptr<float>() : nullptr;
  return true;
}

bool dense_mlp(torch::nn::Sequential& mlp, std::vector<DenseLayer>& layers) {
  for (std::size_t i = 0; i < mlp->size(); i += 2) {
    auto* linear = mlp->ptr(i)->as<torch::nn::LinearImpl>();
    if (linear == nullptr || !dense_linear(*linear, layers)) return false;
  }
  return true;
}

}  // namespace apiary::agents
