// The pointers FusedPpoStep (learner/ppo/fused_step.h) works on, read from an ActorCritic whose
// parameters have gradients bound (FlatParameters): valid until something re-seats the parameters'
// storage (loading weights does), so PPO reads them again before every update.
#pragma once

#include "agents/actor_critic.h"
#include "learner/ppo/fused_step.h"

namespace apiary::learner {

// Throws c10::Error naming the tensor when a parameter, gradient or buffer is not a contiguous fp32
// CPU tensor.
FusedNet fused_net_of(agents::ActorCriticImpl& net);

}  // namespace apiary::learner
