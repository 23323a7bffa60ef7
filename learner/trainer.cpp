#include "learner/trainer.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "actors/actor.h"
#include "core/atomic_file.h"
#include "core/csv_writer.h"
#include "core/profiler.h"
#include "core/progress.h"
#include "core/tensorboard.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/archive.h"

namespace apiary::learner {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kCheckpointFormat = 1;
constexpr std::uint64_t kEvalSeedOffset = 1000003;  // evaluation lanes draw from their own streams

torch::Tensor bytes_to_tensor(const std::string& bytes) {
  return torch::from_blob(const_cast<char*>(bytes.data()), {static_cast<std::int64_t>(bytes.size())}, torch::kUInt8)
      .clone();
}
std::string tensor_to_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()));
}
torch::Tensor scalar_i64(std::int64_t v) { return torch::tensor({v}, torch::kInt64); }
torch::Tensor scalar_f64(double v) { return torch::tensor({v}, torch::kFloat64); }

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("device: cuda was asked for but LibTorch sees no CUDA device (use auto or cpu)");
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

// Counters of the run that a checkpoint carries besides the algorithm's own state.
struct RunCounters {
  std::int64_t steps = 0;
  std::int64_t updates = 0;
  std::int64_t episodes = 0;
  std::int64_t next_eval = 0;
  std::int64_t next_checkpoint = 0;
  double best_eval = -std::numeric_limits<double>::infinity();
  double previous_wall_seconds = 0;  // wall time of earlier sessions of this run
  std::deque<agents::EpisodeStat> recent;  // the last kRecentEpisodes training episodes (mean_return)
};

constexpr std::size_t kRecentEpisodes = 100;

void save_checkpoint(const std::string& path, const TrainConfig& config, const RunCounters& c, Algorithm& algo,
                     const envs::VecEnv& env) {
  torch::serialize::OutputArchive archive;
  archive.write("apiary.format", scalar_i64(kCheckpointFormat));
  archive.write("apiary.config", bytes_to_tensor(core::dump_config(config)));
  archive.write("run.steps", scalar_i64(c.steps));
  archive.write("run.updates", scalar_i64(c.updates));
  archive.write("run.episodes", scalar_i64(c.episodes));
  archive.write("run.next_eval", scalar_i64(c.next_eval));
  archive.write("run.next_checkpoint", scalar_i64(c.next_checkpoint));
  archive.write("run.best_eval", scalar_f64(c.best_eval));
  archive.write("run.wall_seconds", scalar_f64(c.previous_wall_seconds));
  torch::Tensor recent = torch::empty({static_cast<std::int64_t>(c.recent.size()), 2}, torch::kFloat64);
  for (std::size_t i = 0; i < c.recent.size(); ++i) {
    recent[static_cast<std::int64_t>(i)][0] = c.recent[i].episode_return;
    recent[static_cast<std::int64_t>(i)][1] = c.recent[i].episode_length;
  }
  archive.write("run.recent_episodes", recent);
  const auto snapshot = env.save_snapshot();
  archive.write("run.env_snapshot",
                torch::from_blob(const_cast<std::uint8_t*>(snapshot.data()), {static_cast<std::int64_t>(snapshot.size())},
                                 torch::kUInt8)
                    .clone());
  archive.write("run.torch_rng", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive algo_archive;  // Algorithm::save is not const: no write_part
  algo.save(algo_archive);
  archive.write("algorithm", algo_archive);
  // Written beside the target, then renamed over it: a crash never leaves half a checkpoint.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  archive.save_to(tmp);
  fs::rename(tmp, path);
}

torch::serialize::InputArchive open_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw std::runtime_error("checkpoint " + path + " does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("checkpoint " + path + " is not a readable LibTorch archive");
  }
  torch::Tensor format;
  if (!archive.try_read("apiary.format", format) || format.item<std::int64_t>() != kCheckpointFormat)
    throw std::runtime_error("checkpoint " + path + " is not an Apiary checkpoint of format " +
                             std::to_string(kCheckpointFormat));
  return archive;
}

std::int64_t read_i64(torch::serialize::InputArchive& a, const char* key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<std::int64_t>();
}
double read_f64(torch::serialize::InputArchive& a, const char* key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<double>();
}

std::string unique_run_dir(const TrainConfig& config) {
  fs::path base = fs::path(config.out_dir) / config.name;
  if (!fs::exists(base)) return base.string();
  for (int i = 2;; ++i) {
    fs::path candidate = fs::path(config.out_dir) / (config.name + "_" + std::to_string(i));
    if (!fs::exists(candidate)) return candidate.string();
  }
}

// Rows of an existing metrics.csv up to `max_step`, so that a resumed run keeps its history.
std::vector<core::CsvWriter::Row> read_metrics(const std::string& path, std::int64_t max_step,
                                               std::vector<std::string>& columns) {
  std::vector<core::CsvWriter::Row> rows;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return rows;
  columns.clear();
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');) columns.push_back(cell);
  while (std::getline(in, line)) {
    core::CsvWriter::Row row;
    std::stringstream ss(line);
    std::size_t i = 0;
    double step = 0;
    for (std::string cell; std::getline(ss, cell, ','); ++i) {
      if (cell.empty() || i >= columns.size()) continue;
      const double v = std::strtod(cell.c_str(), nullptr);
      if (columns[i] == "step") step = v;
      row.emplace_back(columns[i], v);
    }
    if (step <= static_cast<double>(max_step)) rows.push_back(std::move(row));
  }
  return rows;
}

class RunLog {
 public:
  explicit RunLog(const std::string& path) : out_(path, std::ios::app) {}
  void line(const std::string& text) {
    out_ << text << "\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
};

// Environment plugins (envs/plugin_loader.h): loads config.env.plugins and rewrites them as absolute
// paths, so that the run's config.yaml (and every checkpoint's copy) names the same files from any
// working directory. A refusal names the config's source and key.
void load_env_plugins(EnvSection& env, const std::string& source) {
  for (std::string& path : env.plugins) {
    if (!path.empty()) path = fs::absolute(path).lexically_normal().string();
    try {
      envs::load_plugin(path);
    } catch (const envs::PluginError& e) {
      throw envs::PluginError(source + ": env.plugins: " + e.what());
    }
  }
}

}  // namespace

TrainConfig read_checkpoint_config(const std::string& path) {
  auto archive = open_checkpoint(path);
  torch::Tensor text;
  archive.read("apiary.config", text);
  TrainConfig config;
  core::load_config_string(config, tensor_to_bytes(text), path + " (stored config)");
  // The env's plugins, unless its id is registered already (e.g. by --plugin: a rebuilt plugin elsewhere).
  if (!envs::Registry::global().find(config.env.id)) load_env_plugins(config.env, path + " (stored config)");
  return config;
}

TrainResult train(const TrainConfig& input_config, const TrainOptions& options) {
  TrainConfig config = input_config;
  std::string run_dir;
  std::string checkpoint_to_resume;
  if (!options.resume_dir.empty()) {
    run_dir = options.resume_dir;
    const std::string cfg_path = (fs::path(run_dir) / "config.yaml").string();
    if (!fs::exists(cfg_path)) throw std::invalid_argument("--resume " + run_dir + ": no config.yaml in that folder");
    config = TrainConfig{};
    core::load_config(config, cfg_path);
    checkpoint_to_resume = (fs::path(run_dir) / "checkpoints" / "latest.pt").string();
    if (!fs::exists(checkpoint_to_resume))
      throw std::invalid_argument("--resume " + run_dir + ": no checkpoints/latest.pt to continue from");
  }

  // Everything that can be refused is checked before any work starts.
  load_env_plugins(config.env, options.resume_dir.empty() ? options.config_source : options.resume_dir + "/config.yaml");
  const envs::EnvSpec spec = envs::env_spec(config.env.id, config.env.options);
  const torch::Device device = resolve_device(config.device);
  const Precision precision = parse_precision(config.precision);
  check_precision_supported(precision, device);
  if (config.algo == "dqn" && !spec.action_space.is_discrete())
    throw std::invalid_argument(options.config_source + ": algo: dqn needs a discrete action space; " + spec.id +
                                " has " + spec.action_space.to_string() + " (use algo: ppo)");

  const int threads = config.threads > 0 ? config.threads : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(threads);
  // Debian's LibTorch leaves OpenBLAS's own thread pool at every core, spinning between the small
  // matrix products of RL networks; hold it to the same count where OpenBLAS is the BLAS.
  using SetThreads = void (*)(int);
  if (auto set_blas_threads = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas_threads(threads);
  torch::manual_seed(static_cast<std::uint64_t>(config.seed));

  envs::VecEnvConfig env_config;
  env_config.num_envs = config.env.num_envs;
  env_config.threads = config.threads;
  env_config.options = config.env.options;
  envs::VecEnvConfig eval_config = env_config;
  eval_config.num_envs = config.eval.num_envs;

  AlgorithmInit init{config, spec, device, precision};
  std::unique_ptr<Algorithm> algo = make_algorithm(init);
  core::Profiler profiler;
  actors::ActorOptions actor_options;
  actor_options.device = device;
  actor_options.record_log_probs = algo->needs_log_probs();
  actor_options.profiler = &profiler;
  actors::Actor actor(envs::make_env(config.env.id, env_config), algo->policy(), actor_options);
  auto eval_env = envs::make_env(config.env.id, eval_config);
  actor.reset(static_cast<std::uint64_t>(config.seed));

  RunCounters counters;
  counters.next_eval = config.eval.interval_steps > 0 ? config.eval.interval_steps : config.total_steps;
  counters.next_checkpoint =
      config.checkpoint_interval_steps > 0 ? config.checkpoint_interval_steps : config.total_steps;

  if (!checkpoint_to_resume.empty()) {
    auto archive = open_checkpoint(checkpoint_to_resume);
    counters.steps = read_i64(archive, "run.steps");
    counters.updates = read_i64(archive, "run.updates");
    counters.episodes = read_i64(archive, "run.episodes");
    counters.next_eval = read_i64(archive, "run.next_eval");
    counters.next_checkpoint = read_i64(archive, "run.next_checkpoint");
    counters.best_eval = read_f64(archive, "run.best_eval");
    counters.previous_wall_seconds = read_f64(archive, "run.wall_seconds");
    torch::Tensor recent;
    archive.read("run.recent_episodes", recent);
    for (std::int64_t i = 0; i < recent.size(0); ++i)
      counters.recent.push_back(agents::EpisodeStat{static_cast<float>(recent[i][0].item<double>()),
                                                    static_cast<std::int32_t>(recent[i][1].item<double>())});
    torch::Tensor snapshot, rng;
    archive.read("run.env_snapshot", snapshot);
    const std::string snap = tensor_to_bytes(snapshot);
    actor.env().load_snapshot(std::vector<std::uint8_t>(snap.begin(), snap.end()));
    archive.read("run.torch_rng", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle on the shared generator
    generator.set_state(rng);
    read_part(archive, "algorithm", *algo);
    actor.set_env_steps(counters.steps);
  } else {
    run_dir = unique_run_dir(config);
    fs::create_directories(fs::path(run_dir) / "checkpoints");
    config.name = fs::path(run_dir).filename().string();
    core::write_file_atomic((fs::path(run_dir) / "config.yaml").string(), core::dump_config(config));
  }
  const std::string checkpoints = (fs::path(run_dir) / "checkpoints").string();
  // Multi-process runs: chunks from actor processes (learner/distributed.h), weights broadcast back.
  std::unique_ptr<ChunkSource> source;
  if (options.chunk_source) {
    source = options.chunk_source(config, run_dir, profiler);
    if (source) source->publish(*algo->policy(), algo->policy_version());
  }

  // Metrics: CSV (keeping the rows of earlier sessions up to the checkpoint) and TensorBoard.
  const std::string csv_path = (fs::path(run_dir) / "metrics.csv").string();
  std::vector<std::string> old_columns;
  const auto old_rows = checkpoint_to_resume.empty() ? std::vector<core::CsvWriter::Row>{}
                                                     : read_metrics(csv_path, counters.steps, old_columns);
  std::unique_ptr<core::CsvWriter> csv;
  core::TensorBoardWriter tb(run_dir);
  RunLog log((fs::path(run_dir) / "train.log").string());
  log.line((checkpoint_to_resume.empty() ? "start " : "resume at step " + std::to_string(counters.steps) + " ") +
           config.algo + " on " + config.env.id + ", device " + device.str() + ", precision " + config.precision);

  const std::vector<std::string> base_columns = {
      "step",        "wall_seconds",     "steps_per_second", "episodes",         "mean_return",
      "mean_length", "eval_mean_return", "eval_std_return",  "env_seconds",      "inference_seconds",
      "learning_seconds"};
  auto write_row = [&](const core::CsvWriter::Row& row) {
    if (!csv) {
      std::vector<std::string> columns = old_columns.empty() ? base_columns : old_columns;
      for (const auto& [k, v] : row)
        if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
      csv = std::make_unique<core::CsvWriter>(csv_path, columns);
      for (const auto& r : old_rows) csv->write_row(r);
    }
    core::CsvWriter::Row filtered;
    for (const auto& kv : row)
      if (std::find(csv->columns().begin(), csv->columns().end(), kv.first) != csv->columns().end()) filtered.push_back(kv);
    csv->write_row(filtered);
  };

  TrainResult result;
  result.run_dir = run_dir;
  result.best_eval_mean_return = counters.best_eval;
  std::deque<agents::EpisodeStat>& recent = counters.recent;
  auto mean_recent = [&](bool lengths) {
    if (recent.empty()) return std::nan("");
    double s = 0;
    for (const auto& e : recent) s += lengths ? e.episode_length : e.episode_return;
    return s / static_cast<double>(recent.size());
  };

  const auto start = std::chrono::steady_clock::now();
  auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const std::int64_t session_start_steps = counters.steps;
  core::ProgressLine progress(config.total_steps, stderr, options.progress && ::isatty(2));

  std::int64_t last_eval_step = -1;
  auto run_eval = [&]() {
    core::ScopedTimer t(profiler, core::ProfileCategory::kOther);
    last_eval_step = counters.steps;
    const actors::EvalResult e =
        actors::evaluate(*eval_env, *algo->policy(), config.eval.episodes,
                         static_cast<std::uint64_t>(config.seed) + kEvalSeedOffset, device);
    result.eval_mean_return = e.mean_return;
    result.eval_std_return = e.std_return;
    write_row({{"step", static_cast<double>(counters.steps)},
               {"wall_seconds", counters.previous_wall_seconds + wall()},
               {"eval_mean_return", e.mean_return},
               {"eval_std_return", e.std_return}});
    tb.add_scalar("eval/mean_return", static_cast<float>(e.mean_return), counters.steps);
    tb.add_scalar("eval/std_return", static_cast<float>(e.std_return), counters.steps);
    tb.flush();
    std::ostringstream os;
    os << "eval step " << counters.steps << " mean_return " << e.mean_return << " std " << e.std_return
       << " mean_length " << e.mean_length << " wall_seconds " << wall();
    log.line(os.str());
    if (!options.quiet) std::printf("%s\n", os.str().c_str());
    if (e.mean_return > counters.best_eval) {
      counters.best_eval = e.mean_return;
      result.best_eval_mean_return = e.mean_return;
      save_checkpoint((fs::path(checkpoints) / "best.pt").string(), config, counters, *algo, actor.env());
    }
    if (e.mean_return >= config.stop.mean_return) {
      if (result.solved_wall_seconds < 0) {
        result.solved_wall_seconds = wall();
        result.solved_steps = counters.steps;
      }
      result.stopped_early = true;
    }
  };

  const std::int32_t rollout_steps = algo->rollout_steps();
  while (counters.steps < config.total_steps && !result.stopped_early) {
    if ((options.stop_flag && options.stop_flag->load()) ||
        (options.session_steps > 0 && counters.steps - session_start_steps >= options.session_steps)) {
      result.interrupted = true;
      break;
    }
    agents::ActContext ctx;
    const agents::TrajectoryChunk* next_chunk =
        source ? source->next(algo->policy_version(), options.stop_flag)
               : &actor.collect(rollout_steps, ctx, algo->policy_version());
    if (next_chunk == nullptr) {
      result.interrupted = true;
      break;
    }
    const agents::TrajectoryChunk& chunk = *next_chunk;
    counters.steps += chunk.env_steps();
    for (const auto& e : chunk.episodes) {
      recent.push_back(e);
      if (recent.size() > kRecentEpisodes) recent.pop_front();
      ++counters.episodes;
      tb.add_scalar("charts/episodic_return", e.episode_return, counters.steps);
      tb.add_scalar("charts/episodic_length", static_cast<float>(e.episode_length), counters.steps);
    }
    Metrics metrics;
    {
      core::ScopedTimer t(profiler, core::ProfileCategory::kLearning);
      metrics = algo->update(chunk, UpdateContext{counters.steps, config.total_steps});
    }
    if (!metrics.empty()) ++counters.updates;
    if (source && !metrics.empty()) source->publish(*algo->policy(), algo->policy_version());
    progress.update(counters.steps, mean_recent(false));

    if (!metrics.empty() && counters.updates % config.log_interval_updates == 0) {
      const double seconds = wall();
      const double sps = static_cast<double>(counters.steps - session_start_steps) / std::max(seconds, 1e-9);
      const core::ProfileReport report = profiler.report();
      core::CsvWriter::Row row = {{"step", static_cast<double>(counters.steps)},
                                  {"wall_seconds", counters.previous_wall_seconds + seconds},
                                  {"steps_per_second", sps},
                                  {"episodes", static_cast<double>(counters.episodes)},
                                  {"mean_return", mean_recent(false)},
                                  {"mean_length", mean_recent(true)},
                                  {"env_seconds", report[core::ProfileCategory::kEnv].seconds},
                                  {"inference_seconds", report[core::ProfileCategory::kInference].seconds},
                                  {"learning_seconds", report[core::ProfileCategory::kLearning].seconds}};
      for (const auto& kv : metrics) row.push_back(kv);
      if (source)
        for (const auto& kv : source->metrics()) row.push_back(kv);
      write_row(row);
      tb.add_scalar("charts/SPS", static_cast<float>(sps), counters.steps);
      for (const auto& [k, v] : metrics) tb.add_scalar("losses/" + k, static_cast<float>(v), counters.steps);
    }
    if (counters.steps >= counters.next_eval) {
      counters.next_eval += config.eval.interval_steps > 0 ? config.eval.interval_steps : config.total_steps;
      run_eval();
    }
    if (counters.steps >= counters.next_checkpoint && counters.steps < config.total_steps) {
      counters.next_checkpoint += config.checkpoint_interval_steps > 0 ? config.checkpoint_interval_steps
                                                                       : config.total_steps;
      core::ScopedTimer t(profiler, core::ProfileCategory::kOther);
      RunCounters saved = counters;
      saved.previous_wall_seconds += wall();
      save_checkpoint((fs::path(checkpoints) / "latest.pt").string(), config, saved, *algo, actor.env());
    }
  }
  progress.finish();
  // A final evaluation unless the last step just had one, then the last checkpoint.
  if (!result.stopped_early && !result.interrupted && last_eval_step != counters.steps) run_eval();
  RunCounters saved = counters;
  saved.previous_wall_seconds += wall();
  save_checkpoint((fs::path(checkpoints) / "latest.pt").string(), config, saved, *algo, actor.env());
  tb.flush();

  if (source) {
    result.transport = source->metrics();
    source.reset();  // stops the actor processes
  }
  const core::ProfileReport report = profiler.report();
  result.steps = counters.steps;
  result.updates = counters.updates;
  result.wall_seconds = wall();
  result.env_seconds = report[core::ProfileCategory::kEnv].seconds;
  result.inference_seconds = report[core::ProfileCategory::kInference].seconds;
  result.learning_seconds = report[core::ProfileCategory::kLearning].seconds;
  result.other_seconds = report[core::ProfileCategory::kOther].seconds;
  std::ostringstream os;
  os << "end step " << result.steps << " wall_seconds " << result.wall_seconds << " eval_mean_return "
     << result.eval_mean_return << " profile: env " << result.env_seconds << " s, inference "
     << result.inference_seconds << " s, learning " << result.learning_seconds << " s, other "
     << result.other_seconds << " s";
  log.line(os.str());
  return result;
}

EvalCheckpointResult evaluate_checkpoint(const std::string& path, std::int32_t episodes, std::uint64_t seed,
                                         std::int32_t num_envs) {
  TrainConfig config = read_checkpoint_config(path);
  const envs::EnvSpec spec = envs::env_spec(config.env.id, config.env.options);
  const torch::Device device = resolve_device(config.device == "cuda" ? "auto" : config.device);
  AlgorithmInit init{config, spec, device, Precision::kFp32};
  std::unique_ptr<Algorithm> algo = make_algorithm(init);
  auto archive = open_checkpoint(path);
  read_part(archive, "algorithm", *algo);
  envs::VecEnvConfig env_config;
  env_config.num_envs = num_envs > 0 ? num_envs : std::min<std::int32_t>(episodes, 64);
  env_config.threads = config.threads;
  env_config.options = config.env.options;
  auto env = envs::make_env(config.env.id, env_config);
  const actors::EvalResult e = actors::evaluate(*env, *algo->policy(), episodes, seed, device);
  return EvalCheckpointResult{config.env.id, e.mean_return, e.std_return, e.mean_length, e.episodes};
}

}  // namespace apiary::learner
