// Running the built `apiary` program from tests, as a user runs it: the command's status and output,
// the `key: value` pairs of its summary line, and a scratch folder per test.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace apiary::testing {

// A whole file's text ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct CmdResult {
  int status = -1;      // exit status, or -1 when killed by a signal
  std::string output;   // stdout and stderr together
  bool has(const std::string& s) const { return output.find(s) != std::string::npos; }
  std::string last_line() const {
    std::istringstream in(output);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return last;
  }
};

// Runs `prefix BINARY_DIR/apiary args` through the shell (prefix: environment settings, `timeout`,
// ...), in `cwd` when given.
inline CmdResult run_apiary(const std::string& args, const std::string& prefix = "", const std::string& cwd = "") {
  const std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + prefix + " " + std::string(APIARY_BINARY_DIR) +
                          "/apiary " + args + " 2>&1";
  CmdResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) r.output += buf.data();
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `key: value` pairs of a summary line.
inline std::map<std::string, std::string> parse_pairs(const std::string& line) {
  std::map<std::string, std::string> out;
  std::istringstream in(line);
  std::string key, value;
  while (in >> key >> value)
    if (!key.empty() && key.back() == ':') out[key.substr(0, key.size() - 1)] = value;
  return out;
}

// A fresh folder per test under the system's temp dir, removed afterwards.
class ScratchTest : public ::testing::Test {
 protected:
  explicit ScratchTest(std::string prefix = "apiary_test_") : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (prefix_ + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::filesystem::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string prefix_;
  std::filesystem::path dir_;
};

}  // namespace apiary::testing
