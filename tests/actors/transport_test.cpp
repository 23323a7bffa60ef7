// The learner's side of the transport (runner/remote_actors.h) with a hand-driven actor: chunks round-trip
// without losing a value, chunks older than actors.max_policy_lag (or from an earlier learner session)
// are dropped and counted (also those an actor process acted before its learner restarted), malformed
// ones are counted, and CURVE keeps a peer with the wrong key out.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <future>
#include <map>
#include <thread>

#include <torch/torch.h>

#include "actors/codec.h"
#include "actors/transport.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "core/profiler.h"
#include "envs/registry.h"
#include "actors/actor_process.h"
#include "learner/algorithm.h"
#include "learner/ppo/ppo_config.h"
#include "runner/remote_actors.h"
#include "tests/common/ports.h"

namespace apiary::runner {
namespace {

using actors::ActorProcessOptions;
using actors::run_actor_process;
using learner::to_policy_config;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  TempDir() {
    // Under the system's temp folder (TMPDIR); ipc:// paths must stay short, as there.
    std::string pattern = (fs::temp_directory_path() / "apiary-transport-XXXXXX").string();
    const char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path = made;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

constexpr std::int64_t kT = 4, kN = 2, kD = 4;  // CartPole-v1 chunks of 4 steps, 2 lanes

TrainConfig cartpole_config(const std::string& bind) {
  TrainConfig c;
  c.env.id = "CartPole-v1";
  c.env.num_envs = kN;
  c.section<learner::PpoConfig>("ppo").rollout_steps = kT;
  c.actors.count = 0;  // the test is the actor
  c.actors.max_policy_lag = 3;
  c.learner.bind = bind;
  return c;
}

// A chunk the learner's chunk gate accepts from `actor_id` (actors/chunk_check.h): one episode, ended
// by the terminated flag of lane 0 at the last step.
agents::TrajectoryChunk make_chunk(std::int32_t actor_id, std::int64_t version, float fill, std::int64_t sequence = 5) {
  agents::TrajectoryChunk c;
  c.actor_id = actor_id;
  c.sequence = sequence;
  c.policy_version = version;
  c.obs = torch::arange((kT + 1) * kN * kD, torch::kFloat32).reshape({kT + 1, kN, kD}) + fill;
  c.actions = torch::ones({kT, kN}, torch::kInt64);
  c.log_probs = torch::full({kT, kN}, -0.7f);
  c.values = torch::full({kT, kN}, 0.5f);
  c.rewards = torch::ones({kT, kN});
  c.terminated = torch::zeros({kT, kN});
  c.terminated[kT - 1][0] = 1;
  c.truncated = torch::zeros({kT, kN});
  c.next_obs = c.obs.slice(0, 1).contiguous();
  c.episodes.push_back(agents::EpisodeStat{12.5f, 13});
  return c;
}

std::shared_ptr<agents::Policy> cartpole_policy(const TrainConfig& config) {
  const auto spec = envs::env_spec(config.env.id, config.env.options);
  return std::make_shared<agents::ActorCriticPolicy>(
      agents::make_actor_critic(spec, to_policy_config(config.policy, spec)));
}

double metric(ChunkSource& s, const std::string& name) {
  for (const auto& [k, v] : s.metrics())
    if (k == name) return v;
  return -1;
}

// Sends a hello and waits for the welcome; returns its header (kind kHello when none came).
actors::wire::Header hello(actors::ActorSockets& sockets, std::chrono::milliseconds wait) {
  actors::send_frames(sockets.control(), actors::encode_hello(-1), true);
  actors::wire::Header h;
  h.kind = actors::wire::MessageKind::kHello;
  zmq::pollitem_t item{sockets.control().handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, wait);
  std::vector<zmq::message_t> frames;
  if ((item.revents & ZMQ_POLLIN) && actors::recv_frames(sockets.control(), frames, true)) {
    const auto v = actors::frame_views(frames);
    actors::wire::Header w;
    if (actors::wire::decode(v.data(), v.size(), {}, w) == actors::wire::DecodeError::kOk) h = w;
  }
  return h;
}

void send_chunk(actors::ActorSockets& sockets, const agents::TrajectoryChunk& c, std::uint64_t session) {
  ASSERT_TRUE(actors::send_frames(sockets.data(), actors::encode_chunk(c, session, {}), false));
}

TEST(TransportTest, ChunksRoundTripAndStaleOrMalformedOnesAreDroppedAndCounted) {
  TempDir dir;
  const std::string bind = "ipc://" + dir.path + "/l";
  const TrainConfig config = cartpole_config(bind);
  core::Profiler profiler;
  DistributedOptions options;
  options.always = true;
  std::vector<std::string> log;
  options.log = [&log](const std::string& line) { log.push_back(line); };
  auto source = make_distributed_source(options)(config, dir.path, profiler);
  ASSERT_TRUE(source);
  auto policy = cartpole_policy(config);
  source->publish(*policy, 10);

  std::atomic<bool> stop{false};
  auto next = std::async(std::launch::async, [&] { return source->next(/*policy_version=*/10, &stop); });
  actors::ActorSockets actor(bind, {});
  const actors::wire::Header welcome = hello(actor, 5s);
  ASSERT_EQ(welcome.kind, actors::wire::MessageKind::kWelcome);
  EXPECT_EQ(welcome.policy_version, 10);
  EXPECT_GE(welcome.actor_id, 0);

  const std::int32_t id = welcome.actor_id;  // the gate refuses ids it did not assign
  send_chunk(actor, make_chunk(id, /*version=*/6, 0.f, 1), welcome.session);       // lag 4 > 3: dropped
  send_chunk(actor, make_chunk(id, /*version=*/10, 0.f, 2), welcome.session + 1);  // another session: refused
  std::vector<actors::wire::OutFrame> bad = actors::encode_chunk(make_chunk(id, 10, 0.f, 3), welcome.session, {});
  auto bad_header = std::make_shared<std::vector<std::uint8_t>>(
      static_cast<const std::uint8_t*>(bad[0].data), static_cast<const std::uint8_t*>(bad[0].data) + bad[0].size);
  (*bad_header)[0] ^= 0xff;  // wrong magic
  bad[0] = actors::wire::OutFrame{bad_header->data(), bad_header->size(), bad_header};
  ASSERT_TRUE(actors::send_frames(actor.data(), std::move(bad), false));
  send_chunk(actor, make_chunk(id, /*version=*/7, 100.f, 4), welcome.session);     // lag 3: accepted

  ASSERT_EQ(next.wait_for(10s), std::future_status::ready);
  const agents::TrajectoryChunk* got = next.get();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->policy_version, 7);
  EXPECT_EQ(got->actor_id, id);
  EXPECT_EQ(got->sequence, 4);
  const auto sent = make_chunk(id, 7, 100.f, 4);
  EXPECT_TRUE(torch::equal(got->obs, sent.obs));
  EXPECT_TRUE(torch::equal(got->actions, sent.actions));
  EXPECT_TRUE(torch::equal(got->log_probs, sent.log_probs));
  EXPECT_TRUE(torch::equal(got->next_obs, sent.next_obs));
  ASSERT_EQ(got->episodes.size(), 1u);
  EXPECT_EQ(got->episodes[0].episode_length, 13);
  EXPECT_EQ(metric(*source, "transport_dropped_lag"), 1);
  EXPECT_EQ(metric(*source, "chunks_rejected_other_session"), 1);
  EXPECT_EQ(metric(*source, "transport_malformed"), 1);
  EXPECT_EQ(metric(*source, "transport_chunks"), 1);
  bool logged = false;
  for (const auto& l : log) logged = logged || l.find("bad_magic") != std::string::npos;
  EXPECT_TRUE(logged);

  // The stop flag ends a wait for data.
  stop = true;
  EXPECT_EQ(source->next(10, &stop), nullptr);
}

// An actor process (run_actor_process) whose learner goes away waits with a chunk acted by the old
// session's weights; a learner started again on the endpoint (a new session, here at a lower version, as
// after --resume from an older checkpoint) must drop that chunk, also when the actor took the new weights
// while it waited, and learn only from chunks acted by its own weights.
TEST(TransportTest, ChunksOfAnEarlierLearnerSessionAreDroppedAfterARestart) {
  TempDir dir;
  const std::string bind = "ipc://" + dir.path + "/l";
  const TrainConfig config = cartpole_config(bind);
  DistributedOptions options;
  options.always = true;
  options.log = [](const std::string&) {};
  auto policy = cartpole_policy(config);
  std::atomic<bool> stop{false};

  core::Profiler profiler1;
  auto first = make_distributed_source(options)(config, dir.path, profiler1);
  first->publish(*policy, 50);
  ActorProcessOptions ao;
  ao.connect = bind;
  ao.stop_flag = &stop;
  auto actor = std::async(std::launch::async, [&] { return run_actor_process(ao); });
  const agents::TrajectoryChunk* got = first->next(50, &stop);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->policy_version, 50);
  first.reset();  // the learner goes away; the actor's sends block
  std::this_thread::sleep_for(300ms);

  // The new learner reads nothing for a while: the actor fills the queues with chunks of the first
  // session and blocks on one of them; then the new weights arrive while it waits.
  core::Profiler profiler2;
  auto second = make_distributed_source(options)(config, dir.path, profiler2);
  std::this_thread::sleep_for(1500ms);
  second->publish(*policy, 2);
  std::this_thread::sleep_for(500ms);
  for (int i = 0; i < 3; ++i) {
    auto next = std::async(std::launch::async, [&] { return second->next(2, &stop); });
    ASSERT_EQ(next.wait_for(20s), std::future_status::ready);
    got = next.get();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->policy_version, 2) << "a chunk acted by the first learner's weights was learned from";
  }
  // The first session's chunks are refused by the second learner's chunk gate: as another session's
  // once the actor's new hello is in, or, read before it, as coming from an actor id this learner
  // never assigned (which of the two depends on the order ZeroMQ delivers the hello and the queued
  // chunks in).
  EXPECT_GE(metric(*second, "chunks_rejected_other_session") + metric(*second, "chunks_rejected_unknown_actor"), 1);
  stop = true;
  ASSERT_EQ(actor.wait_for(10s), std::future_status::ready);
  EXPECT_GE(actor.get().chunks_sent, 4);
}

TEST(TransportTest, NonLoopbackBindNeedsCurveKeys) {
  const int port = apiary::testing::free_port_triple();
  ASSERT_GT(port, 0);
  EXPECT_THROW(actors::LearnerSockets("tcp://0.0.0.0:" + std::to_string(port), {}), std::invalid_argument);
  EXPECT_TRUE(actors::is_loopback("tcp://127.0.0.1:5555"));
  EXPECT_FALSE(actors::is_loopback("tcp://10.1.2.3:5555"));
}

TEST(TransportTest, CurvePeerWithTheWrongKeyGetsNothingInOrOut) {
  TempDir dir;
  const actors::CurveKeys learner_keys = actors::make_curve_keys();
  actors::write_curve_keys(learner_keys, dir.path + "/learner");
  actors::write_curve_keys(actors::make_curve_keys(), dir.path + "/other");
  const int port = apiary::testing::free_port_triple();
  ASSERT_GT(port, 0);
  const std::string bind = "tcp://127.0.0.1:" + std::to_string(port);
  TrainConfig config = cartpole_config(bind);
  config.learner.curve_secret_key = dir.path + "/learner.key";
  core::Profiler profiler;
  DistributedOptions options;
  options.always = true;
  options.log = [](const std::string&) {};
  auto source = make_distributed_source(options)(config, dir.path, profiler);
  auto policy = cartpole_policy(config);
  source->publish(*policy, 3);
  std::atomic<bool> stop{false};
  auto next = std::async(std::launch::async, [&] { return source->next(3, &stop); });

  // The wrong key: no welcome, no weights, and its chunks never arrive.
  actors::TransportOptions wrong;
  wrong.curve_server_key_file = dir.path + "/other.pub";
  actors::ActorSockets intruder(bind, wrong);
  EXPECT_EQ(hello(intruder, 1500ms).kind, actors::wire::MessageKind::kHello);
  actors::send_frames(intruder.data(), actors::encode_chunk(make_chunk(9, 3, 0.f), 0, {}), true);
  std::vector<zmq::message_t> frames;
  zmq::pollitem_t item{intruder.weights().handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, 1500ms);  // the learner rebroadcasts every second
  EXPECT_FALSE(item.revents & ZMQ_POLLIN);
  EXPECT_NE(next.wait_for(0ms), std::future_status::ready);

  // The right key: welcomed, weights arrive, its chunk is the one learned from.
  actors::TransportOptions right;
  right.curve_server_key_file = dir.path + "/learner.pub";
  actors::ActorSockets actor(bind, right);
  const actors::wire::Header welcome = hello(actor, 5s);
  ASSERT_EQ(welcome.kind, actors::wire::MessageKind::kWelcome);
  zmq::pollitem_t witem{actor.weights().handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&witem, 1, 3s);
  EXPECT_TRUE(witem.revents & ZMQ_POLLIN);
  send_chunk(actor, make_chunk(welcome.actor_id, 3, 0.f), welcome.session);
  ASSERT_EQ(next.wait_for(10s), std::future_status::ready);
  const agents::TrajectoryChunk* got = next.get();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->actor_id, welcome.actor_id);
  EXPECT_EQ(metric(*source, "transport_chunks"), 1);
  EXPECT_EQ(metric(*source, "transport_malformed"), 0);
}

}  // namespace
}  // namespace apiary::runner
