#include "core/allocator.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace apiary::core {

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_MAX_") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr))
    return false;
  // Setting either threshold also stops glibc from moving them by itself. No block at all is mmap'ed:
  // blocks above the largest threshold glibc allows (32 MB) would otherwise be mapped and unmapped one
  // by one, and a CNN's activations are such blocks (IMPALA at 256 rows: 67 MB).
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThresholdBytes)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes)) == 1 && mallopt(M_MMAP_MAX, 0) == 1;
#else
  return false;
#endif
}

}  // namespace apiary::core
