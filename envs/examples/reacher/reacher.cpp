// The plugin: PointReacher-v0 (reacher.h) on CPU threads through Thrust, and on the GPU when
// reacher_cuda.cu is compiled in (CMake option REACHER_CUDA).
#include "envs/plugin.h"
#include "reacher.h"

#ifdef REACHER_CUDA
void add_point_reacher_cuda(apiary::envs::PluginRegistrar& registrar);  // reacher_cuda.cu
#endif

APIARY_PLUGIN(registrar) {
  registrar.add_hd_env<reacher::PointReacher>();
#ifdef REACHER_CUDA
  add_point_reacher_cuda(registrar);
#endif
}
