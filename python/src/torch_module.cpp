// _apiary_torch: trained policies and training runs for Python (docs/python.md): apiary.Policy wraps
// runner::load_policy (the deterministic policy `apiary eval` uses), apiary.train wraps runner::train
// as `apiary train` calls it. The only file of the package that includes LibTorch; the package imports
// it the first time Policy or train is used, after _apiary, whose env registry it shares (_apiary
// makes its symbols global when imported: the apiary::envs functions this module calls resolve there).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "numpy_text.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/config.h"
#include "envs/plugin_loader.h"
#include "runner/checkpoint.h"
#include "runner/remote_actors.h"
#include "runner/train.h"
#include "runner/zoo.h"

namespace py = pybind11;

namespace apiary::python {

namespace {

// A checkpoint's policy, on the CPU, for batches of numpy observations.
class PolicyCore {
 public:
  PolicyCore(const std::string& checkpoint, const std::string& env_id) {
    py::gil_scoped_release release;
    path_ = runner::resolve_checkpoint(checkpoint);
    loaded_ = runner::load_policy(path_, env_id);
  }

  const std::string& path() const { return path_; }
  const std::string& env_id() const { return loaded_.config.env.id; }
  const std::string& algo() const { return loaded_.config.algo; }
  const std::map<std::string, double>& env_options() const { return loaded_.config.env.options; }
  std::string config_yaml() const { return core::dump_config(loaded_.config); }

  std::int64_t state_size() const { return loaded_.policy->state_size(); }

  // Actions for `obs`: [B, *obs_shape] gives [B] (discrete, int64 values of the space) or
  // [B, *action_shape] (continuous, float32, unclipped as the env clips them); one observation
  // [*obs_shape] gives one action. A recurrent policy also takes each lane's state ([B, state_size],
  // float32) and episode starts ([B] bools: those lanes' state is zeroed first) and returns
  // (actions, the state after the step).
  py::object act(const py::handle& obs_in, bool deterministic, const py::object& state_in,
                 const py::object& starts_in) {
    const envs::EnvSpec& spec = loaded_.spec;
    py::array raw = py::array::ensure(obs_in);
    if (!raw) {
      PyErr_Clear();
      throw py::type_error(env_id() + ": observations must be an array-like of numbers, got " +
                           std::string(py::str(py::type::of(obs_in).attr("__name__"))));
    }
    const char kind = raw.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
      throw py::type_error(env_id() + ": observations must be real numbers, got dtype " + std::string(py::str(raw.dtype())));
    std::vector<py::ssize_t> obs_shape(spec.observation_space.shape.begin(), spec.observation_space.shape.end());
    const auto rank = static_cast<py::ssize_t>(obs_shape.size());
    const bool single = raw.ndim() == rank;
    bool ok = single || raw.ndim() == rank + 1;
    for (py::ssize_t d = 0; ok && d < rank; ++d) ok = raw.shape(raw.ndim() - rank + d) == obs_shape[d];
    if (!ok) {
      std::vector<py::ssize_t> got(raw.shape(), raw.shape() + raw.ndim());
      std::vector<py::ssize_t> batched{-1};
      batched.insert(batched.end(), obs_shape.begin(), obs_shape.end());
      throw py::value_error(env_id() + ": observations of shape " + shape_string(got) + ", expected " +
                            shape_string(obs_shape) + " or (batch" + shape_string(batched).substr(3));
    }
    // Images (a uint8 space) are taken as the uint8 they are; anything else as float32.
    const bool images = spec.observation_space.is_uint8();
    if (images && !raw.dtype().is(py::dtype::of<std::uint8_t>()))
      throw py::type_error(env_id() + " observes uint8 images " + spec.observation_space.to_string() +
                           "; got observations of dtype " + std::string(py::str(raw.dtype())));
    py::array obs = images ? py::array(py::array_t<std::uint8_t, py::array::c_style>::ensure(raw))
                           : py::array(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(raw));
    const std::int64_t batch = single ? 1 : static_cast<std::int64_t>(raw.shape(0));
    agents::LaneMemory memory = lane_memory(state_in, starts_in, batch);
    torch::Tensor action;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      torch::NoGradGuard no_grad;
      const torch::Tensor t = torch::from_blob(const_cast<void*>(obs.data()), {batch, spec.obs_dim()},
                                               images ? torch::kUInt8 : torch::kFloat32);
      agents::ActContext ctx;
      ctx.deterministic = deterministic;
      ctx.global_step = loaded_.config.total_steps;  // epsilon-greedy policies sample at their final epsilon
      ctx.state = memory.state();
      action = loaded_.policy->act(t, ctx).action.to(torch::kCPU).contiguous();
    }
    py::object actions = actions_array(action, batch, single);
    if (memory.empty()) return actions;
    const torch::Tensor next = memory.tensor().contiguous();
    py::array_t<float> state({static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(next.size(1))});
    std::memcpy(state.mutable_data(), next.data_ptr<float>(), static_cast<std::size_t>(next.numel()) * sizeof(float));
    return py::make_tuple(actions, state);
  }

 private:
  // A recurrent policy's lanes' state from Python (copied; rows zeroed where an episode starts), or an
  // empty memory for a policy without one. Throws naming what is wrong.
  agents::LaneMemory lane_memory(const py::object& state_in, const py::object& starts_in, std::int64_t batch) const {
    const std::int64_t size = state_size();
    if (size == 0) return {};
    if (state_in.is_none())
      throw py::value_error(env_id() + ": this policy is recurrent (a " + loaded_.config.policy.recurrent.cell +
                            " core): call act(obs, state, episode_start) with state = policy.initial_state(num_envs)");
    const auto state = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(state_in);
    if (!state || state.ndim() != 2 || state.shape(0) != batch || state.shape(1) != size)
      throw py::value_error(env_id() + ": the state must be float32 [" + std::to_string(batch) + ", " +
                            std::to_string(size) + "] (one row per observation), got " +
                            (state ? shape_string(std::vector<py::ssize_t>(state.shape(), state.shape() + state.ndim()))
                                   : std::string("no array")));
    agents::LaneMemory memory(size, batch, torch::kCPU);
    memory.set(torch::from_blob(const_cast<float*>(state.data()), {batch, size}, torch::kFloat32));
    if (!starts_in.is_none()) {
      const auto starts = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(starts_in);
      if (!starts || starts.size() != batch)
        throw py::value_error(env_id() + ": episode_start must hold one bool per observation (" +
                              std::to_string(batch) + ")");
      memory.reset_where(torch::from_blob(const_cast<bool*>(starts.data()), {batch}, torch::kBool));
    }
    return memory;
  }

  py::object actions_array(const torch::Tensor& action, std::int64_t batch, bool single) const {
    const envs::EnvSpec& spec = loaded_.spec;
    if (spec.action_space.is_discrete()) {
      py::array_t<std::int64_t> out(batch);
      const auto* a = action.to(torch::kInt64).contiguous().data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < batch; ++i) out.mutable_data()[i] = a[i] + spec.action_space.start;
      if (single) return out[py::int_(0)];
      return std::move(out);
    }
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(batch)};
    for (auto d : spec.action_space.shape) shape.push_back(static_cast<py::ssize_t>(d));
    py::array_t<float> out(shape);
    const torch::Tensor f = action.to(torch::kFloat32).contiguous();
    std::memcpy(out.mutable_data(), f.data_ptr<float>(), static_cast<std::size_t>(f.numel()) * sizeof(float));
    if (single) return out[py::int_(0)];
    return std::move(out);
  }

  std::string path_;
  runner::LoadedPolicy loaded_;
  std::mutex mutex_;  // one forward pass at a time
};

// The end-of-run summary: the keys of `apiary train`'s last line, and the rest of TrainResult.
py::dict summary(const runner::TrainResult& r) {
  py::dict d;
  d["eval_mean_return"] = r.eval_mean_return;
  d["eval_std_return"] = r.eval_std_return;
  d["best_eval_mean_return"] = r.best_eval_mean_return;
  d["steps"] = r.steps;
  d["wall_seconds"] = r.wall_seconds;
  d["steps_per_second"] = static_cast<double>(r.steps) / std::max(r.wall_seconds, 1e-9);
  d["solved_wall_seconds"] = r.solved_wall_seconds;
  d["solved_steps"] = r.solved_steps;
  d["run_dir"] = r.run_dir;
  d["updates"] = r.updates;
  d["stopped_early"] = r.stopped_early;
  d["interrupted"] = r.interrupted;
  d["env_seconds"] = r.env_seconds;
  d["inference_seconds"] = r.inference_seconds;
  d["learning_seconds"] = r.learning_seconds;
  d["other_seconds"] = r.other_seconds;
  py::dict transport;
  for (const auto& [key, value] : r.transport) transport[py::str(key)] = value;
  d["transport"] = transport;
  return d;
}

struct TrainArgs {
  std::string config_path;
  std::vector<std::string> overrides;  // "key=value"
  std::string resume_dir;
  std::vector<std::string> plugins;
  bool quiet = false;
  bool progress = true;
  std::int64_t session_steps = 0;
  std::string program;  // the `apiary` executable, for actor processes (empty: none found)
};

// As `apiary train` (app/cmd_train.cpp) runs a training run, in a worker thread while this thread
// waits without the GIL and polls Python's signal handlers: Ctrl-C raises the trainer's stop flag, the
// run ends with a checkpoint, and the KeyboardInterrupt goes on to the caller.
py::dict train(const TrainArgs& args) {
  runner::TrainConfig config;
  runner::TrainOptions options;
  if (args.resume_dir.empty()) {
    core::load_config(config, args.config_path);
    options.config_source = args.config_path;
  } else if (!args.overrides.empty()) {
    throw py::value_error("train: overrides cannot be combined with resume (the run keeps its config)");
  }
  core::apply_overrides(config, args.overrides);
  envs::load_plugins(args.plugins);
  if (args.resume_dir.empty()) config.env.plugins.insert(config.env.plugins.end(), args.plugins.begin(), args.plugins.end());
  options.resume_dir = args.resume_dir;
  options.quiet = args.quiet;
  options.progress = args.progress;
  options.session_steps = args.session_steps;
  runner::DistributedOptions distributed;
  distributed.program = args.program;
  if (args.resume_dir.empty() && (config.actors.count > 0 || !config.learner.bind.empty()) && args.program.empty())
    throw py::value_error(options.config_source + ": actors.count > 0 runs actor processes of the `apiary` program, " +
                          "which was not found (pass program=PATH to apiary.train)");
  runner::check_distributed_config(config, distributed);
  options.chunk_source = runner::make_distributed_source(distributed);

  std::atomic<bool> stop{false};
  options.stop_flag = &stop;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  runner::TrainResult result;
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      result = runner::train(config, options);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    finished_cv.notify_all();
  });
  std::unique_ptr<py::error_already_set> interrupt;  // what Python's signal handler raised
  while (true) {
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mutex);
      if (finished_cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return finished; })) break;
    }
    if (!interrupt && PyErr_CheckSignals() != 0) {
      interrupt = std::make_unique<py::error_already_set>();  // fetches and clears it
      stop.store(true);
    }
  }
  {
    py::gil_scoped_release release;
    worker.join();
  }
  if (interrupt) {
    if (interrupt->matches(PyExc_KeyboardInterrupt) && !error)
      PyErr_SetString(PyExc_KeyboardInterrupt,
                      ("training stopped; checkpoint written to " + result.run_dir + "/checkpoints/latest.pt").c_str());
    else
      interrupt->restore();
    throw py::error_already_set();
  }
  if (error) std::rethrow_exception(error);
  return summary(result);
}

}  // namespace

}  // namespace apiary::python

PYBIND11_MODULE(_apiary_torch, m) {
  using namespace apiary::python;  // NOLINT: the module's own names
  m.doc() = "Apiary's policies and training (docs/python.md); use the `apiary` package, not this module";
  // A configuration error is a bad input (`apiary train` exits with status 2 for it): ValueError.
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const apiary::core::ConfigError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::class_<PolicyCore>(m, "PolicyCore")
      .def(py::init<const std::string&, const std::string&>(), py::arg("checkpoint"), py::arg("env_id") = "")
      .def("act", &PolicyCore::act, py::arg("obs"), py::arg("deterministic") = true, py::arg("state") = py::none(),
           py::arg("episode_start") = py::none())
      .def_property_readonly("state_size", &PolicyCore::state_size)
      .def_property_readonly("path", &PolicyCore::path)
      .def_property_readonly("env_id", &PolicyCore::env_id)
      .def_property_readonly("algo", &PolicyCore::algo)
      .def_property_readonly("env_options", &PolicyCore::env_options)
      .def_property_readonly("config", &PolicyCore::config_yaml);

  m.def("train", [](const std::string& config_path, const std::vector<std::string>& overrides,
                    const std::string& resume, const std::vector<std::string>& plugins, bool quiet, bool progress,
                    std::int64_t session_steps, const std::string& program) {
    return train(TrainArgs{config_path, overrides, resume, plugins, quiet, progress, session_steps, program});
  }, py::arg("config_path"), py::arg("overrides"), py::arg("resume"), py::arg("plugins"), py::arg("quiet"),
     py::arg("progress"), py::arg("session_steps"), py::arg("program"));
  m.def("manual_seed", [](std::uint64_t seed) { torch::manual_seed(seed); }, py::arg("seed"),
        "Seeds LibTorch's default CPU generator (sampled actions)");
}
