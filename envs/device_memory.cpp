#include "envs/device_memory.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace apiary::envs {

DeviceBuffer::DeviceBuffer(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device == Device::kCuda) {
    data_ = cuda_allocate(bytes);
  } else {
    data_ = std::malloc(bytes ? bytes : 1);
    if (!data_) throw std::bad_alloc();
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (device_ == Device::kCuda) cuda_release(data_); else std::free(data_);
}

void DeviceBuffer::upload(const void* host, std::size_t bytes) {
  if (bytes > bytes_) throw std::invalid_argument("DeviceBuffer::upload: more bytes than the buffer holds");
  if (device_ == Device::kCuda) cuda_copy_to_device(data_, host, bytes); else std::memcpy(data_, host, bytes);
}

#ifndef APIARY_WITH_CUDA
void* cuda_allocate(std::size_t) { throw std::invalid_argument("this build of Apiary has no CUDA back end"); }
void cuda_release(void*) {}
void cuda_copy_to_device(void*, const void*, std::size_t) {
  throw std::invalid_argument("this build of Apiary has no CUDA back end");
}
#endif

}  // namespace apiary::envs
