// GridWorld-v0: an example of the CPU env contract (envs/cpu_vec_env.h), loaded as a plugin.
//
// A size x size grid. Every episode the agent starts in a random cell and a goal sits in another
// random cell; the actions move one cell up, right, down or left (moves into the border stay put).
// Reaching the goal gives +1 and ends the episode; every other step costs `step_penalty`. Time limit 50.
// The observation is where the agent and the goal are, each coordinate scaled to [0, 1].
//
// The env is plain C++: one object per lane; the thread-pool back end batches the lanes, keeps the
// counters, cuts episodes at the time limit and resets lanes as they end. Random numbers come only
// from the lane's LaneRng, so a seed gives the same episodes on any number of threads.
#include <cstdint>

#include "envs/plugin.h"

namespace gridworld {

using apiary::envs::EnvSpec;
using apiary::envs::LaneRng;
using apiary::envs::ParamField;
using apiary::envs::Scene;
using apiary::envs::SceneShape;
using apiary::envs::Space;
using apiary::envs::StepOut;

struct GridWorld {
  static constexpr const char* kId = "GridWorld-v0";
  static constexpr int kObsDim = 4;      // agent x, agent y, goal x, goal y, in [0, 1]
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 4;  // 0 up, 1 right, 2 down, 3 left
  static constexpr std::int32_t kMaxEpisodeSteps = 50;
  static constexpr int kStateDim = 4;    // the four cell coordinates (get_states, set_states)
  using Action = std::int32_t;

  struct Params {
    float size = 7.0f;            // cells per side (a whole number)
    float step_penalty = 0.02f;   // cost of a step that does not reach the goal
  };
  static constexpr ParamField<Params> kParamFields[] = {
      {"size", &Params::size, 2.0f, 64.0f, false, "cells per side (whole number)"},
      {"step_penalty", &Params::step_penalty, 0.0f, 1.0f, false, "cost of each step that misses the goal"},
  };

  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({0.0f, 0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f, 1.0f});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    s.reward_threshold = 0.85;  // the shortest paths average about 0.93 on a 7 x 7 grid
    return s;
  }

  explicit GridWorld(const Params& p) : size(static_cast<int>(p.size)), step_penalty(p.step_penalty) {}

  // Draws from `rng` only: the agent's cell, then a goal cell until it differs from the agent's.
  void reset(LaneRng& rng) {
    agent_x = cell(rng.uniform4(0.0f, 1.0f).v[0]);
    agent_y = cell(rng.uniform4(0.0f, 1.0f).v[0]);
    do {
      const auto u = rng.uniform4(0.0f, 1.0f);
      goal_x = cell(u.v[0]);
      goal_y = cell(u.v[1]);
    } while (goal_x == agent_x && goal_y == agent_y);
  }

  StepOut step(const Action* action, LaneRng&) {
    static constexpr int kDx[kNumActions] = {0, 1, 0, -1};
    static constexpr int kDy[kNumActions] = {1, 0, -1, 0};
    agent_x = clamp(agent_x + kDx[action[0]]);
    agent_y = clamp(agent_y + kDy[action[0]]);
    const bool at_goal = agent_x == goal_x && agent_y == goal_y;
    return StepOut{at_goal ? 1.0f : -step_penalty, at_goal};
  }

  void observe(float* obs) const {
    const float scale = 1.0f / static_cast<float>(size - 1);
    obs[0] = static_cast<float>(agent_x) * scale;
    obs[1] = static_cast<float>(agent_y) * scale;
    obs[2] = static_cast<float>(goal_x) * scale;
    obs[3] = static_cast<float>(goal_y) * scale;
  }

  void get_state(float* s) const {
    s[0] = static_cast<float>(agent_x);
    s[1] = static_cast<float>(agent_y);
    s[2] = static_cast<float>(goal_x);
    s[3] = static_cast<float>(goal_y);
  }
  void set_state(const float* s) {
    agent_x = clamp(static_cast<int>(s[0]));
    agent_y = clamp(static_cast<int>(s[1]));
    goal_x = clamp(static_cast<int>(s[2]));
    goal_y = clamp(static_cast<int>(s[3]));
  }

  // What `apiary play` draws, in cell units (y up): the grid lines, the goal, the agent.
  void describe(Scene& scene) const {
    const float n = static_cast<float>(size);
    const float half_height = 0.5f * n + 0.5f, half_width = 1.5f * half_height;  // 3:2, as the picture
    scene.view[0] = 0.5f * n - half_width;
    scene.view[1] = 0.5f * n - half_height;
    scene.view[2] = 0.5f * n + half_width;
    scene.view[3] = 0.5f * n + half_height;
    for (int i = 0; i <= size; ++i) {
      const float k = static_cast<float>(i);
      scene.add(SceneShape::Kind::kPolyline, "grid", 2 * i).xy = {0.0f, k, n, k};
      scene.add(SceneShape::Kind::kPolyline, "grid", 2 * i + 1).xy = {k, 0.0f, k, n};
    }
    const float gx = static_cast<float>(goal_x), gy = static_cast<float>(goal_y);
    scene.add(SceneShape::Kind::kPolygon, "goal").xy = {gx + 0.1f, gy + 0.1f, gx + 0.9f, gy + 0.1f,
                                                         gx + 0.9f, gy + 0.9f, gx + 0.1f, gy + 0.9f};
    SceneShape& agent = scene.add(SceneShape::Kind::kCircle, "agent");
    agent.xy = {static_cast<float>(agent_x) + 0.5f, static_cast<float>(agent_y) + 0.5f};
    agent.radius = 0.35f;
  }

  int cell(float u) const { return clamp(static_cast<int>(u * static_cast<float>(size))); }
  int clamp(int v) const { return v < 0 ? 0 : (v >= size ? size - 1 : v); }

  int size;
  float step_penalty;
  int agent_x = 0, agent_y = 0, goal_x = 0, goal_y = 0;
};

}  // namespace gridworld

APIARY_PLUGIN(registrar) { registrar.add_cpu_env<gridworld::GridWorld>(); }
