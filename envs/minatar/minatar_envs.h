// The MinAtar games as Apiary CPU envs (the contract in envs/cpu_vec_env.h), ten ids as MinAtar's own
// Gymnasium registration (minatar/gym.py) names them:
//   MinAtar/<Game>-v0  Discrete(6): the full action list no-op, left, up, right, down, fire
//   MinAtar/<Game>-v1  Discrete(n): the game's minimal action set, mapped to the full list
//                      (Asterix 5, Breakout 3, Freeway 3, Seaquest 6, SpaceInvaders 4)
// Observations are uint8 Box(0, 1, (10, 10, C)) channels-last, C = Asterix 4, Breakout 4, Freeway 7,
// Seaquest 10, SpaceInvaders 6. No time limit: minatar/gym.py registers none (Freeway ends by itself,
// as a terminal state, after 2500 frames); the generic max_episode_steps option sets one.
//
// Options: sticky_action_prob (default 0.1, as the reference) and difficulty_ramping (1 on, the
// default; 0 off; nothing else is accepted). Random numbers: one LaneRng block per draw (LaneDraws,
// envs/minatar/common.h); every step draws once for the sticky action, even at probability 0.
//
// One deliberate difference from the reference: its Environment keeps the previous action (what a
// sticky draw repeats) across reset(); here every episode starts from the no-op, as a fresh
// reference Environment does, so that an episode depends only on its own random stream and actions
// (what exact snapshot replay and seeded resets rely on). The parity test checks the reference's
// behaviour with minatar::Environment.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/minatar/minatar.h"
#include "envs/params.h"
#include "envs/rng.h"
#include "envs/scene.h"
#include "envs/spaces.h"

namespace apiary::envs::minatar {

struct MinAtarParams {
  float sticky_action_prob = 0.1f;
  float difficulty_ramping = 1.0f;  // 1 or 0
};

inline constexpr ParamField<MinAtarParams> kMinAtarParamFields[] = {
    {"sticky_action_prob", &MinAtarParams::sticky_action_prob, 0.0f, 1.0f, false,
     "probability that a step repeats the previous action instead"},
    {"difficulty_ramping", &MinAtarParams::difficulty_ramping, 0.0f, 1.0f, false,
     "1: the game speeds up as the reference's ramping does (Asterix, Seaquest, SpaceInvaders); 0: off"},
};

// The picture of a grid as MinAtar's own GUI draws it (minatar/gui.py), 500 x 500 for the 10 x 10
// grid: one square cell per grid cell, black where no channel is set, else the colour of the highest
// channel set there, channel k of C coloured as seaborn's cubehelix palette of C. `grid` is the
// observation, [kGrid, kGrid, channels] 0/1 bytes. Tag: "cell" (index row * kGrid + column).
void describe_grid(const std::uint8_t* grid, int channels, Scene& scene);
inline constexpr PictureSize kGridPictureSize{500, 500};

template <class Game, bool kMinimalActionSet>
class MinAtarEnv {
 public:
  static constexpr const char* kId = kMinimalActionSet ? Game::kIdMinimalActions : Game::kIdAllActions;
  static constexpr int kObsDim = kGrid * kGrid * Game::kChannels;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions =
      kMinimalActionSet ? static_cast<int>(std::size(Game::kMinimalActions)) : kNumFullActions;
  static constexpr std::int32_t kMaxEpisodeSteps = 0;
  using Action = std::int32_t;
  using Obs = std::uint8_t;

  using Params = MinAtarParams;
  static constexpr const auto& kParamFields = kMinAtarParamFields;

  static EnvSpec spec(const Params& params) {
    ramping(params);  // refuses values other than 0 and 1
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box_u8({kGrid, kGrid, Game::kChannels}, 0, 1);
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }

  explicit MinAtarEnv(const Params& params) : env_(sticky_probability(params), ramping(params)) {}

  void reset(LaneRng& rng) {
    env_.set_last_action(kNoop);
    LaneDraws draws{rng};
    env_.reset(draws);
  }

  StepOut step(const Action* action, LaneRng& rng) {
    const int full = full_action(*action);
    LaneDraws draws{rng};
    const float reward = env_.act(full, draws);
    return StepOut{reward, env_.terminal()};
  }

  void observe(std::uint8_t* obs_row) const { env_.observe(obs_row); }

  static constexpr PictureSize kPictureSize = kGridPictureSize;
  void describe(Scene& scene) const {
    std::uint8_t grid[kObsDim];
    env_.observe(grid);
    describe_grid(grid, Game::kChannels, scene);
  }

  const Game& game() const { return env_.game(); }

  // The action of the reference's full list ('nlurdf') that action `a` of this id's space stands for.
  APIARY_HOST_DEVICE static int full_action(Action a) {
    if constexpr (kMinimalActionSet)
      return minimal_to_full(a, std::make_index_sequence<static_cast<std::size_t>(kNumActions)>{});
    else
      return static_cast<int>(a);
  }

  // The option as the decimal it was written as (to 1e-6): 0.1 compares as the reference's 0.1.
  APIARY_HOST_DEVICE static double sticky_probability(const Params& params) {
    return round(static_cast<double>(params.sticky_action_prob) * 1e6) / 1e6;
  }

 private:
  // Game::kMinimalActions[a], read with constant indices only (so that device code may use it).
  template <std::size_t... I>
  APIARY_HOST_DEVICE static int minimal_to_full(Action a, std::index_sequence<I...>) {
    int full = kNoop;
    ((a == static_cast<Action>(I) ? (full = Game::kMinimalActions[I], 0) : 0), ...);
    return full;
  }

  static bool ramping(const Params& params) {
    if (params.difficulty_ramping != 0.0f && params.difficulty_ramping != 1.0f)
      throw std::invalid_argument(std::string(kId) + ": difficulty_ramping is 0 (off) or 1 (on), not " +
                                  std::to_string(params.difficulty_ramping));
    return params.difficulty_ramping == 1.0f;
  }

  Environment<Game> env_;
};

// The ten ids as (game, action set) pairs: f(IdTag<Game, kMinimal>{}) for each, in a fixed order.
template <class G, bool kMinimal>
struct IdTag {
  using Game = G;
  static constexpr bool kMinimalActionSet = kMinimal;
};
template <class F>
void for_each_id(F&& f) {
  f(IdTag<Asterix, false>{}), f(IdTag<Asterix, true>{});
  f(IdTag<Breakout, false>{}), f(IdTag<Breakout, true>{});
  f(IdTag<Freeway, false>{}), f(IdTag<Freeway, true>{});
  f(IdTag<Seaquest, false>{}), f(IdTag<Seaquest, true>{});
  f(IdTag<SpaceInvaders, false>{}), f(IdTag<SpaceInvaders, true>{});
}

template <bool kMinimal>
using AsterixEnv = MinAtarEnv<Asterix, kMinimal>;
template <bool kMinimal>
using BreakoutEnv = MinAtarEnv<Breakout, kMinimal>;
template <bool kMinimal>
using FreewayEnv = MinAtarEnv<Freeway, kMinimal>;
template <bool kMinimal>
using SeaquestEnv = MinAtarEnv<Seaquest, kMinimal>;
template <bool kMinimal>
using SpaceInvadersEnv = MinAtarEnv<SpaceInvaders, kMinimal>;

}  // namespace apiary::envs::minatar
