// A small persistent pool of worker threads for the CPU back end of envs that hold one object per lane
// (the Box2D envs, plain C++ custom envs). `run(n, fn)` calls fn(i) for every i in [0, n) once, spread
// over the workers and the calling thread, and returns when all are done. Items are handed out in
// order from a shared counter, so uneven lanes (a Box2D reset costs more than a step) balance out; the
// results never depend on which thread ran an item, because items share no state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace apiary::envs {

class ThreadPool {
 public:
  // `threads` counts the calling thread: 1 runs everything inline, 0 means every hardware thread.
  explicit ThreadPool(std::int32_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::int32_t threads() const { return static_cast<std::int32_t>(workers_.size()) + 1; }
  // Runs fn(i) for i in [0, n), `grain` consecutive items at a time. The first exception thrown by
  // any item is rethrown here after every started item has finished.
  void run(std::int64_t n, const std::function<void(std::int64_t)>& fn, std::int64_t grain = 1);

  static std::int32_t hardware_threads();

 private:
  void worker_loop();
  void drain();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::int32_t busy_ = 0;  // workers still in the current job
  // The current job.
  const std::function<void(std::int64_t)>* fn_ = nullptr;
  std::int64_t n_ = 0, grain_ = 1;
  std::atomic<std::int64_t> next_{0};
  std::exception_ptr error_;
};

}  // namespace apiary::envs
