// Where training time goes: steady-clock seconds accumulated per category. Adding is one relaxed
// atomic add, so timers may wrap every phase of an iteration and run on several threads at once.
// Nested timers of different categories both count their full time; time only the leaves.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace apiary::core {

enum class ProfileCategory : int {
  kEnv,        // stepping environments
  kInference,  // policy forward passes in the actors
  kLearning,   // loss, backward pass and optimizer steps
  kTransport,  // moving chunks and weights between actors and the learner
  kOther,      // everything else that is timed (checkpoints, logging, ...)
};
inline constexpr int kNumProfileCategories = 5;

// "env", "inference", "learning", "transport", "other".
const char* profile_category_name(ProfileCategory category);

struct ProfileReport {
  struct Entry {
    ProfileCategory category;
    double seconds = 0;   // summed over all timers (and threads) of this category
    double fraction = 0;  // seconds / total_seconds; 0 when nothing was timed
    std::int64_t count = 0;  // timed sections
  };
  std::array<Entry, kNumProfileCategories> entries{};  // indexed by category
  double total_seconds = 0;  // sum over categories
  double wall_seconds = 0;   // since construction or reset()

  const Entry& operator[](ProfileCategory c) const { return entries[static_cast<int>(c)]; }
  // "env 1.20s (45.1%)  inference 0.50s (18.8%)  ...", categories with time only.
  std::string to_string() const;
};

class Profiler {
 public:
  Profiler();

  void add(ProfileCategory category, double seconds);
  ProfileReport report() const;
  void reset();

  // Adds the time between its construction and destruction to one category.
  class Scoped {
   public:
    Scoped(Profiler& profiler, ProfileCategory category)
        : profiler_(profiler), category_(category), start_(std::chrono::steady_clock::now()) {}
    ~Scoped() {
      profiler_.add(category_, std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                             start_)
                                   .count());
    }
    Scoped(const Scoped&) = delete;
    Scoped& operator=(const Scoped&) = delete;

   private:
    Profiler& profiler_;
    ProfileCategory category_;
    std::chrono::steady_clock::time_point start_;
  };

  Scoped scope(ProfileCategory category) { return Scoped(*this, category); }

 private:
  std::array<std::atomic<std::int64_t>, kNumProfileCategories> nanos_;  // summed nanoseconds
  std::array<std::atomic<std::int64_t>, kNumProfileCategories> counts_;
  std::atomic<std::int64_t> start_nanos_;  // steady clock at construction or reset()
};

using ScopedTimer = Profiler::Scoped;

}  // namespace apiary::core
