// Learning curves: reading the evaluation rows of metrics.csv as the trainer writes it, the errors for
// files that are not, and a figure whose curves are lines where the data puts them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "render/plot.h"
#include "tests/render/test_util.h"

namespace apiary::render {
namespace {

namespace fs = std::filesystem;
using testing::is;
using testing::stats;

class PlotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("apiary_plot_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A run folder whose metrics.csv has the trainer's columns: training rows (no eval value) between
  // evaluation rows whose return climbs linearly from `first` to `last` over 10 evaluations.
  std::string run(const std::string& name, double first, double last) {
    const fs::path run_dir = dir_ / name;
    fs::create_directories(run_dir);
    std::ofstream out(run_dir / "metrics.csv");
    out << "step,wall_seconds,steps_per_second,episodes,mean_return,mean_length,eval_mean_return,eval_std_return,"
           "env_seconds,inference_seconds,learning_seconds,pg_loss\n";
    for (int i = 0; i <= 10; ++i) {
      const double step = 1000.0 * i, wall = 0.5 * i;
      out << step << "," << wall << ",2000,3,12,12,,,0.1,0.1,0.1,0.01\n";
      out << step << "," << wall << ",,,,," << first + (last - first) * i / 10.0 << ",5,,,,\n";
    }
    return run_dir.string();
  }
  fs::path dir_;
};

TEST_F(PlotTest, ReadsTheEvaluationRowsOfARun) {
  const RunCurve c = read_run_curve(run("cartpole_ppo", 20, 500));
  EXPECT_EQ(c.name, "cartpole_ppo");
  ASSERT_EQ(c.value.size(), 11u);
  EXPECT_DOUBLE_EQ(c.value.front(), 20);
  EXPECT_DOUBLE_EQ(c.value.back(), 500);
  EXPECT_DOUBLE_EQ(c.step[3], 3000);
  EXPECT_DOUBLE_EQ(c.wall_seconds[4], 2.0);
  ASSERT_EQ(c.spread.size(), 11u);
  EXPECT_DOUBLE_EQ(c.spread[0], 5);
  // The CSV file itself works too, and so does another column.
  const RunCurve m = read_run_curve((dir_ / "cartpole_ppo" / "metrics.csv").string(), "mean_return");
  EXPECT_EQ(m.value.size(), 11u);
  EXPECT_TRUE(m.spread.empty());
}

TEST_F(PlotTest, RefusesFilesThatAreNotMetricsNamingThem) {
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no exception)";
  };
  const std::string missing = (dir_ / "nothing").string();
  EXPECT_NE(message([&] { read_run_curve(missing); }).find(missing), std::string::npos);
  const std::string r = run("a", 0, 1);
  EXPECT_NE(message([&] { read_run_curve(r, "no_such_column"); }).find("no column 'no_such_column'"), std::string::npos);
  std::ofstream(dir_ / "train_only.csv") << "step,wall_seconds,eval_mean_return\n100,1,\n200,2,\n";
  EXPECT_NE(message([&] { read_run_curve((dir_ / "train_only.csv").string()); }).find("no row has a value"),
            std::string::npos);
  std::ofstream(dir_ / "empty.csv") << "";
  EXPECT_NE(message([&] { read_run_curve((dir_ / "empty.csv").string()); }).find("empty.csv"), std::string::npos);
  EXPECT_THROW(plot_curves({}), std::invalid_argument);
}

TEST_F(PlotTest, DrawsEachRunAsARisingLineInItsColour) {
  const std::vector<RunCurve> curves = {read_run_curve(run("fast", 0, 500)), read_run_curve(run("slow", 0, 250))};
  const Canvas c = plot_curves(curves);
  testing::dump(c, "plot");
  EXPECT_EQ(c.width(), 1100);
  EXPECT_EQ(c.height(), 440);
  for (std::size_t k = 0; k < 2; ++k) {
    // In both panels (steps, wall-clock) the curve is a line across the panel that rises to the right:
    // in each column it crosses, its pixels sit higher (smaller y) than in the columns before.
    for (int panel = 0; panel < 2; ++panel) {
      const int x0 = panel * 550, x1 = x0 + 550;
      const auto s = stats(c, is(curve_color(k)), x0, 28, x1, 440);
      EXPECT_GT(s.count, 400) << "curve " << k << " panel " << panel;
      EXPECT_GT(s.max_x - s.min_x, 350) << "curve " << k << " panel " << panel;
      double previous = 1e9;
      int columns = 0;
      for (int x = s.min_x + 4; x <= s.max_x - 4; x += 20) {
        const auto col = stats(c, is(curve_color(k)), x, 28, x + 1, 440);
        if (col.count == 0) continue;
        EXPECT_LT(col.mean_y, previous + 1) << "curve " << k << " column " << x;
        previous = col.mean_y;
        ++columns;
      }
      EXPECT_GT(columns, 10);
    }
  }
  // The faster run ends higher: its last point is above the slower one's.
  const auto fast = stats(c, is(curve_color(0)), 0, 28, 550, 440), slow = stats(c, is(curve_color(1)), 0, 28, 550, 440);
  EXPECT_LT(fast.min_y, slow.min_y - 100);
  // The legend names both runs: their swatches sit on the top row.
  EXPECT_GT(stats(c, is(curve_color(0)), 0, 0, 1100, 28).count, 0);
  EXPECT_GT(stats(c, is(curve_color(1)), 0, 0, 1100, 28).count, 0);
}

}  // namespace
}  // namespace apiary::render
