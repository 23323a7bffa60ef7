// A plugin whose env's spec disagrees with its compile-time sizes, which registration must refuse,
// naming both. Built twice (tests/plugins/CMakeLists.txt):
//   test_plugin_obs_mismatch      MismatchObs-v0: the spec declares Box(4) while kObsDim and observe()
//                                 use 3 floats (a policy would read a fourth, stale float per lane)
//   test_plugin_action_mismatch   MismatchActions-v0 (MISMATCH_ACTIONS): the spec declares Discrete(4)
//                                 while kNumActions is 3
#include <cstdint>

#include "envs/plugin.h"

namespace plugin_test {

using namespace apiary::envs;

struct Mismatch {
#ifdef MISMATCH_ACTIONS
  static constexpr const char* kId = "MismatchActions-v0";
#else
  static constexpr const char* kId = "MismatchObs-v0";
#endif
  static constexpr int kObsDim = 3;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;
  static constexpr std::int32_t kMaxEpisodeSteps = 20;
  using Action = std::int32_t;
  struct Params {};
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
#ifdef MISMATCH_ACTIONS
    s.observation_space = Space::box({0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f});
    s.action_space = Space::discrete(4);  // the fault: kNumActions is 3
#else
    s.observation_space = Space::box({0.0f, 0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f, 1.0f});  // the fault
    s.action_space = Space::discrete(kNumActions);
#endif
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit Mismatch(const Params&) {}
  void reset(LaneRng& rng) { x = rng.uniform4(0.0f, 1.0f).v[0]; }
  StepOut step(const Action*, LaneRng&) { return StepOut{0.0f, false}; }
  void observe(float* obs) const {
    obs[0] = x;
    obs[1] = 0.0f;
    obs[2] = 1.0f;
  }
  float x = 0.0f;
};

}  // namespace plugin_test

APIARY_PLUGIN(registrar) { registrar.add_cpu_env<plugin_test::Mismatch>(); }
