#include "actors/actor_process.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "actors/actor.h"
#include "actors/codec.h"
#include "actors/transport.h"
#include "core/seeds.h"
#include "agents/weights.h"
#include "core/config.h"
#include "core/profiler.h"
#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/threads.h"

namespace apiary::actors {

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Hello until welcomed (as `id`, or -1 to be given one), the welcome's frames into `frames`; a learner
// that is not there yet is waited for. False when stopped first.
bool hello_until_welcomed(ActorSockets& sockets, std::int32_t id, const std::function<bool()>& stopped,
                          std::vector<zmq::message_t>& frames, wire::Header& welcome) {
  auto last_hello = Clock::now() - std::chrono::seconds(10);
  for (;;) {
    if (stopped()) return false;
    if (seconds_since(last_hello) > 2.0) {
      sockets.reset_control();
      send_frames(sockets.control(), encode_hello(id), /*dontwait=*/true);
      last_hello = Clock::now();
    }
    zmq::pollitem_t item{sockets.control().handle(), 0, ZMQ_POLLIN, 0};
    poll_items(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN) || !recv_frames(sockets.control(), frames, true)) continue;
    const auto views = frame_views(frames);
    wire::DecodeLimits limits;
    limits.expected_kind = static_cast<std::uint16_t>(wire::MessageKind::kWelcome);
    if (wire::decode(views.data(), views.size(), limits, welcome) == wire::DecodeError::kOk) return true;
  }
}

// Where the run's config puts the actor's env (the learner has settled "auto").
envs::Device actor_env_device(const learner::TrainConfig& config) {
  return envs::parse_device(config.env.device == "auto" ? "cpu" : config.env.device);
}

// The actor of this process over its own lanes, seeded for its id. A GPU env is read in place by the
// policy on the GPU; the chunk then crosses to the host only to be sent.
std::unique_ptr<Actor> make_process_actor(const learner::TrainConfig& config, const learner::AlgorithmSpec& algo,
                                          std::shared_ptr<agents::Policy> policy, std::int32_t actor_id,
                                          core::Profiler& profiler) {
  const envs::Device env_device = actor_env_device(config);
  const bool gpu = env_device == envs::Device::kCuda;
  ActorOptions ao;
  ao.actor_id = actor_id;
  ao.record_log_probs = algo.chunk_log_probs;
  ao.profiler = &profiler;
  ao.device = gpu ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  ao.in_place = gpu || config.env.in_place;
  envs::VecEnvConfig ec;
  ec.device = env_device;
  ec.num_envs = config.env.num_envs;
  ec.threads = config.threads;
  ec.options = config.env.options;
  auto actor = std::make_unique<Actor>(envs::make_env(config.env.id, ec), std::move(policy), ao);
  actor->reset(core::seeds::actor_lanes_seed(config.seed, actor_id));
  return actor;
}

// Sends a chunk, waiting while the learner's queue is full (taking weights meanwhile). False when
// stopped first.
bool send_chunk(ActorSockets& sockets, const agents::TrajectoryChunk& chunk, std::uint64_t session,
                const std::array<double, 4>& stats, const std::function<bool()>& stopped,
                const std::function<void()>& take_weights) {
  auto out = encode_chunk(chunk, session, stats);
  while (!stopped()) {
    if (send_frames(sockets.data(), std::move(out), /*dontwait=*/true)) return true;
    out = encode_chunk(chunk, session, stats);  // the frames were consumed by the failed attempt
    zmq::pollitem_t item{sockets.data().handle(), 0, ZMQ_POLLOUT, 0};
    poll_items(&item, 1, std::chrono::milliseconds(100));
    take_weights();
  }
  return false;
}

}  // namespace

wire::ChunkSchema chunk_schema(const learner::TrainConfig& config, const envs::EnvSpec& spec) {
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  wire::ChunkSchema s;
  s.num_steps = algo.rollout_steps(config);
  s.num_envs = config.env.num_envs;
  s.obs_dim = spec.obs_dim();
  s.obs_uint8 = spec.observation_space.is_uint8();
  s.action_dim = spec.action_space.is_discrete() ? 0 : spec.action_dim();
  s.log_probs = algo.chunk_log_probs;
  s.state_size = algo.recurrent ? agents::recurrent_state_size(learner::to_policy_config(config.policy, spec)) : 0;
  return s;
}

int chunk_bytes(const wire::ChunkSchema& schema) {
  return static_cast<int>(std::min<std::size_t>(wire::max_chunk_bytes(schema), std::size_t{1} << 26));
}

ActorProcessResult run_actor_process(const ActorProcessOptions& options) {
  const auto start = Clock::now();
  const auto stopped = [&] { return options.stop_flag != nullptr && options.stop_flag->load(); };
  TransportOptions t;
  t.curve_server_key_file = options.server_key;
  ActorSockets sockets(options.connect, t);
  ActorProcessResult result;

  std::vector<zmq::message_t> frames;
  wire::Header welcome;
  const auto handshake = [&](std::int32_t id) { return hello_until_welcomed(sockets, id, stopped, frames, welcome); };
  if (!handshake(options.actor_id)) return result;
  learner::TrainConfig config;
  core::load_config_string(config, frame_string(frames, 1), "the learner's config (" + options.connect + ")");
  if (!envs::Registry::global().find(config.env.id))
    for (const auto& path : config.env.plugins) envs::load_plugin(path);
  result.actor_id = welcome.actor_id;
  std::uint64_t session = welcome.session;
  std::int64_t version = welcome.policy_version;

  learner::set_compute_threads(std::max(1, config.threads));
  torch::manual_seed(core::seeds::actor_sampling_seed(config.seed, result.actor_id));
  const envs::EnvSpec spec = envs::env_spec(config.env.id, config.env.options);
  const learner::AlgorithmSpec& algo = learner::find_algorithm(config.algo);
  auto policy = algo.make_behaviour_policy(config, spec);
  if (actor_env_device(config) == envs::Device::kCuda) policy->module().to(torch::kCUDA);
  agents::Weights weights;
  weights.version = version;
  const std::string bytes = frame_string(frames, 2);
  weights.bytes.assign(bytes.begin(), bytes.end());
  agents::import_weights(policy->module(), weights);

  core::Profiler profiler;
  auto actor = make_process_actor(config, algo, policy, result.actor_id, profiler);
  const std::int32_t steps = algo.rollout_steps(config);
  sockets.reset_data(chunk_bytes(chunk_schema(config, spec)));
  std::fprintf(stderr, "apiary actor %d: %s on %s, %d lanes x %d steps per chunk, learner %s\n", result.actor_id,
               config.algo.c_str(), config.env.id.c_str(), config.env.num_envs.value, steps, options.connect.c_str());

  // A learner that restarted (weights of another session) knows this actor only after a new hello: its
  // chunk gate refuses ids it did not assign (actors/chunk_check.h).
  bool rejoin = false;
  const auto rejoin_learner = [&] {
    if (!handshake(result.actor_id)) return;
    const std::string fresh = frame_string(frames, 2);
    if (fresh.size() == weights.bytes.size()) {
      weights.bytes.assign(fresh.begin(), fresh.end());
      weights.version = welcome.policy_version;
      agents::import_weights(policy->module(), weights);
    }
    session = welcome.session;
    version = welcome.policy_version;
    rejoin = false;
    std::fprintf(stderr, "apiary actor %d: rejoined the learner (session %llu)\n", result.actor_id,
                 static_cast<unsigned long long>(session));
  };

  // Takes the newest weights waiting, without blocking.
  const auto take_weights = [&] {
    const auto t0 = Clock::now();
    std::vector<zmq::message_t> newest, msg;
    wire::Header h, newest_header;
    wire::DecodeLimits limits;
    limits.expected_kind = static_cast<std::uint16_t>(wire::MessageKind::kWeights);
    limits.max_message_bytes = static_cast<std::size_t>(config.actors.max_message_bytes);
    while (recv_frames(sockets.weights(), msg, /*dontwait=*/true)) {
      const auto views = frame_views(msg);
      if (wire::decode(views.data(), views.size(), limits, h) != wire::DecodeError::kOk) continue;
      if (h.session == session && h.policy_version <= version) continue;
      newest = std::move(msg);
      newest_header = h;
    }
    if (newest.empty()) return;
    if (newest[1].size() != weights.bytes.size()) return;  // another architecture: not for us
    std::memcpy(weights.bytes.data(), newest[1].data(), newest[1].size());
    weights.version = newest_header.policy_version;
    agents::import_weights(policy->module(), weights);
    if (newest_header.session != session) rejoin = true;  // a new learner: say hello to it
    session = newest_header.session;
    version = newest_header.policy_version;
    ++result.weight_updates;
    result.weights_seconds += seconds_since(t0);
  };

  agents::ActContext ctx;
  ctx.actor_id = result.actor_id;
  while (!stopped() && (options.max_chunks == 0 || result.chunks_sent < options.max_chunks)) {
    take_weights();
    if (rejoin) rejoin_learner();
    const agents::TrajectoryChunk& acted = actor->collect(steps, ctx, version);
    agents::TrajectoryChunk on_host;  // a GPU chunk crosses to the host here, to be sent
    const agents::TrajectoryChunk& chunk = acted.rewards.is_cuda() ? (on_host = host_copy(acted)) : acted;
    const auto report = profiler.report();
    const std::array<double, 4> stats = {report[core::ProfileCategory::kEnv].seconds,
                                         report[core::ProfileCategory::kInference].seconds,
                                         result.send_wait_seconds, result.weights_seconds};
    // The session of the weights that acted: weights of a restarted learner taken while this chunk
    // waits must not relabel it (its policy version counts in the old session; the new one drops it).
    const std::uint64_t chunk_session = session;
    const auto t0 = Clock::now();
    const bool sent = send_chunk(sockets, chunk, chunk_session, stats, stopped, take_weights);
    result.send_wait_seconds += seconds_since(t0);
    if (sent) ++result.chunks_sent;
  }
  const auto report = profiler.report();
  result.env_steps = actor->env_steps();
  result.env_seconds = report[core::ProfileCategory::kEnv].seconds;
  result.inference_seconds = report[core::ProfileCategory::kInference].seconds;
  result.wall_seconds = seconds_since(start);
  return result;
}

}  // namespace apiary::actors
