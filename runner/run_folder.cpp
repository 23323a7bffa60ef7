#include "runner/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"

namespace apiary::runner {

namespace fs = std::filesystem;

namespace {

// Rows of an existing metrics.csv up to `max_step`, so that a resumed run keeps its history.
std::vector<core::CsvWriter::Row> read_metrics(const std::string& path, std::int64_t max_step,
                                               std::vector<std::string>& columns) {
  std::vector<core::CsvWriter::Row> rows;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return rows;
  columns.clear();
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');) columns.push_back(cell);
  while (std::getline(in, line)) {
    core::CsvWriter::Row row;
    std::stringstream ss(line);
    std::size_t i = 0;
    double step = 0;
    for (std::string cell; std::getline(ss, cell, ','); ++i) {
      if (cell.empty() || i >= columns.size()) continue;
      const double v = std::strtod(cell.c_str(), nullptr);
      if (columns[i] == "step") step = v;
      row.emplace_back(columns[i], v);
    }
    if (step <= static_cast<double>(max_step)) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

const std::vector<std::string>& RunFolder::base_columns() {
  static const std::vector<std::string> columns = {
      "step",        "wall_seconds",     "steps_per_second", "episodes",         "mean_return",
      "mean_length", "eval_mean_return", "eval_std_return",  "env_seconds",      "inference_seconds",
      "learning_seconds"};
  return columns;
}

std::string RunFolder::unused_path(const std::string& out_dir, const std::string& name) {
  fs::path base = fs::path(out_dir) / name;
  if (!fs::exists(base)) return base.string();
  for (int i = 2;; ++i) {
    fs::path candidate = fs::path(out_dir) / (name + "_" + std::to_string(i));
    if (!fs::exists(candidate)) return candidate.string();
  }
}

bool RunFolder::create(const std::string& path, const std::string& config_yaml) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + path + ": " + ec.message());
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno == EEXIST) return false;
    throw std::runtime_error("cannot create the run folder " + path + ": " + std::strerror(errno));
  }
  fs::create_directories(fs::path(path) / "checkpoints", ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + path + ": " + ec.message());
  core::write_file_atomic((fs::path(path) / "config.yaml").string(), config_yaml);
  return true;
}

RunFolder::RunFolder(std::string path, std::int64_t keep_rows_up_to_step)
    : path_(std::move(path)), tensorboard_(path_), log_path_((fs::path(path_) / "train.log").string()) {
  if (keep_rows_up_to_step >= 0)
    old_rows_ = read_metrics((fs::path(path_) / "metrics.csv").string(), keep_rows_up_to_step, old_columns_);
}

std::string RunFolder::checkpoint(const std::string& name) const {
  return (fs::path(path_) / "checkpoints" / (name + ".pt")).string();
}

void RunFolder::log(const std::string& line) {
  std::ofstream out(log_path_, std::ios::app);
  out << line << "\n";
}

void RunFolder::write_metrics(const core::CsvWriter::Row& row) {
  if (!csv_) {
    std::vector<std::string> columns = old_columns_.empty() ? base_columns() : old_columns_;
    for (const auto& [k, v] : row)
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
    csv_ = std::make_unique<core::CsvWriter>((fs::path(path_) / "metrics.csv").string(), columns);
    for (const auto& r : old_rows_) csv_->write_row(r);
    old_rows_.clear();
  }
  core::CsvWriter::Row filtered;
  for (const auto& kv : row)
    if (std::find(csv_->columns().begin(), csv_->columns().end(), kv.first) != csv_->columns().end())
      filtered.push_back(kv);
  csv_->write_row(filtered);
}

namespace {
std::string lock_path(const std::string& folder) { return (fs::path(folder) / ".lock").string(); }

std::string busy_message(const std::string& folder, long pid) {
  return "the run folder " + folder + " is in use by pid " + std::to_string(pid) + ", which holds its lock " +
         lock_path(folder) + "; two processes must not write one run: wait for it to end or stop it (SIGTERM "
         "writes a checkpoint to --resume from)";
}

long read_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
  return n > 0 ? std::strtol(text, nullptr, 10) : 0;
}
}  // namespace

RunLock::RunLock(const std::string& folder) {
  const std::string path = lock_path(folder);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open the run folder's lock " + path + ": " + std::strerror(errno));
  // A few tries: RunLock::holder's shared probe holds the lock for an instant.
  int err = 0;
  for (int tries = 0; tries < 5; ++tries) {
    err = ::flock(fd_, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
    if (err != EWOULDBLOCK) break;
    ::usleep(20000);
  }
  if (err != 0) {
    const long pid = read_pid(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw std::runtime_error("cannot lock the run folder " + folder + " (" + path + "): " + std::strerror(err));
    throw std::invalid_argument(busy_message(folder, pid));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the message of a refused second writer is poorer.
  }
}

void RunLock::refuse_if_held(const std::string& folder) {
  if (const long pid = holder(folder); pid != 0) throw std::invalid_argument(busy_message(folder, pid));
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

long RunLock::holder(const std::string& folder) {
  const int fd = ::open(lock_path(folder).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  long pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    pid = read_pid(fd);
    if (pid == 0) pid = -1;  // held, pid not (yet) written
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return pid;
}

}  // namespace apiary::runner
