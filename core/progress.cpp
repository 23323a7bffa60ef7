// Terminal progress line.
#include "core/progress.h"

#include <unistd.h>

namespace apiary::core {

std::string format_count(std::int64_t n) {
  const bool negative = n < 0;
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  const std::string digits = std::to_string(magnitude);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return negative ? "-" + s : s;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9) return "?";
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  char buf[48];
  if (total < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60));
  }
  return buf;
}

std::string format_progress(std::int64_t steps, std::int64_t total_steps, double steps_per_second,
                            double mean_return) {
  std::string s = "steps " + format_count(steps);
  if (total_steps > 0) s += "/" + format_count(total_steps);
  if (steps_per_second > 0) {
    s += "  steps/s " + format_count(std::llround(steps_per_second));
  }
  if (!std::isnan(mean_return)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "  mean_return %.1f", mean_return);
    s += buf;
  }
  if (total_steps > 0 && steps_per_second > 0) {
    const double left = static_cast<double>(total_steps > steps ? total_steps - steps : 0);
    s += "  eta " + format_duration(left / steps_per_second);
  }
  return s;
}

ProgressLine::ProgressLine(std::int64_t total_steps, std::FILE* out)
    : ProgressLine(total_steps, out, out != nullptr && ::isatty(::fileno(out)) == 1) {}

ProgressLine::ProgressLine(std::int64_t total_steps, std::FILE* out, bool enabled)
    : total_steps_(total_steps),
      out_(out),
      enabled_(enabled && out != nullptr),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(std::int64_t steps, double mean_return) {
  steps_ = steps;
  if (!std::isnan(mean_return)) mean_return_ = mean_return;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && std::chrono::duration<double>(now - last_draw_).count() < min_interval_s) return;
  draw();
}

void ProgressLine::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressLine::draw() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  // The mean rate since the start: steadier than a windowed rate and good enough for an eta.
  const double rate = elapsed > 0 ? static_cast<double>(steps_) / elapsed : 0;
  std::string line = format_progress(steps_, total_steps_, rate, mean_return_);
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  std::fputc('\r', out_);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
  last_width_ = width;
  last_draw_ = now;
  drawn_ = true;
}

}  // namespace apiary::core
