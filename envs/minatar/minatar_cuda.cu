// The MinAtar games on the GPU: the same game objects as the CPU envs (envs/minatar/minatar_hd.h),
// one lane per Thrust work item on CUDA.
#include "envs/cuda_system.cuh"
#include "envs/minatar/minatar.h"
#include "envs/minatar/minatar_hd.h"
#include "envs/thrust_registration.h"

namespace apiary::envs {

void register_minatar_cuda(Registry& registry) {
  minatar::for_each_id([&](auto id) {
    using Id = decltype(id);
    register_thrust_env<minatar::MinAtarHd<typename Id::Game, Id::kMinimalActionSet>, CudaSystem>(registry);
  });
}

}  // namespace apiary::envs
