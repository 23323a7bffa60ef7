// Bad input never kills or poisons a run (issue 15), end to end: a learner (`apiary learner`) trains
// CartPole-v1 from one `apiary actor` process while a hostile peer, welcomed like any actor, sends
// well-formed chunks with bad content of every kind the chunk gate knows (actors/chunk_check.h). The
// learner must keep learning to an evaluation of 475, count every refusal by reason, and never write a
// non-finite weight. The attack starts before the honest actor exists (so its size does not depend on
// how fast the learner solves) and goes on while the learner learns.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "tests/common/cli.h"
#include "actors/codec.h"
#include "actors/transport.h"
#include "runner/checkpoint.h"

namespace apiary {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::int64_t kT = 32, kN = 8, kD = 4;  // configs/cartpole_ppo.yaml's chunks

// A well-formed CartPole chunk that a gate would accept from `actor_id`; the cases below spoil one thing.
agents::TrajectoryChunk good_chunk(std::int32_t actor_id, std::int64_t sequence, std::int64_t version) {
  agents::TrajectoryChunk c;
  c.actor_id = actor_id;
  c.sequence = sequence;
  c.policy_version = version;
  c.obs = torch::rand({kT + 1, kN, kD}) * 0.1;
  c.actions = torch::zeros({kT, kN}, torch::kInt64);
  c.log_probs = torch::full({kT, kN}, -0.7f);
  c.values = torch::zeros({kT, kN});
  c.rewards = torch::ones({kT, kN});
  c.terminated = torch::zeros({kT, kN});
  c.truncated = torch::zeros({kT, kN});
  c.next_obs = c.obs.slice(0, 1).contiguous();
  return c;
}

TEST(BadChunks, ALearnerUnderAttackStillLearnsAndNeverWritesNonFiniteWeights) {
  const fs::path dir = fs::temp_directory_path() / ("apiary_badchunks_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // An ipc endpoint in the test's own folder: tests running side by side cannot collide on it (the
  // learner binds three consecutive ports for tcp).
  const std::string endpoint = "ipc://" + (dir / "l").string();
  std::ofstream(dir / "cfg.yaml") << apiary::testing::read_text(fs::path(APIARY_SOURCE_DIR) / "configs" / "cartpole_ppo.yaml")
                                  << "\nout_dir: " << (dir / "runs").string() << "\nactors: {count: 0}\n";
  const std::string cmd = std::string(APIARY_BINARY_DIR) + "/apiary learner " + (dir / "cfg.yaml").string() +
                          // A larger budget than the config's 100k steps: the run stops as soon as an
                          // evaluation reaches 475, and actor processes learn from stale weights, so
                          // the in-process budget is too tight to reach it every time.
                          " --set total_steps=300000 --bind " + endpoint + " > " + (dir / "learner.out").string() + " 2>&1";
  const pid_t learner = ::fork();
  if (learner == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(learner, 0);

  // The hostile peer: a hello like any actor's, then bad chunks of every kind.
  actors::ActorSockets peer(endpoint, {});
  actors::wire::Header welcome;
  bool welcomed = false;
  for (int attempt = 0; attempt < 300 && !welcomed; ++attempt) {
    actors::send_frames(peer.control(), actors::encode_hello(-1), true);
    zmq::pollitem_t item{peer.control().handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(200));
    std::vector<zmq::message_t> frames;
    if ((item.revents & ZMQ_POLLIN) && actors::recv_frames(peer.control(), frames, true)) {
      const auto v = actors::frame_views(frames);
      welcomed = actors::wire::decode(v.data(), v.size(), {}, welcome) == actors::wire::DecodeError::kOk;
    }
  }
  ASSERT_TRUE(welcomed) << apiary::testing::read_text(dir / "learner.out");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::int64_t seq = 0;
  int sent = 0;
  auto send = [&](agents::TrajectoryChunk c, std::uint64_t session, std::array<double, 4> stats = {}) {
    if (actors::send_frames(peer.data(), actors::encode_chunk(c, session, stats), true)) ++sent;
  };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  int status = -1;
  bool exited = false;
  // One bad chunk per turn, the kinds in rotation, so that every kind reaches the learner even while
  // its queue is full (a send that would block is dropped by the peer, as a real actor would retry).
  const std::int32_t id = welcome.actor_id;
  std::vector<std::function<void()>> kinds = {
      [&] { auto c = good_chunk(id, ++seq, 0); c.actions[3][1] = 7; send(c, welcome.session); },  // outside Discrete(2)
      [&] { auto c = good_chunk(id, ++seq, 0); c.actions[0][0] = -1; send(c, welcome.session); },
      [&] { auto c = good_chunk(id, ++seq, 0); c.rewards[5][2] = nan; send(c, welcome.session); },
      [&] { auto c = good_chunk(id, ++seq, 0); c.obs[1][1][1] = std::numeric_limits<float>::infinity(); send(c, welcome.session); },
      [&] { auto c = good_chunk(id, ++seq, 0); c.log_probs[2][2] = nan; send(c, welcome.session); },
      [&] { auto c = good_chunk(id, ++seq, 0); c.terminated[4][4] = 2; send(c, welcome.session); },  // a flag of 2
      [&] { auto c = good_chunk(id, ++seq, 0); c.truncated[4][4] = 0.5f; send(c, welcome.session); },
      [&] { send(good_chunk(id, ++seq, 1000000000000000LL), welcome.session); },  // a version from the future
      [&] { send(good_chunk(999, ++seq, 0), welcome.session); },                  // an id never assigned
      [&] { send(good_chunk(-5, ++seq, 0), welcome.session); },
      [&] { send(good_chunk(id, 1, 0), welcome.session); },                       // a replayed sequence number
      [&] {
        auto c = good_chunk(id, ++seq, 0);
        c.terminated[7][0] = 1;
        c.episodes.push_back(agents::EpisodeStat{nan, 8});  // an impossible episode
        send(c, welcome.session);
      },
      [&] { send(good_chunk(id, ++seq, 0), welcome.session, {nan, 0, 0, 0}); },  // NaN timing stats
      [&] { send(good_chunk(id, ++seq, 0), welcome.session + 1); },               // another learner's session
  };
  std::size_t turn = 0;
  auto attack_once = [&] {
    kinds[turn++ % kinds.size()]();
    std::this_thread::sleep_for(5ms);
    exited = ::waitpid(learner, &status, WNOHANG) == learner;
  };
  // First three rounds of every kind with no honest actor: the learner can only refuse them.
  const int before_learning = 3 * static_cast<int>(kinds.size());
  while (sent < before_learning && !exited && std::chrono::steady_clock::now() < deadline) attack_once();
  const int sent_before_learning = sent;
  // Then the honest actor joins (the learner welcomes it like the peer) and the attack goes on while
  // the learner learns from it, until the run stops at 475.
  const std::string actor_cmd = std::string(APIARY_BINARY_DIR) + "/apiary actor --connect " + endpoint + " > " +
                                (dir / "actor.out").string() + " 2>&1";
  const pid_t actor = ::fork();
  if (actor == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + actor_cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (actor < 0) ::kill(learner, SIGKILL);
  ASSERT_GT(actor, 0);
  while (!exited && std::chrono::steady_clock::now() < deadline) attack_once();
  const int sent_while_learning = sent - sent_before_learning;
  if (!exited) {
    ::kill(learner, SIGKILL);
    ::waitpid(learner, &status, 0);
  }
  ::kill(actor, SIGTERM);  // it would wait for a learner that comes back
  ::waitpid(actor, nullptr, 0);
  const std::string out = apiary::testing::read_text(dir / "learner.out");
  ASSERT_TRUE(exited) << "the learner did not finish within 120 s\n" << out;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_GE(sent_before_learning, before_learning);
  EXPECT_GT(sent_while_learning, 0);

  // It learned: the last evaluation line reached the threshold.
  const auto pos = out.rfind("eval_mean_return: ");
  ASSERT_NE(pos, std::string::npos) << out;
  EXPECT_GE(std::stod(out.substr(pos + 18)), 475.0) << out;

  // Every kind was refused and counted by reason (metrics.csv's last row).
  const fs::path run = dir / "runs" / "cartpole_ppo";
  std::ifstream csv(run / "metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  std::vector<std::string> columns;
  {
    std::stringstream hs(header);
    for (std::string cell; std::getline(hs, cell, ',');) columns.push_back(cell);
  }
  std::map<std::string, double> most;   // the largest count seen per column
  std::map<std::string, double> first;  // the first row's (written after the first update)
  for (bool first_row = true; std::getline(csv, line); first_row = false) {
    std::stringstream ls(line);
    std::size_t i = 0;
    for (std::string cell; std::getline(ls, cell, ','); ++i) {
      if (cell.empty() || i >= columns.size()) continue;
      most[columns[i]] = std::max(most[columns[i]], std::stod(cell));
      if (first_row) first[columns[i]] = std::stod(cell);
    }
  }
  // The attack went on while it learned: refusals were still counted after the first update.
  EXPECT_GT(most["chunks_rejected"], first["chunks_rejected"]) << "no chunk refused after the first update";
  for (const char* reason : {"chunks_rejected_action_out_of_range", "chunks_rejected_non_finite",
                             "chunks_rejected_bad_flag", "chunks_rejected_policy_version",
                             "chunks_rejected_unknown_actor", "chunks_rejected_stale_sequence",
                             "chunks_rejected_bad_episode", "chunks_rejected_bad_timing_stats",
                             "chunks_rejected_other_session"})
    EXPECT_GT(most[reason], 0) << reason << " not counted; columns: " << header;

  // No weight in any checkpoint is non-finite (load_policy refuses non-finite tensors).
  for (const char* name : {"latest.pt", "best.pt"}) {
    const fs::path ckpt = run / "checkpoints" / name;
    ASSERT_TRUE(fs::exists(ckpt)) << ckpt;
    const runner::LoadedPolicy p = runner::load_policy(ckpt.string());
    for (const auto& param : p.policy->module().parameters()) EXPECT_TRUE(torch::isfinite(param).all().item<bool>());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace apiary
