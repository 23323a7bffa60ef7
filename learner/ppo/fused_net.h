// The pointers FusedPpoStep (learner/ppo/fused_step.h) works on, read from an ActorCritic whose
// parameters have gradients bound (FlatParameters): valid until something re-seats the parameters'
// storage (loading weights does), so PPO reads them again before every update.
#pragma once

#include "agents/actor_critic.h"
#include "learner/ppo/fused_step.h"
#include "learner/precision.h"

namespace apiary::learner {

// Throws c10::Error naming the tensor when a parameter, gradient or buffer is not a contiguous fp32
// CPU tensor.
FusedNet fused_net_of(agents::ActorCriticImpl& net);

// Whether PPO's update runs on FusedPpoStep: asked for (ppo.fused_update), fp32 on the CPU, and a
// BLAS in the build. Otherwise autograd does the step.
bool fused_step_applies(bool wanted, const torch::Device& device, Precision precision);

}  // namespace apiary::learner
