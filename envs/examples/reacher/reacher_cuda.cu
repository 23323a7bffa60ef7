// The GPU back end of PointReacher-v0: the same APIARY_HD functions, run by Thrust's CUDA system.
#include "envs/plugin_cuda.cuh"
#include "reacher.h"

void add_point_reacher_cuda(apiary::envs::PluginRegistrar& registrar) {
  apiary::envs::add_hd_env_cuda<reacher::PointReacher>(registrar);
}
