// How the C library's allocator treats freed memory in the apiary program.
//
// glibc's malloc gives large blocks back to the kernel as soon as they are freed: blocks above a
// threshold are mmap'ed and munmap'ed one by one, and free memory at the heap's top is trimmed. A
// learner step allocates and frees the same few megabytes of tensors every time, so every step paid
// the page faults for all of them again: SAC on BipedalWalker-v3 spent 15 % of its time in the kernel
// (`perf`; 9 s of system time a minute), and keeping freed memory makes it 1.2x faster
// (bench/RESULTS.md). Blocks above glibc's largest threshold (32 MB) are not mmap'ed either
// (M_MMAP_MAX 0): an IMPALA CNN's update at 256 rows allocates 67 MB of activations, and unmapping
// them every step made its fp32 update 2.6x slower. No LibTorch here.
#pragma once

#include <cstddef>

namespace apiary::core {

// Blocks up to this size come from the heap and are reused after free (glibc's largest allowed value).
inline constexpr std::size_t kMmapThresholdBytes = std::size_t{32} << 20;
// Free memory at the heap's top kept for reuse before it is returned to the kernel.
inline constexpr std::size_t kTrimThresholdBytes = std::size_t{128} << 20;

// Sets the two thresholds above and turns mmap'ed blocks off, unless the user set glibc's own
// (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_MAX_, or GLIBC_TUNABLES naming
// glibc.malloc), which then win. Returns whether it set
// them; false also where the C library is not glibc. The apiary program calls it first thing.
bool keep_freed_memory_for_reuse();

}  // namespace apiary::core
