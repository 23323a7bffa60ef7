// One progress line for long runs:
//   steps 12,288/100,000  steps/s 45,120  mean_return 87.3  eta 2s
// redrawn in place with '\r' when the output is a terminal, at most a few times per second.
// When it is not a terminal (a log file, CI) nothing is drawn: the final summary line of the
// command carries the numbers instead.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace apiary::core {

class ProgressLine {
 public:
  // `total_steps` is the run's budget (0: unknown, no eta). Draws on `out` (stderr by default)
  // only when it is a terminal.
  explicit ProgressLine(std::int64_t total_steps, std::FILE* out = stderr);
  // As above with the terminal test forced (tests, or a --progress flag).
  ProgressLine(std::int64_t total_steps, std::FILE* out, bool enabled);
  ~ProgressLine();  // calls finish()

  // Reports progress; redraws at most every `min_interval_s`. `mean_return` NaN: not known yet.
  void update(std::int64_t steps, double mean_return = std::nan(""));
  // Draws the last state and ends the line (once; later calls do nothing).
  void finish();

  bool enabled() const { return enabled_; }
  double min_interval_s = 0.25;  // seconds between redraws

 private:
  void draw();

  std::int64_t total_steps_;
  std::FILE* out_;
  bool enabled_;
  bool finished_ = false;
  bool drawn_ = false;
  size_t last_width_ = 0;  // characters of the previous line, to blank leftovers
  std::int64_t steps_ = 0;
  double mean_return_ = std::nan("");
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// The text of the line (no '\r'); `steps_per_second` <= 0 or `total_steps` <= 0 omits the eta.
std::string format_progress(std::int64_t steps, std::int64_t total_steps, double steps_per_second,
                            double mean_return);
// 12288 -> "12,288".
std::string format_count(std::int64_t n);
// Seconds as "2s", "3m05s", "1h02m".
std::string format_duration(double seconds);

}  // namespace apiary::core
