// launch_local: W ranks of this program with torchrun's variables, in one process group; a rank that
// fails ends the others and is named; no rank outlives the agent.
#include "parallel/launch.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <set>
#include <sstream>
#include <thread>

#include "tests/parallel/test_util.h"

namespace apiary::parallel {
namespace {

using namespace testing;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// The pids the ranks wrote to dir/pid.<rank>, waiting up to 30 s for `count` of them.
std::vector<pid_t> rank_pids(const std::string& dir, int count) {
  std::vector<pid_t> pids;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int r = 0; r < count; ++r) {
    const std::string path = dir + "/pid." + std::to_string(r);
    while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pids.push_back(static_cast<pid_t>(std::stol(read_file(path))));
  }
  return pids;
}

void write_pid(int rank) {
  write_file(env_or_empty("APIARY_TEST_DIR") + "/pid." + std::to_string(rank), std::to_string(::getpid()));
}

[[noreturn]] void sleep_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

TEST(LaunchLocal, StartsEveryRankWithTorchrunVariablesInOneProcessGroup) {
  std::optional<TempDir> dir;
  if (!in_rank()) dir.emplace();
  const int rc = launch_local(
      3,
      [](const RendezvousInfo& info) {
        std::ostringstream out;
        out << env_or_empty("RANK") << " " << env_or_empty("WORLD_SIZE") << " " << env_or_empty("LOCAL_RANK") << " "
            << env_or_empty("LOCAL_WORLD_SIZE") << " " << env_or_empty("MASTER_ADDR") << " "
            << env_or_empty("MASTER_PORT") << " " << info.rank << " " << info.world_size << " " << info.local_rank
            << " " << info.master_port << " " << ::getpgid(0) << " " << ::getpid();
        write_file(env_or_empty("APIARY_TEST_DIR") + "/rank." + std::to_string(info.rank), out.str());
        return 0;
      },
      rerun_this_test({{"APIARY_TEST_DIR", dir ? dir->path().string() : ""}}));
  EXPECT_EQ(rc, 0);
  if (in_rank()) return;

  std::set<std::string> ports, groups, pids;
  for (int r = 0; r < 3; ++r) {
    std::istringstream in(read_file(dir->file("rank." + std::to_string(r))));
    std::string rank, world, local, local_world, addr, port, info_rank, info_world, info_local, info_port, pgid, pid;
    in >> rank >> world >> local >> local_world >> addr >> port >> info_rank >> info_world >> info_local >> info_port >>
        pgid >> pid;
    EXPECT_EQ(rank, std::to_string(r));
    EXPECT_EQ(info_rank, rank);
    EXPECT_EQ(world, "3");
    EXPECT_EQ(info_world, "3");
    EXPECT_EQ(local, rank);
    EXPECT_EQ(info_local, rank);
    EXPECT_EQ(local_world, "3");
    EXPECT_EQ(addr, "127.0.0.1");
    EXPECT_EQ(info_port, port);
    ports.insert(port);
    groups.insert(pgid);
    pids.insert(pid);
  }
  EXPECT_EQ(ports.size(), 1u) << "one store port for the launch";
  EXPECT_EQ(groups.size(), 1u) << "one process group for the launch";
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_NE(*groups.begin(), std::to_string(::getpgid(0))) << "the ranks are not in the agent's process group";
}

TEST(LaunchLocal, OneRankRunsInThisProcess) {
  if (in_rank()) GTEST_SKIP() << "nothing to launch";
  const pid_t self = ::getpid();
  pid_t ran_in = 0;
  const int rc = launch_local(1, [&](const RendezvousInfo& info) {
    ran_in = ::getpid();
    EXPECT_EQ(info.world_size, 1);
    return 7;
  });
  EXPECT_EQ(rc, 7);
  EXPECT_EQ(ran_in, self);
}

TEST(LaunchLocal, FailedRankEndsTheOthersAndIsNamed) {
  std::optional<TempDir> dir;
  if (!in_rank()) dir.emplace();
  auto options = rerun_this_test({{"APIARY_TEST_DIR", dir ? dir->path().string() : ""}});
  const auto start = std::chrono::steady_clock::now();
  try {
    launch_local(
        3,
        [](const RendezvousInfo& info) -> int {
          write_pid(info.rank);
          if (info.rank == 1) {
            // Exit once every rank is up, so that the others are running when it fails.
            for (int r = 0; r < 3; ++r) {
              while (!std::filesystem::exists(env_or_empty("APIARY_TEST_DIR") + "/pid." + std::to_string(r))) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
              }
            }
            std::_Exit(3);
          }
          sleep_forever();
        },
        options);
    FAIL() << "launch_local returned although rank 1 exited with status 3";
  } catch (const RankFailure& e) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(e.rank(), 1);
    EXPECT_EQ(e.exit_code(), 3);
    EXPECT_EQ(e.signal(), 0);
    EXPECT_EQ(e.agent_exit_status(), 1);
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 1 (pid "), std::string::npos) << what;
    EXPECT_NE(what.find("exited with status 3; the other 2 ranks were stopped"), std::string::npos) << what;
    EXPECT_LT(seconds, 30.0);
    for (const pid_t pid : rank_pids(dir->path().string(), 3)) EXPECT_TRUE(process_gone(pid)) << pid;
  }
}

TEST(LaunchLocal, KilledRankIsNamedAndARankIgnoringSigtermIsKilled) {
  std::optional<TempDir> dir;
  if (!in_rank()) dir.emplace();
  auto options = rerun_this_test({{"APIARY_TEST_DIR", dir ? dir->path().string() : ""}});
  options.stop_grace_seconds = 0.5;
  try {
    launch_local(
        2,
        [](const RendezvousInfo& info) -> int {
          if (info.rank == 1) ::signal(SIGTERM, SIG_IGN);  // only SIGKILL ends it
          write_pid(info.rank);
          if (info.rank == 0) {
            while (!std::filesystem::exists(env_or_empty("APIARY_TEST_DIR") + "/pid.1")) {
              std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            ::raise(SIGKILL);
          }
          sleep_forever();
        },
        options);
    FAIL() << "launch_local returned although rank 0 was killed";
  } catch (const RankFailure& e) {
    EXPECT_EQ(e.rank(), 0);
    EXPECT_EQ(e.signal(), SIGKILL);
    EXPECT_EQ(e.exit_code(), -1);
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 0 (pid "), std::string::npos) << what;
    EXPECT_NE(what.find("was killed by signal 9"), std::string::npos) << what;
    EXPECT_NE(what.find("the other 1 rank was stopped"), std::string::npos) << what;
    for (const pid_t pid : rank_pids(dir->path().string(), 2)) EXPECT_TRUE(process_gone(pid)) << pid;
  }
}

TEST(LaunchLocal, ConfigErrorOfARankIsExitStatusTwo) {
  try {
    const int rc = launch_local(
        2, [](const RendezvousInfo& info) { return info.rank == 0 ? 2 : 0; }, rerun_this_test());
    if (in_rank()) std::_Exit(rc);  // as a program's main would return it
    FAIL() << "launch_local returned although rank 0 exited with status 2";
  } catch (const RankFailure& e) {
    EXPECT_EQ(e.rank(), 0);
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.agent_exit_status(), 2);
  }
}

// The agent is SIGKILLed: PR_SET_PDEATHSIG takes every rank with it.
TEST(LaunchLocal, NoRankOutlivesTheAgent) {
  const char* role = std::getenv("APIARY_TEST_ROLE");
  if (role != nullptr && std::string(role) == "agent") {  // the agent, and its ranks
    launch_local(
        2,
        [](const RendezvousInfo& info) -> int {
          write_pid(info.rank);
          sleep_forever();
        },
        rerun_this_test());
    return;
  }
  TempDir dir;
  const pid_t agent = spawn_this_test({{"APIARY_TEST_ROLE", "agent"}, {"APIARY_TEST_DIR", dir.path().string()}});
  const auto pids = rank_pids(dir.path().string(), 2);
  for (const pid_t pid : pids) EXPECT_FALSE(process_gone(pid)) << "rank " << pid << " is running";
  ::kill(agent, SIGKILL);
  ::waitpid(agent, nullptr, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const pid_t pid : pids) {
    while (!process_gone(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(process_gone(pid)) << "rank pid " << pid << " outlived its agent";
  }
}

// SIGTERM to the agent reaches the ranks (not in the terminal's process group); ranks that stop
// cleanly on it make the launch succeed.
TEST(LaunchLocal, SigtermToTheAgentReachesTheRanks) {
  const char* role = std::getenv("APIARY_TEST_ROLE");
  if (role != nullptr && std::string(role) == "agent") {
    const int rc = launch_local(
        2,
        [](const RendezvousInfo& info) -> int {
          static std::atomic<bool> stop{false};
          ::signal(SIGTERM, [](int) { stop = true; });
          write_pid(info.rank);
          while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          write_file(env_or_empty("APIARY_TEST_DIR") + "/stopped." + std::to_string(info.rank), "1");
          return 0;
        },
        rerun_this_test());
    EXPECT_EQ(rc, 0);
    return;
  }
  TempDir dir;
  const pid_t agent = spawn_this_test({{"APIARY_TEST_ROLE", "agent"}, {"APIARY_TEST_DIR", dir.path().string()}});
  const auto pids = rank_pids(dir.path().string(), 2);
  ::kill(agent, SIGTERM);
  const auto status = wait_child(agent, 30.0);
  ASSERT_TRUE(status.has_value()) << "the agent did not end after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  EXPECT_TRUE(std::filesystem::exists(dir.file("stopped.0")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("stopped.1")));
  for (const pid_t pid : pids) EXPECT_TRUE(process_gone(pid));
}

TEST(LaunchLocal, WorldSizeMustMatchTheLauncher) {
  if (in_rank()) GTEST_SKIP();
  ::setenv("RANK", "0", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", "29500", 1);
  std::string what;
  try {
    launch_local(3, [](const RendezvousInfo&) { return 0; });
  } catch (const RendezvousError& e) {
    what = e.what();
  }
  ::unsetenv("RANK");
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("MASTER_ADDR");
  ::unsetenv("MASTER_PORT");
  EXPECT_NE(what.find("world size 3 differs from the launcher's (WORLD_SIZE=2)"), std::string::npos) << what;
  EXPECT_THROW(launch_local(0, [](const RendezvousInfo&) { return 0; }), RendezvousError);
}

}  // namespace
}  // namespace apiary::parallel
