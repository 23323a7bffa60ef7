// apiary: the command-line program. See `apiary --help` and README.md.
#include "app/commands.h"
#include "core/allocator.h"

int main(int argc, char** argv) {
  // Freed tensors' memory is kept for the next step instead of going back to the kernel (core/allocator.h).
  apiary::core::keep_freed_memory_for_reuse();
  return apiary::app::run_cli(argc, argv);
}
