#include "runner/background_eval.h"

#include <stdexcept>
#include <utility>

namespace apiary::runner {

BackgroundEvaluations::BackgroundEvaluations(envs::VecEnv& env, std::shared_ptr<agents::Policy> policy,
                                             std::int32_t episodes, std::uint64_t seed, torch::Device device,
                                             core::Profiler& profiler)
    : env_(env), policy_(std::move(policy)), episodes_(episodes), seed_(seed), device_(device), profiler_(profiler) {}

BackgroundEvaluations::~BackgroundEvaluations() {
  if (thread_.joinable()) thread_.join();
}

void BackgroundEvaluations::submit(std::int64_t step, agents::Weights weights) {
  Played snapshot;
  snapshot.step = step;
  snapshot.weights = std::move(weights);
  if (playing())
    pending_.push_back(std::move(snapshot));
  else
    start(std::move(snapshot));
}

BackgroundEvaluations::Played BackgroundEvaluations::take() {
  if (!playing()) throw std::logic_error("BackgroundEvaluations::take: none plays");
  {
    core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
    thread_.join();
  }
  if (error_) {
    std::exception_ptr error = std::exchange(error_, nullptr);
    std::rethrow_exception(error);
  }
  return std::move(playing_);
}

void BackgroundEvaluations::start_next() {
  if (pending_.empty()) return;
  Played next = std::move(pending_.front());
  pending_.pop_front();
  start(std::move(next));
}

void BackgroundEvaluations::start(Played snapshot) {
  if (playing()) throw std::logic_error("BackgroundEvaluations::start: one plays already");
  {
    core::ScopedTimer t(profiler_, core::ProfileCategory::kOther);
    agents::import_weights(policy_->module(), snapshot.weights);
  }
  playing_ = std::move(snapshot);
  done_ = false;
  error_ = nullptr;
  thread_ = std::thread([this] {
    try {
      playing_.result = actors::evaluate(env_, *policy_, episodes_, seed_, device_);
    } catch (...) {
      error_ = std::current_exception();
    }
    done_ = true;
  });
}

}  // namespace apiary::runner
