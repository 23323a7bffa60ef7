// The GPU back end of a plugin's __host__ __device__ env: in a CUDA translation unit of the plugin
// (compiled by nvcc with --fmad=false, as Apiary's own CUDA envs are), after the env was declared with
// registrar.add_hd_env<Env>() in the C++ one:
//
//   // myenv_cuda.cu
//   #include "envs/plugin_cuda.cuh"
//   #include "myenv.h"
//   void add_myenv_cuda(apiary::envs::PluginRegistrar& r) { apiary::envs::add_hd_env_cuda<MyEnv>(r); }
//
// The same physics then runs on CPU threads and on the GPU, with the same bits. The program that loads
// the plugin must have been built with CUDA (`apiary doctor`); otherwise make_env refuses device cuda.
#pragma once

#include "envs/cuda_system.cuh"
#include "envs/plugin.h"
#include "envs/thrust_vec_env.h"

namespace apiary::envs {

// Adds the CUDA back end to Env's id, which registrar.add_hd_env<Env>() declared.
template <class Env>
void add_hd_env_cuda(PluginRegistrar& registrar) {
  registrar.add_maker(Env::kId, Device::kCuda, &make_hd_env<Env, CudaSystem>);
}

}  // namespace apiary::envs
