// Reads the Gymnasium reference transitions of tests/data/reference (see its README.md). The folder is
// found through APIARY_REFERENCE_DIR, or the default inside the repository (APIARY_DEFAULT_REFERENCE_DIR).
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace apiary::testing {

inline std::string reference_dir() {
  if (const char* dir = std::getenv("APIARY_REFERENCE_DIR")) return dir;
  return APIARY_DEFAULT_REFERENCE_DIR;
}

// A CSV of numbers with a header; columns by name.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;

  int column(const std::string& name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return static_cast<int>(i);
    throw std::runtime_error("reference table has no column '" + name + "'");
  }
  // Columns named prefix0, prefix1, ... in order.
  std::vector<int> columns_with_prefix(const std::string& prefix) const {
    std::vector<int> out;
    for (int i = 0;; ++i) {
      const std::string name = prefix + std::to_string(i);
      bool found = false;
      for (std::size_t c = 0; c < columns.size(); ++c)
        if (columns[c] == name) { out.push_back(static_cast<int>(c)); found = true; }
      if (!found) return out;
    }
  }
};

// "CartPole-v1" -> "CartPole_v1": env ids as GoogleTest parameter names.
struct EnvIdName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& param_info) const {
    std::string id = param_info.param;
    for (auto& c : id) if (c == '-' || c == '/') c = '_';
    return id;
  }
};

inline Table read_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open reference file " + path + " (set APIARY_REFERENCE_DIR)");
  Table t;
  std::string line;
  auto strip = [](std::string& l) { while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back(); };
  std::getline(in, line);
  strip(line);
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');) t.columns.push_back(cell);
  while (std::getline(in, line)) {
    strip(line);
    if (line.empty()) continue;
    std::vector<double> row;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
    if (row.size() != t.columns.size()) throw std::runtime_error("ragged row in " + path + ": " + line);
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace apiary::testing
