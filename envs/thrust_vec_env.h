// The batched back end for environments written as __host__ __device__ functions (docs/custom-envs.md): one
// template, run by Thrust on a `System` (envs/cpu_system.h: OpenMP or C++ threads on the host;
// envs/cuda_system.cuh: CUDA). This file holds the only loop over lanes of such environments.
//
// The CPU systems step lanes in blocks: a first pass over a block steps every lane and writes its
// row with no branches on `done`, so the compiler vectorises it; a second pass, only where a lane
// finished, saves the final observation and resets the lane. The GPU runs blocks of one lane.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "envs/env.h"
#include "core/fnv1a.h"
#include "envs/rng.h"
#include "envs/scene.h"
#include "envs/thread_pool.h"
#include "envs/vec_env.h"

namespace apiary::envs {

namespace detail {

// Env::kOpaqueState (default false): the State's bytes are not floats a caller may read or write.
template <class Env, class = void>
struct OpaqueState : std::false_type {};
template <class Env>
struct OpaqueState<Env, std::void_t<decltype(Env::kOpaqueState)>> : std::bool_constant<Env::kOpaqueState> {};

// Env::step_uses_rng(params), optional beside kStepUsesRng: false where these parameters make step()
// draw nothing (Acrobot without torque noise). The lane loop then leaves the draw counters alone, and
// the compiler can drop the draw itself, whose Philox rounds it would otherwise compute for every lane
// (a branch in a vectorised loop costs both of its arms).
template <class Env, class = void>
struct HasStepUsesRng : std::false_type {};
template <class Env>
struct HasStepUsesRng<Env, std::void_t<decltype(Env::step_uses_rng(std::declval<const typename Env::Params&>()))>>
    : std::true_type {};

// Env::kSplitLaneLoop (default false): step_lanes' host loop in two passes (see there).
template <class Env, class = void>
struct SplitLaneLoop : std::false_type {};
template <class Env>
struct SplitLaneLoop<Env, std::void_t<decltype(Env::kSplitLaneLoop)>> : std::bool_constant<Env::kSplitLaneLoop> {};

// The raw pointers a kernel needs; copied by value into every Thrust functor.
template <class Env>
struct LaneArrays {
  using State = typename Env::State;
  using Action = typename Env::Action;
  State* state;
  const Action* actions;
  std::uint64_t* draws;  // Philox blocks each lane has drawn
  BatchBuffers out;
  State* final_state = nullptr;  // where set (keep_final_pictures), each ending lane's state before its reset
};

// Pass 1 of a block: step, count and observe lanes [lo, hi) with no branches on the outcome, so the
// compiler vectorises it. Restrict parameters: byte-sized flag stores could otherwise alias every
// other buffer. kDraws: whether step() may draw, so that each lane's draw counter is read and
// written back. Returns how many lanes finished an episode.
template <class Env, bool kDraws>
APIARY_HD std::int32_t step_lanes(const typename Env::Params& params, std::int64_t lo, std::int64_t hi,
                                  std::uint64_t seed, std::int32_t limit,
                                  typename Env::State* APIARY_RESTRICT state,
                                  const typename Env::Action* APIARY_RESTRICT actions,
                                  std::uint64_t* APIARY_RESTRICT draws, ObsType<Env>* APIARY_RESTRICT obs,
                                  float* APIARY_RESTRICT reward, float* APIARY_RESTRICT episode_return,
                                  std::uint8_t* APIARY_RESTRICT terminated, std::uint8_t* APIARY_RESTRICT truncated,
                                  std::int32_t* APIARY_RESTRICT elapsed) {
  const typename Env::Params p = params;
  std::int32_t num_done = 0;  // an integer sum vectorises; a bool OR reduction does not
#ifndef __CUDA_ARCH__
  // Env::kSplitLaneLoop, on the host: lanes go in chunks of two loops, the env's arithmetic on floats
  // (terminated kept as a float), then the byte-sized bookkeeping. One loop with byte stores is
  // vectorised 32 lanes wide on AVX2, four registers per float, and an env with many live values
  // (Acrobot's RK4) spills; for the cheap envs the second pass costs more than it saves. (StepOut r is
  // not const in these loops: with a const one GCC 12 vectorises neither.)
  if constexpr (SplitLaneLoop<Env>::value) {
    constexpr std::int64_t kChunk = 64;
    for (std::int64_t base = lo; base < hi; base += kChunk) {
      const std::int64_t n = hi - base < kChunk ? hi - base : kChunk;
      float step_reward[kChunk], step_terminated[kChunk];
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t lane = base + i;
        LaneRng rng{seed, static_cast<std::uint64_t>(lane), 0};
        if constexpr (kDraws) rng.draws = draws[lane];
        StepOut r = Env::step(p, state[lane], actions + lane * Env::kActionDim, rng);
        if constexpr (kDraws) draws[lane] = rng.draws;
        step_reward[i] = r.reward;
        step_terminated[i] = r.terminated ? 1.0f : 0.0f;
        Env::observe(p, state[lane], obs + lane * Env::kObsDim);
      }
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t lane = base + i;
        const bool done = record_lane_step(step_reward[i], step_terminated[i] != 0.0f, limit, reward[lane],
                                           terminated[lane], truncated[lane], elapsed[lane], episode_return[lane]);
        num_done += static_cast<std::int32_t>(done);
      }
    }
    return num_done;
  }
#endif
  for (std::int64_t lane = lo; lane < hi; ++lane) {
    LaneRng rng{seed, static_cast<std::uint64_t>(lane), 0};
    if constexpr (kDraws) rng.draws = draws[lane];
    StepOut r = Env::step(p, state[lane], actions + lane * Env::kActionDim, rng);
    if constexpr (kDraws) draws[lane] = rng.draws;
    const bool done = record_lane_step(r.reward, r.terminated, limit, reward[lane], terminated[lane], truncated[lane],
                                       elapsed[lane], episode_return[lane]);
    Env::observe(p, state[lane], obs + lane * Env::kObsDim);
    num_done += static_cast<std::int32_t>(done);
  }
  return num_done;
}

// The same-step auto-reset of `lane`, which has just finished: its final observation, return and
// length are kept and a new episode begins from its continuing stream.
template <class Env>
APIARY_HD void auto_reset_lane(const typename Env::Params& params, const LaneArrays<Env>& a, std::uint64_t seed,
                               std::int64_t lane) {
  using Obs = ObsType<Env>;
  keep_final_episode<Obs>(a.out, lane, Env::kObsDim);
  if (a.final_state != nullptr) a.final_state[lane] = a.state[lane];
  LaneRng rng{seed, static_cast<std::uint64_t>(lane), a.draws[lane]};
  Env::reset(params, a.state[lane], rng);
  a.draws[lane] = rng.draws;
  start_lane_episode(a.out, lane);
  Env::observe(params, a.state[lane], a.out.template observations<Obs>() + lane * Env::kObsDim);
}

template <class Env>
struct StepBlocks {
  using Obs = ObsType<Env>;
  typename Env::Params params;
  LaneArrays<Env> a;
  std::uint64_t seed;
  std::int32_t max_episode_steps;  // 0: no limit
  std::int64_t num_envs;
  std::int64_t block;
  const std::uint8_t* active;  // set_active_lanes(): 0 holds a lane (this System's memory); null: all step

  APIARY_HD std::int32_t step(std::int64_t lo, std::int64_t hi, std::int32_t limit) const {
    if constexpr (HasStepUsesRng<Env>::value) {
      if (!Env::step_uses_rng(params)) return step<false>(lo, hi, limit);
    }
    return step<Env::kStepUsesRng>(lo, hi, limit);
  }
  template <bool kDraws>
  APIARY_HD std::int32_t step(std::int64_t lo, std::int64_t hi, std::int32_t limit) const {
    return step_lanes<Env, kDraws>(params, lo, hi, seed, limit, a.state, a.actions, a.draws,
                                   a.out.template observations<Obs>(), a.out.reward, a.out.episode_return,
                                   a.out.terminated, a.out.truncated, a.out.elapsed);
  }

  APIARY_HD void operator()(std::int64_t b) const {
    const std::int64_t lo = b * block;
    const std::int64_t hi = lo + block < num_envs ? lo + block : num_envs;
    const std::int32_t limit = max_episode_steps > 0 ? max_episode_steps : 0x7fffffff;
    if (active == nullptr) {
      run(lo, hi, limit);
      return;
    }
#ifndef __CUDA_ARCH__
    if (step_around_held(lo, hi, limit)) return;
#endif
    // Held lanes keep everything: each run of consecutive active lanes is stepped as a block of its own.
    for (std::int64_t lane = lo; lane < hi;) {
      if (!active[lane]) {
        ++lane;
        continue;
      }
      std::int64_t end = lane + 1;
      while (end < hi && active[end]) ++end;
      run(lane, end, limit);
      lane = end;
    }
  }

#ifndef __CUDA_ARCH__
  // On the host, a block with a few held lanes (Python's next-step autoreset holds the lanes that
  // ended on the step before, a few per cent) is stepped whole, vectorised, and the held lanes' rows
  // are put back afterwards; false (nothing done) when more than kMaxHeld are held.
  // (Always inlined: the caller is compiled once per instruction set, as the plain path is.)
  __attribute__((always_inline)) inline bool step_around_held(std::int64_t lo, std::int64_t hi,
                                                              std::int32_t limit) const {
    constexpr int kMaxHeld = 32;
    struct Saved {
      typename Env::State state;
      std::uint64_t draws;
      Obs obs[Env::kObsDim], final_obs[Env::kObsDim];
      float reward, episode_return, final_return;
      std::uint8_t terminated, truncated;
      std::int32_t elapsed, final_length;
    };
    std::int64_t held[kMaxHeld];
    int count = 0;
    for (std::int64_t lane = lo; lane < hi; ++lane)
      if (!active[lane]) {
        if (count == kMaxHeld) return false;
        held[count++] = lane;
      }
    Saved saved[kMaxHeld];
    Obs* obs = a.out.template observations<Obs>();
    Obs* final_obs = a.out.template final_observations<Obs>();
    for (int i = 0; i < count; ++i) {
      const std::int64_t l = held[i];
      Saved& s = saved[i];
      s = Saved{a.state[l], a.draws[l], {}, {}, a.out.reward[l], a.out.episode_return[l], a.out.final_return[l],
                a.out.terminated[l], a.out.truncated[l], a.out.elapsed[l], a.out.final_length[l]};
      std::memcpy(s.obs, obs + l * Env::kObsDim, sizeof(s.obs));
      std::memcpy(s.final_obs, final_obs + l * Env::kObsDim, sizeof(s.final_obs));
    }
    run(lo, hi, limit);
    for (int i = 0; i < count; ++i) {
      const std::int64_t l = held[i];
      const Saved& s = saved[i];
      a.state[l] = s.state;
      a.draws[l] = s.draws;
      std::memcpy(obs + l * Env::kObsDim, s.obs, sizeof(s.obs));
      std::memcpy(final_obs + l * Env::kObsDim, s.final_obs, sizeof(s.final_obs));
      a.out.reward[l] = s.reward;
      a.out.episode_return[l] = s.episode_return;
      a.out.final_return[l] = s.final_return;
      a.out.terminated[l] = s.terminated;
      a.out.truncated[l] = s.truncated;
      a.out.elapsed[l] = s.elapsed;
      a.out.final_length[l] = s.final_length;
    }
    return true;
  }
#endif

  // Lanes [lo, hi) stepped (the vectorised pass 1), then pass 2: the same-step auto-reset of those
  // that finished.
  APIARY_HD void run(std::int64_t lo, std::int64_t hi, std::int32_t limit) const {
    if (step(lo, hi, limit) == 0) return;
    for (std::int64_t lane = lo; lane < hi; ++lane)
      if (a.out.terminated[lane] | a.out.truncated[lane]) auto_reset_lane<Env>(params, a, seed, lane);
  }
};

// A new episode for every lane (reset: each stream from its start), or with `mask` for the lanes whose
// byte is set (reset_lanes: each from where its stream stands); counters, reward and flags zeroed.
template <class Env>
struct ResetBlocks {
  using Obs = ObsType<Env>;
  typename Env::Params params;
  LaneArrays<Env> a;
  std::uint64_t seed;
  std::int64_t num_envs;
  std::int64_t block;
  const std::uint8_t* mask;  // null: every lane; else this System's memory

  APIARY_HD void operator()(std::int64_t b) const {
    const std::int64_t lo = b * block;
    const std::int64_t hi = lo + block < num_envs ? lo + block : num_envs;
    for (std::int64_t lane = lo; lane < hi; ++lane) {
      if (mask != nullptr && !mask[lane]) continue;
      LaneRng rng{seed, static_cast<std::uint64_t>(lane), mask == nullptr ? 0 : a.draws[lane]};
      Env::reset(params, a.state[lane], rng);
      a.draws[lane] = rng.draws;
      start_lane_episode(a.out, lane, /*clear_step=*/true);
      Env::observe(params, a.state[lane], a.out.template observations<Obs>() + lane * Env::kObsDim);
    }
  }
};

template <class Env>
struct ObserveBlocks {
  typename Env::Params params;
  LaneArrays<Env> a;
  std::int64_t num_envs;
  std::int64_t block;
  APIARY_HD void operator()(std::int64_t b) const {
    const std::int64_t lo = b * block;
    const std::int64_t hi = lo + block < num_envs ? lo + block : num_envs;
    for (std::int64_t lane = lo; lane < hi; ++lane)
      Env::observe(params, a.state[lane], a.out.template observations<ObsType<Env>>() + lane * Env::kObsDim);
  }
};

// Predicates for action validation (first offending element).
template <int kNumActions>
struct DiscreteActionInvalid {
  APIARY_HD bool operator()(std::int32_t a) const { return a < 0 || a >= kNumActions; }
};
struct ContinuousActionInvalid {
  APIARY_HD bool operator()(float a) const { return !(a - a == 0.0f); }  // NaN or infinite
};

// An env with a picture: a static `describe(const Params&, const State&, Scene&)`, called on the
// host with a copy of the lane's state; and optionally a static
// `describe_action(const Params&, const std::vector<float>& action, Scene&)`.
template <class Env, class = void>
struct HasStaticDescribe : std::false_type {};
template <class Env>
struct HasStaticDescribe<Env, std::void_t<decltype(Env::describe(std::declval<const typename Env::Params&>(),
                                                                 std::declval<const typename Env::State&>(),
                                                                 std::declval<Scene&>()))>> : std::true_type {};
template <class Env, class = void>
struct HasDescribeAction : std::false_type {};
template <class Env>
struct HasDescribeAction<Env, std::void_t<decltype(Env::describe_action(std::declval<const typename Env::Params&>(),
                                                                        std::declval<const std::vector<float>&>(),
                                                                        std::declval<Scene&>()))>> : std::true_type {};

}  // namespace detail

template <class Env, class System>
class ThrustVecEnv final : public VecEnv {
 public:
  using Params = typename Env::Params;
  using State = typename Env::State;
  using Action = typename Env::Action;
  using Obs = ObsType<Env>;  // float, or std::uint8_t for images
  static_assert(sizeof(State) == sizeof(float) * Env::kStateDim, "State must be kStateDim floats");

  ThrustVecEnv(const Params& params, std::int32_t max_episode_steps, const EnvSpec& spec, std::int32_t num_envs,
               std::int32_t threads)
      : VecEnv(spec, num_envs, System::kDevice, threads), params_(params), max_episode_steps_(max_episode_steps) {
    const auto n = static_cast<std::size_t>(num_envs);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    state_.allocate(n, State{});
    actions_.allocate(n * Env::kActionDim, Action{});
    draws_.allocate(n, 0);
    // NaN until written, so that reads of unwritten data show (bytes: 0).
    const Obs unwritten = std::is_same_v<Obs, float> ? static_cast<Obs>(nan) : Obs{};
    obs_.allocate(n * Env::kObsDim, unwritten);
    final_obs_.allocate(n * Env::kObsDim, unwritten);
    reward_.allocate(n, nan);
    terminated_.allocate(n, 0);
    truncated_.allocate(n, 0);
    elapsed_.allocate(n, 0);
    episode_return_.allocate(n, 0.0f);
    final_return_.allocate(n, nan);
    final_length_.allocate(n, -1);
    buffers_ = BatchBuffers{nullptr,          nullptr,                reward_.data(),
                            terminated_.data(), truncated_.data(),      elapsed_.data(),
                            episode_return_.data(), final_return_.data(), final_length_.data()};
    if constexpr (std::is_same_v<Obs, std::uint8_t>) {
      buffers_.obs_u8 = obs_.data();
      buffers_.final_obs_u8 = final_obs_.data();
    } else {
      buffers_.obs = obs_.data();
      buffers_.final_obs = final_obs_.data();
    }
  }

  void set_threads(std::int32_t threads) override { threads_ = threads; }

  void reset(std::uint64_t seed) override {
    seed_ = seed;
    const std::int64_t block = System::block_size(num_envs_, threads_);
    System::for_each_block(num_blocks(block), threads_,
                           detail::ResetBlocks<Env>{params_, arrays(actions_.data()), seed_, num_envs_, block, nullptr});
  }

  void step(const ActionBatch& batch) override {
    const Action* actions = validate(batch);
    const std::int64_t block = System::block_size(num_envs_, threads_);
    const std::uint8_t* active = active_host_ == nullptr ? nullptr : lane_mask(active_host_);
    System::for_each_block(num_blocks(block), threads_,
                           detail::StepBlocks<Env>{params_, arrays(actions), seed_, max_episode_steps_, num_envs_, block,
                                                   active});
  }

  void set_active_lanes(const std::uint8_t* mask) override { active_host_ = mask; }
  bool holds_lanes() const override { return true; }

  void reset_lanes(const std::uint8_t* mask) override {
    const std::int64_t block = System::block_size(num_envs_, threads_);
    System::for_each_block(num_blocks(block), threads_,
                           detail::ResetBlocks<Env>{params_, arrays(actions_.data()), seed_, num_envs_, block,
                                                        lane_mask(mask)});
  }

  void copy_to_host(HostBatch& out) const override {
    const std::size_t n = static_cast<std::size_t>(num_envs_), d = n * Env::kObsDim;
    if constexpr (std::is_same_v<Obs, std::uint8_t>) {
      download(obs_, d, out.obs_u8);
      download(final_obs_, d, out.final_obs_u8);
      out.obs.clear();
      out.final_obs.clear();
    } else {
      download(obs_, d, out.obs);
      download(final_obs_, d, out.final_obs);
    }
    download(reward_, n, out.reward);
    download(terminated_, n, out.terminated);
    download(truncated_, n, out.truncated);
    download(elapsed_, n, out.elapsed);
    download(episode_return_, n, out.episode_return);
    download(final_return_, n, out.final_return);
    download(final_length_, n, out.final_length);
  }

  // An env whose State is not floats (kOpaqueState, e.g. MinAtar's game objects) has no float state
  // to get or set, as on its CPU back end; its snapshots still carry the state's bytes.
  std::int32_t state_dim() const override { return kOpaque ? 0 : Env::kStateDim; }

  std::vector<float> get_states() const override {
    if constexpr (kOpaque) return {};
    std::vector<State> host(static_cast<std::size_t>(num_envs_));
    System::download(state_.data(), host.size(), host.data());
    std::vector<float> flat(host.size() * Env::kStateDim);
    std::memcpy(flat.data(), host.data(), flat.size() * sizeof(float));
    return flat;
  }

  void set_states(const std::vector<float>& states) override {
    if constexpr (kOpaque) throw std::logic_error(spec_.id + ": its state is a game object, which cannot be set from floats");
    const std::size_t n = static_cast<std::size_t>(num_envs_);
    if (states.size() != n * Env::kStateDim) {
      std::ostringstream os;
      os << spec_.id << ": set_states expects " << n << " x " << Env::kStateDim << " floats, got " << states.size();
      throw std::invalid_argument(os.str());
    }
    std::vector<State> host(n);
    std::memcpy(static_cast<void*>(host.data()), states.data(), states.size() * sizeof(float));
    System::upload(host.data(), n, state_.data());
    const std::int64_t block = System::block_size(num_envs_, threads_);
    System::for_each_block(num_blocks(block), threads_,
                           detail::ObserveBlocks<Env>{params_, arrays(actions_.data()), num_envs_, block});
  }

  // ---- pictures: drawn on the host from a copy of the states (a device env's included) ------------
  bool describe(std::int32_t lane, Scene& scene) const override {
    if (lane < 0 || lane >= num_envs_)
      throw std::out_of_range(spec_.id + ": describe(): lane " + std::to_string(lane) + " of " +
                              std::to_string(num_envs_));
    if constexpr (detail::HasStaticDescribe<Env>::value) {
      State state;
      System::download(state_.data() + lane, 1, &state);
      scene.clear();
      scene.env_id = spec_.id;
      Env::describe(params_, state, scene);
      return true;
    }
    return false;
  }

  void describe_action(const std::vector<float>& action, Scene& scene) const override {
    if constexpr (detail::HasDescribeAction<Env>::value) Env::describe_action(params_, action, scene);
  }

  bool has_picture() const override { return detail::HasStaticDescribe<Env>::value; }
  PictureSize picture_size() const override { return EnvPictureSize<Env>::value; }

  void render_lanes(const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out) const override {
    check_render(lanes, height, width, out);
    draw_states(state_, lanes, height, width, out);
  }

  bool keep_final_pictures(bool keep) override {
    if constexpr (!detail::HasStaticDescribe<Env>::value) return false;
    final_state_.allocate(keep ? static_cast<std::size_t>(num_envs_) : 0, State{});
    return true;
  }

  void render_final_lanes(const std::vector<std::int32_t>& lanes, int height, int width,
                          std::uint8_t* out) const override {
    if (final_state_.size() == 0) VecEnv::render_final_lanes(lanes, height, width, out);
    check_render(lanes, height, width, out);
    draw_states(final_state_, lanes, height, width, out);
  }

  std::vector<std::uint8_t> save_snapshot() const override {
    std::vector<std::uint8_t> out;
    auto put_bytes = [&](const void* p, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(p);
      out.insert(out.end(), b, b + n);
    };
    const std::uint64_t header[4] = {kSnapshotMagic, id_hash(spec_.id),
                                     static_cast<std::uint64_t>(num_envs_), seed_};
    put_bytes(header, sizeof(header));
    for_each_array([&](auto& array) {
      using T = std::remove_reference_t<decltype(*array.data())>;
      std::vector<T> host(array.size());
      System::download(array.data(), host.size(), host.data());
      put_bytes(host.data(), host.size() * sizeof(T));
    });
    return out;
  }

  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    std::size_t expected = 4 * sizeof(std::uint64_t);
    for_each_array([&](auto& array) { expected += array.size() * sizeof(*array.data()); });
    std::uint64_t header[4] = {};
    if (bytes.size() >= sizeof(header)) std::memcpy(header, bytes.data(), sizeof(header));
    if (bytes.size() != expected || header[0] != kSnapshotMagic || header[1] != id_hash(spec_.id) ||
        header[2] != static_cast<std::uint64_t>(num_envs_)) {
      std::ostringstream os;
      os << spec_.id << ": env snapshot does not match this env (" << bytes.size() << " bytes, expected " << expected
         << " for " << num_envs_ << " lanes)";
      throw std::invalid_argument(os.str());
    }
    seed_ = header[3];
    std::size_t offset = sizeof(header);
    for_each_array([&](auto& array) {
      using T = std::remove_const_t<std::remove_reference_t<decltype(*array.data())>>;
      std::vector<T> host(array.size());
      std::memcpy(static_cast<void*>(host.data()), bytes.data() + offset, host.size() * sizeof(T));
      offset += host.size() * sizeof(T);
      System::upload(host.data(), host.size(), array.data());
    });
  }

 private:
  static constexpr std::uint64_t kSnapshotMagic = 0x41504941525953ull;  // "APIARYS"
  static constexpr bool kOpaque = detail::OpaqueState<Env>::value;
  static std::uint64_t id_hash(const std::string& id) { return core::fnv1a(id); }  // stable across builds

  // Every per-lane array, in a fixed order (snapshots).
  template <class F>
  void for_each_array(F&& f) const {
    auto& self = const_cast<ThrustVecEnv&>(*this);
    f(self.state_);
    f(self.draws_);
    f(self.obs_);
    f(self.final_obs_);
    f(self.reward_);
    f(self.episode_return_);
    f(self.final_return_);
    f(self.terminated_);
    f(self.truncated_);
    f(self.elapsed_);
    f(self.final_length_);
  }

  // Draws `lanes` from `states` (the lanes' states now, or as their episodes ended) on the host, from
  // one copy of the array for every lane drawn.
  template <class Array>
  void draw_states(const Array& states, const std::vector<std::int32_t>& lanes, int height, int width,
                   std::uint8_t* out) const {
    if constexpr (detail::HasStaticDescribe<Env>::value) {
      std::vector<State> host(static_cast<std::size_t>(num_envs_));
      System::download(states.data(), host.size(), host.data());
      draw_scenes(render_pool(), lanes, height, width, out, [&](std::int32_t lane, Scene& scene) {
        scene.env_id = spec_.id;
        Env::describe(params_, host[static_cast<std::size_t>(lane)], scene);
      });
    }
  }

  std::int64_t num_blocks(std::int64_t block) const { return (num_envs_ + block - 1) / block; }

  // The threads that draw pictures: a pool of `threads` (the steps' OpenMP team is not reused, so a
  // CUDA env draws on the host too), made on first use and again when the thread count changes.
  ThreadPool* render_pool() const {
    const std::int32_t want = threads_ > 0 ? threads_ : ThreadPool::hardware_threads();
    if (!render_pool_ || render_pool_->threads() != want) render_pool_ = std::make_unique<ThreadPool>(want);
    return render_pool_.get();
  }

  detail::LaneArrays<Env> arrays(const Action* actions) {
    return detail::LaneArrays<Env>{state_.data(), actions, draws_.data(), buffers_,
                                   final_state_.size() > 0 ? final_state_.data() : nullptr};
  }

  // A host mask ([N] bytes) where this System's kernels can read it: a device copy for CUDA (the
  // mask may change between calls), the host bytes themselves on the CPU.
  const std::uint8_t* lane_mask(const std::uint8_t* host) {
    if constexpr (System::kDevice == Device::kCpu) {
      return host;
    } else {
      if (mask_.size() != static_cast<std::size_t>(num_envs_)) mask_.allocate(static_cast<std::size_t>(num_envs_), 0);
      System::upload(host, mask_.size(), mask_.data());
      return mask_.data();
    }
  }

  template <class T, class Array>
  static void download(const Array& from, std::size_t n, std::vector<T>& to) {
    to.resize(n);
    System::download(from.data(), n, to.data());
  }

  // Checks shape, dtype and values; returns the actions on this env's device.
  const Action* validate(const ActionBatch& batch) {
    check_action_batch(spec_, num_envs_, System::kDevice, batch);
    const Action* actions = static_cast<const Action*>(batch.data);
    if (batch.device != System::kDevice) {  // host actions for a device env
      System::upload(actions, actions_.size(), actions_.data());
      actions = actions_.data();
    }
    const std::int64_t count = num_envs_ * static_cast<std::int64_t>(Env::kActionDim);
    std::int64_t bad;
    if constexpr (Env::kDiscrete)
      bad = System::find_first(actions, count, detail::DiscreteActionInvalid<Env::kNumActions>{});
    else
      bad = System::find_first(actions, count, detail::ContinuousActionInvalid{});
    if (bad >= 0) {
      Action value{};
      System::download(actions + bad, 1, &value);
      throw_invalid_action(spec_, bad, static_cast<double>(value));
    }
    return actions;
  }

  Params params_;
  std::int32_t max_episode_steps_;
  std::uint64_t seed_ = 0;
  typename System::template Array<State> state_;
  typename System::template Array<Action> actions_;  // staging for host actions on a device env
  typename System::template Array<std::uint64_t> draws_;
  typename System::template Array<Obs> obs_, final_obs_;
  typename System::template Array<float> reward_, episode_return_, final_return_;
  typename System::template Array<std::uint8_t> terminated_, truncated_;
  typename System::template Array<std::int32_t> elapsed_, final_length_;
  // keep_final_pictures(): each ending lane's state before its reset (empty: none kept)
  typename System::template Array<State> final_state_;
  mutable std::unique_ptr<ThreadPool> render_pool_;   // render_pool()
  const std::uint8_t* active_host_ = nullptr;          // set_active_lanes()'s mask (host), null: all
  typename System::template Array<std::uint8_t> mask_;  // its device copy (CUDA only), made on first use
};

}  // namespace apiary::envs
