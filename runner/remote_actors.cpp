#include "runner/remote_actors.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include <torch/torch.h>

#include "actors/actor_process.h"
#include "actors/chunk_check.h"
#include "actors/codec.h"
#include "actors/supervisor.h"
#include "actors/transport.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "agents/weights.h"
#include "core/config.h"
#include "core/profiler.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "learner/algorithm.h"

namespace apiary::runner {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::uint64_t new_session_id() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(::getpid());
}

void log_stderr(const std::string& line) { std::fprintf(stderr, "apiary learner: %s\n", line.c_str()); }

// What every chunk of this run must look like (actors/chunk_check.h).
actors::ChunkExpectations chunk_expectations(const TrainConfig& config) {
  const envs::EnvSpec spec = envs::env_spec(config.env.id, config.env.options);
  actors::ChunkExpectations e;
  static_cast<actors::wire::ChunkSchema&>(e) = actors::chunk_schema(config, spec);
  e.num_actions = spec.action_space.is_discrete() ? spec.action_space.n : 0;
  e.max_episode_steps = spec.max_episode_steps;
  e.validate();
  return e;
}

// An ipc base endpoint in a private folder: the run folder when its path is short enough for a Unix
// socket, else a fresh folder under $TMPDIR that the source removes.
std::string private_ipc_endpoint(const std::string& run_dir, std::string& temp_dir) {
  const fs::path in_run = fs::absolute(fs::path(run_dir) / "ipc");
  if (in_run.string().size() + 20 < 92) {
    fs::create_directories(in_run);
    fs::permissions(in_run, fs::perms::owner_all, fs::perm_options::replace);
    return "ipc://" + (in_run / "learner").string();
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/apiary-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a folder for ipc endpoints");
  temp_dir = pattern;
  return "ipc://" + pattern + "/learner";
}

class DistributedSource final : public ChunkSource {
 public:
  DistributedSource(const TrainConfig& config, const std::string& run_dir, core::Profiler& profiler,
                    const DistributedOptions& options)
      : config_(config),
        profiler_(profiler),
        log_(options.log ? options.log : log_stderr),
        session_(new_session_id()),
        config_yaml_(core::dump_config(config)),
        schema_(actors::chunk_schema(config, envs::env_spec(config.env.id, config.env.options))),
        gate_(chunk_expectations(config), session_) {
    std::string bind = !options.bind.empty() ? options.bind : config.learner.bind;
    if (bind.empty()) bind = private_ipc_endpoint(run_dir, temp_dir_);
    actors::TransportOptions t;
    t.max_message_bytes = config.actors.max_message_bytes;
    t.data_buffer_bytes = actors::chunk_bytes(schema_);
    t.curve_secret_key_file = config.learner.curve_secret_key;
    sockets_.emplace(bind, t);
    endpoint_ = bind;
    limits_.max_message_bytes = static_cast<std::size_t>(config.actors.max_message_bytes);
    limits_.expected_kind = static_cast<std::uint16_t>(actors::wire::MessageKind::kChunk);
    limits_.chunk_schema = &schema_;
    log_("listening on " + bind + " (session " + std::to_string(session_) + ")");
    next_external_id_ = config.actors.count;
    if (config.actors.count > 0) {
      actors::SupervisorOptions s;
      s.program = options.program;
      std::string connect = config.actors.connect.empty() ? bind : config.actors.connect;
      // Actors of this machine reach a learner bound to every interface through loopback.
      const std::string any = "tcp://0.0.0.0:";
      if (connect.rfind(any, 0) == 0) connect = "tcp://127.0.0.1:" + connect.substr(any.size());
      s.args = {"actor", "--connect", connect, "--id", "{id}"};
      if (!config.actors.curve_server_key.empty()) {
        s.args.push_back("--server-key");
        s.args.push_back(fs::absolute(config.actors.curve_server_key).string());
      }
      s.count = config.actors.count;
      s.backoff_seconds = config.actors.restart_backoff_seconds;
      s.max_backoff_seconds = config.actors.max_restart_backoff_seconds;
      s.log_path = (fs::absolute(run_dir) / "actor-{id}.log").string();
      s.log = log_;
      supervisor_.emplace(s);
      supervisor_->start();
    }
    start_ = Clock::now();
  }

  ~DistributedSource() override {
    if (supervisor_) supervisor_->stop();
    supervisor_.reset();
    sockets_.reset();
    if (!temp_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(temp_dir_, ec);
    }
  }

  const agents::TrajectoryChunk* next(std::int64_t policy_version, const std::atomic<bool>* stop) override {
    const auto wait_start = Clock::now();
    std::vector<zmq::message_t> frames;
    for (;;) {
      if (stop != nullptr && stop->load()) return nullptr;
      if (supervisor_) supervisor_->poll();
      if (seconds_since(last_publish_) > 1.0) rebroadcast();  // late joiners and restarted actors
      zmq::pollitem_t items[] = {{sockets_->control().handle(), 0, ZMQ_POLLIN, 0},
                                 {sockets_->data().handle(), 0, ZMQ_POLLIN, 0}};
      actors::poll_items(items, 2, std::chrono::milliseconds(50));
      if (items[0].revents & ZMQ_POLLIN) answer_hello();
      if (!(items[1].revents & ZMQ_POLLIN)) continue;
      if (!actors::recv_frames(sockets_->data(), frames, /*dontwait=*/true)) continue;
      if (accept(frames, policy_version)) {
        const double waited = seconds_since(wait_start);
        profiler_.add(core::ProfileCategory::kTransport, waited);
        wait_seconds_ += waited;
        return &chunk_;
      }
    }
  }

  void publish(agents::Policy& policy, std::int64_t policy_version) override {
    if (weights_ && weights_->version == policy_version) return;
    core::ScopedTimer t(profiler_, core::ProfileCategory::kTransport);
    auto w = std::make_shared<agents::Weights>();
    agents::export_weights(policy.module(), policy_version, *w);
    weights_ = std::move(w);
    rebroadcast();
  }

  std::vector<std::pair<std::string, double>> metrics() override {
    const double wall = std::max(seconds_since(start_), 1e-9);
    std::vector<std::pair<std::string, double>> m = {
        {"transport_chunks", static_cast<double>(chunks_)},
        {"transport_dropped_lag", static_cast<double>(dropped_lag_)},
        {"transport_malformed", static_cast<double>(decode_stats_.total())},
        {"transport_failed", static_cast<double>(failed_)},
        {"transport_wait_data_seconds", wait_seconds_},
        {"transport_bytes_in_per_second", static_cast<double>(bytes_in_) / wall},
        {"transport_bytes_out_per_second", static_cast<double>(bytes_out_) / wall},
        {"actor_restarts", supervisor_ ? static_cast<double>(supervisor_->restarts()) : 0.0}};
    for (const auto& kv : gate_.metrics()) m.push_back(kv);
    // Policy lag of the chunks accepted since the last call.
    if (!lags_.empty()) {
      std::sort(lags_.begin(), lags_.end());
      double sum = 0;
      for (auto l : lags_) sum += static_cast<double>(l);
      m.emplace_back("policy_lag_mean", sum / static_cast<double>(lags_.size()));
      m.emplace_back("policy_lag_p50", static_cast<double>(lags_[lags_.size() / 2]));
      m.emplace_back("policy_lag_p90", static_cast<double>(lags_[lags_.size() * 9 / 10]));
      m.emplace_back("policy_lag_max", static_cast<double>(lags_.back()));
      lags_.clear();
    }
    // What the actors report (their latest cumulative seconds, summed over actor ids).
    std::array<double, 4> sum{};
    for (const auto& [id, s] : actor_stats_)
      for (std::size_t i = 0; i < 4; ++i) sum[i] += s[i];
    m.emplace_back("actor_env_seconds", sum[actors::wire::kEnvSeconds]);
    m.emplace_back("actor_inference_seconds", sum[actors::wire::kInferenceSeconds]);
    m.emplace_back("actor_wait_learner_seconds", sum[actors::wire::kSendWaitSeconds]);
    m.emplace_back("actor_weights_seconds", sum[actors::wire::kWeightsSeconds]);
    return m;
  }

 private:
  // Learns whether `frames` is a chunk to learn from; counts and logs it when it is not.
  bool accept(std::vector<zmq::message_t>& frames, std::int64_t policy_version) {
    bytes_in_ += actors::frames_bytes(frames);
    const auto views = actors::frame_views(frames);
    actors::wire::Header header;
    const auto error = actors::wire::decode(views.data(), views.size(), limits_, header);
    if (error != actors::wire::DecodeError::kOk) {
      const std::string line = decode_stats_.record(error, "an actor on " + endpoint_);
      if (!line.empty()) log_(line);
      return false;
    }
    // Its content, before anything reads it: a chunk that would poison training is dropped and counted.
    const actors::ChunkVerdict verdict = gate_.check(header, views.data(), views.size(), policy_version);
    if (!verdict.ok()) {
      const std::string line = gate_.log_line(verdict, header.actor_id, "an actor on " + endpoint_);
      if (!line.empty()) log_(line);
      return false;
    }
    actor_stats_[header.actor_id] = header.stats;
    const std::int64_t lag = policy_version - header.policy_version;
    if (lag > config_.actors.max_policy_lag) {
      ++dropped_lag_;
      return false;
    }
    try {
      chunk_ = actors::decode_chunk(header, std::make_shared<std::vector<zmq::message_t>>(std::move(frames)));
    } catch (const std::exception& e) {  // never fatal: dropped, counted, logged
      ++failed_;
      log_("dropped a chunk from actor " + std::to_string(header.actor_id) + ": " + e.what());
      return false;
    }
    lags_.push_back(std::max<std::int64_t>(0, lag));
    ++chunks_;
    return true;
  }

  void answer_hello() {
    std::vector<zmq::message_t> frames;
    while (actors::recv_frames(sockets_->control(), frames, /*dontwait=*/true)) {
      if (frames.size() < 2) continue;  // ROUTER: identity first
      const auto views = actors::frame_views(frames, 1);
      actors::wire::Header header;
      actors::wire::DecodeLimits limits;
      limits.max_message_bytes = 1 << 16;
      limits.expected_kind = static_cast<std::uint16_t>(actors::wire::MessageKind::kHello);
      const auto error = actors::wire::decode(views.data(), views.size(), limits, header);
      if (error != actors::wire::DecodeError::kOk) {
        const std::string line = decode_stats_.record(error, "a peer on " + endpoint_ + " (control)");
        if (!line.empty()) log_(line);
        continue;
      }
      if (!weights_) continue;  // publish() comes first; a hello before it is asked again
      const std::int32_t id = header.actor_id >= 0 ? header.actor_id : next_external_id_++;
      auto welcome = actors::encode_welcome(id, config_yaml_, weights_, session_);
      auto identity = std::make_shared<zmq::message_t>(std::move(frames[0]));
      welcome.insert(welcome.begin(), actors::wire::OutFrame{identity->data(), identity->size(), identity});
      actors::send_frames(sockets_->control(), std::move(welcome), /*dontwait=*/true);
      gate_.assign(id);
      log_("actor " + std::to_string(id) + " joined");
    }
  }

  void rebroadcast() {
    last_publish_ = Clock::now();
    if (!weights_) return;
    auto frames = actors::encode_weights(weights_, session_);
    for (const auto& f : frames) bytes_out_ += f.size;
    actors::send_frames(sockets_->weights(), std::move(frames), /*dontwait=*/true);
  }

  TrainConfig config_;
  core::Profiler& profiler_;
  std::function<void(const std::string&)> log_;
  std::uint64_t session_;
  std::string config_yaml_;
  actors::wire::ChunkSchema schema_;
  actors::wire::DecodeLimits limits_;
  actors::ChunkGate gate_;       // content checks, the actors this session assigned, refusals by reason
  std::int64_t failed_ = 0;      // chunks whose decoding threw (dropped)
  std::string endpoint_, temp_dir_;
  std::optional<actors::LearnerSockets> sockets_;
  std::optional<actors::Supervisor> supervisor_;
  std::shared_ptr<const agents::Weights> weights_;
  agents::TrajectoryChunk chunk_;
  actors::wire::DecodeStats decode_stats_;
  std::map<std::int32_t, std::array<double, 4>> actor_stats_;
  std::vector<std::int64_t> lags_;
  std::int32_t next_external_id_ = 0;
  std::int64_t chunks_ = 0, dropped_lag_ = 0;
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
  double wait_seconds_ = 0;
  Clock::time_point start_ = Clock::now(), last_publish_ = Clock::now();
};

}  // namespace

void check_distributed_config(const TrainConfig& config, const DistributedOptions& options) {
  if (!options.always && config.actors.count == 0 && options.bind.empty() && config.learner.bind.empty()) return;
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  if (algo.check)
    algo.check(config, envs::env_spec(config.env.id, config.env.options),
               learner::RunContext{"config", /*actor_processes=*/true});
  const std::string bind = !options.bind.empty() ? options.bind : config.learner.bind;
  if (bind.empty()) return;
  actors::split_endpoint(bind, options.bind.empty() ? "learner.bind" : "--bind");
  if (!actors::is_loopback(bind) && config.learner.curve_secret_key.empty())
    throw std::invalid_argument("learner.bind: " + bind +
                                " is not loopback: binding it needs CURVE keys (learner.curve_secret_key; make a "
                                "pair with `apiary keys`)");
}

ChunkSourceFactory make_distributed_source(DistributedOptions options) {
  return [options](const TrainConfig& config, const std::string& run_dir,
                   core::Profiler& profiler) -> std::unique_ptr<ChunkSource> {
    if (!options.always && config.actors.count == 0 && options.bind.empty() && config.learner.bind.empty())
      return nullptr;
    check_distributed_config(config, options);
    return std::make_unique<DistributedSource>(config, run_dir, profiler, options);
  };
}

}  // namespace apiary::runner
