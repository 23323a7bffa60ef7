// The MinAtar games in the __host__ __device__ contract of envs/env.h, for the Thrust back end
// (envs/thrust_vec_env.h): the same game objects and the same rules per step as the CPU envs of
// minatar_envs.h, so that a lane gives the same bits on the CPU and on a GPU. A lane's State is the
// reference's Environment (the game and the previous action a sticky draw repeats), reset to a fresh
// one, no-op first, at every episode as the CPU env does.
//
// Registered on Thrust's CPU system (envs/minatar/minatar.cpp) and on CUDA (minatar_cuda.cu). The
// thread-pool env of minatar_envs.h steps the same games one object per lane; tests hold the two to
// the same bits.
#pragma once

#include <cstdint>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/minatar/minatar.h"
#include "envs/minatar/minatar_envs.h"
#include "envs/rng.h"

namespace apiary::envs::minatar {

template <class Game, bool kMinimalActionSet>
struct MinAtarHd {
  using Cpu = MinAtarEnv<Game, kMinimalActionSet>;  // the id, spaces and options are its
  static constexpr const char* kId = Cpu::kId;
  static constexpr int kObsDim = Cpu::kObsDim;
  static constexpr int kActionDim = 1;
  static constexpr int kNumActions = Cpu::kNumActions;
  static constexpr bool kDiscrete = true;
  static constexpr bool kStepUsesRng = true;  // the sticky draw, every step
  static constexpr std::int32_t kMaxEpisodeSteps = Cpu::kMaxEpisodeSteps;
  static constexpr bool kOpaqueState = true;  // a game object, not floats (no get_states/set_states)
  using Action = std::int32_t;
  using Obs = std::uint8_t;
  using Params = typename Cpu::Params;
  static constexpr const auto& kParamFields = Cpu::kParamFields;

  struct State {
    Environment<Game> env;
  };
  static_assert(sizeof(State) % sizeof(float) == 0, "the Thrust back end stores a State as whole floats");
  static constexpr int kStateDim = static_cast<int>(sizeof(State) / sizeof(float));

  static EnvSpec spec(const Params& params) { return Cpu::spec(params); }  // refuses bad options

  APIARY_HD static void reset(const Params& params, State& s, LaneRng& rng) {
    s.env = Environment<Game>(Cpu::sticky_probability(params), params.difficulty_ramping == 1.0f);
    LaneDraws draws{rng};
    s.env.reset(draws);
  }

  APIARY_HD static StepOut step(const Params&, State& s, const Action* action, LaneRng& rng) {
    LaneDraws draws{rng};
    const float reward = s.env.act(Cpu::full_action(*action), draws);
    return StepOut{reward, s.env.terminal()};
  }

  APIARY_HD static void observe(const Params&, const State& s, std::uint8_t* obs) { s.env.observe(obs); }

  // Its picture (on the host, from a copy of the lane's state): the observed grid, as the CPU env draws it.
  static constexpr PictureSize kPictureSize = kGridPictureSize;
  static void describe(const Params&, const State& s, Scene& scene) {
    std::uint8_t grid[kObsDim];
    s.env.observe(grid);
    describe_grid(grid, Game::kChannels, scene);
  }
};

}  // namespace apiary::envs::minatar
