// Metrics CSV: header, rows, number precision, fixed columns and flushing per row.
#include "core/csv_writer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/atomic_file.h"
#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

TEST(CsvWriter, HeaderFromFirstRowAndFlushedRows) {
  testing::TempDir dir;
  const std::string path = dir.file("metrics.csv");
  CsvWriter csv(path);
  csv.write_row({{"step", 2048}, {"episodic_return", 21.5}, {"learning_rate", 2.5e-4}});
  // Flushed at once: readable while the writer is still open.
  EXPECT_EQ(read_file(path), "step,episodic_return,learning_rate\n2048,21.5,0.00025\n");
  csv.write_row({{"step", 4096}, {"learning_rate", 0.1 + 0.2}});
  EXPECT_EQ(read_file(path),
            "step,episodic_return,learning_rate\n2048,21.5,0.00025\n"
            "4096,,0.30000000000000004\n");
}

TEST(CsvWriter, FixedColumnsAndSpecialValues) {
  testing::TempDir dir;
  const std::string path = dir.file("m.csv");
  CsvWriter csv(path, {"step", "loss", "odd,name"});
  EXPECT_EQ(read_file(path), "step,loss,\"odd,name\"\n");
  csv.write_row({{"loss", std::nan("")}, {"step", 10000000000.0}, {"odd,name", -1e-300}});
  EXPECT_EQ(read_file(path), "step,loss,\"odd,name\"\n10000000000,nan,-1e-300\n");
  EXPECT_THROW(csv.write_row({{"unknown", 1}}), std::invalid_argument);
}

TEST(CsvWriter, ReportsUnopenablePath) {
  EXPECT_THROW(CsvWriter("/nonexistent/apiary/m.csv"), std::runtime_error);
}

TEST(CsvWriter, Escape) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace apiary::core
