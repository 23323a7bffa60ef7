#include "runner/train.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/weights.h"
#include "core/profiler.h"
#include "core/seeds.h"
#include "core/progress.h"
#include "envs/registry.h"
#include "agents/encoder.h"
#include "learner/algorithm.h"
#include "learner/threads.h"
#include "learner/precision_choice.h"
#include "parallel/pipeline.h"
#include "parallel/process_group.h"
#include "parallel/rendezvous.h"
#include "runner/checkpoint.h"
#include "runner/run_folder.h"
#include "runner/transfer.h"
#include "runner/zoo.h"

namespace apiary::runner {

namespace fs = std::filesystem;
using learner::Algorithm;
using learner::Metrics;

namespace {

constexpr std::size_t kRecentEpisodes = 100;        // training episodes behind mean_return
constexpr int kMaxNonFiniteUpdatesInARow = 5;       // undone updates (learner::kNonFiniteUpdate) before the run stops
using core::seeds::rank_seed;

// Every parameter of `module`, flattened into one new tensor (the weight-hash check).
torch::Tensor flat_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (const auto& p : module.parameters()) parts.push_back(p.detach().reshape({-1}).to(torch::kCPU));
  return parts.empty() ? torch::zeros({0}) : torch::cat(parts);
}

// `device:`. auto takes the GPU where LibTorch has one; cuda without one is refused, naming what is
// missing: a LibTorch with CUDA, or a GPU.
torch::Device resolve_device(const std::string& name, const std::string& source) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (torch::cuda::is_available()) return torch::kCUDA;
    if (!libtorch_built_with_cuda())
      throw std::invalid_argument(source + ": device: cuda, but this LibTorch " + TORCH_VERSION +
                                  " has no CUDA support (Debian's is CPU-only; build against a CUDA LibTorch, "
                                  "docs/gpu.md), or use device: cpu or auto");
    throw std::invalid_argument(source + ": device: cuda, but no GPU is visible to LibTorch (it has CUDA support; " +
                                std::to_string(envs::cuda_device_count()) +
                                " devices seen by the CUDA runtime: check the driver and CUDA_VISIBLE_DEVICES), or use "
                                "device: cpu or auto");
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

// env.device: auto puts the lanes on the GPU from this many (or env.num_envs: auto).
constexpr std::int32_t kGpuLanesWorthIt = 1024;

// Lanes for env.num_envs: auto: one per core on the CPU (the env's threads), 32 per multiprocessor on
// a GPU (enough resident work items to fill it).
std::int32_t auto_num_envs(envs::Device where) {
  if (where == envs::Device::kCuda) {
    const auto gpus = envs::cuda_devices();
    if (!gpus.empty()) return std::max(1024, 32 * gpus.front().multiprocessors);
    return 4096;
  }
  return static_cast<std::int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

// env.device and env.num_envs against the machine and `device`; rewrites both in the config with what
// was picked (the run's config.yaml records it) and returns one line for the run's log saying why.
std::string place_env(TrainConfig& config, torch::Device device, const std::string& source) {
  const std::string& id = config.env.id;
  const bool backend = envs::has_backend(id, envs::Device::kCuda);
  const int gpus = envs::cuda_device_count();
  std::string why;
  if (config.env.device == "cuda") {
    std::string missing;
    if (!envs::built_with_cuda())
      missing = "this build of Apiary has no CUDA env back end (nvcc was not found when it was configured)";
    else if (!backend)
      missing = id + " has no CUDA back end (its lanes step on the CPU only)";
    else if (gpus == 0)
      missing = "the CUDA runtime sees no GPU";
    else if (!device.is_cuda())
      missing = "the policy is on " + device.str() +
                ": a GPU env is read in place by a policy on the GPU, so device must be cuda too";
    if (!missing.empty()) throw std::invalid_argument(source + ": env.device: cuda, but " + missing + " (or use env.device: cpu)");
    why = "env on cuda";
  } else if (config.env.device == "auto") {
    // A GPU steps thousands of lanes at once; a handful cost a kernel launch each step for little work.
    const bool many = config.env.num_envs.is_auto() || config.env.num_envs.value >= kGpuLanesWorthIt;
    const bool gpu = device.is_cuda() && backend && gpus > 0 && many;
    why = gpu ? "env on cuda (env.device auto: the learner is on the GPU and " + id + " has a CUDA back end)"
              : "env on cpu (env.device auto: " +
                    std::string(!device.is_cuda() ? "the learner is on the CPU"
                                : !envs::built_with_cuda() ? "this build has no CUDA env back end"
                                : !backend ? id + " has no CUDA back end"
                                : gpus == 0 ? "the CUDA runtime sees no GPU"
                                            : std::to_string(config.env.num_envs.value) + " lanes are too few to gain from the "
                                              "GPU (" + std::to_string(kGpuLanesWorthIt) + " or more, or env.num_envs: auto; "
                                              "env.device: cuda forces it)") +
                    ")";
    config.env.device = gpu ? "cuda" : "cpu";
  } else {
    why = "env on cpu";
  }
  if (config.env.in_place && config.env.device == "cpu" && !device.is_cpu())
    throw std::invalid_argument(source + ": env.in_place: the lanes step on the CPU and the policy is on " + device.str() +
                                "; in place needs both on one device (env.device: cuda, or env.in_place: false)");
  const bool auto_lanes = config.env.num_envs.is_auto();
  if (auto_lanes) config.env.num_envs = auto_num_envs(envs::parse_device(config.env.device));
  why += ", " + std::to_string(config.env.num_envs.value) + " lanes";
  if (auto_lanes) why += config.env.device == "cuda" ? " (env.num_envs auto: 32 per multiprocessor)" : " (env.num_envs auto: one per core)";
  return why;
}

// The lanes of a run: training ones on env.device (resolved by place_env), evaluation ones with
// `device` as given.
envs::VecEnvConfig env_config(const TrainConfig& config, std::int32_t num_envs, envs::Device device = envs::Device::kCpu) {
  envs::VecEnvConfig c;
  c.num_envs = num_envs;
  c.device = device;
  c.threads = config.threads;
  c.options = config.env.options;
  return c;
}

// What a run is, settled before anything is created: every check that can fail runs here.
struct RunPlan {
  TrainConfig config;
  std::string source;        // the config's file (messages)
  std::string resume_from;   // a checkpoint to continue from (empty: a new run)
  std::string run_dir;       // the folder (new: not created yet)
  std::string requested_name;  // config.name before a free folder name was picked (the ranks' fingerprint)
  envs::EnvSpec spec;
  torch::Device device = torch::kCPU;
  learner::Precision precision = learner::Precision::kFp32;
  std::string placement;     // where the lanes step and how many, and why (place_env)
  std::string precision_note;  // the fp32 fallback on a GPU without bf16, or empty
};

// precision: bf16 on a GPU older than Ampere (no bf16 arithmetic) runs in fp32 instead, saying so.
std::string bf16_fallback(learner::Precision& precision, const torch::Device& device) {
  if (precision != learner::Precision::kBf16 || !device.is_cuda()) return {};
  const auto gpus = envs::cuda_devices();
  const std::size_t index = device.has_index() ? static_cast<std::size_t>(device.index()) : 0;
  if (index >= gpus.size() || gpus[index].bf16) return {};
  precision = learner::Precision::kFp32;
  return "precision: bf16 asked, but " + gpus[index].name + " (compute capability " + std::to_string(gpus[index].major) +
         "." + std::to_string(gpus[index].minor) + ") has no bf16 arithmetic: the run uses fp32 (fp16 with its loss "
         "scaler is the mixed precision for this GPU)";
}

// A run name is one plain folder name under out_dir: never a path that leaves it.
void check_run_name(const std::string& name, const std::string& source) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw std::invalid_argument(source + ": name: '" + name +
                                "' must be a plain folder name (no '/', not '.' or '..'): runs go to out_dir/name");
}

// Bytes the run will hold, about: env lanes (training and evaluation), the chunk, the algorithm's own
// buffers (a replay buffer). Refused beyond 80 % of the machine's memory, naming the numbers.
void check_memory(const TrainConfig& config, const envs::EnvSpec& spec, const learner::AlgorithmSpec& algo,
                  const std::string& source) {
  const double obs = static_cast<double>(spec.obs_dim()), act = static_cast<double>(std::max<std::int64_t>(1, spec.action_dim()));
  const double per_lane = envs::lane_bytes_estimate(spec);
  const double lanes = static_cast<double>(config.env.num_envs) + static_cast<double>(config.eval.num_envs);
  const double chunk = 4.0 * (static_cast<double>(algo.rollout_steps(config)) + 1.0) *
                       static_cast<double>(config.env.num_envs) * (2.0 * obs + act + 6.0);
  const double own = algo.memory_bytes ? static_cast<double>(algo.memory_bytes(config, spec)) : 0.0;
  const double need = per_lane * lanes + chunk + own;
  const double have = envs::physical_memory_bytes();
  if (have > 0 && need > 0.8 * have) {
    auto gib = [](double b) {
      std::ostringstream os;
      os.precision(3);
      os << b / (1024.0 * 1024.0 * 1024.0) << " GiB";
      return os.str();
    };
    throw std::invalid_argument(source + ": this run would need about " + gib(need) + " (env.num_envs " +
                                std::to_string(config.env.num_envs) + ": " + gib(per_lane * lanes + chunk) +
                                "; " + config.algo + " buffers: " + gib(own) + "), more than 80 % of the machine's " +
                                gib(have) + "; lower env.num_envs or the buffer sizes");
  }
}

// Model parallelism's keys (learner.pipeline_stages, micro_batches, stage_devices) against the algorithm
// and the world size; the algorithm's check refuses what its pipeline cannot do.
void check_pipeline(const TrainConfig& config, const learner::AlgorithmSpec& algo, const std::string& source) {
  const auto& l = config.learner;
  const std::int32_t stages = l.pipeline_stages;
  if (stages <= 1 && l.stage_devices.empty()) return;
  if (!algo.pipeline_parallel) {
    std::string able;
    for (const learner::AlgorithmSpec* a : learner::registered_algorithms())
      if (a->pipeline_parallel) able += (able.empty() ? "" : ", ") + a->name;
    throw std::invalid_argument(source + ": learner." + (stages > 1 ? "pipeline_stages" : "stage_devices") +
                                ": algo " + config.algo +
                                " cannot split its networks into pipeline stages; model parallelism works with " +
                                (able.empty() ? std::string("no registered algorithm") : able) +
                                " (or use learner.pipeline_stages: 1)");
  }
  if (!l.stage_devices.empty()) {
    // Every rank holds all the stages, one per device: world_size counts data-parallel replicas only.
    if (static_cast<std::int32_t>(l.stage_devices.size()) != stages)
      throw std::invalid_argument(source + ": learner.stage_devices names " + std::to_string(l.stage_devices.size()) +
                                  " devices for learner.pipeline_stages " + std::to_string(stages) +
                                  "; name one device per stage");
    const auto cuda = static_cast<std::int64_t>(torch::cuda::device_count());
    for (const auto& name : l.stage_devices) {
      std::optional<torch::Device> device;
      try {
        device.emplace(name);
      } catch (const std::exception&) {
      }
      const bool exists = device && (device->is_cpu() || (device->is_cuda() && device->has_index() && device->index() < cuda));
      if (!exists)
        throw std::invalid_argument(source + ": learner.stage_devices: " + name + " is not a device of this machine (" +
                                    std::to_string(cuda) + " CUDA devices); a stage device is cpu or cuda:N with N "
                                    "below the number of CUDA devices. Without GPUs, split the network over "
                                    "processes instead: learner.pipeline_stages S with learner.world_size S, "
                                    "stage_devices empty");
    }
    return;
  }
  try {
    parallel::ParallelLayout::for_world(l.world_size, stages);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": learner.world_size: " + e.what() + "; set learner.world_size: " +
                                std::to_string(stages) + " for one pipeline of " + std::to_string(stages) +
                                " stages, or a multiple of it for data-parallel replicas of the pipeline");
  }
}

// "WORLD_SIZE=N" or "SLURM_NTASKS=N": the variable the launcher's world size came from.
std::string launcher_world_size(const parallel::RendezvousInfo& info) {
  return std::string(info.source == parallel::RendezvousSource::kSlurm ? "SLURM_NTASKS=" : "WORLD_SIZE=") +
         std::to_string(info.world_size);
}

// The launcher's world size (rendezvous variables) against the config's learner.world_size.
void check_world_size(const TrainConfig& config, const std::string& source, bool resume, const std::string& run_dir) {
  const parallel::RendezvousInfo info = parallel::rendezvous_from_env();
  const int want = config.learner.world_size;
  const bool launched = info.source != parallel::RendezvousSource::kNone;
  const int have = launched ? info.world_size : 1;
  if (have == want || (!launched && want > 1)) return;  // not launched yet: world_size_to_launch() says to start them
  const std::string launcher = launched ? launcher_world_size(info) : "WORLD_SIZE=1";
  if (resume)
    throw std::invalid_argument("--resume " + run_dir + ": the run was trained with learner.world_size " +
                                std::to_string(want) + " and this launch has " + launcher +
                                "; a run resumes only with the world size it was trained with (start it with " +
                                std::to_string(want) + " ranks, or begin a new run)");
  throw std::invalid_argument(source + ": learner.world_size " + std::to_string(want) + " differs from the launcher's " +
                              launcher + " (leave learner.world_size out to take the launcher's, or start " +
                              std::to_string(want) + " ranks)");
}

// Data parallelism's gradient hook: the average over `group`'s ranks (none without a group).
learner::GradientHook gradient_average(parallel::ProcessGroup* group) {
  if (group == nullptr) return {};
  return [group](const std::vector<torch::Tensor>& grads) {
    if (grads.size() == 1 && grads.front().is_contiguous()) {
      group->average_gradients(grads.front());  // PPO's flat buffer: one all-reduce in place
    } else {
      group->average_gradients(grads);  // copied into one buffer, one all-reduce, copied back
    }
  };
}

RunPlan plan_run(const TrainConfig& input, const TrainOptions& options) {
  RunPlan plan;
  plan.config = input;
  plan.source = options.config_source;
  if (!options.resume_dir.empty()) {
    plan.run_dir = options.resume_dir;
    plan.source = (fs::path(plan.run_dir) / "config.yaml").string();
    if (!fs::exists(plan.source))
      throw std::invalid_argument("--resume " + plan.run_dir + ": no config.yaml in that folder");
    plan.config = TrainConfig{};
    core::load_config(plan.config, plan.source);
    plan.resume_from = (fs::path(plan.run_dir) / "checkpoints" / "latest.pt").string();
    if (!fs::exists(plan.resume_from))
      throw std::invalid_argument("--resume " + plan.run_dir + ": no checkpoints/latest.pt to continue from");
    try {
      // Rank 0 (the run folder's writer), before the rendezvous; other ranks would see rank 0's lock.
      if (parallel::rendezvous_from_env().rank == 0) RunLock::refuse_if_held(plan.run_dir);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("--resume " + plan.run_dir + ": " + e.what());
    }
  }
  TrainConfig& config = plan.config;
  plan.requested_name = config.name;
  core::validate_config(config, plan.source);  // ranges, also for configs built in code
  check_run_name(config.name, plan.source);
  load_env_plugins(config.env, plan.source);
  try {
    plan.spec = envs::env_spec(config.env.id, config.env.options);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(plan.source + ": env: " + e.what());
  }
  try {
    agents::validate_encoder(agents::parse_encoder(config.policy.encoder), plan.spec.observation_space.shape,
                             config.env.id);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(plan.source + ": " + e.what());
  }
  plan.device = resolve_device(config.device, plan.source);
  plan.placement = place_env(config, plan.device, plan.source);
  if (config.precision == "auto") {
    const auto gpus = envs::cuda_devices();
    const std::size_t gpu = plan.device.has_index() ? static_cast<std::size_t>(plan.device.index()) : 0;
    const learner::PrecisionChoice choice = learner::choose_auto_precision(
        learner::to_policy_config(config.policy, plan.spec), plan.spec, plan.device, gpu < gpus.size() && gpus[gpu].bf16);
    plan.precision = choice.precision;
    plan.precision_note = choice.note;
  } else {
    plan.precision = learner::parse_precision(config.precision);
    plan.precision_note = bf16_fallback(plan.precision, plan.device);
  }
  learner::check_precision_supported(plan.precision, plan.device);
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  resolve_world_size(config, plan.source);
  const std::int32_t world_size = config.learner.world_size;
  check_pipeline(config, algo, plan.source);
  if (world_size > 1) {
    if (!algo.data_parallel) {
      std::string able;
      for (const learner::AlgorithmSpec* a : learner::registered_algorithms())
        if (a->data_parallel) able += (able.empty() ? "" : ", ") + a->name;
      throw std::invalid_argument(plan.source + ": learner.world_size: algo " + config.algo +
                                  " does not average its gradients across ranks; data-parallel learning works with " +
                                  (able.empty() ? std::string("no registered algorithm") : able) +
                                  " (or use learner.world_size: 1)");
    }
    if (!config.learner.bind.empty())
      throw std::invalid_argument(plan.source + ": learner.bind: with learner.world_size " + std::to_string(world_size) +
                                  " every rank starts its own actor processes (actors.count) on endpoints of its own; "
                                  "one learner.bind address cannot serve several ranks (leave it empty)");
  }
  check_world_size(config, plan.source, !plan.resume_from.empty(), plan.run_dir);
  if (algo.check)
    algo.check(config, plan.spec,
               learner::RunContext{plan.source, static_cast<bool>(options.chunk_source) && config.actors.count > 0,
                                   world_size});
  check_memory(config, plan.spec, algo, plan.source);
  if (plan.resume_from.empty() && !config.init.checkpoint.empty()) {
    try {
      config.init.checkpoint = fs::absolute(resolve_checkpoint(config.init.checkpoint, config.algo)).lexically_normal().string();
      open_checkpoint(config.init.checkpoint);
    } catch (const std::exception& e) {
      throw std::invalid_argument(plan.source + ": init.checkpoint: " + e.what());
    }
  }
  if (plan.resume_from.empty()) {
    plan.run_dir = RunFolder::unused_path(config.out_dir, config.name);
    config.name = fs::path(plan.run_dir).filename().string();
  }
  return plan;
}

// One training run: its parts, built from a plan, and the steps of the loop.
class TrainingRun {
 public:
  // `group`: the data-parallel ranks (nullptr: one rank); `pipeline`: model parallelism's stages, this
  // process stage 0 (nullptr: none). Either outlives this object.
  TrainingRun(RunPlan plan, const TrainOptions& options, parallel::ProcessGroup* group,
              parallel::ProcessGroup* pipeline = nullptr)
      : plan_(std::move(plan)), config_(plan_.config), options_(options), group_(group), pipeline_(pipeline),
        rank_(group ? group->rank() : 0), world_(group ? group->world_size() : 1) {
    learner::set_compute_threads(config_.threads);
    // The same seed on every rank: the networks start identical (check_ranks() verifies it).
    torch::manual_seed(static_cast<std::uint64_t>(config_.seed));
    learner::AlgorithmInit init;
    init.config = config_;
    init.spec = plan_.spec;
    init.device = plan_.device;
    init.precision = plan_.precision;
    init.pipeline = pipeline_;
    init.reduce_gradients = gradient_average(group_);
    algo_ = learner::make_algorithm(init);
    // Each rank's own action sampling from here on (rank 0 keeps the one-rank stream).
    if (rank_ > 0) torch::manual_seed(rank_seed(config_.seed, rank_));
    actors::ActorOptions actor_options;
    actor_options.device = plan_.device;
    actor_options.record_log_probs = learner::find_algorithm(config_.algo).chunk_log_probs;
    actor_options.profiler = &profiler_;
    // A GPU env is read in place (the Actor insists); on the CPU, env.in_place asks for the same path.
    const envs::Device env_device = envs::parse_device(config_.env.device);
    actor_options.in_place = env_device == envs::Device::kCuda || config_.env.in_place;
    actor_.emplace(envs::make_env(config_.env.id, env_config(config_, config_.env.num_envs, env_device)),
                   algo_->policy(), actor_options);
    eval_env_ = envs::make_env(config_.env.id, env_config(config_, config_.eval.num_envs));
    actor_->reset(rank_seed(config_.seed, rank_));  // each rank its own lanes' seeds
    counters_.next_eval = config_.eval.interval_steps > 0 ? config_.eval.interval_steps : config_.total_steps;
    counters_.next_checkpoint =
        config_.checkpoint_interval_steps > 0 ? config_.checkpoint_interval_steps : config_.total_steps;
    if (resuming()) {
      counters_ = load_checkpoint(plan_.resume_from, config_, *algo_, actor_->env());
      actor_->set_env_steps(counters_.steps);
      if (rank_ > 0) {
        // The checkpoint holds rank 0's lanes and random state: the other ranks go on from their own.
        const std::uint64_t seed = core::seeds::resumed_rank_seed(config_.seed, rank_, counters_.steps);
        torch::manual_seed(seed);
        actor_->reset(seed);
      }
    } else if (!config_.init.checkpoint.empty()) {
      start_from_checkpoint();
    }
    if (!config_.policy.freeze.empty() && (config_.policy.freeze_steps == 0 || counters_.steps < config_.policy.freeze_steps))
      freeze();
  }

  bool resuming() const { return !plan_.resume_from.empty(); }

  // Transfer learning: the policy network (or, with init.optimizer, the algorithm's whole state) from
  // init.checkpoint; the report lists every parameter as loaded or fresh.
  void start_from_checkpoint() {
    learner::InitSection& init = plan_.config.init;
    if (init.optimizer) {
      const TrainConfig source = read_checkpoint_config(init.checkpoint);
      if (source.algo != config_.algo)
        throw std::invalid_argument(plan_.source + ": init.optimizer: true needs a checkpoint of " + config_.algo +
                                    ", " + init.checkpoint + " is of " + source.algo);
      auto archive = open_checkpoint(init.checkpoint);
      torch::serialize::InputArchive algorithm;
      archive.read("algorithm", algorithm);
      try {
        algo_->load(algorithm);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(plan_.source + ": init.checkpoint " + init.checkpoint +
                                    " (init.optimizer: true) does not fit: " + e.what());
      }
      init_lines_.push_back("init from " + init.checkpoint + ": the whole " + config_.algo + " state (init.optimizer)");
    } else {
      try {
        const TransferReport report = load_init(init, init.checkpoint, algo_->policy()->module());
        init_lines_ = report.lines();
        std::ostringstream hash;
        hash << std::hex << report.checkpoint_hash;
        init.checkpoint_fnv1a = hash.str();
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(plan_.source + ": " + e.what());
      }
      algo_->weights_loaded();
    }
  }

  // policy.freeze: the selected parts stay fixed until policy.freeze_steps.
  void freeze() {
    const auto names = frozen_names(config_.policy.freeze, algo_->policy()->module());
    const bool ok = algo_->set_frozen([&names](const std::string& n) {
      return std::find(names.begin(), names.end(), n) != names.end();
    });
    if (!ok)
      throw std::invalid_argument(plan_.source + ": policy.freeze: algo " + config_.algo + " cannot freeze parameters");
    frozen_ = true;
    std::string line = "frozen (" + std::to_string(names.size()) + " parameters, excluded from the optimizer and "
                       "gradient clipping" +
                       (config_.policy.freeze_steps > 0 ? " until step " + std::to_string(config_.policy.freeze_steps)
                                                        : std::string(" for the whole run")) + "):";
    for (const auto& n : names) line += " " + n;
    init_lines_.push_back(line);
  }
  void unfreeze_when_due() {
    if (!frozen_ || config_.policy.freeze_steps == 0 || counters_.steps < config_.policy.freeze_steps) return;
    algo_->set_frozen([](const std::string&) { return false; });
    frozen_ = false;
    log("step " + std::to_string(counters_.steps) + ": policy.freeze_steps reached, every parameter learns");
  }

  // The run folder (created for a new run), the chunk source of multi-process runs and the metrics.
  // A new run's folder is removed again when anything here fails: nothing is left half-made.
  void open() {
    check_ranks();
    if (!writer()) {  // ranks other than 0 write nothing to the run folder
      if (group_) group_->barrier();  // rank 0 has made the run folder (open_rank_actors uses it)
      if (options_.chunk_source) open_rank_actors();
      result_.run_dir = plan_.run_dir;
      session_start_steps_ = counters_.steps;
      start_ = std::chrono::steady_clock::now();
      return;
    }
    const bool created = !resuming();
    // A run of the same name may have taken the folder unused_path chose: one rank takes the next.
    while (created && !RunFolder::create(plan_.run_dir, core::dump_config(config_))) {
      if (group_)
        throw std::runtime_error("the run folder " + plan_.run_dir + " was made by another process after this run "
                                 "chose it; start the run again");
      plan_.run_dir = RunFolder::unused_path(config_.out_dir, plan_.requested_name);
      plan_.config.name = fs::path(plan_.run_dir).filename().string();
    }
    if (!created) lock_.emplace(plan_.run_dir);  // a resume is refused while another process writes the run
    if (group_) group_->barrier();
    try {
      if (created) lock_.emplace(plan_.run_dir);
      folder_.emplace(plan_.run_dir, resuming() ? counters_.steps : -1);
      if (options_.chunk_source) {
        source_ = options_.chunk_source(config_, plan_.run_dir, profiler_);
        if (source_) source_->publish(*algo_->policy(), algo_->policy_version());
      }
    } catch (...) {
      folder_.reset();
      if (created) {
        lock_.reset();
        std::error_code ec;
        fs::remove_all(plan_.run_dir, ec);
      }
      throw;
    }
    folder_->log((resuming() ? "resume at step " + std::to_string(counters_.steps) + " " : std::string("start ")) +
                 config_.algo + " on " + config_.env.id + ", device " + plan_.device.str() + " (" +
                 device_reason() + "), " + plan_.placement + ", precision " + learner::to_string(plan_.precision) +
                 (group_ ? ", data-parallel " + std::string(pipeline_ ? "replica" : "rank") + " 0 of " +
                               std::to_string(world_) + " (learner.world_size)"
                         : std::string()) +
                 (pipeline_ ? ", model-parallel stage 0 of " + std::to_string(pipeline_->world_size()) +
                                  " (learner.pipeline_stages)"
                            : std::string()) +
                 stage_devices_note());
    if (!plan_.precision_note.empty()) {
      folder_->log(plan_.precision_note);
      std::fprintf(stderr, "apiary train: %s\n", plan_.precision_note.c_str());
    }
    for (const auto& line : init_lines_) {
      folder_->log(line);
      if (!options_.quiet) std::printf("%s\n", line.c_str());
    }
    result_.run_dir = plan_.run_dir;
    result_.best_eval_mean_return = counters_.best_eval;
    session_start_steps_ = counters_.steps;
    start_ = std::chrono::steady_clock::now();
    // A run that starts from init.checkpoint first evaluates what it loaded on its own env: the log
    // says where transfer starts, and a policy that already reaches stop.mean_return ends the run at
    // step 0 (solved without training).
    if (!resuming() && !config_.init.checkpoint.empty() && config_.eval.interval_steps > 0) evaluate();
  }

  // Data parallelism with actor processes (actors.count on every rank): a rank other than 0 starts its
  // own actors, with its own seed, on endpoints and logs in a folder of its own: <run>/rank-<r> when
  // the run folder is on this machine (ranks of one machine), else a private temporary folder.
  void open_rank_actors() {
    std::error_code ec;
    fs::path dir = fs::path(plan_.run_dir) / ("rank-" + std::to_string(rank_));
    if (!fs::is_directory(plan_.run_dir, ec) || !(fs::create_directories(dir, ec) || fs::is_directory(dir, ec))) {
      std::string pattern = (fs::temp_directory_path() / ("apiary-rank-" + std::to_string(rank_) + "-XXXXXX")).string();
      if (::mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("rank " + std::to_string(rank_) + ": cannot create a folder for its actor processes");
      dir = pattern;
    }
    TrainConfig rank_config = config_;
    rank_config.seed = core::seeds::rank_config_seed(config_.seed, rank_);
    source_ = options_.chunk_source(rank_config, dir.string(), profiler_);
    if (source_) source_->publish(*algo_->policy(), algo_->policy_version());
  }

  // Whether to take another chunk; marks the run interrupted when told to stop.
  // With several ranks every rank takes the same decision: the flags of all are combined (one small
  // all-reduce), so rank 0's early stop and an interruption that reached any rank end them all.
  bool keep_going() {
    const bool done = counters_.steps >= config_.total_steps || result_.stopped_early;
    const bool interrupt =
        !done && ((options_.stop_flag && options_.stop_flag->load()) ||
                  (options_.session_steps > 0 && counters_.steps - session_start_steps_ >= options_.session_steps));
    if (!group_) {
      if (interrupt) result_.interrupted = true;
      return !done && !interrupt;
    }
    const torch::Tensor flags = torch::tensor({done ? 1.0f : 0.0f, interrupt ? 1.0f : 0.0f});
    group_->average_gradients(flags);
    const bool any_done = flags[0].item<float>() > 0.0f, any_interrupt = flags[1].item<float>() > 0.0f;
    if (!any_done && any_interrupt) result_.interrupted = true;
    return !any_done && !any_interrupt;
  }

  // Data parallelism: the ranks' weights are compared (hash) when due (and at the start).
  void check_weights_when_due() {
    if (!group_ || config_.learner.check_weights_interval <= 0 ||
        counters_.updates % config_.learner.check_weights_interval != 0)
      return;
    group_->check_weights(flat_weights(algo_->policy()->module()));
  }

  // Every rank's ended episodes, on rank 0 (one gather per chunk); the others get their own back.
  std::vector<agents::EpisodeStat> all_episodes(const agents::TrajectoryChunk& chunk) {
    if (!group_) return chunk.episodes;
    std::vector<double> mine;
    for (const auto& e : chunk.episodes) {
      mine.push_back(e.episode_return);
      mine.push_back(e.episode_length);
    }
    const auto gathered = group_->gather_to_root(mine);
    if (!writer()) return chunk.episodes;
    std::vector<agents::EpisodeStat> all;
    for (const auto& values : gathered)
      for (std::size_t i = 0; i + 1 < values.size(); i += 2)
        all.push_back(agents::EpisodeStat{static_cast<float>(values[i]), static_cast<std::int32_t>(values[i + 1])});
    return all;
  }

  // A peer died or timed out: rank 0 keeps what it has (its weights are every rank's).
  void checkpoint_after_fault() {
    if (!writer() || !folder_) return;
    try {
      checkpoint("latest");
      log("step " + std::to_string(counters_.steps) + ": the ranks' communication failed; checkpoint written");
    } catch (const std::exception&) {
    }
  }

  // The next chunk, from the in-process actor or the chunk source (nullptr: stopped while waiting).
  const agents::TrajectoryChunk* next_chunk() {
    const agents::TrajectoryChunk* chunk =
        source_ ? source_->next(algo_->policy_version(), options_.stop_flag)
                : &actor_->collect(learner::find_algorithm(config_.algo).rollout_steps(config_), agents::ActContext{},
                                   algo_->policy_version());
    if (chunk == nullptr) result_.interrupted = true;
    return chunk;
  }

  // Counts the chunk's steps and episodes, updates the algorithm, publishes new weights.
  Metrics learn(const agents::TrajectoryChunk& chunk) {
    // Steps count every rank's (each stepped a chunk of the same size): budgets and intervals are the run's.
    counters_.steps += chunk.env_steps() * world_;
    if (group_) actor_->set_env_steps(counters_.steps);  // schedules (epsilon) follow the run's steps
    for (const auto& e : all_episodes(chunk)) {
      counters_.recent.push_back(e);
      if (counters_.recent.size() > kRecentEpisodes) counters_.recent.pop_front();
      ++counters_.episodes;
      if (!folder_) continue;
      folder_->tensorboard().add_scalar("charts/episodic_return", e.episode_return, counters_.steps);
      folder_->tensorboard().add_scalar("charts/episodic_length", static_cast<float>(e.episode_length),
                                        counters_.steps);
    }
    Metrics metrics;
    try {
      core::ScopedTimer t(profiler_, core::ProfileCategory::kLearning);
      metrics = algo_->update(chunk, learner::UpdateContext{counters_.steps, config_.total_steps, world_});
    } catch (const std::exception& e) {
      // A chunk from an actor process never ends the run: dropped, counted, logged. (The chunk gate
      // refuses bad content before this; a local actor's chunk failing is a bug and propagates.)
      if (!source_) throw;
      ++failed_updates_;
      log("step " + std::to_string(counters_.steps) + ": dropped a chunk from actor " +
                   std::to_string(chunk.actor_id) + ", its update failed: " + e.what());
      return {};
    }
    unfreeze_when_due();
    if (!metrics.empty() && metrics.front().first == learner::kNonFiniteUpdate) {
      count_nonfinite_update();
      return {};
    }
    nonfinite_in_a_row_ = 0;
    if (!metrics.empty()) {
      ++counters_.updates;
      if (source_) source_->publish(*algo_->policy(), algo_->policy_version());
      check_weights_when_due();
    }
    return metrics;
  }

  // A metrics row when due, then an evaluation and a checkpoint when due.
  // Ranks other than 0 keep the counters in step and write nothing.
  void record(const Metrics& metrics) {
    if (writer() && !metrics.empty() && counters_.updates % config_.log_interval_updates == 0) write_metrics(metrics);
    if (background_ && background_->done) take_background_eval();
    if (counters_.steps >= counters_.next_eval) {
      counters_.next_eval += config_.eval.interval_steps > 0 ? config_.eval.interval_steps : config_.total_steps;
      if (writer()) evaluate();
    }
    if (counters_.steps >= counters_.next_checkpoint && counters_.steps < config_.total_steps) {
      counters_.next_checkpoint +=
          config_.checkpoint_interval_steps > 0 ? config_.checkpoint_interval_steps : config_.total_steps;
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      if (writer()) checkpoint("latest");
    }
  }

  double mean_recent_return() const { return mean_recent(false); }
  std::int64_t steps() const { return counters_.steps; }
  std::int64_t total_steps() const { return config_.total_steps; }

  // A final evaluation unless the last step just had one, the last checkpoint, the summary.
  TrainResult finish() {
    result_.rank = rank_;
    result_.world_size = world_ * (pipeline_ ? pipeline_->world_size() : 1);
    if (group_ || pipeline_) {
      const parallel::CommStats c = comm_stats();
      result_.comm_seconds = c.seconds();
      result_.allreduce_seconds = c.allreduce_seconds;
      result_.hash_seconds = c.hash_seconds;
      result_.gather_seconds = c.gather_seconds;
      result_.comm_bytes = static_cast<double>(c.bytes);
      result_.communication = c.to_string();
    }
    if (!writer()) {
      fill_counts_and_profile();
      return result_;
    }
    drain_background_evals();
    if (!result_.stopped_early && !result_.interrupted && last_eval_step_ != counters_.steps) {
      evaluate();
      drain_background_evals();
    }
    checkpoint("latest");
    folder_->tensorboard().flush();
    if (source_) {
      result_.transport = source_->metrics();
      source_.reset();  // stops the actor processes
    }
    fill_counts_and_profile();
    std::ostringstream os;
    os << "end step " << result_.steps << " wall_seconds " << result_.wall_seconds << " eval_mean_return "
       << result_.eval_mean_return << " profile: env " << result_.env_seconds << " s, inference "
       << result_.inference_seconds << " s, learning " << result_.learning_seconds << " s, other "
       << result_.other_seconds << " s";
    if (group_ || pipeline_) os << "; " << result_.communication << " (rank 0 of " << result_.world_size << ")";
    folder_->log(os.str());
    return result_;
  }

 private:
  bool writer() const { return rank_ == 0; }
  // Why the learner is where it is: "device auto: LibTorch sees 1 GPU, NVIDIA H100".
  std::string device_reason() const {
    if (config_.device != "auto") return "as configured";
    if (!plan_.device.is_cuda())
      return std::string("device auto: ") +
             (libtorch_built_with_cuda() ? "LibTorch has CUDA but sees no GPU" : "this LibTorch has no CUDA");
    const auto gpus = envs::cuda_devices();
    return "device auto: LibTorch sees " + std::to_string(torch::cuda::device_count()) + " GPU" +
           (gpus.empty() ? std::string() : ", " + gpus.front().name);
  }

  // learner.stage_devices: ", model-parallel: 2 stages on cpu, cuda:0 (learner.stage_devices)".
  std::string stage_devices_note() const {
    const auto& devices = config_.learner.stage_devices;
    if (devices.empty()) return {};
    std::string names;
    for (const auto& d : devices) names += (names.empty() ? "" : ", ") + d;
    return ", model-parallel: " + std::to_string(devices.size()) + " stages on " + names + " (learner.stage_devices)";
  }
  // This rank's communication: the data-parallel group's and the pipeline's.
  parallel::CommStats comm_stats() const {
    parallel::CommStats c;
    if (group_) c += group_->stats();
    if (pipeline_) c += pipeline_->stats();
    return c;
  }
  void log(const std::string& line) {
    if (folder_) folder_->log(line);
  }

  // The ranks start alike: the same weights (same seed, same files), compared by hash once.
  void check_ranks() {
    if (!group_) return;
    group_->check_weights(flat_weights(algo_->policy()->module()));
  }

  double wall() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double mean_recent(bool lengths) const {
    if (counters_.recent.empty()) return std::nan("");
    double s = 0;
    for (const auto& e : counters_.recent) s += lengths ? e.episode_length : e.episode_return;
    return s / static_cast<double>(counters_.recent.size());
  }

  // An update the algorithm undid for non-finite losses or weights: counted, logged, and after a few in
  // a row the end of the run (its checkpoints were all written from finite weights).
  void count_nonfinite_update() {
    ++nonfinite_in_a_row_;
    ++nonfinite_total_;
    log("step " + std::to_string(counters_.steps) + ": update undone, its losses or weights were not finite (" +
                 std::to_string(nonfinite_in_a_row_) + " in a row)");
    if (nonfinite_in_a_row_ < kMaxNonFiniteUpdatesInARow) return;
    const std::string kept = last_checkpoint_.empty()
                                 ? "no checkpoint had been written yet"
                                 : "its last checkpoint, " + last_checkpoint_ + ", holds finite weights";
    throw std::runtime_error(std::to_string(nonfinite_in_a_row_) + " updates in a row at step " +
                             std::to_string(counters_.steps) + " had non-finite losses or weights (" + config_.algo +
                             " on " + config_.env.id + "; check the env's rewards and the learning rate); " + kept);
  }

  void write_metrics(const Metrics& metrics) {
    const double seconds = wall();
    const double sps = static_cast<double>(counters_.steps - session_start_steps_) / std::max(seconds, 1e-9);
    const core::ProfileReport report = profiler_.report();
    core::CsvWriter::Row row = {{"step", static_cast<double>(counters_.steps)},
                                {"wall_seconds", counters_.previous_wall_seconds + seconds},
                                {"steps_per_second", sps},
                                {"episodes", static_cast<double>(counters_.episodes)},
                                {"mean_return", mean_recent(false)},
                                {"mean_length", mean_recent(true)},
                                {"env_seconds", report[core::ProfileCategory::kEnv].seconds},
                                {"inference_seconds", report[core::ProfileCategory::kInference].seconds},
                                {"learning_seconds", report[core::ProfileCategory::kLearning].seconds},
                                {"nonfinite_updates", static_cast<double>(nonfinite_total_)},
                                {"failed_updates", static_cast<double>(failed_updates_)}};
    if (group_ || pipeline_) {
      const parallel::CommStats c = comm_stats();
      row.push_back({"comm_seconds", c.seconds()});
      row.push_back({"comm_allreduce_seconds", c.allreduce_seconds});
      row.push_back({"comm_sendrecv_seconds", c.sendrecv_seconds});
      row.push_back({"comm_hash_seconds", c.hash_seconds});
      row.push_back({"comm_gather_seconds", c.gather_seconds});
      row.push_back({"comm_bytes", static_cast<double>(c.bytes)});
    }
    for (const auto& kv : metrics) row.push_back(kv);
    if (source_)
      for (const auto& kv : source_->metrics()) row.push_back(kv);
    folder_->write_metrics(row);
    folder_->tensorboard().add_scalar("charts/SPS", static_cast<float>(sps), counters_.steps);
    for (const auto& [k, v] : metrics)
      folder_->tensorboard().add_scalar("losses/" + k, static_cast<float>(v), counters_.steps);
  }

  // The summary's steps, updates, wall-clock and where the time went.
  void fill_counts_and_profile() {
    const core::ProfileReport report = profiler_.report();
    result_.steps = counters_.steps;
    result_.updates = counters_.updates;
    result_.wall_seconds = wall();
    result_.env_seconds = report[core::ProfileCategory::kEnv].seconds;
    result_.inference_seconds = report[core::ProfileCategory::kInference].seconds;
    result_.learning_seconds = report[core::ProfileCategory::kLearning].seconds;
    result_.other_seconds = report[core::ProfileCategory::kOther].seconds;
  }

  // An evaluation due at `step` (eval.background), with a snapshot of the weights it plays.
  struct PendingEval {
    std::int64_t step = -1;
    agents::Weights weights;
  };

  // An evaluation of the acting policy at this step: played now, or, with eval.background, on its own
  // thread with a copy of the policy. One that falls due while the one before still plays is postponed,
  // not skipped: a snapshot of the weights waits in a queue and plays as soon as the thread is free, so
  // the steps and policies evaluated are the foreground's and training is not held up. Training waits
  // only when kMaxPendingEvals snapshots already wait (evaluations slower than training, for good).
  void evaluate() {
    last_eval_step_ = counters_.steps;
    if (!config_.eval.background) {
      actors::EvalResult e;
      {
        core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
        e = actors::evaluate(*eval_env_, *algo_->policy(), config_.eval.episodes, eval_seed(), plan_.device);
      }
      take_eval_result(counters_.steps, e, [this] { checkpoint("best"); });
      return;
    }
    if (result_.stopped_early) return;  // one before reached stop.mean_return
    if (!background_) {
      // The copy's random initial weights must not move the run's random stream (the actions it samples).
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      torch::Tensor state;
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        state = generator.get_state();
      }
      background_ = std::make_unique<BackgroundEval>();
      background_->policy = learner::find_algorithm(config_.algo).make_behaviour_policy(config_, plan_.spec);
      background_->policy->module().to(plan_.device);
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(state);
    }
    BackgroundEval& b = *background_;
    if (b.pending.size() >= kMaxPendingEvals) {
      take_background_eval();  // waits for the playing one; the oldest snapshot starts
      if (result_.stopped_early) return;
    }
    PendingEval snapshot;
    snapshot.step = counters_.steps;
    {
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      agents::export_weights(algo_->policy()->module(), algo_->policy_version(), snapshot.weights);
    }
    if (b.thread.joinable())
      b.pending.push_back(std::move(snapshot));
    else
      start_background_eval(std::move(snapshot));
  }

  std::uint64_t eval_seed() const { return core::seeds::evaluation_seed(config_.seed); }

  // Plays `snapshot` on the evaluation thread (none plays now).
  void start_background_eval(PendingEval snapshot) {
    BackgroundEval& b = *background_;
    {
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      agents::import_weights(b.policy->module(), snapshot.weights);
    }
    b.playing = std::move(snapshot);
    b.done = false;
    b.error = nullptr;
    b.thread = std::thread([this, &b, seed = eval_seed()] {
      try {
        b.result = actors::evaluate(*eval_env_, *b.policy, config_.eval.episodes, seed, plan_.device);
      } catch (...) {
        b.error = std::current_exception();
      }
      b.done = true;
    });
  }

  // The playing background evaluation's result, once it has ended (waiting for it if it plays), then
  // the oldest postponed one starts; nothing when none plays. A result that stops the run drops the
  // postponed ones.
  void take_background_eval() {
    if (!background_ || !background_->thread.joinable()) return;
    BackgroundEval& b = *background_;
    {
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      b.thread.join();
    }
    if (b.error) std::rethrow_exception(b.error);
    // best.pt holds the evaluated policy: its weights go into the network for the write, then back.
    take_eval_result(b.playing.step, b.result, [this, &b] {
      agents::Weights now;
      agents::export_weights(algo_->policy()->module(), algo_->policy_version(), now);
      agents::import_weights(algo_->policy()->module(), b.playing.weights);
      checkpoint("best");
      agents::import_weights(algo_->policy()->module(), now);
    });
    if (result_.stopped_early) b.pending.clear();
    if (b.pending.empty()) return;
    PendingEval next = std::move(b.pending.front());
    b.pending.pop_front();
    start_background_eval(std::move(next));
  }

  // Every background evaluation played and taken, postponed ones included (until one stops the run);
  // after Ctrl-C or SIGTERM only the one playing, so that the run stops promptly.
  void drain_background_evals() {
    if (background_ && result_.interrupted && !background_->pending.empty()) {
      folder_->log("interrupted: " + std::to_string(background_->pending.size()) +
                   " postponed evaluations not played (the first due at step " +
                   std::to_string(background_->pending.front().step) + ")");
      background_->pending.clear();
    }
    while (background_ && background_->thread.joinable()) take_background_eval();
  }

  // Metrics, TensorBoard and the log for an evaluation of the policy of `step`; best.pt and the stop.
  void take_eval_result(std::int64_t step, const actors::EvalResult& e, const std::function<void()>& write_best) {
    result_.eval_mean_return = e.mean_return;
    result_.eval_std_return = e.std_return;
    folder_->write_metrics({{"step", static_cast<double>(step)},
                            {"wall_seconds", counters_.previous_wall_seconds + wall()},
                            {"eval_mean_return", e.mean_return},
                            {"eval_std_return", e.std_return}});
    folder_->tensorboard().add_scalar("eval/mean_return", static_cast<float>(e.mean_return), step);
    folder_->tensorboard().add_scalar("eval/std_return", static_cast<float>(e.std_return), step);
    folder_->tensorboard().flush();
    std::ostringstream os;
    os << "eval step " << step << " mean_return " << e.mean_return << " std " << e.std_return << " mean_length "
       << e.mean_length << " wall_seconds " << wall();
    if (step != counters_.steps) os << " (in the background, taken at step " << counters_.steps << ")";
    folder_->log(os.str());
    if (!options_.quiet) std::printf("%s\n", os.str().c_str());
    if (e.mean_return > counters_.best_eval) {
      counters_.best_eval = e.mean_return;
      result_.best_eval_mean_return = e.mean_return;
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      write_best();
    }
    if (e.mean_return >= config_.stop.mean_return) {
      if (result_.solved_wall_seconds < 0) {
        result_.solved_wall_seconds = wall();
        result_.solved_steps = step;
      }
      result_.stopped_early = true;
    }
  }

  void checkpoint(const std::string& name) {
    RunCounters saved = counters_;
    saved.previous_wall_seconds += wall();
    const std::string path = folder_->checkpoint(name);
    save_checkpoint(path, config_, saved, *algo_, actor_->env());
    if (name == "latest") last_checkpoint_ = path + " (step " + std::to_string(counters_.steps) + ")";
  }

  RunPlan plan_;
  const TrainConfig& config_;
  const TrainOptions& options_;
  parallel::ProcessGroup* group_ = nullptr;  // data-parallel ranks (nullptr: one rank)
  parallel::ProcessGroup* pipeline_ = nullptr;  // model parallelism: the stages, this process stage 0
  int rank_ = 0, world_ = 1;
  core::Profiler profiler_;
  std::unique_ptr<Algorithm> algo_;
  std::optional<actors::Actor> actor_;
  std::unique_ptr<envs::VecEnv> eval_env_;
  // eval.background: a copy of the policy, the snapshot it plays, the thread that plays it on eval_env_
  // (declared after eval_env_: destroyed, and joined, first), and the snapshots postponed behind it
  // (PendingEval, above evaluate()).
  static constexpr std::size_t kMaxPendingEvals = 4;
  struct BackgroundEval {
    std::shared_ptr<agents::Policy> policy;
    PendingEval playing;
    std::deque<PendingEval> pending;
    std::thread thread;
    actors::EvalResult result;
    std::exception_ptr error;
    std::atomic<bool> done{false};
    ~BackgroundEval() {
      if (thread.joinable()) thread.join();
    }
  };
  std::unique_ptr<BackgroundEval> background_;
  RunCounters counters_;
  std::optional<RunLock> lock_;  // held from open() to the end: no second writer (train, learner, --resume)
  std::optional<RunFolder> folder_;
  std::unique_ptr<ChunkSource> source_;
  TrainResult result_;
  std::int64_t session_start_steps_ = 0;
  std::int64_t last_eval_step_ = -1;
  int nonfinite_in_a_row_ = 0;
  std::int64_t nonfinite_total_ = 0;
  std::int64_t failed_updates_ = 0;  // remote chunks whose update threw (dropped)
  std::string last_checkpoint_;  // the latest.pt written last, for messages
  std::vector<std::string> init_lines_;  // transfer and freeze, for the log
  bool frozen_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Model parallelism (learner.pipeline_stages > 1): a stage after the first steps no envs and writes
// nothing; it takes part in the updates stage 0 (rank 0) starts until rank 0's algorithm says stop.
// `replicas` (data parallelism as well): the ranks that hold the same stage, over which its gradients
// are averaged; nullptr with one replica.
TrainResult serve_pipeline_stage(const RunPlan& plan, int world_rank, int world_size, parallel::ProcessGroup& pipeline,
                                 parallel::ProcessGroup* replicas) {
  learner::set_compute_threads(plan.config.threads);
  torch::manual_seed(static_cast<std::uint64_t>(plan.config.seed));  // the same whole network as rank 0's
  learner::AlgorithmInit init;
  init.config = plan.config;
  init.spec = plan.spec;
  init.device = plan.device;
  init.precision = plan.precision;
  init.pipeline = &pipeline;
  init.reduce_gradients = gradient_average(replicas);
  std::unique_ptr<Algorithm> algo = learner::make_algorithm(init);
  const auto start = std::chrono::steady_clock::now();
  algo->serve_stage();
  TrainResult result;
  result.run_dir = plan.run_dir;
  result.rank = world_rank;
  result.world_size = world_size;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  parallel::CommStats comm = pipeline.stats();
  if (replicas != nullptr) comm += replicas->stats();
  result.communication = comm.to_string();
  return result;
}

// Data parallelism: this process joins the other ranks (learner.world_size > 1), comparing configs.
std::optional<parallel::ProcessGroup> join_ranks(const RunPlan& plan) {
  const TrainConfig& config = plan.config;
  if (config.learner.world_size <= 1) return std::nullopt;
  const parallel::RendezvousInfo info = parallel::rendezvous_from_env();
  if (info.source == parallel::RendezvousSource::kNone)
    throw std::invalid_argument(plan.source + ": learner.world_size " + std::to_string(config.learner.world_size) +
                                ": this process is no rank of a launch (no RANK/WORLD_SIZE or SLURM variables); "
                                "`apiary train` starts the ranks itself, or see docs/distributed.md for torchrun");
  parallel::JoinOptions join;
  join.timeout_seconds = config.learner.timeout_seconds;
  TrainConfig fingerprint = config;
  fingerprint.name = plan.requested_name;  // rank 0 may have picked a free folder name since
  join.fingerprint = (plan.resume_from.empty() ? std::string() : "resume: " + plan.run_dir + "\n") +
                     core::dump_config(fingerprint);
  return parallel::ProcessGroup::join(info, join);
}

}  // namespace

void resolve_world_size(TrainConfig& config, const std::string& source) {
  learner::LearnerSection& l = config.learner;
  if (l.world_size != 0) return;
  const bool one_stage_per_rank = l.stage_devices.empty() && l.pipeline_stages > 1;
  const parallel::RendezvousInfo info = parallel::rendezvous_from_env();
  if (info.source == parallel::RendezvousSource::kNone) {
    l.world_size = one_stage_per_rank ? l.pipeline_stages : 1;
    return;
  }
  if (one_stage_per_rank && info.world_size % l.pipeline_stages != 0)
    throw std::invalid_argument(source + ": learner.pipeline_stages " + std::to_string(l.pipeline_stages) +
                                " does not divide the launcher's " + launcher_world_size(info) +
                                " (one stage per rank: start a multiple of " + std::to_string(l.pipeline_stages) +
                                " ranks, or set learner.pipeline_stages to a divisor of " +
                                std::to_string(info.world_size) + ")");
  l.world_size = info.world_size;
}

int world_size_to_launch(const TrainConfig& config, const TrainOptions& options) {
  TrainConfig resolved = config;
  std::string source = options.config_source;
  const bool resume = !options.resume_dir.empty();
  if (resume) {
    source = (fs::path(options.resume_dir) / "config.yaml").string();
    if (!fs::exists(source)) return 1;  // train() refuses it with its own message
    resolved = TrainConfig{};
    core::load_config(resolved, source);
  }
  resolve_world_size(resolved, source);
  check_world_size(resolved, source, resume, options.resume_dir);
  // Model parallelism's refusals before any rank starts (the rest come from each rank's plan_run).
  const learner::AlgorithmSpec* algo = nullptr;
  try {
    algo = &learner::find_algorithm(resolved.algo);
  } catch (const std::invalid_argument&) {
    // train() names the unknown algorithm
  }
  if (algo != nullptr) check_pipeline(resolved, *algo, source);
  return resolved.learner.world_size;
}

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  RunPlan plan = plan_run(config, options);  // everything that can be refused, before any file
  std::optional<parallel::ProcessGroup> group = join_ranks(plan);
  // Model parallelism over ranks (learner.pipeline_stages without stage_devices): rank = replica x
  // stages + stage. This rank's pipeline is its replica's stages; with several replicas, the ranks that
  // hold the same stage average that stage's gradients. A replica's stage 0 runs the training loop
  // (steps its envs, acts); world rank 0 alone writes. The other stages serve their stage 0.
  parallel::ProcessGroup* data = group ? &*group : nullptr;
  parallel::ProcessGroup* pipeline = nullptr;
  std::optional<parallel::ProcessGroup> pipeline_group, replica_group;
  const std::int32_t stages = plan.config.learner.stage_devices.empty() ? plan.config.learner.pipeline_stages : 1;
  if (stages > 1) {
    const auto layout = parallel::ParallelLayout::for_world(group->world_size(), stages);
    const int rank = group->rank();
    if (layout.replicas == 1) {
      pipeline = &*group;
      data = nullptr;
    } else {
      // Every rank makes its pipeline's group first, then its stage's: the same order everywhere.
      pipeline_group.emplace(group->subgroup(layout.pipeline_ranks(layout.replica_of(rank))));
      replica_group.emplace(group->subgroup(layout.stage_ranks(layout.stage_of(rank))));
      pipeline = &*pipeline_group;
      data = &*replica_group;
    }
    if (layout.stage_of(rank) > 0) return serve_pipeline_stage(plan, rank, group->world_size(), *pipeline, data);
  }
  TrainingRun run(std::move(plan), options, data, pipeline);
  run.open();
  const bool writer = !group || group->rank() == 0;
  core::ProgressLine progress(run.total_steps(), stderr, writer && options.progress && ::isatty(2));
  try {
    while (run.keep_going()) {
      const agents::TrajectoryChunk* chunk = run.next_chunk();
      if (chunk == nullptr) break;
      const Metrics metrics = run.learn(*chunk);
      progress.update(run.steps(), run.mean_recent_return());
      run.record(metrics);
    }
  } catch (const parallel::CommError&) {
    progress.finish();
    run.checkpoint_after_fault();
    throw;
  } catch (const parallel::WeightMismatch&) {
    progress.finish();
    throw;
  }
  progress.finish();
  return run.finish();
}

EvalCheckpointResult evaluate_checkpoint(const std::string& path, std::int32_t episodes, std::uint64_t seed,
                                         std::int32_t num_envs, const std::map<std::string, double>& options) {
  const LoadedPolicy loaded = load_policy(path);
  TrainConfig config = loaded.config;
  for (const auto& [name, value] : options) config.env.options[name] = value;
  auto env = envs::make_env(config.env.id,
                            env_config(config, num_envs > 0 ? num_envs : std::min<std::int32_t>(episodes, 64)));
  const actors::EvalResult e = actors::evaluate(*env, *loaded.policy, episodes, seed, torch::kCPU);
  return EvalCheckpointResult{config.env.id, e.mean_return, e.std_return, e.mean_length, e.episodes};
}

// Its CUDA library is loaded.
bool libtorch_built_with_cuda() {
  for (const char* lib : {"libtorch_cuda.so", "libc10_cuda.so"})
    if (void* handle = ::dlopen(lib, RTLD_NOW | RTLD_NOLOAD)) {
      ::dlclose(handle);
      return true;
    }
  return false;
}

}  // namespace apiary::runner
