// Atomic file replacement: content replaced, no temporary files left, failures reported.
#include "core/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

TEST(AtomicFile, CreatesAndReplacesLeavingNoTempFiles) {
  testing::TempDir dir;
  const std::string path = dir.file("config.yaml");
  write_file_atomic(path, "first version, longer than the second\n");
  EXPECT_EQ(read_file(path), "first version, longer than the second\n");
  const std::string binary("a\0b\xff", 4);
  write_file_atomic(path, binary);
  EXPECT_EQ(read_file(path), binary);
  write_file_atomic(path, "");
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"config.yaml"});
}

TEST(AtomicFile, LargeContent) {
  testing::TempDir dir;
  const std::string path = dir.file("ckpt.bin");
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  write_file_atomic(path, big);
  EXPECT_EQ(read_file(path), big);
}

TEST(AtomicFile, FailureLeavesOldContentAndNoTempFiles) {
  testing::TempDir dir;
  const std::string path = dir.file("target");
  std::filesystem::create_directory(path);  // rename of a file onto a folder fails
  try {
    write_file_atomic(path, "data");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_CONTAINS(e.what(), path);
  }
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"target"});
  EXPECT_THROW(write_file_atomic(dir.file("missing/x"), "data"), std::runtime_error);
}

}  // namespace
}  // namespace apiary::core
