#include "learner/dense_view.h"

#include <utility>

#include <torch/torch.h>

namespace apiary::learner {

DenseView::DenseView(const torch::nn::Module& net, std::string who)
    : params_(net.named_parameters(/*recurse=*/true)),
      buffers_(net.named_buffers(/*recurse=*/true)),
      who_(std::move(who)) {}

float* DenseView::floats(const torch::Tensor& t, const std::string& name) const {
  TORCH_CHECK(t.defined() && t.scalar_type() == torch::kFloat && t.is_cpu() && t.is_contiguous(), who_, ": ", name,
              " is not a contiguous fp32 CPU tensor");
  return t.data_ptr<float>();
}

const float* DenseView::parameter(const std::string& name) const {
  const torch::Tensor* p = params_.find(name);
  TORCH_CHECK(p != nullptr, who_, ": the network has no parameter ", name);
  return floats(*p, name);
}

float* DenseView::gradient(const std::string& name) const {
  const torch::Tensor* p = params_.find(name);
  TORCH_CHECK(p != nullptr, who_, ": the network has no parameter ", name);
  return floats(p->grad(), name + ".grad");
}

agents::DenseLayer DenseView::linear(const std::string& prefix, bool grads) const {
  agents::DenseLayer layer;
  layer.weight = parameter(prefix + ".weight");
  layer.bias = parameter(prefix + ".bias");
  if (grads) {
    layer.weight_grad = gradient(prefix + ".weight");
    layer.bias_grad = gradient(prefix + ".bias");
  }
  const torch::Tensor& w = params_[prefix + ".weight"];
  layer.out = w.size(0);
  layer.in = w.size(1);
  return layer;
}

std::vector<agents::DenseLayer> DenseView::mlp(const std::string& prefix, bool grads) const {
  std::vector<agents::DenseLayer> layers;
  for (int i = 0; params_.find(prefix + "." + std::to_string(i) + ".weight") != nullptr; i += 2)
    layers.push_back(linear(prefix + "." + std::to_string(i), grads));
  return layers;
}

const float* DenseView::obs_offset() const {
  const torch::Tensor* offset = buffers_.find("obs_scaling.offset");
  return offset != nullptr ? floats(*offset, "obs_scaling.offset") : nullptr;
}

const float* DenseView::obs_scale() const {
  const torch::Tensor* scale = buffers_.find("obs_scaling.scale");
  return scale != nullptr ? floats(*scale, "obs_scaling.scale") : nullptr;
}

}  // namespace apiary::learner
