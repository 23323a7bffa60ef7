// Metrics as CSV: one header line, then one row per call, flushed at once so that a crash or a
// `tail -f` never sees a half-written row.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace apiary::core {

class CsvWriter {
 public:
  // A (column, value) pair of one row.
  using Row = std::vector<std::pair<std::string, double>>;

  // Creates or truncates `path`. With `columns` empty, the header is the keys of the first row,
  // in its order; otherwise it is `columns` and is written at once.
  // Throws std::runtime_error when the file cannot be opened.
  explicit CsvWriter(const std::string& path, std::vector<std::string> columns = {});
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  // Writes one row. Columns the row lacks stay empty; a key that is not a column is a
  // programming error (std::invalid_argument), since a CSV header cannot grow afterwards.
  // Numbers are printed in the shortest form that reads back to the same double; NaN as "nan".
  void write_row(const Row& row);

  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& path() const { return path_; }

 private:
  void write_line(const std::string& line);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> columns_;
  bool header_written_ = false;
};

// A CSV field, quoted where it contains a comma, quote or line break (RFC 4180).
std::string csv_escape(const std::string& field);

}  // namespace apiary::core
