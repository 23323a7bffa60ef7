#include "learner/threads.h"

#include <dlfcn.h>

#include <thread>

#include <torch/torch.h>

namespace apiary::learner {

int set_compute_threads(std::int32_t configured) {
  const int threads = configured > 0 ? configured : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(threads);
  using SetThreads = void (*)(int);
  if (auto set_blas_threads = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas_threads(threads);
  return threads;
}

}  // namespace apiary::learner
