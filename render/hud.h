// The heads-up display of `apiary play`: a panel beside the env's picture with the episode, the step,
// the return so far, who acts (policy, random or human), the action taken, and the policy's view of
// the choice as bars: action probabilities (PPO, discrete), Q-values (DQN) or the Gaussian mean (PPO,
// continuous), the chosen action highlighted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "render/canvas.h"

namespace apiary::render {

// What the bars of the HUD show.
enum class ScoreKind : std::uint8_t {
  kNone,           // no bars (random or human actions)
  kProbabilities,  // pi(a | obs) for each discrete action, in [0, 1]
  kQValues,        // Q(obs, a) for each discrete action
  kActionMean,     // the Gaussian policy's mean for each element of a continuous action
};
std::string to_string(ScoreKind kind);

struct HudInfo {
  std::string env_id;
  std::string agent;                       // "random", "ppo checkpoint", ...
  bool human = false;                      // human control is on
  std::string human_help;                  // keys of human control ("left/right: push")
  std::int32_t episode = 1;                // 1-based
  std::int32_t episodes = 0;               // planned episodes (0: until quit)
  std::int64_t step = 0;                   // steps into the episode
  double episode_return = 0.0;             // undiscounted return so far
  bool discrete = true;
  std::vector<float> action;               // the last action taken (empty: none yet)
  std::vector<std::string> action_names;   // per discrete action / continuous element
  std::vector<float> action_low, action_high;  // continuous: the bounds the mean bars span
  std::vector<float> scores;               // one per action name (kind != kNone)
  ScoreKind kind = ScoreKind::kNone;
  double fps = 0.0;                        // target frames per second (0: as fast as possible)
  bool paused = false;
  double memory_norm = -1.0;               // a recurrent policy's state norm (negative: no memory, not shown)
};

// Width of the HUD panel in pixels; play windows are the env's picture plus this.
inline constexpr int kHudWidth = 240;

// Draws the panel over the pixels [x, x + w) x [y, y + h) of `canvas`.
void draw_hud(Canvas& canvas, int x, int y, int w, int h, const HudInfo& info);

}  // namespace apiary::render
