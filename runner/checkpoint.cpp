#include "runner/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "core/atomic_file.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "learner/archive.h"
#include "runner/run_folder.h"
#include "runner/zoo.h"

namespace apiary::runner {

namespace fs = std::filesystem;
using learner::read_f64;
using learner::read_i64;
using learner::write_scalar;

namespace {

constexpr std::int64_t kCheckpointFormat = 1;

torch::Tensor bytes_to_tensor(const void* data, std::size_t size) {
  return torch::from_blob(const_cast<void*>(data), {static_cast<std::int64_t>(size)}, torch::kUInt8).clone();
}
std::string tensor_to_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()));
}

// ", trained with policy.hidden_sizes [64, 64] where the run has [64, 64, 64]" for each policy key
// whose value differs between the checkpoint's stored config and the run's ("" when none does).
std::string policy_differences(const learner::TrainConfig& stored, const learner::TrainConfig& run) {
  const auto theirs = core::describe_fields(stored);
  const auto ours = core::describe_fields(run);
  std::string text;
  for (const auto& f : theirs) {
    if (f.key.rfind("policy.", 0) != 0 || f.type == "section") continue;
    for (const auto& g : ours)
      if (g.key == f.key && g.default_value != f.default_value)
        text += std::string(text.empty() ? ", trained with " : ", ") + f.key + " " + f.default_value +
                " where the run has " + g.default_value;
  }
  return text;
}

}  // namespace

void save_checkpoint(const std::string& path, const learner::TrainConfig& config, const RunCounters& c,
                     learner::Algorithm& algo, const envs::VecEnv& env) {
  // Non-finite weights never reach a checkpoint (the update guard undoes them; this is the last line).
  for (const auto& p : algo.policy()->module().named_parameters())
    if (!torch::isfinite(p.value()).all().item<bool>())
      throw std::runtime_error("not writing checkpoint " + path + ": parameter '" + p.key() + "' is not finite");
  torch::serialize::OutputArchive archive;
  write_scalar(archive, "apiary.format", kCheckpointFormat);
  const std::string yaml = core::dump_config(config);
  archive.write(kConfigKey, bytes_to_tensor(yaml.data(), yaml.size()));
  write_scalar(archive, "run.steps", c.steps);
  write_scalar(archive, "run.updates", c.updates);
  write_scalar(archive, "run.episodes", c.episodes);
  write_scalar(archive, "run.next_eval", c.next_eval);
  write_scalar(archive, "run.next_checkpoint", c.next_checkpoint);
  write_scalar(archive, "run.best_eval", c.best_eval);
  write_scalar(archive, "run.wall_seconds", c.previous_wall_seconds);
  torch::Tensor recent = torch::empty({static_cast<std::int64_t>(c.recent.size()), 2}, torch::kFloat64);
  auto r = recent.accessor<double, 2>();
  for (std::size_t i = 0; i < c.recent.size(); ++i) {
    r[static_cast<std::int64_t>(i)][0] = c.recent[i].episode_return;
    r[static_cast<std::int64_t>(i)][1] = c.recent[i].episode_length;
  }
  archive.write("run.recent_episodes", recent);
  const auto snapshot = env.save_snapshot();
  archive.write("run.env_snapshot", bytes_to_tensor(snapshot.data(), snapshot.size()));
  archive.write("run.torch_rng", at::detail::getDefaultCPUGenerator().get_state());
  if (c.lane_memory.defined()) {
    archive.write("run.lane_memory", c.lane_memory.to(torch::kCPU));
    archive.write("run.lane_starts", c.lane_starts.to(torch::kCPU));
  }
  torch::serialize::OutputArchive algo_archive;  // Algorithm::save is not const: no write_part
  algo.save(algo_archive);
  archive.write(kAlgorithmKey, algo_archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  core::write_file_atomic(path, bytes.str());
}

torch::serialize::InputArchive open_checkpoint(const std::string& given) {
  const std::string path = resolve_checkpoint(given);
  if (!fs::exists(path)) throw std::invalid_argument("checkpoint " + path + " does not exist");
  if (fs::is_directory(path)) throw std::invalid_argument("checkpoint " + path + " is a folder, not a checkpoint file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception&) {
    throw std::invalid_argument("checkpoint " + path + " is not a readable LibTorch archive");
  }
  std::int64_t format = -1;
  try {
    format = read_i64(archive, "apiary.format");
  } catch (const std::exception&) {
  }
  if (format != kCheckpointFormat)
    throw std::invalid_argument("checkpoint " + path + " is not an Apiary checkpoint of format " +
                             std::to_string(kCheckpointFormat));
  return archive;
}

RunCounters load_checkpoint(const std::string& path, const learner::TrainConfig& config, learner::Algorithm& algo,
                            envs::VecEnv& env) {
  auto archive = open_checkpoint(path);
  learner::TrainConfig stored;
  {  // The checkpoint must be of this run's env and algorithm before anything is read into them.
    torch::Tensor text;
    archive.read(kConfigKey, text);
    core::load_config_string(stored, tensor_to_bytes(text), path + " (stored config)");
    if (stored.env.id != config.env.id || stored.algo != config.algo)
      throw std::invalid_argument("checkpoint " + path + " is of " + stored.algo + " on " + stored.env.id +
                                  ", but the run is " + config.algo + " on " + config.env.id);
  }
  RunCounters c;
  c.steps = read_i64(archive, "run.steps");
  c.updates = read_i64(archive, "run.updates");
  c.episodes = read_i64(archive, "run.episodes");
  c.next_eval = read_i64(archive, "run.next_eval");
  c.next_checkpoint = read_i64(archive, "run.next_checkpoint");
  c.best_eval = read_f64(archive, "run.best_eval");
  c.previous_wall_seconds = read_f64(archive, "run.wall_seconds");
  torch::Tensor recent;
  archive.read("run.recent_episodes", recent);
  recent = recent.to(torch::kFloat64).contiguous();
  for (std::int64_t i = 0; i < recent.size(0); ++i)
    c.recent.push_back(agents::EpisodeStat{static_cast<float>(recent[i][0].item<double>()),
                                           static_cast<std::int32_t>(recent[i][1].item<double>())});
  torch::Tensor snapshot, rng;
  archive.read("run.env_snapshot", snapshot);
  const std::string snap = tensor_to_bytes(snapshot);
  env.load_snapshot(std::vector<std::uint8_t>(snap.begin(), snap.end()));
  archive.read("run.torch_rng", rng);
  if (archive.try_read("run.lane_memory", c.lane_memory)) archive.read("run.lane_starts", c.lane_starts);
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle on the shared generator
  generator.set_state(rng);
  torch::serialize::InputArchive algo_archive;
  archive.read(kAlgorithmKey, algo_archive);
  try {
    algo.load(algo_archive);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("checkpoint " + path + " does not fit the run's " + config.algo + " on " +
                                config.env.id + policy_differences(stored, config) + ": " + e.what());
  }
  return c;
}

void export_policy(const std::string& path, const std::string& out) {
  // Reading a running run's checkpoint is safe (checkpoints are replaced by rename); writing into a
  // run folder (or its checkpoints/) that another process holds is not.
  const fs::path folder = fs::absolute(out).parent_path();
  for (const fs::path& dir : {folder, folder.parent_path()}) {
    const long pid = RunLock::holder(dir.string());
    if (pid != 0 && pid != static_cast<long>(::getpid()))
      throw std::invalid_argument("export: " + out + " is inside the run folder " + dir.string() +
                                  ", which pid " + std::to_string(pid) + " is writing; export elsewhere, or once "
                                  "that run has ended");
  }
  const LoadedPolicy loaded = load_policy(path);
  const learner::AlgorithmSpec& algo = learner::find_algorithm(loaded.config.algo);
  torch::serialize::OutputArchive archive, algorithm;
  write_scalar(archive, "apiary.format", kCheckpointFormat);
  const std::string yaml = core::dump_config(loaded.config);
  archive.write(kConfigKey, bytes_to_tensor(yaml.data(), yaml.size()));
  learner::write_part(algorithm, algo.policy_key, loaded.policy->module());
  archive.write(kAlgorithmKey, algorithm);
  std::ostringstream bytes;
  archive.save_to(bytes);
  core::write_file_atomic(out, bytes.str());
}

void load_env_plugins(learner::EnvSection& env, const std::string& source) {
  for (std::string& path : env.plugins) {
    if (!path.empty()) path = fs::absolute(path).lexically_normal().string();
    try {
      envs::load_plugin(path);
    } catch (const envs::PluginError& e) {
      throw envs::PluginError(source + ": env.plugins: " + e.what());
    }
  }
}

learner::TrainConfig read_checkpoint_config(const std::string& path) {
  auto archive = open_checkpoint(path);
  torch::Tensor text;
  archive.read(kConfigKey, text);
  learner::TrainConfig config;
  core::load_config_string(config, tensor_to_bytes(text), path + " (stored config)");
  // The env's plugins, unless its id is registered already (e.g. by --plugin: a rebuilt plugin elsewhere).
  if (!envs::Registry::global().find(config.env.id)) load_env_plugins(config.env, path + " (stored config)");
  return config;
}

LoadedPolicy load_policy(const std::string& path, const std::string& env_id) {
  LoadedPolicy out;
  out.config = read_checkpoint_config(path);  // throws for anything but an Apiary checkpoint
  const learner::TrainConfig& config = out.config;
  if (!env_id.empty() && env_id != config.env.id)
    throw std::invalid_argument("checkpoint " + path + " was trained on " + config.env.id + ", not " + env_id);
  out.spec = envs::env_spec(config.env.id, config.env.options);
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  out.policy = algo.make_behaviour_policy(config, out.spec);
  auto archive = open_checkpoint(path);
  torch::serialize::InputArchive algorithm;
  if (!archive.try_read(kAlgorithmKey, algorithm))
    throw std::invalid_argument("checkpoint " + path + " has no 'algorithm' part");
  std::ostringstream hidden;
  for (std::size_t i = 0; i < config.policy.hidden_sizes.size(); ++i)
    hidden << (i ? ", " : "") << config.policy.hidden_sizes[i];
  try {
    learner::read_module(algorithm, algo.policy_key, out.policy->module());
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find("non-finite") != std::string::npos)
      throw std::invalid_argument("checkpoint " + path + ": " + e.what());
    throw std::invalid_argument("checkpoint " + path + " does not fit the " + config.algo + " network for " +
                                config.env.id + " (observations " + std::to_string(out.spec.obs_dim()) +
                                ", actions " + out.spec.action_space.to_string() + ", hidden_sizes [" +
                                hidden.str() + "]): " + e.what());
  }
  out.policy->module().eval();
  return out;
}

}  // namespace apiary::runner
