// core/allocator.h: the apiary program keeps freed memory for reuse (blocks up to 32 MB from the heap,
// up to 128 MB of free heap top kept), and leaves glibc's settings alone where the user made them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace apiary::core {
namespace {

#if defined(__GLIBC__)
// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value != nullptr) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(Allocator, UserSettingsOfGlibcWin) {
  ScopedEnv tunables("GLIBC_TUNABLES", nullptr), mmap("MALLOC_MMAP_THRESHOLD_", nullptr);
  {
    ScopedEnv trim("MALLOC_TRIM_THRESHOLD_", "1000000");
    EXPECT_FALSE(keep_freed_memory_for_reuse());
  }
  {
    ScopedEnv trim("MALLOC_TRIM_THRESHOLD_", nullptr);
    ScopedEnv user_tunables("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000");
    EXPECT_FALSE(keep_freed_memory_for_reuse());
  }
}

TEST(Allocator, LargeBlocksComeFromTheHeapAndStayAfterFree) {
  ScopedEnv tunables("GLIBC_TUNABLES", nullptr), mmap("MALLOC_MMAP_THRESHOLD_", nullptr),
      trim("MALLOC_TRIM_THRESHOLD_", nullptr), mmap_max("MALLOC_MMAP_MAX_", nullptr);
  ASSERT_TRUE(keep_freed_memory_for_reuse());
  // A 4 MB block is not a mapping of its own (glibc's default threshold is 128 KB).
  const auto mapped_before = mallinfo2().hblks;
  const std::size_t size = std::size_t{4} << 20;
  auto* block = static_cast<char*>(std::malloc(size));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, size);
  EXPECT_EQ(mallinfo2().hblks, mapped_before) << "a 4 MB block was mmap'ed: it would be unmapped again on free";
  std::free(block);
  // 16 MB at the heap's top, freed, stays with the process (keepcost: the releasable top) instead of
  // being trimmed back to the kernel.
  const std::size_t big = std::size_t{16} << 20;
  auto* top = static_cast<char*>(std::malloc(big));
  ASSERT_NE(top, nullptr);
  std::memset(top, 1, big);
  std::free(top);
  EXPECT_GE(mallinfo2().keepcost, big) << "the freed top of the heap was returned to the kernel";
  // 64 MB, above the largest threshold glibc allows, is not a mapping either (a CNN's activations).
  const std::size_t huge = std::size_t{64} << 20;
  auto* activations = static_cast<char*>(std::malloc(huge));
  ASSERT_NE(activations, nullptr);
  std::memset(activations, 1, huge);
  EXPECT_EQ(mallinfo2().hblks, mapped_before) << "a 64 MB block was mmap'ed: it would be unmapped again on free";
  std::free(activations);
}

TEST(Allocator, TheUsersMmapMaxWins) {
  ScopedEnv tunables("GLIBC_TUNABLES", nullptr), mmap("MALLOC_MMAP_THRESHOLD_", nullptr),
      trim("MALLOC_TRIM_THRESHOLD_", nullptr), mmap_max("MALLOC_MMAP_MAX_", "65536");
  EXPECT_FALSE(keep_freed_memory_for_reuse());
}
#else
TEST(Allocator, DoesNothingOutsideGlibc) { EXPECT_FALSE(keep_freed_memory_for_reuse()); }
#endif

}  // namespace
}  // namespace apiary::core
