// Frame stacking, a generic env option (`env.options: {frame_stack: K}`, as Gymnasium's
// FrameStackObservation): each lane observes its last K observations, oldest first. The stack is laid
// along the last axis, so an image (H, W, C) becomes (H, W, K * C), channels-last as every image here,
// and a vector (D,) becomes (K * D,). A reset fills the stack with the new episode's first observation
// (Gymnasium's padding_type "reset"): nothing of the previous episode stays. `final_obs` is the stack
// that ended the episode. Works over any back end and either dtype; the lanes' other buffers are the
// inner env's own.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "envs/params.h"
#include "envs/vec_env.h"

namespace apiary::envs {

inline constexpr const char* kFrameStackOption = "frame_stack";
inline constexpr std::int32_t kMaxFrameStack = 64;

// The frame_stack option's value (an integer in [1, kMaxFrameStack]) and `options` without it; 1 when
// absent. Throws std::invalid_argument naming the env and the value otherwise.
std::int32_t take_frame_stack(const std::string& env_id, EnvOptions& options);

// spec with its observation space stacked k times along the last axis.
EnvSpec stacked_spec(const EnvSpec& spec, std::int32_t k);

// Wraps `inner` so that it observes stacks of `k` observations (k >= 2).
std::unique_ptr<VecEnv> make_frame_stack(std::unique_ptr<VecEnv> inner, std::int32_t k);

}  // namespace apiary::envs
