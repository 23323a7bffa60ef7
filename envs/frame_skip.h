// Frame skipping (action repeat), a generic env option (`env.options: {frame_skip: K}`, as EnvPool's and
// Gymnasium's AtariPreprocessing `frame_skip`, without Atari's max-pooling of the last two frames): each
// step plays the action K times and returns the sum of the K rewards and the last observation. A lane
// whose episode ends on one of the K frames stops there (the rest of its frames are not played; its
// same-step auto-reset has happened, so `obs` is the new episode's first observation and `final_obs`
// the episode's last), while the other lanes play on. So a policy decides every K frames of a picture
// that moves K times as far (CarRacing, Atari), and the learner sees K times fewer steps for the same
// play.
//
// - The time limit stays the env's, in its frames (CarRacing's 1000); the spec's max_episode_steps is in
//   steps of the wrapper, ceil(limit / K). Episode lengths (`elapsed`, `final_length`) count the
//   wrapper's steps; returns are the frames' rewards summed, as the per-frame env would report them.
// - The frames before a decision's last are played with VecEnv::skip_observations: nobody sees them, so
//   the thread pool does not draw them (CarRacing's picture), nor does pixels.h.
// - Applied by the registry after pixels and before frame_stack (which stacks the observations the
//   policy sees, one per decision). It needs a back end that holds lanes (VecEnv::holds_lanes: every
//   bundled one on the host); a hand-written VecEnv without it, or a device env, is refused by name.
#pragma once

#include <cstdint>
#include <memory>

#include "envs/params.h"
#include "envs/vec_env.h"

namespace apiary::envs {

inline constexpr const char* kFrameSkipOption = "frame_skip";
inline constexpr std::int32_t kMaxFrameSkip = 1000;

// The frame_skip option's value (an integer in [1, kMaxFrameSkip]) and `options` without it; 1 when
// absent. Throws std::invalid_argument naming the env and the value otherwise.
std::int32_t take_frame_skip(const std::string& env_id, EnvOptions& options);

// spec as the wrapper's: max_episode_steps in its steps (ceil(limit / k)).
EnvSpec skipped_spec(const EnvSpec& spec, std::int32_t k);

// Wraps `inner` so that each step plays `k` frames (k >= 2; 1 gives `inner` back).
std::unique_ptr<VecEnv> make_frame_skip(std::unique_ptr<VecEnv> inner, std::int32_t k);

}  // namespace apiary::envs
