// The loop behind `apiary play`: steps one lane of an env with a policy, random actions or the
// keyboard, draws every frame (the env's own picture plus the HUD), shows it on a Display (a window, or
// nothing when headless), optionally writes it as PNG, and prints a line per episode.
//
// Keys (Display events): space pauses and resumes, n makes one step (and pauses), + and - double and
// halve the speed, r starts a new episode, h toggles human control (render/controls.h), q or Escape
// quits, closing the window quits.
//
// The env must have one lane; the player never reads more than that lane's snapshot
// (render/painters.h, capture()). No LibTorch here: a policy comes in as a plain function.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <memory>

#include "envs/random_actions.h"
#include "envs/vec_env.h"
#include "render/gif.h"
#include "render/canvas.h"
#include "render/display.h"
#include "render/hud.h"
#include "render/painters.h"

namespace apiary::render {

// What an agent answers for one observation.
struct AgentDecision {
  std::vector<float> action;  // the env's action values (a discrete action as its integer value)
  std::vector<float> scores;  // per action (or per action element), as `kind` says; may be empty
  ScoreKind kind = ScoreKind::kNone;
  double memory_norm = -1.0;  // a recurrent policy's state norm after the step (negative: no memory)
};
// Maps one observation (obs_dim floats) to a decision; episode_start: the observation is an episode's
// first (a recurrent policy clears its memory). Empty: random actions.
using Agent = std::function<AgentDecision(const std::vector<float>& obs, bool episode_start)>;

struct PlayerOptions {
  std::int32_t episodes = 1;       // stop after this many finished episodes (0: until quit)
  double fps = 0.0;                // frames per second in a window (0: the env's own, Gymnasium's render_fps)
  std::uint64_t seed = 1;          // env reset seed; random actions draw from (seed, lane 0)
  std::string record_dir;          // write every frame as DIR/frame_NNNNNN.png (empty: none)
  std::string record_gif;          // write every frame into this animated GIF, at the play speed (empty: none)
  bool hud = true;                 // draw the HUD panel beside the picture
  std::string agent_name = "random";  // shown in the HUD
  bool start_human = false;        // begin under human control
  std::int64_t max_steps = 0;      // stop after this many steps in all (0: no limit)
};

struct EpisodeSummary {
  std::int32_t episode = 0;        // 1-based
  double episode_return = 0.0;
  std::int64_t length = 0;
  bool terminated = false;
  bool truncated = false;
  bool human = false;              // human control acted at some step of it
};

struct PlayResult {
  std::int32_t episodes = 0;       // finished episodes (resets and a quit mid-episode do not count)
  double mean_return = 0.0;        // over the finished episodes (NaN when none)
  std::int64_t steps = 0;
  std::int64_t frames = 0;         // frames drawn
  std::int64_t frames_written = 0; // frames recorded (PNG files, or frames of the GIF)
  bool quit = false;               // the user quit (q, Escape, closing the window)
  double wall_seconds = 0.0;
  std::vector<EpisodeSummary> summaries;
};

// The env's own frame rate (Gymnasium's metadata["render_fps"]): 50 for CartPole, LunarLander,
// BipedalWalker and CarRacing, 15 for Acrobot, 30 for MountainCar and Pendulum, 30 otherwise.
double native_fps(const std::string& env_id);

// The frame size for an env: its picture's size, plus the HUD panel when `hud` is set.
Size frame_size(const envs::VecEnv& env, bool hud);

class Player {
 public:
  // `env` must have one lane on the CPU; `log` gets one line per episode (and per reset).
  // Throws std::invalid_argument for an env with more lanes, a record folder that cannot be made, or a
  // GIF that cannot be started (its folder must exist).
  Player(envs::VecEnv& env, Display& display, Agent agent, PlayerOptions options, std::ostream& log);

  PlayResult run();

  // The last frame drawn, and the current speed (tests read them).
  const Canvas& frame() const { return frame_; }
  double fps() const { return fps_; }

 private:
  void start_episode(bool reseed);
  void draw(bool record);
  std::vector<float> choose_action();
  void step_env(const std::vector<float>& action);
  void finish_episode(bool terminated, bool truncated);

  envs::VecEnv& env_;
  Display& display_;
  std::unique_ptr<GifRecorder> gif_;  // record_gif
  Agent agent_;
  PlayerOptions options_;
  std::ostream& log_;
  Canvas frame_;
  Canvas picture_;
  HudInfo hud_;
  PlayResult result_;
  std::vector<float> last_action_;
  std::unique_ptr<envs::RandomActions> random_;  // the actions when there is no agent
  envs::HostBatch host_;                          // the lane's buffers after the last step
  std::uint64_t resets_ = 0;                      // r presses: each reseeds the env with seed + resets_
  double fps_;
  bool paused_ = false;
  bool human_ = false;
  bool human_this_episode_ = false;
  int digit_ = -1;
  std::int64_t episode_step_ = 0;
  double episode_return_ = 0.0;
};

}  // namespace apiary::render
