// What the batched back ends cannot see: an env's per-lane functions writing outside the observation
// row they are given. The back ends hand lane i the row obs + i * kObsDim, so an observe() that writes
// kObsDim + 1 floats silently overwrites lane i + 1's first element (or runs past the buffer for the
// last lane), and one that writes fewer leaves stale values behind. Through the back end this shows
// only as lanes that disagree between thread counts, which reads like state shared between lanes.
//
// A row probe runs one lane of the env by itself, through its own reset/step/observe, with the row
// surrounded by guard values and filled with them before every observe(): a guard that changed is a
// write outside the row; a row element still holding the guard was never written. Registration
// (register_cpu_env, PluginRegistrar::add_cpu_env / add_hd_env, the classic suite) stores a probe in
// the registry entry, and `apiary check-env` (envs/env_checker.h) runs it.
#pragma once

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include "envs/env.h"
#include "envs/env_spec.h"
#include "envs/params.h"
#include "envs/rng.h"

namespace apiary::envs {

namespace detail {

inline constexpr int kRowGuard = 16;                     // guard floats on each side of the row
inline constexpr std::uint32_t kGuardBits = 0x7fa5a5a5u;  // a quiet NaN with a payload no env writes
inline constexpr int kProbeSteps = 64;                   // steps of the probe (episodes restart)

template <class T>
T guard_value() {
  T value;
  std::memcpy(&value, &kGuardBits, sizeof value);
  return value;
}

// Runs observe(row) on a guarded buffer; "" or what went wrong ("after step 3: ..."). Float rows are
// guarded by a NaN no env writes; uint8 rows, where any byte is a valid value, by two runs with two
// fills: a byte that kept the fill in both was never written.
template <class T, class Observe>
std::string guarded_observe(int obs_dim, const std::string& when, Observe&& observe) {
  constexpr bool kBytes = std::is_same_v<T, std::uint8_t>;
  const std::vector<T> fills = kBytes ? std::vector<T>{T(0xA5), T(0x5A)} : std::vector<T>{guard_value<T>()};
  std::vector<std::vector<bool>> kept;  // per fill, per position: still the fill afterwards
  for (const T fill : fills) {
    std::vector<T> buf(static_cast<std::size_t>(obs_dim + 2 * kRowGuard), fill);
    observe(buf.data() + kRowGuard);
    std::vector<bool> same(buf.size());
    for (std::size_t i = 0; i < buf.size(); ++i) same[i] = std::memcmp(&buf[i], &fill, sizeof(T)) == 0;
    kept.push_back(std::move(same));
  }
  const auto guard_at = [&](int i) {
    bool all = true;
    for (const auto& same : kept) all = all && same[static_cast<std::size_t>(i)];
    return all;
  };
  const auto guard_intact = [&](int i) {
    for (const auto& same : kept)
      if (!same[static_cast<std::size_t>(i)]) return false;
    return true;
  };
  const std::string dim = "kObsDim is " + std::to_string(obs_dim);
  for (int k = kRowGuard - 1; k >= 0; --k)
    if (!guard_intact(k))
      return "observe() wrote obs_row[" + std::to_string(k - kRowGuard) + "], before its row (" + when + "; " + dim +
             "): it overwrites the previous lane's observation";
  for (int k = 0; k < kRowGuard; ++k)
    if (!guard_intact(kRowGuard + obs_dim + k))
      return "observe() wrote obs_row[" + std::to_string(obs_dim + k) + "], past its row of " +
             std::to_string(obs_dim) + (kBytes ? " bytes (" : " floats (") + when + "; " + dim +
             "): it overwrites the next lane's observation; make kObsDim, the observation space and observe() agree";
  for (int i = 0; i < obs_dim; ++i)
    if (guard_at(kRowGuard + i))
      return "observe() left obs_row[" + std::to_string(i) + "] unwritten (" + when + "; " + dim +
             "): the lane would show a stale value there; write every element of the row";
  return "";
}

// A valid action row for probe step `t`: the discrete actions in turn, or the middle of each bound.
template <class Env>
void probe_action(const EnvSpec& spec, int t, typename Env::Action* row) {
  if constexpr (Env::kDiscrete) {
    row[0] = static_cast<typename Env::Action>(t % Env::kNumActions);
  } else {
    for (int j = 0; j < Env::kActionDim; ++j) {
      const auto k = static_cast<std::size_t>(j);
      const bool bounded = k < spec.action_space.low.size() && k < spec.action_space.high.size();
      row[j] = bounded ? 0.5f * (spec.action_space.low[k] + spec.action_space.high[k]) : 0.0f;
    }
  }
}

}  // namespace detail

// The probe of a plain C++ env (the contract of envs/cpu_vec_env.h). An env that throws is not
// judged here (the checker's runs report that); the probe then returns "".
template <class Env>
std::string probe_cpu_rows(const EnvOptions& options) {
  try {
    std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
    const auto params = make_params<Env>(options, max_episode_steps);
    const EnvSpec spec = Env::spec(params);
    Env env(params);
    LaneRng rng{12345, 0, 0};
    env.reset(rng);
    using Obs = ObsType<Env>;
    std::string bad = detail::guarded_observe<Obs>(Env::kObsDim, "after reset", [&](Obs* row) { env.observe(row); });
    typename Env::Action action[Env::kActionDim];
    for (int t = 1; t <= detail::kProbeSteps && bad.empty(); ++t) {
      detail::probe_action<Env>(spec, t, action);
      const StepOut out = env.step(action, rng);
      bad = detail::guarded_observe<Obs>(Env::kObsDim, "after step " + std::to_string(t),
                                         [&](Obs* row) { env.observe(row); });
      if (out.terminated) env.reset(rng);
    }
    return bad;
  } catch (const std::exception&) {
    return "";
  }
}

// The probe of a __host__ __device__ env (the contract of envs/env.h), run on the host.
template <class Env>
std::string probe_hd_rows(const EnvOptions& options) {
  try {
    std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
    const auto params = make_params<Env>(options, max_episode_steps);
    const EnvSpec spec = Env::spec(params);
    typename Env::State state{};
    LaneRng rng{12345, 0, 0};
    Env::reset(params, state, rng);
    using Obs = ObsType<Env>;
    std::string bad = detail::guarded_observe<Obs>(Env::kObsDim, "after reset",
                                                   [&](Obs* row) { Env::observe(params, state, row); });
    typename Env::Action action[Env::kActionDim];
    for (int t = 1; t <= detail::kProbeSteps && bad.empty(); ++t) {
      detail::probe_action<Env>(spec, t, action);
      const StepOut out = Env::step(params, state, action, rng);
      bad = detail::guarded_observe<Obs>(Env::kObsDim, "after step " + std::to_string(t),
                                         [&](Obs* row) { Env::observe(params, state, row); });
      if (out.terminated) Env::reset(params, state, rng);
    }
    return bad;
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace apiary::envs
