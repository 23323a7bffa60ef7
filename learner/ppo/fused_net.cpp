#include "learner/ppo/fused_net.h"

#include <vector>

#include <torch/torch.h>

#include "agents/policy_config.h"
#include "learner/dense_view.h"

namespace apiary::learner {

FusedNet fused_net_of(agents::ActorCriticImpl& net) {
  const DenseView view(net, "PPO's fused step");
  const agents::PolicyConfig& pc = net.config();
  FusedNet n;
  n.shared_trunk = pc.shared_trunk;
  n.actor_body = view.mlp(pc.shared_trunk ? "trunk" : "actor_body", /*grads=*/true);
  n.critic_body = pc.shared_trunk ? std::vector<FusedLinear>{} : view.mlp("critic_body", /*grads=*/true);
  n.actor_head = view.linear("actor_head", /*grads=*/true);
  n.critic_head = view.linear("critic_head", /*grads=*/true);
  n.tanh = agents::parse_activation(pc.activation) == agents::Activation::kTanh;
  n.discrete = net.is_discrete();
  n.obs_dim = net.obs_dim();
  n.action_dim = net.action_dim();
  n.log_std = n.discrete ? nullptr : view.parameter("log_std");
  n.log_std_grad = n.discrete ? nullptr : view.gradient("log_std");
  n.obs_offset = view.obs_offset();
  n.obs_scale = view.obs_scale();
  return n;
}

bool fused_step_applies(bool wanted, const torch::Device& device, Precision precision) {
  return wanted && device.is_cpu() && precision == Precision::kFp32 && fused_step_available();
}

}  // namespace apiary::learner
