// The environment contract (docs/custom-envs.md): an environment is plain data plus functions of one lane.
//
//   struct MyEnv {
//     static constexpr const char* kId;            // Gymnasium id
//     static constexpr int kObsDim, kStateDim, kActionDim;
//     static constexpr bool kDiscrete;             // Discrete(kNumActions) or Box(kActionDim)
//     static constexpr bool kStepUsesRng;          // whether step() draws random numbers
//     APIARY_HD static bool step_uses_rng(const Params&);  // optional: false where these params draw none
//     using Action = std::int32_t or float;
//     struct Params { ... defaults ... };          // constants, overridable by name (kParamFields)
//     struct State { float ...; };                 // kStateDim floats, nothing else
//     static EnvSpec spec(const Params&);          // host only
//     APIARY_HD static void reset(const Params&, State&, LaneRng&);
//     APIARY_HD static StepOut step(const Params&, State&, const Action* action_row, LaneRng&);
//     APIARY_HD static void observe(const Params&, const State&, float* obs_row);
//   };
//
// Only the batched back end (envs/thrust_vec_env.h) loops over lanes.
#pragma once

#include <cstdint>
#include <type_traits>

#include "envs/hd.h"

namespace apiary::envs {

namespace detail {
template <class Env, class = void>
struct ObsOf {
  using type = float;
};
template <class Env>
struct ObsOf<Env, std::void_t<typename Env::Obs>> {
  using type = typename Env::Obs;
};
}  // namespace detail

// The element type of Env's observations: Env::Obs where the env declares it (std::uint8_t for
// images, channels-last), else float.
template <class Env>
using ObsType = typename detail::ObsOf<Env>::type;

struct StepOut {
  float reward;
  bool terminated;  // the MDP reached a terminal state (not a time limit)
};

}  // namespace apiary::envs
