// A byte buffer on a device, for callers outside the CUDA translation units (tools, benchmarks, tests)
// that need to hand device-resident data, such as a batch of actions, to a device env.
#pragma once

#include <cstddef>

#include "envs/vec_env.h"

namespace apiary::envs {

class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t bytes, Device device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() { return data_; }
  Device device() const { return device_; }
  // Copies `bytes` bytes from host memory to the start of the buffer.
  void upload(const void* host, std::size_t bytes);

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
};

// The CUDA side (envs/classic/classic_cuda.cu); these throw in builds without CUDA.
void* cuda_allocate(std::size_t bytes);
void cuda_release(void* ptr);
void cuda_copy_to_device(void* device_dst, const void* host_src, std::size_t bytes);

}  // namespace apiary::envs
