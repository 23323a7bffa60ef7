// The host system for envs/thrust_vec_env.h: memory is 64-byte aligned host arrays; blocks of lanes
// run through Thrust's OpenMP system on `threads` threads, or its C++ (serial) system where one
// thread is asked for or there is only one block.
#pragma once

#include <omp.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system/cpp/execution_policy.h>
#include <thrust/system/omp/execution_policy.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "envs/vec_env.h"

namespace apiary::envs {

// kIsa tells apart builds of the same code for different instruction sets (0: the baseline, 1: AVX2),
// which must be distinct template instances so that the linker never mixes them.
template <int kIsa>
struct CpuSystemT {
  static constexpr Device kDevice = Device::kCpu;

  // An owning, 64-byte aligned, fixed-size host array (no per-step allocation ever happens).
  template <class T>
  class Array {
   public:
    void allocate(std::size_t n, const T& fill) {
      const std::size_t bytes = std::max<std::size_t>(64, (n * sizeof(T) + 63) / 64 * 64);
      data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw std::bad_alloc();
      size_ = n;
      std::fill(data_.get(), data_.get() + n, fill);
    }
    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    std::size_t size() const { return size_; }

   private:
    struct Free {
      void operator()(T* p) const { std::free(p); }
    };
    std::unique_ptr<T, Free> data_;
    std::size_t size_ = 0;
  };

  // Lanes per block: 256 whatever the batch and the threads, big enough to amortise the per-block
  // work and keep the vector units busy (a batch of fewer lanes is one block, on one thread).
  static std::int64_t block_size(std::int64_t /*num_envs*/, std::int32_t /*threads*/) { return 256; }

  static std::int32_t resolve_threads(std::int32_t threads) {
    return threads > 0 ? threads : omp_get_num_procs();
  }

  // A functor passed to Thrust under a type of this instruction set's own. Thrust's loops are named by
  // their functor's type, which is the same in the baseline and the AVX2 build (StepBlocks<Pendulum>),
  // so the linker would keep one build's copy for both: the AVX2 build could run baseline code (Acrobot
  // did, scalar) and the baseline AVX2 code on a CPU without it. The env functors' operator() is
  // always inlined (APIARY_HD), so it is compiled into this wrapper, once per instruction set.
  template <class F>
  struct Own {
    F f;
    template <class Arg>
    decltype(auto) operator()(Arg&& arg) const {
      return f(static_cast<Arg&&>(arg));
    }
  };

  template <class F>
  static void for_each_block(std::int64_t num_blocks, std::int32_t threads, const F& f) {
    const std::int32_t t = std::min<std::int64_t>(resolve_threads(threads), num_blocks);
    thrust::counting_iterator<std::int64_t> first(0), last(num_blocks);
    if (t <= 1) {
      thrust::for_each(thrust::cpp::par, first, last, Own<F>{f});
      return;
    }
    // Thrust's OpenMP for_each uses the calling thread's default team size; set it for this call only.
    const int previous = omp_get_max_threads();
    omp_set_num_threads(t);
    thrust::for_each(thrust::omp::par, first, last, Own<F>{f});
    omp_set_num_threads(previous);
  }

  template <class T>
  static void download(const T* from, std::size_t n, T* to) {
    if (n) std::memcpy(static_cast<void*>(to), from, n * sizeof(T));
  }
  template <class T>
  static void upload(const T* from, std::size_t n, T* to) {
    if (n) std::memcpy(static_cast<void*>(to), from, n * sizeof(T));
  }

  // Index of the first element satisfying `pred`, or -1.
  template <class T, class Pred>
  static std::int64_t find_first(const T* data, std::int64_t n, Pred pred) {
    // A plain scan: it vectorises and, at these sizes, costs less than a parallel region.
    bool any = false;
    for (std::int64_t i = 0; i < n; ++i) any |= pred(data[i]);
    if (!any) return -1;
    return thrust::find_if(thrust::cpp::par, data, data + n, Own<Pred>{pred}) - data;
  }
};

using CpuSystem = CpuSystemT<0>;

}  // namespace apiary::envs
