// The supervisor starts its actors, restarts one killed with SIGKILL after its back-off, and leaves
// no process behind when stopped.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "actors/supervisor.h"

namespace apiary::actors {
namespace {

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

TEST(SupervisorTest, RestartsAKilledChildAndStopsEveryOne) {
  SupervisorOptions o;
  o.program = "/bin/sleep";
  o.args = {"30"};
  o.count = 2;
  o.backoff_seconds = 0.1;
  std::vector<pid_t> before;
  {
    Supervisor s(o);
    s.start();
    before = s.pids();
    ASSERT_EQ(before.size(), 2u);
    ASSERT_TRUE(alive(before[0]) && alive(before[1]));
    EXPECT_EQ(::getpgid(before[0]), before[0]);  // each actor leads its own process group
    ::kill(before[0], SIGKILL);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (s.restarts() == 0 && std::chrono::steady_clock::now() < deadline) {
      s.poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(s.restarts(), 1);
    const auto after = s.pids();
    EXPECT_NE(after[0], before[0]);
    EXPECT_TRUE(alive(after[0]));
    EXPECT_EQ(after[1], before[1]);  // the other actor was left alone
    s.stop(std::chrono::milliseconds(1000));
    for (pid_t p : s.pids()) EXPECT_EQ(p, 0);
    EXPECT_FALSE(alive(after[0]));
  }
  EXPECT_FALSE(alive(before[1]));
}

TEST(SupervisorTest, BackOffDoublesWhileAChildKeepsDying) {
  SupervisorOptions o;
  o.program = "/bin/false";
  o.count = 1;
  o.backoff_seconds = 0.2;
  o.max_backoff_seconds = 0.4;
  Supervisor s(o);
  s.start();
  // /bin/false dies at once: restarts after 0.2 s, then 0.4 s, then 0.4 s (capped): 3 in ~1.1 s.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1150)) {
    s.poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(s.restarts(), 2);
  EXPECT_LE(s.restarts(), 3);
}

}  // namespace
}  // namespace apiary::actors
