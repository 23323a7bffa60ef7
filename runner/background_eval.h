// eval.background: evaluations of snapshots of the policy's weights, played on a thread of their own
// while training goes on. One that falls due while the one before still plays is postponed, not
// skipped: its snapshot waits in a queue (at most kMaxPending) and plays as soon as the thread is free,
// so the steps and the policies evaluated are those a foreground evaluation would have had.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <thread>

#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/policy.h"
#include "agents/weights.h"
#include "core/profiler.h"
#include "envs/vec_env.h"

namespace apiary::runner {

class BackgroundEvaluations {
 public:
  static constexpr std::size_t kMaxPending = 4;

  // A snapshot of the weights of `step`, and what playing it gave.
  struct Played {
    std::int64_t step = -1;
    agents::Weights weights;
    actors::EvalResult result;
  };

  // `policy` (a copy of the run's behaviour policy, on `device`) plays `episodes` on `env`'s lanes
  // from `seed`; `env` and `profiler` outlive this object. Loading weights and waiting for a result
  // count as the profiler's "other" time.
  BackgroundEvaluations(envs::VecEnv& env, std::shared_ptr<agents::Policy> policy, std::int32_t episodes,
                        std::uint64_t seed, torch::Device device, core::Profiler& profiler);
  ~BackgroundEvaluations();  // waits for the one playing
  BackgroundEvaluations(const BackgroundEvaluations&) = delete;
  BackgroundEvaluations& operator=(const BackgroundEvaluations&) = delete;

  bool playing() const { return thread_.joinable(); }
  bool finished() const { return playing() && done_; }  // one played to its end and waits to be taken
  bool full() const { return pending_.size() >= kMaxPending; }
  std::size_t postponed() const { return pending_.size(); }
  std::int64_t first_postponed_step() const { return pending_.empty() ? -1 : pending_.front().step; }

  // Plays the snapshot (step, weights) now when none plays, else postpones it.
  void submit(std::int64_t step, agents::Weights weights);
  // The playing one's snapshot and result, waiting for it to end; rethrows what it threw. Nothing else
  // starts: start_next() does.
  Played take();
  // The oldest postponed snapshot starts playing (none: nothing). Needs none playing.
  void start_next();
  void drop_postponed() { pending_.clear(); }

 private:
  void start(Played snapshot);

  envs::VecEnv& env_;
  std::shared_ptr<agents::Policy> policy_;
  std::int32_t episodes_;
  std::uint64_t seed_;
  torch::Device device_;
  core::Profiler& profiler_;
  Played playing_;
  std::deque<Played> pending_;
  std::exception_ptr error_;
  std::atomic<bool> done_{false};
  std::thread thread_;  // last: joined (by the destructor) before the members it uses go
};

}  // namespace apiary::runner
