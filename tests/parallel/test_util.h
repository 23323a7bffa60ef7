// Helpers of the parallel tests: run this very test again as ranks (launch_local re-executes
// the test binary with a filter that selects the calling test), start ranks by hand, scratch folders.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "parallel/launch.h"

namespace apiary::parallel::testing {

// "--gtest_filter=Suite.Name" of the running test.
inline std::string this_test_filter() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name();
}

// True in a process that launch_local (or a test by hand) started as a rank.
inline bool in_rank() { return std::getenv("RANK") != nullptr; }

// LaunchOptions that run only the calling test in every rank, with `env` added.
inline LaunchOptions rerun_this_test(std::vector<std::pair<std::string, std::string>> env = {}) {
  LaunchOptions options;
  options.args = std::vector<std::string>{this_test_filter()};
  options.env = std::move(env);
  return options;
}

// A rank's body for launch_local: runs `checks(info)` (a void function, so gtest's ASSERT_* may
// return from it) and returns 1 when a check of this process failed, which launch_local reports.
template <typename Checks>
std::function<int(const RendezvousInfo&)> rank_body(Checks checks) {
  return [checks](const RendezvousInfo& info) {
    checks(info);
    return ::testing::Test::HasFailure() ? 1 : 0;
  };
}

// This test binary running the calling test, with `env` added to this process's environment; the
// child is in its own process group and dies with this process.
inline pid_t spawn_this_test(const std::vector<std::pair<std::string, std::string>>& env) {
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  self.resize(static_cast<std::size_t>(n));
  std::string filter = this_test_filter();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv{self.data(), filter.data(), nullptr};
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Gone: no such process, or a zombie (dead, waiting for a parent that may not reap it soon).
inline bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren == std::string::npos || (paren + 2 < text.size() && text[paren + 2] == 'Z');
}

// Waits for `pid` (a child of this process) to exit, up to `seconds`; its wait status, or nullopt
// after SIGKILL when it did not exit in time.
inline std::optional<int> wait_child(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return std::nullopt;
}

// A fresh folder under the system temp folder, removed at destruction (by the process that made it).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "apiary_parallel_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);
}

}  // namespace apiary::parallel::testing
