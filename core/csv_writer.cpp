// Metrics CSV writer.
#include "core/csv_writer.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace apiary::core {

namespace {

std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (std::floor(x) == x && std::fabs(x) < 9007199254740992.0) {  // 2^53: exact integers
    return std::to_string(static_cast<long long>(x));             // steps as 10000000000, not 1e+10
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

}  // namespace

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string s = "\"";
  for (const char c : field) {
    if (c == '"') s += '"';
    s += c;
  }
  return s + "\"";
}

CsvWriter::CsvWriter(const std::string& path, std::vector<std::string> columns)
    : path_(path), columns_(std::move(columns)) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    throw std::runtime_error("cannot open metrics file '" + path + "': " + std::strerror(errno));
  }
  if (!columns_.empty()) {
    std::string header;
    for (size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + csv_escape(columns_[i]);
    write_line(header);
    header_written_ = true;
  }
}

CsvWriter::~CsvWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void CsvWriter::write_row(const Row& row) {
  if (!header_written_) {
    for (const auto& [key, value] : row) {
      if (std::find(columns_.begin(), columns_.end(), key) == columns_.end()) {
        columns_.push_back(key);
      }
    }
    std::string header;
    for (size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + csv_escape(columns_[i]);
    write_line(header);
    header_written_ = true;
  }
  std::vector<std::string> cells(columns_.size());
  for (const auto& [key, value] : row) {
    const auto it = std::find(columns_.begin(), columns_.end(), key);
    if (it == columns_.end()) {
      throw std::invalid_argument("metrics file '" + path_ + "': '" + key +
                                  "' is not one of its columns");
    }
    cells[static_cast<size_t>(it - columns_.begin())] = format_number(value);
  }
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + cells[i];
  write_line(line);
}

void CsvWriter::write_line(const std::string& line) {
  const std::string l = line + "\n";
  if (std::fwrite(l.data(), 1, l.size(), file_) != l.size() || std::fflush(file_) != 0) {
    throw std::runtime_error("cannot write metrics file '" + path_ + "': " + std::strerror(errno));
  }
}

}  // namespace apiary::core
