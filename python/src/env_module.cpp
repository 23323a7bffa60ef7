// _apiary: Apiary's batched environments for Python (docs/python.md). The pure-Python package
// (python/apiary/) wraps VecCore in a Gymnasium 1.x VectorEnv and builds the spaces; everything that
// runs per step is here, so that one step() is one call into C++.
//
// Batch buffers reach Python as numpy views (no copy per step): every view holds a reference to the
// C++ env, so its memory outlives close() for as long as a view exists, but its contents are those of
// the latest step. No LibTorch in this file (the policy and training binding is _apiary_torch).
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "numpy_text.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "envs/params.h"
#include "envs/plugin_loader.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "envs/thread_pool.h"
#include "envs/vec_env.h"

namespace py = pybind11;

namespace apiary::python {

namespace {

using envs::ActionBatch;
using envs::EnvSpec;
using envs::Space;
using envs::VecEnv;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// splitmix64: the seed of the next reset() that is given none (a fresh, reproducible set of episodes).
std::uint64_t next_seed(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t parse_seed(const py::handle& seed, const std::string& env_id) {
  if (py::isinstance<py::bool_>(seed) || !py::isinstance<py::int_>(seed))
    throw py::type_error(env_id + ": seed must be an int or None, got " +
                         std::string(py::str(py::type::of(seed).attr("__name__"))));
  const unsigned long long value = PyLong_AsUnsignedLongLong(seed.ptr());  // refuses < 0 and >= 2**64
  if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(env_id + ": seed must be in [0, 2**64), got " + std::string(py::str(seed)));
  }
  return static_cast<std::uint64_t>(value);
}

// The env's buffers as numpy arrays that keep the env alive.
class Views {
 public:
  explicit Views(const std::shared_ptr<VecEnv>& env) {
    const EnvSpec& spec = env->spec();
    const auto n = static_cast<py::ssize_t>(env->num_envs());
    // The owner: a capsule holding a reference to the env, the base of every view.
    auto* keep = new std::shared_ptr<VecEnv>(env);
    py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<VecEnv>*>(p); });
    obs_shape = {n};
    for (auto d : spec.observation_space.shape) obs_shape.push_back(static_cast<py::ssize_t>(d));
    const envs::BatchBuffers& b = env->buffers();
    // Observations in the env's dtype: float32, or uint8 for images (never widened).
    if (spec.observation_space.is_uint8()) {
      obs = py::array(py::dtype::of<std::uint8_t>(), obs_shape, b.obs_u8, owner);
      final_obs = py::array(py::dtype::of<std::uint8_t>(), obs_shape, b.final_obs_u8, owner);
    } else {
      obs = py::array(py::dtype::of<float>(), obs_shape, b.obs, owner);
      final_obs = py::array(py::dtype::of<float>(), obs_shape, b.final_obs, owner);
    }
    reward = py::array(py::dtype::of<float>(), {n}, b.reward, owner);
    // uint8 0/1 read as numpy bool (one byte, 0 or 1): the same memory, no conversion.
    terminated = py::array(py::dtype("bool"), {n}, b.terminated, owner);
    truncated = py::array(py::dtype("bool"), {n}, b.truncated, owner);
  }
  py::array obs, final_obs, reward, terminated, truncated;
  std::vector<py::ssize_t> obs_shape;
};

// A fresh C-contiguous copy of `a` (a view of a buffer, or a mask).
py::array copy_of(const py::array& a) {
  py::array out(a.dtype(), std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  std::memcpy(out.mutable_data(), a.data(), static_cast<std::size_t>(a.nbytes()));
  return out;
}

py::dict space_dict(const Space& space) {
  py::dict d;
  if (space.is_discrete()) {
    d["kind"] = "discrete";
    d["n"] = space.n;
    d["start"] = space.start;
  } else {
    d["kind"] = "box";
    std::vector<py::ssize_t> shape(space.shape.begin(), space.shape.end());
    d["shape"] = py::tuple(py::cast(shape));
    py::array_t<float> low(shape), high(shape);
    std::memcpy(low.mutable_data(), space.low.data(), space.low.size() * sizeof(float));
    std::memcpy(high.mutable_data(), space.high.data(), space.high.size() * sizeof(float));
    d["low"] = low;
    d["high"] = high;
    d["dtype"] = envs::to_string(space.dtype);  // "float32" or "uint8"
  }
  return d;
}

py::dict spec_dict(const EnvSpec& spec) {
  py::dict d;
  d["id"] = spec.id;
  d["observation_space"] = space_dict(spec.observation_space);
  d["action_space"] = space_dict(spec.action_space);
  d["max_episode_steps"] = spec.max_episode_steps;
  d["reward_threshold"] = spec.reward_threshold ? py::cast(*spec.reward_threshold) : py::none();
  return d;
}

envs::EnvOptions parse_options(const std::string& env_id, const py::handle& options) {
  envs::EnvOptions out;
  if (options.is_none()) return out;
  if (!py::isinstance<py::dict>(options))
    throw py::type_error(env_id + ": options must be a dict of option name to number, got " +
                         std::string(py::str(py::type::of(options).attr("__name__"))));
  for (auto item : py::reinterpret_borrow<py::dict>(options)) {
    if (!py::isinstance<py::str>(item.first))
      throw py::type_error(env_id + ": option names must be strings, got " + std::string(py::repr(item.first)));
    const auto name = item.first.cast<std::string>();
    const py::handle v = item.second;
    // A bool is the flag it names, as YAML's true / false are (pixels, observe_velocity, continuous).
    if (!(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v) || py::hasattr(v, "__float__")))
      throw py::type_error(env_id + ": option '" + name + "' must be a number (or True / False), got " +
                           std::string(py::repr(v)));
    out[name] = py::float_(py::reinterpret_borrow<py::object>(v)).cast<double>();
  }
  return out;
}

// Calls f(i) for every i in [0, n) where flags[i] (bytes 0 or 1) is set, eight bytes at a time: a
// few lanes in a hundred end on a step, and most words are zero.
template <class F>
void for_each_set_byte(const std::uint8_t* flags, py::ssize_t n, const F& f) {
  py::ssize_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, flags + i, sizeof word);
    while (word != 0) {  // byte k set: bit 8k (little-endian)
      f(i + (__builtin_ctzll(word) >> 3));
      word &= word - 1;
    }
  }
#endif
  for (; i < n; ++i)
    if (flags[i]) f(i);
}

// The flags and float64 rewards of a next-step autoreset step (VecCore::step_next): a held lane
// (`act[i]` 0; `act` null: none held) shows reward 0 and no ending. Returns whether some lane ended.
// Branch-free on restrict parameters so that GCC vectorises both forms: numpy's bools are bytes 0 and
// 1, as the env's flags are.
bool next_step_flags(const envs::BatchBuffers& b, const std::uint8_t* __restrict act, py::ssize_t n,
                     std::uint8_t* __restrict term, std::uint8_t* __restrict trunc, std::uint8_t* __restrict end,
                     double* __restrict reward) {
  const std::uint8_t* __restrict bterm = b.terminated;
  const std::uint8_t* __restrict btrunc = b.truncated;
  const float* __restrict brew = b.reward;
  // Separate loops of one element width each: GCC vectorises every one of them.
  for (py::ssize_t i = 0; i < n; ++i) reward[i] = static_cast<double>(brew[i]);
  if (act == nullptr) {
    for (py::ssize_t i = 0; i < n; ++i) {
      term[i] = bterm[i];
      trunc[i] = btrunc[i];
    }
  } else {
    for (py::ssize_t i = 0; i < n; ++i) {
      term[i] = bterm[i] & act[i];
      trunc[i] = btrunc[i] & act[i];
    }
    for (py::ssize_t i = 0; i < n; ++i) reward[i] = act[i] ? reward[i] : 0.0;
  }
  std::uint8_t any = 0;
  for (py::ssize_t i = 0; i < n; ++i) {
    end[i] = term[i] | trunc[i];
    any |= end[i];
  }
  return any != 0;
}

// The batched env behind apiary.VectorEnv.
class VecCore {
 public:
  VecCore(const std::string& env_id, std::int64_t num_envs, const py::object& seed, std::int32_t threads,
          const py::object& options, bool copy, bool episode_stats)
      : copy_(copy), episode_stats_(episode_stats) {
    if (threads < 0) throw py::value_error(env_id + ": threads must be 0 (every core) or more, got " + std::to_string(threads));
    if (num_envs < 1 || num_envs > kMaxNumEnvs)
      throw py::value_error(env_id + ": num_envs must be in [1, 2**24] (16777216, as the command line's --num-envs), got " +
                            std::to_string(num_envs));
    if (!seed.is_none()) initial_seed_ = parse_seed(seed, env_id);
    envs::VecEnvConfig config;
    config.num_envs = static_cast<std::int32_t>(num_envs);
    config.threads = threads;
    config.options = parse_options(env_id, options);
    check_memory(env_id, num_envs, config);
    {
      py::gil_scoped_release release;  // Box2D worlds for thousands of lanes take a moment
      env_ = envs::make_env(env_id, config);
    }
    spec_ = env_->spec();
    views_ = std::make_unique<Views>(env_);
    const auto n = static_cast<std::size_t>(num_envs);
    if (spec_.action_space.is_discrete())
      discrete_.assign(n, 0);
    else
      continuous_.assign(n * static_cast<std::size_t>(spec_.action_dim()), 0.0f);
    episode_start_.assign(n, now_seconds());
    done_.assign(n, 0);
    action_shape_ = {static_cast<py::ssize_t>(num_envs)};
    if (!spec_.action_space.is_discrete())
      for (auto d : spec_.action_space.shape) action_shape_.push_back(static_cast<py::ssize_t>(d));
  }

  static constexpr std::int64_t kMaxNumEnvs = std::int64_t{1} << 24;

  // Refuses, before the lanes are made, more lanes than the memory available can hold: MemoryError
  // naming the bytes needed and available. A lane's size is the buffers' estimate, or what 256 lanes
  // of this env were measured to take where that is more (a Box2D lane holds a world of its own,
  // 100-200 kB); small batches are not measured.
  static void check_memory(const std::string& env_id, std::int64_t num_envs, const envs::VecEnvConfig& config) {
    double per_lane = envs::lane_bytes_estimate(envs::env_spec(env_id, config.options));
    const double have = available_memory_bytes();
    if (have <= 0 || per_lane * static_cast<double>(num_envs) <= 0.1 * have) return;
    constexpr std::int32_t kProbe = 256;
    if (num_envs > kProbe) {
      envs::VecEnvConfig probe = config;
      probe.num_envs = kProbe;
      const double before = resident_bytes();
      {
        auto env = envs::make_env(env_id, probe);
        env->reset(0);
        per_lane = std::max(per_lane, (resident_bytes() - before) / kProbe);
      }
    }
    const double need = per_lane * static_cast<double>(num_envs);
    if (need <= 0.8 * have) return;
    std::ostringstream os;
    os.precision(3);
    os << env_id << ": " << num_envs << " lanes need about " << need / (1 << 30) << " GiB (" << static_cast<std::uint64_t>(need)
       << " bytes, " << static_cast<std::uint64_t>(per_lane) << " a lane), more than 80 % of the "
       << have / (1 << 30) << " GiB (" << static_cast<std::uint64_t>(have) << " bytes) available; use fewer lanes";
    PyErr_SetString(PyExc_MemoryError, os.str().c_str());
    throw py::error_already_set();
  }

  // MemAvailable of /proc/meminfo, else the physical memory.
  static double available_memory_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    double kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
      if (key == "MemAvailable:") return kb * 1024.0;
    return envs::physical_memory_bytes();
  }
  // This process's resident set (/proc/self/statm), in bytes.
  static double resident_bytes() {
    std::ifstream in("/proc/self/statm");
    double size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  }

  const EnvSpec& spec() const { return spec_; }
  std::int32_t num_envs() const { return static_cast<std::int32_t>(episode_start_.size()); }
  bool closed() const { return env_ == nullptr; }

  std::int32_t threads() const { return live().threads(); }
  void set_threads(std::int32_t threads) {
    if (threads < 0) throw py::value_error(spec_.id + ": threads must be 0 (every core) or more, got " + std::to_string(threads));
    Lock lock(*this, "set threads");
    live().set_threads(threads);
  }

  // (obs, info). seed None: the seed given to make_vec on the first reset, else a fresh seed drawn
  // from the previous one (or from the system's entropy if there never was one).
  py::tuple reset(const py::object& seed, const py::object& options) {
    if (!options.is_none() && !(py::isinstance<py::dict>(options) && py::len(options) == 0))
      throw py::value_error(spec_.id + ": reset() takes no options (env options are set by make_vec(options=...)); got " +
                            std::string(py::repr(options)));
    std::uint64_t s;
    if (!seed.is_none()) {
      if (py::isinstance<py::list>(seed) || py::isinstance<py::tuple>(seed))
        throw py::type_error(spec_.id + ": reset(seed=...) takes one int: lane i's stream is derived from (seed, i)");
      s = parse_seed(seed, spec_.id);
    } else if (last_seed_) {
      s = next_seed(*last_seed_);
    } else if (initial_seed_) {
      s = *initial_seed_;
    } else {
      std::random_device device;
      s = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }
    {
      Lock lock(*this, "reset()");
      py::gil_scoped_release release;
      live().reset(s);
    }
    last_seed_ = s;
    episode_start_.assign(episode_start_.size(), now_seconds());
    return py::make_tuple(out(views_->obs), py::dict());
  }

  // hold: None, or [num_envs] booleans; a held lane does not move (Python's next-step autoreset shows a
  // new episode's first observation one step late): its observation row keeps its value, its reward
  // and flags read 0, and it is never reported as finished.
  py::tuple step(const py::handle& actions, const py::object& hold) {
    Lock lock(*this, "step()");
    const bool holding = advance(actions, hold);
    py::dict step_info = info(holding ? active_.data() : nullptr);
    if (holding) {  // a held lane's reward and flags are those of the step before: not this step's
      const envs::BatchBuffers& b = env_->buffers();
      for (std::size_t i = 0; i < active_.size(); ++i)
        if (!active_[i]) {
          b.reward[i] = 0.0f;
          b.terminated[i] = 0;
          b.truncated[i] = 0;
        }
    }
    return py::make_tuple(out(views_->obs), out(views_->reward), out(views_->terminated), out(views_->truncated),
                          step_info);
  }

  // The next-step (and disabled) autoreset step of apiary.VectorEnv with copies, in one pass over the
  // lanes: lanes in `hold` (those that ended on the step before) do not move and show their new
  // episode's first observation with reward 0 and flags false; lanes that end now show their final
  // observation. Returns fresh (obs, reward float64, terminated, truncated, info, ended, final_obs):
  // info holds episode / _episode with episode_stats, else nothing; `ended` ([N] bool) and final_obs
  // (a view of the final-observation buffer) are None when no lane ended.
  py::tuple step_next(const py::handle& actions, const py::object& hold) {
    Lock lock(*this, "step()");
    const bool holding = advance(actions, hold);
    const envs::BatchBuffers& b = env_->buffers();
    const auto n = static_cast<py::ssize_t>(num_envs());
    py::array obs = copy_of(views_->obs);
    py::array_t<double> reward(n);
    py::array_t<bool> terminated(n), truncated(n), ended(n);
    double* r = reward.mutable_data();
    // numpy's bools are bytes 0 and 1, as the env's flags are: written as bytes.
    auto* term = reinterpret_cast<std::uint8_t*>(terminated.mutable_data());
    auto* trunc = reinterpret_cast<std::uint8_t*>(truncated.mutable_data());
    auto* end = reinterpret_cast<std::uint8_t*>(ended.mutable_data());
    const std::uint8_t* act = holding ? active_.data() : nullptr;
    const bool any = next_step_flags(b, act, n, term, trunc, end, r);
    if (!any) return py::make_tuple(obs, reward, terminated, truncated, py::dict(), py::none(), py::none());
    // The lanes that ended show their final observations.
    const std::size_t row = static_cast<std::size_t>(obs.nbytes() / n);
    auto* dst = static_cast<std::uint8_t*>(obs.mutable_data());
    const auto* src = static_cast<const std::uint8_t*>(views_->final_obs.data());
    for_each_set_byte(end, n, [&](py::ssize_t i) { std::memcpy(dst + i * row, src + i * row, row); });
    py::dict step_info;
    if (episode_stats_) {
      py::dict full = info(act);
      step_info[keys().episode] = full[keys().episode];
      step_info[keys().episode_mask] = full[keys().episode_mask];
    }
    return py::make_tuple(obs, reward, terminated, truncated, step_info, ended, views_->final_obs);
  }

  // Lanes where `mask` is true begin a new episode from their own continuing streams; (obs, {}).
  py::tuple reset_lanes(const py::object& mask) {
    Lock lock(*this, "reset_lanes()");
    if (!last_seed_) throw py::value_error(spec_.id + ": reset_lanes() before reset(); call reset() first");
    read_mask(mask, "reset_mask", active_);
    try {
      py::gil_scoped_release release;
      env_->reset_lanes(active_.data());
    } catch (const std::logic_error& e) {
      throw py::value_error(e.what());
    }
    const double now = now_seconds();
    for (std::size_t i = 0; i < active_.size(); ++i)
      if (active_[i]) episode_start_[i] = now;
    return py::make_tuple(out(views_->obs), py::dict());
  }

  // Everything that decides the lanes' future (VecEnv::save_snapshot), as bytes.
  py::bytes snapshot() const {
    const std::vector<std::uint8_t> bytes = live().save_snapshot();
    return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  // Restores snapshot()'s bytes (of an env of the same id, lanes and options); `seed` is what the
  // snapshotted env's last reset used (the next seedless reset() draws from it).
  void load_snapshot(const py::bytes& data, const py::object& seed) {
    Lock lock(*this, "load_snapshot()");
    const std::string text = data;
    try {
      env_->load_snapshot(std::vector<std::uint8_t>(text.begin(), text.end()));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    last_seed_ = seed.is_none() ? initial_seed_.value_or(0) : parse_seed(seed, spec_.id);  // step() may follow
    episode_start_.assign(episode_start_.size(), now_seconds());
  }

  void close() {
    if (!env_) return;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> wait(mutex_);  // a step in another thread ends first
    }
    views_.reset();  // the buffers live on while the user holds views of them
    env_.reset();
  }

  // The last seed reset() used (None before the first reset).
  py::object seed() const { return last_seed_ ? py::cast(*last_seed_) : py::none(); }

  // Every lane's picture, [N, height, width, 3] uint8 RGB (VecEnv::render: drawn on the env's threads).
  py::array render(int height, int width) {
    Lock lock(*this, "render()");
    VecEnv& env = live();
    if (!env.has_picture())
      throw py::value_error(spec_.id + ": this env has no picture to render (it describes no Scene)");
    const py::ssize_t n = env.num_envs();
    py::array_t<std::uint8_t> frames({n, static_cast<py::ssize_t>(height), static_cast<py::ssize_t>(width), py::ssize_t{3}});
    std::uint8_t* data = frames.mutable_data();
    try {
      py::gil_scoped_release release;
      env.render(height, width, data);
    } catch (const std::out_of_range& e) {
      throw py::value_error(e.what());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    return frames;
  }
  // The picture's native size (width, height): Gymnasium's window, what render() draws by default.
  py::tuple picture_size() const {
    const envs::PictureSize size = live().picture_size();
    return py::make_tuple(size.width, size.height);
  }
  bool has_picture() const { return live().has_picture(); }

 private:
  // One call at a time per env: a second thread gets an error instead of a data race.
  struct Lock {
    Lock(VecCore& core, const char* what) : lock(core.mutex_, std::try_to_lock) {
      core.live();
      if (!lock.owns_lock())
        throw std::runtime_error(core.spec_.id + ": " + what + " while another thread is using this env");
    }
    std::unique_lock<std::mutex> lock;
  };

  VecEnv& live() const {
    if (!env_) throw std::runtime_error(spec_.id + ": the env is closed (close() was called)");
    return *env_;
  }

  py::object out(const py::array& view) const { return copy_ ? py::object(copy_of(view)) : py::object(view); }

  [[noreturn]] void wrong_shape(const py::array& a) const {
    throw py::value_error(spec_.id + ": actions of shape " + shape_string(a) + ", expected " +
                          shape_string(action_shape_) + " for " + std::to_string(num_envs()) + " lanes of " +
                          spec_.action_space.to_string());
  }

  // One step of the env with the lanes in `hold` (None: none) held; true when some were. The caller
  // holds the Lock.
  bool advance(const py::handle& actions, const py::object& hold) {
    if (!last_seed_) throw py::value_error(spec_.id + ": step() before reset(); call reset() first");
    const ActionBatch batch = read_actions(actions);
    const bool holding = !hold.is_none();
    if (holding) {
      read_mask(hold, "hold", active_);
      if (!env_->holds_lanes())
        throw py::value_error(spec_.id + ": this env's back end cannot hold lanes (a VecEnv written by hand); use "
                              "autoreset_mode=SAME_STEP");
      for (auto& v : active_) v = !v;
    }
    py::gil_scoped_release release;
    env_->set_active_lanes(holding ? active_.data() : nullptr);
    try {
      env_->step(batch);
    } catch (...) {
      env_->set_active_lanes(nullptr);
      throw;
    }
    env_->set_active_lanes(nullptr);
    return holding;
  }

  // A [num_envs] array-like of booleans (bool or integer 0/1) into `out` as bytes 0/1; ValueError
  // naming `what` for another shape, TypeError for another dtype.
  void read_mask(const py::object& mask, const char* what, std::vector<std::uint8_t>& out) const {
    py::array a = py::array::ensure(mask);
    if (!a) throw py::type_error(spec_.id + ": " + what + " must be an array of booleans");
    const char kind = a.dtype().kind();
    if (kind == 'b' && a.ndim() == 1 && a.shape(0) == num_envs() && (a.flags() & py::array::c_style)) {
      const auto* p = static_cast<const std::uint8_t*>(a.data());  // numpy bools are bytes 0 and 1
      out.assign(p, p + num_envs());
      return;
    }
    if (kind != 'b' && kind != 'i' && kind != 'u')
      throw py::type_error(spec_.id + ": " + what + " must be booleans, got dtype " + std::string(py::str(a.dtype())));
    if (a.ndim() != 1 || a.shape(0) != num_envs())
      throw py::value_error(spec_.id + ": " + what + " of shape " + shape_string(a) + ", expected (" +
                            std::to_string(num_envs()) + ",)");
    auto b = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(a.attr("astype")("bool"));
    out.assign(b.data(), b.data() + num_envs());
    for (auto& v : out) v = v != 0;
  }

  // Checks an array-like of actions and copies it into the env's action buffer (so that no other
  // Python thread can change it while the env steps without the GIL).
  ActionBatch read_actions(const py::handle& actions) {
    py::array a = py::array::ensure(actions);
    if (!a) {
      PyErr_Clear();
      throw py::type_error(spec_.id + ": actions must be an array-like of numbers, got " +
                           std::string(py::str(py::type::of(actions).attr("__name__"))));
    }
    const char kind = a.dtype().kind();
    const auto n = static_cast<py::ssize_t>(num_envs());
    if (spec_.action_space.is_discrete()) {
      if (kind != 'i' && kind != 'u')
        throw py::type_error(spec_.id + ": actions for " + spec_.action_space.to_string() +
                             " must be integers, got dtype " + std::string(py::str(a.dtype())));
      // [num_envs], or [num_envs, 1] as the C++ back ends also take.
      if (!((a.ndim() == 1 && a.shape(0) == n) || (a.ndim() == 2 && a.shape(0) == n && a.shape(1) == 1)))
        wrong_shape(a);
      const std::size_t size = a.dtype().itemsize();
      if (kind == 'i') {
        if (size == 1) read_discrete<std::int8_t>(a);
        else if (size == 2) read_discrete<std::int16_t>(a);
        else if (size == 4) read_discrete<std::int32_t>(a);
        else read_discrete<std::int64_t>(a);
      } else {
        if (size == 1) read_discrete<std::uint8_t>(a);
        else if (size == 2) read_discrete<std::uint16_t>(a);
        else if (size == 4) read_discrete<std::uint32_t>(a);
        else read_discrete<std::uint64_t>(a);
      }
      return ActionBatch::discrete(discrete_.data(), n);
    }
    if (kind != 'f' && kind != 'i' && kind != 'u')
      throw py::type_error(spec_.id + ": actions for " + spec_.action_space.to_string() +
                           " must be real numbers, got dtype " + std::string(py::str(a.dtype())));
    bool shape_ok = a.ndim() == static_cast<py::ssize_t>(action_shape_.size());
    for (py::ssize_t d = 0; shape_ok && d < a.ndim(); ++d) shape_ok = a.shape(d) == action_shape_[d];
    if (!shape_ok) wrong_shape(a);
    auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
    const float* p = f.data();
    const std::int64_t dim = spec_.action_dim();
    for (std::int64_t i = 0; i < n * dim; ++i) {
      if (!std::isfinite(p[i])) translate_invalid(i, static_cast<double>(p[i]));
      continuous_[i] = p[i];
    }
    return ActionBatch::continuous(continuous_.data(), n, dim);
  }

  // Integer actions of type T into discrete_, each checked against the space (one vectorisable pass;
  // the lane at fault is searched for only when there is one).
  template <class T>
  void read_discrete(const py::array& a) {
    auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
    const T* __restrict p = c.data();
    std::int32_t* __restrict out = discrete_.data();
    const std::size_t n = discrete_.size();
    const std::int64_t lo = spec_.action_space.start, count = spec_.action_space.n;
    // Offsets from the space's start: valid when every one is below 2^31 (no bit above 30 set in
    // any, as uint64) and the largest, read as int32, is below n. Both reductions vectorise on the
    // baseline instruction set, where 64-bit integer min/max would not.
    std::uint64_t high_bits = 0;
    std::int32_t largest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t offset = static_cast<std::uint64_t>(static_cast<std::int64_t>(p[i])) - static_cast<std::uint64_t>(lo);
      high_bits |= offset >> 31;
      largest = std::max(largest, static_cast<std::int32_t>(offset));
      out[i] = static_cast<std::int32_t>(p[i]);
    }
    const std::int64_t hi = lo + count;
    auto outside = [&](T v) {
      if constexpr (std::is_unsigned_v<T>)
        return static_cast<std::uint64_t>(v) >= static_cast<std::uint64_t>(hi) || static_cast<std::int64_t>(v) < lo;
      else
        return static_cast<std::int64_t>(v) < lo || static_cast<std::int64_t>(v) >= hi;
    };
    if (high_bits != 0 || largest >= count)
      for (std::size_t i = 0; i < n; ++i)
        if (outside(p[i])) translate_invalid(static_cast<std::int64_t>(i), static_cast<double>(p[i]));
  }

  // The back ends' own message ("ID: action V at lane L is outside SPACE"), as a ValueError.
  [[noreturn]] void translate_invalid(std::int64_t index, double value) const {
    try {
      envs::throw_invalid_action(spec_, index, value);
    } catch (const std::out_of_range& e) {
      throw py::value_error(e.what());
    }
  }

  // Gymnasium's same-step info: {} when no lane finished; otherwise final_obs / _final_obs,
  // final_info / _final_info and (RecordEpisodeStatistics' layout) episode / _episode. This runs on
  // most steps of a wide env, so it touches only the lanes that finished beyond one pass over the flags.
  // `active` (null: every lane): lanes that stepped; a held lane's stale flags are not an ending.
  py::dict info(const std::uint8_t* active = nullptr) {
    const envs::BatchBuffers& b = env_->buffers();
    const std::size_t n = episode_start_.size();
    const std::uint8_t* __restrict terminated = b.terminated;
    const std::uint8_t* __restrict truncated = b.truncated;
    ended_.resize(n);
    std::uint8_t* __restrict ended = ended_.data();
    std::uint8_t any = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ended[i] = (terminated[i] | truncated[i]) & (active == nullptr ? 1 : active[i]);
      any |= ended[i];
    }
    py::dict info;
    if (!any) return info;
    // The finished lanes, listed without a branch per lane.
    std::int32_t* __restrict done = done_.data();
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      done[count] = static_cast<std::int32_t>(i);
      count += ended[i] != 0;
    }
    done_count_ = count;
    const Keys& k = keys();
    py::array_t<bool> mask(static_cast<py::ssize_t>(n));
    bool* __restrict m = mask.mutable_data();
    for (std::size_t i = 0; i < n; ++i) m[i] = ended[i] != 0;
    info[k.final_obs] = out(views_->final_obs);
    info[k.final_obs_mask] = mask;
    info[k.final_info] = py::dict();
    info[k.final_info_mask] = copy_of(mask);
    if (episode_stats_) {
      const auto ns = static_cast<py::ssize_t>(n);
      py::array_t<double> r = zeros<double>(ns), t = zeros<double>(ns);
      py::array_t<std::int64_t> l = zeros<std::int64_t>(ns);
      double* rp = r.mutable_data();
      double* tp = t.mutable_data();
      std::int64_t* lp = l.mutable_data();
      const double now = now_seconds();
      for (std::size_t j = 0; j < count; ++j) {
        const std::int32_t i = done[j];
        rp[i] = b.final_return[i];
        lp[i] = b.final_length[i];
        tp[i] = std::round((now - episode_start_[i]) * 1e6) / 1e6;  // as RecordEpisodeStatistics rounds
        episode_start_[i] = now;
      }
      py::dict episode;
      episode[k.r] = r;
      episode[k.l] = l;
      episode[k.t] = t;
      info[k.episode] = episode;
      info[k.episode_mask] = copy_of(mask);
    }
    return info;
  }

  template <class T>
  static py::array_t<T> zeros(py::ssize_t n) {
    py::array_t<T> a(n);
    std::memset(a.mutable_data(), 0, static_cast<std::size_t>(n) * sizeof(T));
    return a;
  }

  // The info keys, made once.
  struct Keys {
    py::str final_obs{"final_obs"}, final_obs_mask{"_final_obs"}, final_info{"final_info"},
        final_info_mask{"_final_info"}, episode{"episode"}, episode_mask{"_episode"}, r{"r"}, l{"l"}, t{"t"};
  };
  static const Keys& keys() {
    static const Keys* k = new Keys();  // never destroyed: Python may be gone at exit
    return *k;
  }

  std::shared_ptr<VecEnv> env_;
  EnvSpec spec_;
  std::unique_ptr<Views> views_;
  bool copy_;
  bool episode_stats_;
  std::mutex mutex_;
  std::vector<std::int32_t> discrete_;
  std::vector<float> continuous_;
  std::vector<double> episode_start_;  // steady-clock seconds at each lane's episode start
  std::vector<std::int32_t> done_;     // [num_envs]: the lanes that finished on the last step first
  std::vector<std::uint8_t> ended_;    // [num_envs]: whether each lane finished on the last step
  std::vector<std::uint8_t> active_;   // [num_envs]: step()'s lanes that move, reset_lanes()'s mask
  std::size_t done_count_ = 0;         // how many of done_ are set
  std::vector<py::ssize_t> action_shape_;
  std::optional<std::uint64_t> initial_seed_, last_seed_;
};

// For the parity tests: env_id driven straight through the C++ VecEnv (none of VecCore's code in
// between) from reset(seed), with the given actions [steps, num_envs, ...] (int32 or float32 as the
// env takes them); returns every buffer after every step, copied with VecEnv::copy_to_host.
py::dict cpp_rollout(const std::string& env_id, std::int32_t num_envs, std::uint64_t seed, std::int32_t threads,
                     const py::array& actions, const py::object& options) {
  envs::VecEnvConfig config;
  config.num_envs = num_envs;
  config.threads = threads;
  config.options = parse_options(env_id, options);
  auto env = envs::make_env(env_id, config);
  const EnvSpec& spec = env->spec();
  const bool discrete = spec.action_space.is_discrete();
  const std::int64_t dim = spec.action_dim(), obs_dim = spec.obs_dim();
  if (actions.ndim() < 2 || actions.shape(1) != num_envs) throw py::value_error("actions must be [steps, num_envs, ...]");
  const auto steps = static_cast<py::ssize_t>(actions.shape(0));
  py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> ai;
  py::array_t<float, py::array::c_style | py::array::forcecast> af;
  if (discrete)
    ai = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>::ensure(actions);
  else
    af = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(actions);
  const auto n = static_cast<py::ssize_t>(num_envs);
  py::array_t<float> reset_obs({n, static_cast<py::ssize_t>(obs_dim)});
  py::array_t<float> obs({steps, n, static_cast<py::ssize_t>(obs_dim)}), final_obs({steps, n, static_cast<py::ssize_t>(obs_dim)});
  py::array_t<float> reward({steps, n}), final_return({steps, n});
  py::array_t<bool> terminated({steps, n}), truncated({steps, n});
  py::array_t<std::int32_t> final_length({steps, n});
  envs::HostBatch host;
  env->reset(seed);
  env->copy_to_host(host);
  std::memcpy(reset_obs.mutable_data(), host.obs.data(), host.obs.size() * sizeof(float));
  for (py::ssize_t t = 0; t < steps; ++t) {
    if (discrete)
      env->step(ActionBatch::discrete(ai.data() + t * n, num_envs));
    else
      env->step(ActionBatch::continuous(af.data() + t * n * dim, num_envs, dim));
    env->copy_to_host(host);
    std::memcpy(obs.mutable_data() + t * n * obs_dim, host.obs.data(), host.obs.size() * sizeof(float));
    std::memcpy(final_obs.mutable_data() + t * n * obs_dim, host.final_obs.data(), host.final_obs.size() * sizeof(float));
    std::memcpy(reward.mutable_data() + t * n, host.reward.data(), n * sizeof(float));
    std::memcpy(final_return.mutable_data() + t * n, host.final_return.data(), n * sizeof(float));
    std::memcpy(final_length.mutable_data() + t * n, host.final_length.data(), n * sizeof(std::int32_t));
    for (py::ssize_t i = 0; i < n; ++i) {
      terminated.mutable_data()[t * n + i] = host.terminated[i] != 0;
      truncated.mutable_data()[t * n + i] = host.truncated[i] != 0;
    }
  }
  py::dict d;
  d["reset_obs"] = reset_obs;
  d["obs"] = obs;
  d["final_obs"] = final_obs;
  d["reward"] = reward;
  d["terminated"] = terminated;
  d["truncated"] = truncated;
  d["final_return"] = final_return;
  d["final_length"] = final_length;
  return d;
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// For bench/python_envs.py: the C++ VecEnv stepped alone for about `seconds`, with 8 batches of
// uniform random actions prepared in advance and cycled (as `apiary bench envs`); returns
// {"wall": seconds per step, "cpu": the process's CPU seconds per step}.
py::dict cpp_step_seconds(const std::string& env_id, std::int32_t num_envs, std::int32_t threads, double seconds,
                          std::uint64_t seed) {
  double wall = 0.0, cpu = 0.0;
  {
    py::gil_scoped_release release;
    envs::VecEnvConfig config;
    config.num_envs = num_envs;
    config.threads = threads;
    auto env = envs::make_env(env_id, config);
    envs::RandomActions random(env->spec(), num_envs, seed);
    std::vector<std::vector<std::uint8_t>> batches;
    std::vector<ActionBatch> views;
    const std::size_t bytes =
        static_cast<std::size_t>(num_envs) * static_cast<std::size_t>(env->spec().action_dim()) * 4;
    for (int i = 0; i < 8; ++i) {
      ActionBatch b = random.next();
      batches.emplace_back(static_cast<const std::uint8_t*>(b.data), static_cast<const std::uint8_t*>(b.data) + bytes);
      b.data = batches.back().data();
      views.push_back(b);
    }
    env->reset(seed);
    for (int i = 0; i < 8; ++i) env->step(views[i]);  // warm-up
    std::int64_t steps = 0;
    const double start = now_seconds(), cpu_start = process_cpu_seconds();
    do {
      for (int i = 0; i < 8; ++i) env->step(views[i]);
      steps += 8;
      wall = now_seconds() - start;
    } while (wall < seconds);
    cpu = (process_cpu_seconds() - cpu_start) / static_cast<double>(steps);
    wall /= static_cast<double>(steps);
  }
  py::dict out;
  out["wall"] = wall;
  out["cpu"] = cpu;
  return out;
}

py::dict list_envs() {
  auto& registry = envs::Registry::global();
  py::dict out;
  for (const auto& id : registry.ids()) {
    const envs::EnvEntry& entry = registry.at(id);
    const envs::EnvSpec spec = envs::env_spec(id);  // the env's options and the generic ones that apply
    py::dict d = spec_dict(spec);
    py::dict options;
    auto add_option = [&options](const envs::EnvOptionInfo& o) {
      py::dict od;
      od["default"] = o.default_value;
      od["low"] = o.low;
      od["high"] = o.high;
      od["low_open"] = o.low_open;
      od["high_open"] = o.high_open;
      od["doc"] = o.doc;
      options[py::str(o.name)] = od;
    };
    // max_episode_steps first (every env takes it), then the env's own parameters and observe_velocity
    // where it applies.
    add_option({envs::kMaxEpisodeStepsOption, static_cast<double>(spec.max_episode_steps), 1.0, 1e9, false, false,
                "steps after which an episode is truncated"});
    for (const envs::EnvOptionInfo& o : spec.options) add_option(o);
    d["options"] = options;
    py::list devices;
    for (const auto& [device, maker] : entry.makers) devices.append(envs::to_string(device));
    d["devices"] = devices;
    d["origin"] = entry.origin;
    out[py::str(id)] = d;
  }
  return out;
}

// Makes this module's symbols global, as if it had been loaded with RTLD_GLOBAL: env plugins and
// _apiary_torch then resolve apiary::envs (the registry, the back ends' helpers) against this copy,
// which holds the registry everyone shares. Python loads extension modules with RTLD_LOCAL.
void export_env_symbols() {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&export_env_symbols), &self) && self.dli_fname)
    if (void* handle = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) dlclose(handle);
}

}  // namespace

}  // namespace apiary::python

PYBIND11_MODULE(_apiary, m) {
  using namespace apiary::python;  // NOLINT: the module's own names
  namespace envs = apiary::envs;
  m.doc() = "Apiary's batched environments (docs/python.md); use the `apiary` package, not this module";
  export_env_symbols();

  py::class_<VecCore>(m, "VecCore")
      .def(py::init<const std::string&, std::int64_t, const py::object&, std::int32_t, const py::object&, bool, bool>(),
           py::arg("env_id"), py::arg("num_envs"), py::arg("seed"), py::arg("threads"), py::arg("options"),
           py::arg("copy"), py::arg("episode_stats"))
      .def("reset", &VecCore::reset, py::arg("seed") = py::none(), py::arg("options") = py::none())
      .def("step", &VecCore::step, py::arg("actions"), py::arg("hold") = py::none())
      .def("step_next", &VecCore::step_next, py::arg("actions"), py::arg("hold") = py::none())
      .def("reset_lanes", &VecCore::reset_lanes, py::arg("mask"))
      .def("snapshot", &VecCore::snapshot)
      .def("load_snapshot", &VecCore::load_snapshot, py::arg("data"), py::arg("seed") = py::none())
      .def("close", &VecCore::close)
      .def("render", &VecCore::render, py::arg("height"), py::arg("width"))
      .def_property_readonly("picture_size", &VecCore::picture_size)
      .def_property_readonly("has_picture", &VecCore::has_picture)
      .def_property_readonly("closed", &VecCore::closed)
      .def_property_readonly("num_envs", &VecCore::num_envs)
      .def_property_readonly("spec", [](const VecCore& c) { return spec_dict(c.spec()); })
      .def_property_readonly("seed", &VecCore::seed)
      .def_property("threads", &VecCore::threads, &VecCore::set_threads);

  m.def("envs", &list_envs, "Registered env ids with their specs, options, devices and origin");
  m.def("env_spec", [](const std::string& id, const py::object& options) {
    return spec_dict(envs::env_spec(id, parse_options(id, options)));
  }, py::arg("env_id"), py::arg("options") = py::none());
  m.def("load_plugin", [](const std::string& path) {
    const envs::LoadedPlugin p = envs::load_plugin(path);
    return p.env_ids;
  }, py::arg("path"), "Loads an env plugin (docs/custom-envs.md); returns the env ids it registered");
  m.def("cpp_rollout", &cpp_rollout, py::arg("env_id"), py::arg("num_envs"), py::arg("seed"), py::arg("threads"),
        py::arg("actions"), py::arg("options") = py::none(), "For the tests: a rollout straight through the C++ VecEnv");
  m.def("cpp_step_seconds", &cpp_step_seconds, py::arg("env_id"), py::arg("num_envs"), py::arg("threads"),
        py::arg("seconds"), py::arg("seed") = 0, "For the benchmark: wall and CPU seconds per step of the C++ VecEnv alone");
  m.def("hardware_threads", &envs::ThreadPool::hardware_threads);
}
