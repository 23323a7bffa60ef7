// The CUDA system for envs/thrust_vec_env.h: device memory, one lane per Thrust work item.
#pragma once

#include <cuda_runtime.h>
#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "envs/vec_env.h"

namespace apiary::envs {

inline void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

struct CudaSystem {
  static constexpr Device kDevice = Device::kCuda;

  template <class T>
  class Array {
   public:
    void allocate(std::size_t n, const T& fill) { v_.assign(n, fill); }
    T* data() { return thrust::raw_pointer_cast(v_.data()); }
    const T* data() const { return thrust::raw_pointer_cast(v_.data()); }
    std::size_t size() const { return v_.size(); }

   private:
    thrust::device_vector<T> v_;
  };

  static std::int64_t block_size(std::int64_t, std::int32_t) { return 1; }

  template <class F>
  static void for_each_block(std::int64_t num_blocks, std::int32_t, const F& f) {
    thrust::for_each(thrust::device, thrust::counting_iterator<std::int64_t>(0),
                     thrust::counting_iterator<std::int64_t>(num_blocks), f);
    cuda_check(cudaGetLastError(), "env kernel");
  }

  template <class T>
  static void download(const T* from, std::size_t n, T* to) {
    if (n) cuda_check(cudaMemcpy(to, from, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }
  template <class T>
  static void upload(const T* from, std::size_t n, T* to) {
    if (n) cuda_check(cudaMemcpy(to, from, n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }

  template <class T, class Pred>
  static std::int64_t find_first(const T* data, std::int64_t n, Pred pred) {
    thrust::device_ptr<const T> first(data);
    const auto it = thrust::find_if(thrust::device, first, first + n, pred);
    const std::int64_t index = it - first;
    return index == n ? -1 : index;
  }
};

}  // namespace apiary::envs
