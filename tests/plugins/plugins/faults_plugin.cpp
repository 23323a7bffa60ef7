// Envs with planted faults, which `apiary check-env` must catch (and name the check, step and lane):
//   FaultNanObs-v0        a NaN observation on the 7th step of every episode
//   FaultBounds-v0        observations that leave the declared space on the 6th step
//   FaultNondetReset-v0   a reset that draws from global state instead of the lane's LaneRng
//   FaultNoAutoReset-v0   a VecEnv written by hand that does not reset lanes whose episode ended
//   FaultNoRandom-v0      draws no random numbers at all (fails `seeding` unless allowed)
//   FaultObsOverrun-v0    observe() writes one float past its row of kObsDim (into the next lane's)
//   FaultObsGap-v0        observe() leaves the second element of its row unwritten
//   FaultFine-v0          the same counter env without a fault (the checks' control)
//   FaultFineNoParams-v0  a control without parameters (no kParamFields, an empty Params) and without
//                         a time limit (kMaxEpisodeSteps 0): it never terminates either
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "envs/plugin.h"

namespace plugin_test {

using namespace apiary::envs;

enum class Fault { kNone, kNanObs, kBounds, kNondetReset, kNoRandom, kObsOverrun, kObsGap };

// Counts its steps; obs = {steps / 10, a random offset drawn at reset}; terminates after 10 steps.
template <Fault kFault>
struct Counter {
  static constexpr const char* kId = kFault == Fault::kNone          ? "FaultFine-v0"
                                     : kFault == Fault::kNanObs      ? "FaultNanObs-v0"
                                     : kFault == Fault::kBounds      ? "FaultBounds-v0"
                                     : kFault == Fault::kNoRandom    ? "FaultNoRandom-v0"
                                     : kFault == Fault::kObsOverrun  ? "FaultObsOverrun-v0"
                                     : kFault == Fault::kObsGap      ? "FaultObsGap-v0"
                                                                     : "FaultNondetReset-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr std::int32_t kMaxEpisodeSteps = 50;
  using Action = std::int32_t;
  struct Params {
    float length = 10.0f;
  };
  static constexpr ParamField<Params> kParamFields[] = {{"length", &Params::length, 1.0f, 100.0f, false, "steps"}};
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({0.0f, 0.0f}, {1.0f, 1.0f});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit Counter(const Params& p) : length(static_cast<int>(p.length)) {}
  void reset(LaneRng& rng) {
    steps = 0;
    if constexpr (kFault == Fault::kNoRandom) {
      offset = 0.5f;
      return;
    }
    const float u = rng.uniform4(0.0f, 1.0f).v[0];
    if constexpr (kFault == Fault::kNondetReset) {
      static std::atomic<int> resets{0};  // the fault: state shared by every lane and every env
      offset = static_cast<float>(resets++ % 97) / 97.0f;
      (void)u;
    } else {
      offset = u;
    }
  }
  StepOut step(const Action* a, LaneRng&) {
    ++steps;
    return StepOut{static_cast<float>(a[0]), steps >= length};
  }
  void observe(float* obs) const {
    obs[0] = static_cast<float>(steps) / static_cast<float>(length);
    if constexpr (kFault != Fault::kObsGap) obs[1] = offset;
    // The fault: a third float. In the back end it lands on the next lane's obs[0], and past the
    // buffer's end for the last lane (4 lanes of 2 floats: inside the allocation's slack, so the
    // test process survives it).
    if constexpr (kFault == Fault::kObsOverrun) obs[2] = offset;
    if constexpr (kFault == Fault::kNanObs)
      if (steps == 7) obs[0] = std::numeric_limits<float>::quiet_NaN();
    if constexpr (kFault == Fault::kBounds) obs[0] = static_cast<float>(steps) * 0.2f;  // > 1 from step 6
  }

  int length;
  int steps = 0;
  float offset = 0.0f;
};

// No parameters, no time limit: obs = {a random value drawn at reset, steps % 2}; never terminates.
struct NoParams {
  static constexpr const char* kId = "FaultFineNoParams-v0";
  static constexpr int kObsDim = 2;
  static constexpr int kActionDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 3;
  static constexpr std::int32_t kMaxEpisodeSteps = 0;  // no time limit: episodes end only by terminating
  using Action = std::int32_t;
  struct Params {};  // nothing to set, and no kParamFields at all
  static EnvSpec spec(const Params&) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({0.0f, 0.0f}, {static_cast<float>(kNumActions), 1.0f});
    s.action_space = Space::discrete(kNumActions);
    s.max_episode_steps = kMaxEpisodeSteps;
    return s;
  }
  explicit NoParams(const Params&) {}
  void reset(LaneRng& rng) {
    draw = static_cast<float>(rng.uniform_int(kNumActions));  // the integer draw: 0, 1 or 2
    steps = 0;
  }
  StepOut step(const Action* a, LaneRng&) {
    ++steps;
    return StepOut{a[0] == static_cast<Action>(draw) ? 1.0f : 0.0f, false};
  }
  void observe(float* obs) const {
    obs[0] = draw;
    obs[1] = static_cast<float>(steps % 2);
  }
  float draw = 0.0f;
  int steps = 0;
};

// A VecEnv by hand that sets terminated after `length` steps but never resets the lane: elapsed and
// the episode go on, final_obs is never written.
class NoAutoReset final : public VecEnv {
 public:
  static constexpr const char* kId = "FaultNoAutoReset-v0";
  static EnvSpec make_spec(const EnvOptions& options) {
    EnvSpec s;
    s.id = kId;
    s.observation_space = Space::box({0.0f}, {1000.0f});
    s.action_space = Space::discrete(2);
    s.max_episode_steps = 0;
    for (const auto& [name, value] : options)
      if (name == kMaxEpisodeStepsOption) s.max_episode_steps = static_cast<std::int32_t>(value);
    return s;
  }
  explicit NoAutoReset(const VecEnvConfig& c) : VecEnv(make_spec(c.options), c.num_envs, Device::kCpu, 1) {
    const auto n = static_cast<std::size_t>(c.num_envs);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    obs_.assign(n, 0.0f);
    final_obs_.assign(n, nan);
    reward_.assign(n, 0.0f);
    episode_return_.assign(n, 0.0f);
    final_return_.assign(n, nan);
    terminated_.assign(n, 0);
    truncated_.assign(n, 0);
    elapsed_.assign(n, 0);
    final_length_.assign(n, -1);
    buffers_ = BatchBuffers{obs_.data(),        final_obs_.data(),     reward_.data(),
                            terminated_.data(), truncated_.data(),     elapsed_.data(),
                            episode_return_.data(), final_return_.data(), final_length_.data()};
  }
  void set_threads(std::int32_t) override {}
  void reset(std::uint64_t seed) override {
    for (std::size_t i = 0; i < obs_.size(); ++i) {
      obs_[i] = static_cast<float>((seed + i) % 3);
      elapsed_[i] = 0;
      episode_return_[i] = 0.0f;
      terminated_[i] = truncated_[i] = 0;
    }
  }
  void step(const ActionBatch&) override {
    for (std::size_t i = 0; i < obs_.size(); ++i) {
      obs_[i] += 1.0f;
      ++elapsed_[i];
      reward_[i] = 1.0f;
      episode_return_[i] += 1.0f;
      terminated_[i] = elapsed_[i] >= 5;  // the fault: no reset follows
    }
  }
  void copy_to_host(HostBatch& out) const override {
    copy_host_buffers(buffers_, num_envs_, static_cast<std::int64_t>(obs_.size()) / num_envs_, out);
  }
  std::int32_t state_dim() const override { return 0; }
  std::vector<float> get_states() const override { return {}; }
  void set_states(const std::vector<float>&) override {}
  std::vector<std::uint8_t> save_snapshot() const override { return {}; }
  void load_snapshot(const std::vector<std::uint8_t>&) override {}

 private:
  std::vector<float> obs_, final_obs_, reward_, episode_return_, final_return_;
  std::vector<std::uint8_t> terminated_, truncated_;
  std::vector<std::int32_t> elapsed_, final_length_;
};

}  // namespace plugin_test

APIARY_PLUGIN(registrar) {
  using namespace plugin_test;
  registrar.add_cpu_env<Counter<Fault::kNone>>();
  registrar.add_cpu_env<Counter<Fault::kNanObs>>();
  registrar.add_cpu_env<Counter<Fault::kBounds>>();
  registrar.add_cpu_env<Counter<Fault::kNondetReset>>();
  registrar.add_cpu_env<Counter<Fault::kNoRandom>>();
  registrar.add_cpu_env<Counter<Fault::kObsOverrun>>();
  registrar.add_cpu_env<Counter<Fault::kObsGap>>();
  registrar.add_cpu_env<NoParams>();
  registrar.add(EnvEntry{NoAutoReset::kId, &NoAutoReset::make_spec,
                         {{Device::kCpu, [](const VecEnvConfig& c) -> std::unique_ptr<VecEnv> {
                             return std::make_unique<NoAutoReset>(c);
                           }}},
                         ""});
}
