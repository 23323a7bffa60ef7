// The classic-control suite on the host, through Thrust's OpenMP and C++ systems.
#include "envs/classic/classic.h"
#include "envs/cpu_system.h"
#include "envs/thrust_vec_env.h"

namespace apiary::envs {

void register_classic_cpu(Registry& registry) { register_classic<CpuSystem>(registry); }

}  // namespace apiary::envs
