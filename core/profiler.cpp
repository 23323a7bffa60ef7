// Profiler: atomic per-category sums of steady-clock time.
#include "core/profiler.h"

#include <cstdio>

namespace apiary::core {

namespace {

std::int64_t steady_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* profile_category_name(ProfileCategory category) {
  switch (category) {
    case ProfileCategory::kEnv: return "env";
    case ProfileCategory::kInference: return "inference";
    case ProfileCategory::kLearning: return "learning";
    case ProfileCategory::kTransport: return "transport";
    case ProfileCategory::kOther: return "other";
  }
  return "?";
}

std::string ProfileReport::to_string() const {
  std::string s;
  for (const auto& e : entries) {
    if (e.count == 0) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.2fs (%.1f%%)", s.empty() ? "" : "  ",
                  profile_category_name(e.category), e.seconds, 100.0 * e.fraction);
    s += buf;
  }
  return s;
}

Profiler::Profiler() { reset(); }

void Profiler::add(ProfileCategory category, double seconds) {
  const int i = static_cast<int>(category);
  nanos_[i].fetch_add(static_cast<std::int64_t>(seconds * 1e9), std::memory_order_relaxed);
  counts_[i].fetch_add(1, std::memory_order_relaxed);
}

ProfileReport Profiler::report() const {
  ProfileReport r;
  for (int i = 0; i < kNumProfileCategories; ++i) {
    auto& e = r.entries[i];
    e.category = static_cast<ProfileCategory>(i);
    e.seconds = 1e-9 * static_cast<double>(nanos_[i].load(std::memory_order_relaxed));
    e.count = counts_[i].load(std::memory_order_relaxed);
    r.total_seconds += e.seconds;
  }
  for (auto& e : r.entries) e.fraction = r.total_seconds > 0 ? e.seconds / r.total_seconds : 0;
  r.wall_seconds = 1e-9 * static_cast<double>(steady_nanos() - start_nanos_.load());
  return r;
}

void Profiler::reset() {
  for (int i = 0; i < kNumProfileCategories; ++i) {
    nanos_[i].store(0);
    counts_[i].store(0);
  }
  start_nanos_.store(steady_nanos());
}

}  // namespace apiary::core
