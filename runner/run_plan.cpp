#include "runner/run_plan.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "agents/encoder.h"
#include "learner/algorithm.h"
#include "learner/precision_choice.h"
#include "parallel/pipeline.h"
#include "parallel/rendezvous.h"
#include "runner/checkpoint.h"
#include "runner/run_folder.h"
#include "runner/transfer.h"
#include "runner/zoo.h"

namespace apiary::runner {

namespace fs = std::filesystem;

namespace {

// A run folder's config.yaml over the defaults (a resume). Built in place and returned, rather than
// assigned from a TrainConfig{} temporary, which GCC 12 reports as maybe used uninitialized.
TrainConfig load_train_config(const std::string& path) {
  TrainConfig config;
  core::load_config(config, path);
  return config;
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

// policy.recurrent's refusals: an algorithm without recurrent policies, a pipeline (its stages do not
// carry a core's state). Before any rank starts and in every rank's plan.
void check_recurrent(const TrainConfig& config, const learner::AlgorithmSpec& algo, const std::string& source) {
  if (config.policy.recurrent.cell == "none") return;
  if (!algo.recurrent) {
    std::string able;
    for (const learner::AlgorithmSpec* a : learner::registered_algorithms())
      if (a->recurrent) able += (able.empty() ? "" : ", ") + a->name;
    throw std::invalid_argument(source + ": policy.recurrent: algo " + config.algo +
                                " has no recurrent policy; a recurrent core works with " +
                                (able.empty() ? std::string("no registered algorithm") : able) +
                                " (or set policy.recurrent.cell: none)");
  }
  if (config.learner.pipeline_stages > 1 || !config.learner.stage_devices.empty())
    throw std::invalid_argument(source + ": policy.recurrent: a pipeline (learner.pipeline_stages, "
                                "learner.stage_devices) cuts the actor and critic MLPs and does not carry a "
                                "recurrent core's state between stages; train a recurrent policy unsplit");
}

}  // namespace

// The lanes of a run: training ones on env.device (resolved by place_env), evaluation ones with
// `device` as given.
envs::VecEnvConfig env_config(const TrainConfig& config, std::int32_t num_envs, envs::Device device) {
  envs::VecEnvConfig c;
  c.num_envs = num_envs;
  c.device = device;
  c.threads = config.threads;
  c.options = config.env.options;
  return c;
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
    plan.config = load_train_config(plan.source);
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
  check_recurrent(config, algo, plan.source);
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
    resolved = load_train_config(source);
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
  if (algo != nullptr) {
    check_recurrent(resolved, *algo, source);
    check_pipeline(resolved, *algo, source);
  }
  return resolved.learner.world_size;
}

}  // namespace apiary::runner
