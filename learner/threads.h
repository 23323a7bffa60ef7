// The compute threads of a process that trains or acts: LibTorch's intra-op pool and OpenBLAS's own.
#pragma once

#include <cstdint>

namespace apiary::learner {

// Sets LibTorch's threads and OpenBLAS's to `configured` (0: every core) and returns the count.
// Debian's LibTorch leaves OpenBLAS's pool at every core, spinning between the small matrix products
// of RL networks, and PPO's hand-written step calls OpenBLAS directly: both are held to one count.
int set_compute_threads(std::int32_t configured);

}  // namespace apiary::learner
