#include "runner/train.h"

#include "runner/ranks.h"
#include "runner/run_plan.h"

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
#include "runner/background_eval.h"
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
      if (counters_.lane_memory.defined() != actor_->memory().defined())
        throw std::invalid_argument("checkpoint " + plan_.resume_from + (actor_->memory().defined() ? " has no" : " has a") +
                                    " recurrent policy's lane memory, but the run's policy " +
                                    (actor_->memory().defined() ? "is" : "is not") + " recurrent");
      if (counters_.lane_memory.defined()) actor_->set_memory(counters_.lane_memory, counters_.lane_starts);
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

  // Transfer learning (init.checkpoint) and policy.freeze: runner/transfer.h.
  void start_from_checkpoint() {
    init_lines_ = init_from_checkpoint(plan_.config.init, config_.algo, *algo_, plan_.source);
  }
  void freeze() {
    init_lines_.push_back(freeze_policy(config_.policy, config_.algo, *algo_, plan_.source));
    frozen_ = true;
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
    if (background_ && background_->finished()) take_background_eval();
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
    learner::check_reported_metrics(learner::find_algorithm(config_.algo), metrics);
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

  // An evaluation of the acting policy at this step: played now, or, with eval.background, on its own
  // thread with a snapshot of the weights (BackgroundEvaluations: one that falls due while the one
  // before plays is postponed, not skipped). Training waits only when kMaxPending snapshots already
  // wait (evaluations slower than training, for good).
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
      std::shared_ptr<agents::Policy> copy = learner::find_algorithm(config_.algo).make_behaviour_policy(config_, plan_.spec);
      copy->module().to(plan_.device);
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(state);
      }
      background_ = std::make_unique<BackgroundEvaluations>(*eval_env_, std::move(copy), config_.eval.episodes,
                                                            eval_seed(), plan_.device, profiler_);
    }
    if (background_->full()) {
      take_background_eval();  // waits for the playing one; the oldest snapshot starts
      if (result_.stopped_early) return;
    }
    agents::Weights weights;
    {
      core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
      agents::export_weights(algo_->policy()->module(), algo_->policy_version(), weights);
    }
    background_->submit(counters_.steps, std::move(weights));
  }

  std::uint64_t eval_seed() const { return core::seeds::evaluation_seed(config_.seed); }

  // The playing background evaluation's result, once it has ended (waiting for it if it plays), then
  // the oldest postponed one starts; nothing when none plays. A result that stops the run drops the
  // postponed ones.
  void take_background_eval() {
    if (!background_ || !background_->playing()) return;
    const BackgroundEvaluations::Played played = background_->take();
    // best.pt holds the evaluated policy: its weights go into the network for the write, then back.
    take_eval_result(played.step, played.result, [this, &played] {
      agents::Weights now;
      agents::export_weights(algo_->policy()->module(), algo_->policy_version(), now);
      agents::import_weights(algo_->policy()->module(), played.weights);
      checkpoint("best");
      agents::import_weights(algo_->policy()->module(), now);
    });
    if (result_.stopped_early) background_->drop_postponed();
    background_->start_next();
  }

  // Every background evaluation played and taken, postponed ones included (until one stops the run);
  // after Ctrl-C or SIGTERM only the one playing, so that the run stops promptly.
  void drain_background_evals() {
    if (background_ && result_.interrupted && background_->postponed() > 0) {
      folder_->log("interrupted: " + std::to_string(background_->postponed()) +
                   " postponed evaluations not played (the first due at step " +
                   std::to_string(background_->first_postponed_step()) + ")");
      background_->drop_postponed();
    }
    while (background_ && background_->playing()) take_background_eval();
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
    saved.lane_memory = actor_->memory();
    saved.lane_starts = actor_->memory_starts();
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
  std::unique_ptr<BackgroundEvaluations> background_;  // eval.background (after eval_env_: destroyed, and joined, first)
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

}  // namespace

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  RunPlan plan = plan_run(config, options);  // everything that can be refused, before any file
  RankGroups ranks = join_ranks(plan);
  if (ranks.stage > 0) return serve_pipeline_stage(plan, ranks);
  TrainingRun run(std::move(plan), options, ranks.data, ranks.pipeline);
  run.open();
  const bool writer = ranks.rank == 0;
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

TorchInfo torch_info() {
  TorchInfo info;
  info.version = TORCH_VERSION;
  info.intra_op_threads = torch::get_num_threads();
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  return info;
}

double torch_matmul_gflops() {
  torch::NoGradGuard no_grad;
  const std::int64_t n = 512;
  const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);  // warm-up
  const int reps = 8;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) c = torch::mm(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * static_cast<double>(n * n * n) * reps / s / 1e9;
}

}  // namespace apiary::runner
