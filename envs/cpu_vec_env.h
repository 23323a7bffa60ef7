// The batched back end for environments written as plain C++ objects, one per lane (the Box2D envs,
// which hold a b2World each, and custom CPU envs): lanes are spread over a persistent thread pool
// (envs/thread_pool.h); buffers, validation, time limits and same-step auto-reset follow the contract
// in envs/vec_env.h exactly as the Thrust back end does.
//
// The contract of such an env:
//
//   struct MyEnv {
//     static constexpr const char* kId;                  // the registered id
//     static constexpr int kObsDim, kActionDim;
//     static constexpr bool kDiscrete;                   // Discrete(kNumActions) or Box(kActionDim)
//     static constexpr int kNumActions;                  // discrete envs
//     static constexpr std::int32_t kMaxEpisodeSteps;    // 0: no limit
//     using Action = std::int32_t or float;
//     using Obs = std::uint8_t;                          // optional: uint8 observations (images);
//                                                        // float when absent
//     struct Params { ... };  static constexpr ParamField<Params> kParamFields[] = {...};
//     static EnvSpec spec(const Params&);
//     explicit MyEnv(const Params&);                     // one object per lane
//     void reset(LaneRng& rng);                          // draws only from rng
//     StepOut step(const Action* action_row, LaneRng& rng);
//     void observe(Obs* obs_row) const;                  // float* unless Obs says otherwise
//     // optional:
//     static constexpr int kStateDim; void get_state(float*) const; void set_state(const float*);
//     void describe(Scene& scene) const;                 // its picture (envs/scene.h)
//     static constexpr PictureSize kPictureSize;         // its native size (600 x 400 when absent)
//   };
//
// Everything a lane does depends only on (seed, lane) and its actions, so any thread count gives the
// same bits. Snapshots hold, per lane, the random-stream position at the start of the episode and the
// actions taken since; loading one replays them into fresh objects (a b2World cannot be serialised,
// but it is deterministic), and checks that the replay ends where the saved stream did.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "envs/env.h"
#include "core/fnv1a.h"
#include "envs/params.h"
#include "envs/registry.h"
#include "envs/rng.h"
#include "envs/row_probe.h"
#include "envs/scene.h"
#include "envs/thread_pool.h"
#include "envs/vec_env.h"

namespace apiary::envs {

namespace detail {
template <class Env, class = void>
struct HasState : std::false_type {};
template <class Env>
struct HasState<Env, std::void_t<decltype(Env::kStateDim), decltype(std::declval<const Env&>().get_state(nullptr)),
                                 decltype(std::declval<Env&>().set_state(nullptr))>> : std::true_type {};
template <class Env, class = void>
struct HasDescribe : std::false_type {};
template <class Env>
struct HasDescribe<Env, std::void_t<decltype(std::declval<const Env&>().describe(std::declval<Scene&>()))>>
    : std::true_type {};

}  // namespace detail

// Points `buffers`' observation pair of the right dtype at `obs` and `final_obs`.
inline void set_obs_buffers(BatchBuffers& buffers, float* obs, float* final_obs) {
  buffers.obs = obs;
  buffers.final_obs = final_obs;
}
inline void set_obs_buffers(BatchBuffers& buffers, std::uint8_t* obs, std::uint8_t* final_obs) {
  buffers.obs_u8 = obs;
  buffers.final_obs_u8 = final_obs;
}

template <class Env>
class CpuVecEnv final : public VecEnv {
 public:
  using Params = typename Env::Params;
  using Action = typename Env::Action;
  using Obs = ObsType<Env>;
  static_assert(std::is_same_v<Obs, float> || std::is_same_v<Obs, std::uint8_t>,
                "an env observes float or std::uint8_t elements");

  CpuVecEnv(const Params& params, std::int32_t max_episode_steps, const EnvSpec& spec, std::int32_t num_envs,
            std::int32_t threads)
      : VecEnv(spec, num_envs, Device::kCpu, threads > 0 ? threads : ThreadPool::hardware_threads()),
        params_(params),
        max_episode_steps_(max_episode_steps),
        pool_(std::make_unique<ThreadPool>(std::min(threads_, num_envs))) {
    const auto n = static_cast<std::size_t>(num_envs);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    lanes_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) lanes_.push_back(std::make_unique<Env>(params_));
    draws_.assign(n, 0);
    episode_draws_.assign(n, 0);
    log_.resize(n);
    if (max_episode_steps_ > 0)
      for (auto& log : log_) log.reserve(static_cast<std::size_t>(max_episode_steps_) * Env::kActionDim);
    // NaN until written (float observations): reads of unwritten data show.
    const Obs unwritten = std::is_same_v<Obs, float> ? static_cast<Obs>(nan) : Obs{0};
    obs_.assign(n * Env::kObsDim, unwritten);
    final_obs_.assign(n * Env::kObsDim, unwritten);
    reward_.assign(n, nan);
    terminated_.assign(n, 0);
    truncated_.assign(n, 0);
    elapsed_.assign(n, 0);
    episode_return_.assign(n, 0.0f);
    final_return_.assign(n, nan);
    final_length_.assign(n, -1);
    buffers_.reward = reward_.data();
    buffers_.terminated = terminated_.data();
    buffers_.truncated = truncated_.data();
    buffers_.elapsed = elapsed_.data();
    buffers_.episode_return = episode_return_.data();
    buffers_.final_return = final_return_.data();
    buffers_.final_length = final_length_.data();
    set_obs_buffers(buffers_, obs_.data(), final_obs_.data());
  }

  void set_threads(std::int32_t threads) override {
    threads_ = threads > 0 ? threads : ThreadPool::hardware_threads();
    pool_ = std::make_unique<ThreadPool>(std::min(threads_, num_envs_));
  }

  void reset(std::uint64_t seed) override {
    seed_ = seed;
    for_lanes([&](std::int64_t lane) {
      LaneRng rng{seed_, static_cast<std::uint64_t>(lane), 0};
      episode_draws_[lane] = 0;
      log_[lane].clear();
      lanes_[lane]->reset(rng);
      draws_[lane] = rng.draws;
      start_lane_episode(buffers_, lane, /*clear_step=*/true);
      lanes_[lane]->observe(obs_.data() + lane * Env::kObsDim);
    });
  }

  void step(const ActionBatch& batch) override {
    const Action* actions = validate(batch);
    const std::int32_t limit = max_episode_steps_ > 0 ? max_episode_steps_ : std::numeric_limits<std::int32_t>::max();
    for_lanes([&](std::int64_t lane) {
      if (active_ == nullptr || active_[lane]) step_lane(lane, actions + lane * Env::kActionDim, limit);
    });
  }

  void set_active_lanes(const std::uint8_t* mask) override { active_ = mask; }
  bool holds_lanes() const override { return true; }
  void skip_observations(bool skip) override { skip_observations_ = skip; }

  void reset_lanes(const std::uint8_t* mask) override {
    for_lanes([&](std::int64_t lane) {
      if (!mask[lane]) return;
      LaneRng rng{seed_, static_cast<std::uint64_t>(lane), draws_[lane]};
      begin_episode(lane, rng);
      start_lane_episode(buffers_, lane, /*clear_step=*/true);
    });
  }

  void copy_to_host(HostBatch& out) const override { copy_host_buffers(buffers_, num_envs_, Env::kObsDim, out); }

  std::int32_t state_dim() const override {
    if constexpr (detail::HasState<Env>::value) return Env::kStateDim;
    return 0;
  }

  std::vector<float> get_states() const override {
    if constexpr (detail::HasState<Env>::value) {
      std::vector<float> flat(static_cast<std::size_t>(num_envs_) * Env::kStateDim);
      for (std::int32_t lane = 0; lane < num_envs_; ++lane) lanes_[lane]->get_state(flat.data() + lane * Env::kStateDim);
      return flat;
    }
    return {};
  }

  void set_states(const std::vector<float>& states) override {
    if constexpr (detail::HasState<Env>::value) {
      const std::size_t n = static_cast<std::size_t>(num_envs_);
      if (states.size() != n * Env::kStateDim) {
        std::ostringstream os;
        os << spec_.id << ": set_states expects " << n << " x " << Env::kStateDim << " floats, got " << states.size();
        throw std::invalid_argument(os.str());
      }
      for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
        lanes_[lane]->set_state(states.data() + lane * Env::kStateDim);
        lanes_[lane]->observe(obs_.data() + lane * Env::kObsDim);
      }
    } else {
      (void)states;
      throw std::logic_error(spec_.id + ": its state is a physics world, which cannot be set from floats");
    }
  }

  bool describe(std::int32_t lane, Scene& scene) const override {
    if (lane < 0 || lane >= num_envs_)
      throw std::out_of_range(spec_.id + ": describe(): lane " + std::to_string(lane) + " of " +
                              std::to_string(num_envs_));
    if constexpr (detail::HasDescribe<Env>::value) {
      scene.clear();
      scene.env_id = spec_.id;
      lanes_[lane]->describe(scene);
      return true;
    }
    return false;
  }

  bool has_picture() const override { return detail::HasDescribe<Env>::value; }
  PictureSize picture_size() const override { return EnvPictureSize<Env>::value; }

  void render_lanes(const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out) const override {
    check_render(lanes, height, width, out);
    if constexpr (detail::HasDescribe<Env>::value) {
      // Lanes only read their objects here, so they draw side by side on the stepping pool.
      draw_scenes(pool_.get(), lanes, height, width, out, [this](std::int32_t lane, Scene& scene) {
        scene.env_id = spec_.id;
        lanes_[static_cast<std::size_t>(lane)]->describe(scene);
      });
    }
  }

  bool keep_final_pictures(bool keep) override {
    if constexpr (!detail::HasDescribe<Env>::value) return false;
    final_scenes_.assign(keep ? static_cast<std::size_t>(num_envs_) : 0, Scene{});
    return true;
  }

  void render_final_lanes(const std::vector<std::int32_t>& lanes, int height, int width,
                          std::uint8_t* out) const override {
    if (final_scenes_.empty()) VecEnv::render_final_lanes(lanes, height, width, out);
    check_render(lanes, height, width, out);
    draw_scenes(pool_.get(), lanes, height, width, out, [this](std::int32_t lane, Scene& scene) {
      scene = final_scenes_[static_cast<std::size_t>(lane)];
    });
  }

  // The lane's env object, for tests and tools that inspect the physics (read only).
  const Env& lane(std::int32_t i) const { return *lanes_.at(static_cast<std::size_t>(i)); }

  std::vector<std::uint8_t> save_snapshot() const override {
    std::vector<std::uint8_t> out;
    const std::uint64_t header[5] = {kSnapshotMagic, core::fnv1a(spec_.id), static_cast<std::uint64_t>(num_envs_),
                                     seed_, static_cast<std::uint64_t>(Env::kObsDim)};
    put(out, header, sizeof(header));
    for_each_array([&](auto& array) { put(out, array.data(), array.size() * sizeof(array[0])); });
    for (const auto& log : log_) {
      const std::uint64_t size = log.size();
      put(out, &size, sizeof(size));
      put(out, log.data(), log.size() * sizeof(Action));
    }
    return out;
  }

  // Nothing changes unless the whole snapshot parses and every lane's replay ends where it was saved.
  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    std::size_t offset = 0;
    auto take = [&](void* to, std::size_t n) {
      if (offset + n > bytes.size() || offset + n < offset) mismatch(bytes.size(), "it ends early");
      std::memcpy(to, bytes.data() + offset, n);
      offset += n;
    };
    std::uint64_t header[5] = {};
    take(header, sizeof(header));
    if (header[0] != kSnapshotMagic || header[1] != core::fnv1a(spec_.id) ||
        header[2] != static_cast<std::uint64_t>(num_envs_) || header[4] != static_cast<std::uint64_t>(Env::kObsDim))
      mismatch(bytes.size(), "its header names another env, lane count or layout");
    const std::uint64_t seed = header[3];
    const std::unique_ptr<CpuVecEnv> scratch_env = scratch();  // same shapes as this env
    CpuVecEnv& loaded = *scratch_env;
    loaded.for_each_array([&](auto& array) { take(array.data(), array.size() * sizeof(array[0])); });
    for (auto& log : loaded.log_) {
      std::uint64_t size = 0;
      take(&size, sizeof(size));
      if (size % Env::kActionDim != 0 || size > (bytes.size() - offset) / sizeof(Action))
        mismatch(bytes.size(), "an action log has a bad length");
      log.resize(static_cast<std::size_t>(size));
      take(log.data(), log.size() * sizeof(Action));
    }
    if (offset != bytes.size()) mismatch(bytes.size(), "it has trailing bytes");
    // Replay every lane's episode so far into a fresh object.
    std::vector<std::uint8_t> diverged(static_cast<std::size_t>(num_envs_), 0);
    for_lanes([&](std::int64_t lane) {
      Env& env = *loaded.lanes_[lane];
      LaneRng rng{seed, static_cast<std::uint64_t>(lane), loaded.episode_draws_[lane]};
      env.reset(rng);
      const auto& log = loaded.log_[lane];
      for (std::size_t i = 0; i < log.size(); i += Env::kActionDim) env.step(log.data() + i, rng);
      diverged[lane] = rng.draws != loaded.draws_[lane] ||
                       log.size() != static_cast<std::size_t>(loaded.elapsed_[lane]) * Env::kActionDim;
    });
    for (std::int32_t lane = 0; lane < num_envs_; ++lane)
      if (diverged[lane])
        mismatch(bytes.size(), ("the replay of lane " + std::to_string(lane) +
                                " does not end where the saved run was (a snapshot of another build?)").c_str());
    seed_ = seed;
    lanes_.swap(loaded.lanes_);
    log_.swap(loaded.log_);
    copy_arrays_from(loaded);  // copies into this env's storage: buffers() stays valid
  }

 private:
  static constexpr std::uint64_t kSnapshotMagic = 0x41504941525943ull;  // "APIARYC"

  // A second env of the same shape, for loading snapshots without touching this one (one thread:
  // the replay runs on this env's pool).
  std::unique_ptr<CpuVecEnv> scratch() const {
    return std::make_unique<CpuVecEnv>(params_, max_episode_steps_, spec_, num_envs_, 1);
  }

  template <class T>
  static void put(std::vector<std::uint8_t>& out, const T* p, std::size_t n) {
    const auto* b = reinterpret_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }

  [[noreturn]] void mismatch(std::size_t size, const char* why) const {
    std::ostringstream os;
    os << spec_.id << ": env snapshot does not match this env (" << size << " bytes, " << num_envs_
       << " lanes): " << why;
    throw std::invalid_argument(os.str());
  }

  // Every per-lane array of fixed size, in a fixed order (snapshots).
  static auto arrays() {
    return std::make_tuple(&CpuVecEnv::draws_, &CpuVecEnv::episode_draws_, &CpuVecEnv::obs_, &CpuVecEnv::final_obs_,
                           &CpuVecEnv::reward_, &CpuVecEnv::episode_return_, &CpuVecEnv::final_return_,
                           &CpuVecEnv::terminated_, &CpuVecEnv::truncated_, &CpuVecEnv::elapsed_,
                           &CpuVecEnv::final_length_);
  }
  template <class F>
  void for_each_array(F&& f) const {
    std::apply([&](auto... member) { (f(const_cast<CpuVecEnv&>(*this).*member), ...); }, arrays());
  }
  void copy_arrays_from(const CpuVecEnv& other) {
    std::apply([&](auto... member) { ((this->*member = other.*member), ...); }, arrays());
  }

  // Runs fn(lane) for every lane on the pool; an exception names the env and the lane.
  template <class F>
  void for_lanes(F&& fn) {
    const std::int64_t n = num_envs_;
    const std::int64_t grain = std::max<std::int64_t>(1, n / (static_cast<std::int64_t>(pool_->threads()) * 8));
    pool_->run(
        n,
        [&](std::int64_t lane) {
          try {
            fn(lane);
          } catch (const LaneError&) {
            throw;
          } catch (const std::exception& e) {
            throw LaneError(spec_.id + ": lane " + std::to_string(lane) + ": " + e.what());
          } catch (...) {
            throw LaneError(spec_.id + ": lane " + std::to_string(lane) + ": unknown exception");
          }
        },
        grain);
  }

  void step_lane(std::int64_t lane, const Action* action, std::int32_t limit) {
    Env& env = *lanes_[lane];
    LaneRng rng{seed_, static_cast<std::uint64_t>(lane), draws_[lane]};
    auto& log = log_[lane];
    log.insert(log.end(), action, action + Env::kActionDim);
    const StepOut r = env.step(action, rng);
    const bool done = record_lane_step(r.reward, r.terminated, limit, reward_[lane], terminated_[lane],
                                       truncated_[lane], elapsed_[lane], episode_return_[lane]);
    if (done || !skip_observations_) env.observe(obs_.data() + lane * Env::kObsDim);
    if (done) {  // same-step auto-reset
      if (!final_scenes_.empty())  // the ending look, for pixel observations (keep_final_pictures)
        describe(static_cast<std::int32_t>(lane), final_scenes_[static_cast<std::size_t>(lane)]);
      keep_final_episode<Obs>(buffers_, lane, Env::kObsDim);
      begin_episode(lane, rng);
      return;
    }
    draws_[lane] = rng.draws;
  }

  // A new episode for `lane` from `rng` (its stream where it stands): what an auto-reset and
  // reset_lanes do; the snapshot's replay starts from episode_draws_.
  void begin_episode(std::int64_t lane, LaneRng& rng) {
    episode_draws_[lane] = rng.draws;
    log_[lane].clear();
    lanes_[lane]->reset(rng);
    start_lane_episode(buffers_, lane);
    lanes_[lane]->observe(obs_.data() + lane * Env::kObsDim);
    draws_[lane] = rng.draws;
  }

  const Action* validate(const ActionBatch& batch) const {
    check_action_batch(spec_, num_envs_, Device::kCpu, batch);
    const Action* actions = static_cast<const Action*>(batch.data);
    const std::int64_t count = num_envs_ * static_cast<std::int64_t>(Env::kActionDim);
    for (std::int64_t i = 0; i < count; ++i) {
      bool bad;
      if constexpr (Env::kDiscrete)
        bad = actions[i] < 0 || actions[i] >= Env::kNumActions;
      else
        bad = !std::isfinite(actions[i]);
      if (bad) throw_invalid_action(spec_, i, static_cast<double>(actions[i]));
    }
    return actions;
  }

  struct LaneError : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  Params params_;
  std::int32_t max_episode_steps_;
  std::uint64_t seed_ = 0;
  std::unique_ptr<ThreadPool> pool_;
  const std::uint8_t* active_ = nullptr;      // set_active_lanes(): lanes that step (nullptr: all)
  bool skip_observations_ = false;             // skip_observations(): only ending lanes observe
  std::vector<std::unique_ptr<Env>> lanes_;
  std::vector<std::uint64_t> draws_;          // the lane's stream position now
  std::vector<std::uint64_t> episode_draws_;  // ... when its current episode began (before reset())
  std::vector<std::vector<Action>> log_;      // actions of the current episode (snapshots)
  std::vector<Obs> obs_, final_obs_;
  std::vector<float> reward_, episode_return_, final_return_;
  std::vector<std::uint8_t> terminated_, truncated_;
  std::vector<std::int32_t> elapsed_, final_length_;
  std::vector<Scene> final_scenes_;  // keep_final_pictures(): each lane's look when its last episode ended
};

template <class Env>
std::unique_ptr<VecEnv> make_cpu_env(const VecEnvConfig& config) {
  if (config.device != Device::kCpu)
    throw std::invalid_argument(std::string(Env::kId) + " runs on the CPU only (device " + to_string(config.device) +
                                " asked for)");
  std::int32_t max_episode_steps = Env::kMaxEpisodeSteps;
  const auto params = make_params<Env>(config.options, max_episode_steps);
  return std::make_unique<CpuVecEnv<Env>>(params, max_episode_steps, spec_with_options<Env>(config.options),
                                          config.num_envs, config.threads);
}

// Registers Env's id with its CPU back end; `origin` names who registered it (a plugin's path).
template <class Env>
void register_cpu_env(Registry& registry, const std::string& origin = "builtin") {
  registry.add(
      EnvEntry{Env::kId, &spec_with_options<Env>, {{Device::kCpu, &make_cpu_env<Env>}}, origin, &probe_cpu_rows<Env>});
}

}  // namespace apiary::envs
