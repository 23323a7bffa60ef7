// What the algorithm tests (learner/, parallel/) share: metrics by name, an algorithm's whole state
// saved to bytes and loaded back, as a checkpoint does, and two data-parallel "ranks" in threads.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "agents/trajectory.h"
#include "learner/algorithm.h"

namespace apiary::testing {

inline std::map<std::string, double> as_map(const learner::Metrics& metrics) {
  std::map<std::string, double> out;
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

inline std::string saved_state(learner::Algorithm& algo) {
  std::stringstream stream;
  torch::serialize::OutputArchive archive;
  algo.save(archive);
  archive.save_to(stream);
  return stream.str();
}

inline void load_state(learner::Algorithm& algo, const std::string& state) {
  std::stringstream stream(state);
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  algo.load(archive);
}

// Two "ranks" in two threads, whose GradientHook (learner/algorithm.h) averages their flat gradients
// the way the runner's all-reduce does (sum, then divide by 2).
class TwoRankAverager {
 public:
  void average(const std::vector<torch::Tensor>& grads) {
    EXPECT_EQ(grads.size(), 1u) << "PPO hands over its one flat gradient buffer";
    std::unique_lock<std::mutex> lock(mutex_);
    const std::int64_t generation = generation_;
    sum_ = arrived_ == 0 ? grads[0].clone() : sum_ + grads[0];  // a + b == b + a: the same on both
    if (++arrived_ == 2) {
      result_ = sum_ / 2.0;
      arrived_ = 0;
      ++generation_;
      ++calls_;
      ready_.notify_all();
    } else {
      ready_.wait(lock, [&] { return generation_ != generation; });
    }
    grads[0].copy_(result_);  // under the lock: the next call waits for both copies
  }
  std::int64_t calls() const { return calls_; }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  int arrived_ = 0;
  std::int64_t generation_ = 0, calls_ = 0;
  torch::Tensor sum_, result_;
};

// Chunks side by side: the lanes of `a`, then those of `b`.
inline agents::TrajectoryChunk lanes_of_both(const agents::TrajectoryChunk& a, const agents::TrajectoryChunk& b) {
  agents::TrajectoryChunk c;
  c.obs = torch::cat({a.obs, b.obs}, 1);
  c.next_obs = torch::cat({a.next_obs, b.next_obs}, 1);
  c.actions = torch::cat({a.actions, b.actions}, 1);
  c.log_probs = torch::cat({a.log_probs, b.log_probs}, 1);
  c.values = torch::cat({a.values, b.values}, 1);
  c.rewards = torch::cat({a.rewards, b.rewards}, 1);
  c.terminated = torch::cat({a.terminated, b.terminated}, 1);
  c.truncated = torch::cat({a.truncated, b.truncated}, 1);
  if (a.state.defined()) {  // a recurrent policy's: each lane's state, the episode starts
    c.state = torch::cat({a.state, b.state}, 0);
    c.starts = torch::cat({a.starts, b.starts}, 1);
  }
  return c;
}

}  // namespace apiary::testing
