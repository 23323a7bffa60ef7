// Progress line: formatting, and drawing only when enabled (a terminal).
#include "core/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "core/atomic_file.h"
#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

TEST(Progress, Formatting) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(12288), "12,288");
  EXPECT_EQ(format_count(-1234567), "-1,234,567");
  EXPECT_EQ(format_duration(2.4), "2s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_progress(12288, 100000, 45120, 87.34),
            "steps 12,288/100,000  steps/s 45,120  mean_return 87.3  eta 2s");
  EXPECT_EQ(format_progress(10, 0, 0, std::nan("")), "steps 10");
}

TEST(Progress, DrawsOnlyWhenEnabledAndRateLimited) {
  testing::TempDir dir;
  const std::string path = dir.file("out.txt");
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(ProgressLine(100, f).enabled());  // a file is not a terminal
  {
    ProgressLine quiet(100, f);
    quiet.update(50, 1.0);
    quiet.finish();
  }
  {
    ProgressLine line(100, f, /*enabled=*/true);
    line.min_interval_s = 3600;
    line.update(10, 5.0);  // first update draws
    line.update(20);       // rate-limited
    line.update(30);
    line.finish();         // draws the last state and ends the line
    line.finish();
  }
  std::fclose(f);
  const std::string text = read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 2) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(text.rfind("\rsteps 10/100", 0), 0u) << text;
  EXPECT_CONTAINS(text, "\rsteps 30/100");
  EXPECT_CONTAINS(text, "mean_return 5.0");
}

}  // namespace
}  // namespace apiary::core
