// Helpers shared by the core tests: a scratch folder and substring assertions.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace apiary::core::testing {

// A fresh folder under the system temp folder, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("apiary_core_test." + std::to_string(::getpid()) + "." +
             std::to_string(counter.fetch_add(1)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace apiary::core::testing

#define EXPECT_CONTAINS(haystack, needle)                                              \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                     \
      << "expected to find \"" << (needle) << "\" in:\n  " << (haystack)
