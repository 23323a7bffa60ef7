#include "learner/ppo/fused_net.h"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "agents/policy_config.h"

namespace apiary::learner {

FusedNet fused_net_of(agents::ActorCriticImpl& net) {
  const auto params = net.named_parameters(/*recurse=*/true);
  const auto buffers = net.named_buffers(/*recurse=*/true);
  const auto floats = [](const torch::Tensor& t, const std::string& name) {
    TORCH_CHECK(t.defined() && t.scalar_type() == torch::kFloat && t.is_cpu() && t.is_contiguous(),
                "PPO's fused step: ", name, " is not a contiguous fp32 CPU tensor");
    return t.data_ptr<float>();
  };
  const auto grad_of = [&](const torch::Tensor& t, const std::string& name) {
    return floats(t.grad(), name + ".grad");
  };
  const auto linear = [&](const std::string& prefix) {
    const torch::Tensor& w = params[prefix + ".weight"];
    const torch::Tensor& b = params[prefix + ".bias"];
    FusedLinear layer;
    layer.weight = floats(w, prefix + ".weight");
    layer.bias = floats(b, prefix + ".bias");
    layer.weight_grad = grad_of(w, prefix + ".weight");
    layer.bias_grad = grad_of(b, prefix + ".bias");
    layer.out = w.size(0);
    layer.in = w.size(1);
    return layer;
  };
  // make_mlp's layers are Linear, activation, Linear, ...: the Linears at the even indices.
  const auto body = [&](const std::string& prefix) {
    std::vector<FusedLinear> layers;
    for (int i = 0; params.find(prefix + "." + std::to_string(i) + ".weight") != nullptr; i += 2)
      layers.push_back(linear(prefix + "." + std::to_string(i)));
    return layers;
  };
  const agents::PolicyConfig& pc = net.config();
  FusedNet n;
  n.shared_trunk = pc.shared_trunk;
  n.actor_body = body(pc.shared_trunk ? "trunk" : "actor_body");
  n.critic_body = pc.shared_trunk ? std::vector<FusedLinear>{} : body("critic_body");
  n.actor_head = linear("actor_head");
  n.critic_head = linear("critic_head");
  n.tanh = agents::parse_activation(pc.activation) == agents::Activation::kTanh;
  n.discrete = net.is_discrete();
  n.obs_dim = net.obs_dim();
  n.action_dim = net.action_dim();
  n.log_std = n.discrete ? nullptr : floats(params["log_std"], "log_std");
  n.log_std_grad = n.discrete ? nullptr : grad_of(params["log_std"], "log_std");
  const torch::Tensor* offset = buffers.find("obs_scaling.offset");
  n.obs_offset = offset != nullptr ? floats(*offset, "obs_scaling.offset") : nullptr;
  n.obs_scale = offset != nullptr ? floats(buffers["obs_scaling.scale"], "obs_scaling.scale") : nullptr;
  return n;
}

bool fused_step_applies(bool wanted, const torch::Device& device, Precision precision) {
  return wanted && device.is_cpu() && precision == Precision::kFp32 && fused_step_available();
}

}  // namespace apiary::learner
