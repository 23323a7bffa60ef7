// A batched environment: `num_envs` lanes of one env id on one device, stepped together. The batch
// buffers are structure-of-arrays by field, contiguous [num_envs, ...], allocated once by the back end
// on its device and written in place by every step (docs/custom-envs.md).
//
// Semantics are Gymnasium 1.x with same-step auto-reset: after step(), a lane whose episode ended
// (terminated or truncated) has already been reset; `obs` holds the new episode's first observation and
// `final_obs` the last observation of the episode that ended. `truncated` is set when the time limit is
// reached, also on a step that terminated (as Gymnasium's TimeLimit does): a learner bootstraps only
// where truncated && !terminated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "draw/canvas.h"
#include "envs/env_spec.h"
#include "envs/hd.h"
#include "envs/params.h"
#include "envs/scene.h"

namespace apiary::envs {

enum class Device : std::uint8_t { kCpu, kCuda };
std::string to_string(Device device);
// "cpu" or "cuda"; throws std::invalid_argument naming the value otherwise.
Device parse_device(const std::string& name);

enum class DType : std::uint8_t { kInt32, kFloat32 };

// A view of one step's actions: discrete envs take int32 [num_envs] (or [num_envs, 1]), continuous
// ones float32 [num_envs, action_dim]. `device` says where `data` lives.
struct ActionBatch {
  const void* data = nullptr;
  DType dtype = DType::kInt32;
  std::int64_t rows = 0;  // must equal num_envs
  std::int64_t cols = 1;  // must equal the action space's flat size
  Device device = Device::kCpu;

  static ActionBatch discrete(const std::int32_t* actions, std::int64_t num_envs, Device device = Device::kCpu) {
    return ActionBatch{actions, DType::kInt32, num_envs, 1, device};
  }
  static ActionBatch continuous(const float* actions, std::int64_t num_envs, std::int64_t action_dim,
                                Device device = Device::kCpu) {
    return ActionBatch{actions, DType::kFloat32, num_envs, action_dim, device};
  }
};

// Pointers into the env's buffers on its device, valid for the env's lifetime. Fields marked "where
// done" are written only for lanes whose episode ended on the last step and keep older values (NaN
// before any episode ended) elsewhere.
// Checks an action batch's pointer, dtype, shape and device against an env (the first half of every
// back end's validation); throws std::invalid_argument naming what is wrong. `env_device` is where
// the env lives: actions on the host are accepted for any env.
void check_action_batch(const EnvSpec& spec, std::int32_t num_envs, Device env_device, const ActionBatch& batch);
// Throws std::out_of_range for the action element `index` (flat), whose value is `value`.
[[noreturn]] void throw_invalid_action(const EnvSpec& spec, std::int64_t index, double value);

// Observations are in the observation space's dtype: `obs` and `final_obs` for float32 envs, `obs_u8`
// and `final_obs_u8` for uint8 ones (images); the other pair is null.
struct BatchBuffers {
  float* obs = nullptr;                  // [N, obs_dim]
  float* final_obs = nullptr;            // [N, obs_dim], where done
  float* reward = nullptr;               // [N]
  std::uint8_t* terminated = nullptr;    // [N] 0 or 1
  std::uint8_t* truncated = nullptr;     // [N] 0 or 1
  std::int32_t* elapsed = nullptr;       // [N] steps into the current episode (0 after a reset)
  float* episode_return = nullptr;       // [N] undiscounted return of the current episode so far
  float* final_return = nullptr;         // [N] return of the episode that ended, where done
  std::int32_t* final_length = nullptr;  // [N] length of the episode that ended, where done
  std::uint8_t* obs_u8 = nullptr;        // [N, obs_dim], uint8 envs
  std::uint8_t* final_obs_u8 = nullptr;  // [N, obs_dim], uint8 envs, where done

  // The observation pair of dtype T (float or std::uint8_t), for code templated on an env's Obs.
  template <class T>
  APIARY_HD T* observations() const {
    if constexpr (std::is_same_v<T, std::uint8_t>) return obs_u8; else return obs;
  }
  template <class T>
  APIARY_HD T* final_observations() const {
    if constexpr (std::is_same_v<T, std::uint8_t>) return final_obs_u8; else return final_obs;
  }
};

// Gymnasium's bookkeeping of one lane, written once for every back end (cpu_vec_env.h, thrust_vec_env.h).
// A step: its reward and flags, the episode's length and return so far; true when the episode ended
// (terminated, or `limit` steps reached). Element references, so a caller's restrict loop vectorises.
APIARY_HD bool record_lane_step(float reward, bool terminated, std::int32_t limit, float& reward_out,
                                       std::uint8_t& terminated_out, std::uint8_t& truncated_out,
                                       std::int32_t& elapsed, float& episode_return) {
  const std::int32_t t = elapsed + 1;
  elapsed = t;
  episode_return = episode_return + reward;
  reward_out = reward;
  terminated_out = terminated;
  truncated_out = t >= limit;
  return terminated | (t >= limit);
}

// The same-step auto-reset's record of `lane`'s ended episode: final observation, return and length.
template <class Obs>
APIARY_HD void keep_final_episode(const BatchBuffers& b, std::int64_t lane, int obs_dim) {
  const Obs* obs = b.observations<Obs>() + lane * obs_dim;
  Obs* final_obs = b.final_observations<Obs>() + lane * obs_dim;
  for (int i = 0; i < obs_dim; ++i) final_obs[i] = obs[i];
  b.final_return[lane] = b.episode_return[lane];
  b.final_length[lane] = b.elapsed[lane];
}

// A new episode's counters for `lane`; with `clear_step` (reset, reset_lanes) the last step's reward
// and flags are cleared too. The first observation is the env's to write.
APIARY_HD void start_lane_episode(const BatchBuffers& b, std::int64_t lane, bool clear_step = false) {
  b.elapsed[lane] = 0;
  b.episode_return[lane] = 0.0f;
  if (!clear_step) return;
  b.reward[lane] = 0.0f;
  b.terminated[lane] = 0;
  b.truncated[lane] = 0;
}

// Host copies of every buffer, for tests, tools and device back ends.
struct HostBatch {
  std::vector<float> obs, final_obs, reward, episode_return, final_return;
  std::vector<std::uint8_t> obs_u8, final_obs_u8;  // uint8 envs (obs and final_obs stay empty)
  std::vector<std::uint8_t> terminated, truncated;
  std::vector<std::int32_t> elapsed, final_length;
};

// Lane `lane`'s observation in `host` as floats, whichever dtype the env observes (uint8 pixels become
// their values 0..255, exactly); empty when the batch holds no such lane.
std::vector<float> observation_row(const HostBatch& host, std::int64_t lane, std::int64_t obs_dim);

// Copies buffers that live in host memory into `out` (host back ends' copy_to_host); the observations
// of whichever dtype the buffers hold.
void copy_host_buffers(const BatchBuffers& buffers, std::int32_t num_envs, std::int64_t obs_dim, HostBatch& out);

struct VecEnvConfig {
  std::int32_t num_envs = 1;
  Device device = Device::kCpu;
  std::int32_t threads = 0;  // CPU worker threads; 0: all hardware threads
  EnvOptions options;        // the env's Params by name, and max_episode_steps
};

// About how many bytes one lane of `spec` takes in a back end (its buffers and state), so that a
// batch too large for the machine is refused before anything is allocated.
double lane_bytes_estimate(const EnvSpec& spec);
// The machine's physical memory in bytes (0 when it cannot be read).
double physical_memory_bytes();

class ThreadPool;

// Draws each of `lanes` into its frame of `out` ([lanes.size(), height, width, 3] RGB): a Scene from
// describe_lane(lane, scene), then draw_scene(). On `pool`'s threads, or one by one where it is null.
// The back ends' render_lanes() call it after check_render().
void draw_scenes(ThreadPool* pool, const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out,
                 const std::function<void(std::int32_t lane, Scene& scene)>& describe_lane);

class VecEnv {
 public:
  virtual ~VecEnv() = default;
  VecEnv(const VecEnv&) = delete;
  VecEnv& operator=(const VecEnv&) = delete;

  const EnvSpec& spec() const { return spec_; }
  std::int32_t num_envs() const { return num_envs_; }
  Device device() const { return device_; }
  std::int32_t threads() const { return threads_; }
  virtual void set_threads(std::int32_t threads) = 0;

  // Seeds every lane's stream from (seed, lane), resets all lanes and writes `obs`.
  virtual void reset(std::uint64_t seed) = 0;
  // Steps every lane once. Throws std::invalid_argument (wrong shape, dtype or device) or
  // std::out_of_range (a discrete action outside the space, a non-finite continuous action) before
  // any lane moves. Continuous actions are clipped by the env as Gymnasium's envs clip them.
  virtual void step(const ActionBatch& actions) = 0;
  // For the following steps: lanes whose byte in `mask` ([N], host memory) is 0 need not move
  // (evaluation: lanes that owe no more episodes). A back end whose holds_lanes() is true keeps such a
  // lane exactly: state, random stream, counters and buffer rows stay as they were, and it never
  // finishes on such a step (Python's next-step autoreset relies on it). One that is not (a VecEnv
  // written by hand, whose default this is) may step every lane. nullptr: every lane steps. The mask
  // is read at each step and must outlive its use.
  virtual void set_active_lanes(const std::uint8_t* mask) { (void)mask; }
  // Whether set_active_lanes() holds lanes exactly (every bundled back end; see above).
  virtual bool holds_lanes() const { return false; }
  // For the following steps, with `skip` true: nobody will read this step's observations of lanes
  // whose episode goes on (frame_skip.h's frames before a decision's last), so a back end may leave
  // those rows as they were and save drawing them (the thread pool does: CarRacing's picture). A lane
  // whose episode ends still writes its final_obs and its new episode's first observation. Never
  // changes rewards, flags or states. This default writes every row anyway.
  virtual void skip_observations(bool skip) { (void)skip; }
  // Lanes whose byte in `mask` ([N], host memory) is not 0 begin a new episode now, drawn from their
  // own continuing random stream as a same-step auto-reset draws it: elapsed steps and the episode
  // return are zeroed, reward 0, both flags 0, the observation written. Other lanes are untouched.
  // (Python's reset(options={"reset_mask": ...}).) The default throws std::logic_error naming the env.
  // (Inline, as every virtual here: a key function would put VecEnv's type info in one library only,
  // where plugins cannot find it.)
  virtual void reset_lanes(const std::uint8_t* mask) {
    (void)mask;
    throw std::logic_error(spec_.id + ": this back end cannot reset single lanes (reset_lanes); reset every lane "
                           "with reset(seed)");
  }
  const BatchBuffers& buffers() const { return buffers_; }
  virtual void copy_to_host(HostBatch& out) const = 0;

  // The raw physics state, kStateDim floats per lane, for tests, painters and tools.
  virtual std::int32_t state_dim() const = 0;
  virtual std::vector<float> get_states() const = 0;
  // Overwrites every lane's state ([N, state_dim]) and its observation; leaves counters alone.
  virtual void set_states(const std::vector<float>& states) = 0;

  // Everything that decides the lanes' future: physics states, random-stream counters, episode
  // counters and the buffers, as bytes (for checkpoints: a resumed run continues exactly).
  virtual std::vector<std::uint8_t> save_snapshot() const = 0;
  // Restores save_snapshot()'s bytes; throws std::invalid_argument if they are for another env id,
  // lane count or layout.
  virtual void load_snapshot(const std::vector<std::uint8_t>& bytes) = 0;

  // ---- pictures (envs/scene.h) ---------------------------------------------------------------------
  // Fills `scene` with lane `lane`'s picture and returns true; an env that has no picture returns
  // false. Throws std::out_of_range for a bad lane.
  virtual bool describe(std::int32_t lane, Scene& scene) const {
    (void)lane;
    (void)scene;
    return false;
  }
  // Adds the look of a lane's last action (its row, as floats) to the Scene describe() filled:
  // Pendulum's torque arrow. The env's state does not hold the action, so only a caller that kept it
  // (`apiary play`) can ask; most envs draw nothing for it.
  virtual void describe_action(const std::vector<float>& action, Scene& scene) const {
    (void)action;
    (void)scene;
  }
  // Whether describe() gives a picture (checked before render_lanes() draws anything). The bundled
  // back ends know it from the env's type; this default asks lane 0.
  virtual bool has_picture() const {
    Scene scene;
    return num_envs_ > 0 && describe(0, scene);
  }
  // The size of the picture at its native scale, Gymnasium's window (what `apiary play` shows).
  virtual PictureSize picture_size() const { return PictureSize{}; }
  // Draws lane `lane` over the whole canvas (describe(), then draw_scene()) and returns true; false,
  // leaving the canvas alone, when the env has no picture. Throws std::out_of_range for a bad lane.
  bool draw_lane(std::int32_t lane, draw::Canvas& canvas) const;
  // The pictures of `lanes` (any of 0..num_envs-1, in any order, repeats allowed), `height` x `width`
  // pixels each, into `out`: [lanes.size(), height, width, 3] uint8 RGB, host memory. Everything is
  // checked before a pixel is written: std::out_of_range names a lane outside the env,
  // std::invalid_argument a size outside 1..16384, a null `out` with lanes to draw, or an env without a
  // picture. The bundled back ends draw the lanes on their threads (a device env on the host, from one
  // copy of its states); the bytes are the same for any thread count. This default draws one by one.
  virtual void render_lanes(const std::vector<std::int32_t>& lanes, int height, int width,
                            std::uint8_t* out) const {
    check_render(lanes, height, width, out);
    draw_scenes(nullptr, lanes, height, width, out, [this](std::int32_t lane, Scene& scene) { describe(lane, scene); });
  }
  // Every lane in order: `out` is [num_envs, height, width, 3].
  void render(int height, int width, std::uint8_t* out) const;
  // Pictures of episodes' ends, for an env that observes its own picture (envs/pixels.h), whose
  // final_obs must show the episode's last state, not the new episode the same-step auto-reset began.
  // keep_final_pictures(true) asks the back end to keep, from the next step on, the look of each lane
  // whose episode ends, before it resets; it returns whether it can (this default: it cannot). Then
  // render_final_lanes() draws those kept looks as render_lanes() draws lanes, for lanes that ended on
  // the last step (another lane shows the end it kept before, or nothing drawn yet). Throws
  // std::logic_error where nothing is kept.
  virtual bool keep_final_pictures(bool keep) {
    (void)keep;
    return false;
  }
  virtual void render_final_lanes(const std::vector<std::int32_t>& lanes, int height, int width,
                                  std::uint8_t* out) const {
    (void)lanes;
    (void)height;
    (void)width;
    (void)out;
    throw std::logic_error(spec_.id + ": this back end keeps no pictures of episodes' ends (keep_final_pictures)");
  }

 protected:
  // render_lanes()'s checks (see there); throws before anything is drawn.
  void check_render(const std::vector<std::int32_t>& lanes, int height, int width, const std::uint8_t* out) const;

  VecEnv(EnvSpec spec, std::int32_t num_envs, Device device, std::int32_t threads)
      : spec_(std::move(spec)), num_envs_(num_envs), device_(device), threads_(threads) {}
  EnvSpec spec_;
  std::int32_t num_envs_;
  Device device_;
  std::int32_t threads_;
  BatchBuffers buffers_;
};

// A VecEnv over another that it owns (frame stacking, dropping velocities, pixels, a plugin's forwarding):
// the lanes are the inner env's, and so are their threads, held lanes, states and pictures, forwarded
// here once for every wrapper.
class WrappingVecEnv : public VecEnv {
 public:
  void set_threads(std::int32_t threads) override {
    inner_->set_threads(threads);
    threads_ = inner_->threads();
  }
  void set_active_lanes(const std::uint8_t* mask) override {
    active_ = mask;
    inner_->set_active_lanes(mask);
  }
  bool holds_lanes() const override { return inner_->holds_lanes(); }
  void skip_observations(bool skip) override { inner_->skip_observations(skip); }
  std::int32_t state_dim() const override { return inner_->state_dim(); }
  std::vector<float> get_states() const override { return inner_->get_states(); }
  bool describe(std::int32_t lane, Scene& scene) const override { return inner_->describe(lane, scene); }
  void describe_action(const std::vector<float>& action, Scene& scene) const override {
    inner_->describe_action(action, scene);
  }
  bool has_picture() const override { return inner_->has_picture(); }
  PictureSize picture_size() const override { return inner_->picture_size(); }
  void render_lanes(const std::vector<std::int32_t>& lanes, int height, int width, std::uint8_t* out) const override {
    inner_->render_lanes(lanes, height, width, out);
  }
  bool keep_final_pictures(bool keep) override { return inner_->keep_final_pictures(keep); }
  void render_final_lanes(const std::vector<std::int32_t>& lanes, int height, int width,
                          std::uint8_t* out) const override {
    inner_->render_final_lanes(lanes, height, width, out);
  }

 protected:
  // `spec` is the wrapper's own, computed from the inner env's: `inner` is taken by reference, so that it
  // is moved here only after every argument is evaluated.
  WrappingVecEnv(EnvSpec spec, std::unique_ptr<VecEnv>&& inner)
      : VecEnv(std::move(spec), inner->num_envs(), inner->device(), inner->threads()), inner_(std::move(inner)) {}
  // Whether `lane` moves on the next step (set_active_lanes(): a held lane keeps its rows).
  bool steps(std::int32_t lane) const { return active_ == nullptr || active_[lane] != 0; }
  // For a wrapper whose work is on the host: throws std::invalid_argument "ID`what`; the env runs on
  // DEVICE" where the inner env is not on the CPU.
  void require_host(const std::string& what) const {
    if (inner_->device() != Device::kCpu)
      throw std::invalid_argument(spec_.id + what + "; the env runs on " + to_string(inner_->device()));
  }
  std::unique_ptr<VecEnv> inner_;
  const std::uint8_t* active_ = nullptr;  // set_active_lanes()'s mask (host), null: every lane steps
};

}  // namespace apiary::envs
