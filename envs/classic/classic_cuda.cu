// The classic-control suite on the GPU: the same __host__ __device__ physics as classic_cpu.cpp, run
// by Thrust's CUDA system.
#include "envs/classic/classic.h"
#include "envs/cuda_system.cuh"

namespace apiary::envs {

void register_classic_cuda(Registry& registry) { register_classic<CudaSystem>(registry); }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: clear the sticky error
    return 0;
  }
  return count;
}

bool built_with_cuda() { return true; }

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> out;
  for (int i = 0; i < cuda_device_count(); ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    CudaDeviceInfo info;
    info.name = p.name;
    info.memory_bytes = static_cast<std::uint64_t>(p.totalGlobalMem);
    info.major = p.major;
    info.minor = p.minor;
    info.multiprocessors = p.multiProcessorCount;
    info.bf16 = p.major >= 8;
    out.push_back(info);
  }
  return out;
}

}  // namespace apiary::envs

#include "envs/device_memory.h"

namespace apiary::envs {

void* cuda_allocate(std::size_t bytes) {
  void* p = nullptr;
  cuda_check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}
void cuda_release(void* ptr) { if (ptr) (void)cudaFree(ptr); }
void cuda_copy_to_device(void* device_dst, const void* host_src, std::size_t bytes) {
  cuda_check(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
}

}  // namespace apiary::envs
