// A run's folder (runs/<name>/): the resolved config.yaml, metrics.csv, TensorBoard event files,
// train.log and checkpoints/. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/csv_writer.h"
#include "core/tensorboard.h"

namespace apiary::runner {

class RunFolder {
 public:
  // out_dir/name, or out_dir/name_2, name_3, ... when it exists: the folder a new run would get.
  static std::string unused_path(const std::string& out_dir, const std::string& name);

  // Creates `path` with checkpoints/ inside and writes config.yaml atomically; false (nothing written)
  // when `path` exists already, which another run of the same name may have made since unused_path
  // (the folder itself is made with one mkdir, so two runs never share it). Throws std::runtime_error
  // naming the folder when it cannot be made.
  static bool create(const std::string& path, const std::string& config_yaml);

  // Opens an existing run folder for writing: train.log and TensorBoard append; metrics.csv keeps the
  // rows of earlier sessions up to `keep_rows_up_to_step` (a resumed run's checkpoint) and is rewritten
  // with them once the first new row comes (all rows when negative: a new run has none).
  RunFolder(std::string path, std::int64_t keep_rows_up_to_step);

  const std::string& path() const { return path_; }
  std::string checkpoint(const std::string& name) const;  // checkpoints/<name>.pt

  void log(const std::string& line);  // one line of train.log, flushed
  // One metrics row; the CSV's columns are `base_columns`, then those of earlier sessions, then the
  // keys of the first row written in this session. Keys not among the columns are left out.
  void write_metrics(const core::CsvWriter::Row& row);
  core::TensorBoardWriter& tensorboard() { return tensorboard_; }

  // The metrics columns every run has, in this order.
  static const std::vector<std::string>& base_columns();

 private:
  std::string path_;
  std::vector<std::string> old_columns_;
  std::vector<core::CsvWriter::Row> old_rows_;
  std::unique_ptr<core::CsvWriter> csv_;
  core::TensorBoardWriter tensorboard_;
  std::string log_path_;
};

// A run folder's lock: an exclusive flock(2) on <folder>/.lock, held while a process writes the folder
// (`train`, `learner`, and either with --resume), with the holder's pid in the file. The kernel drops
// the lock when its process ends, however it ends, so one left by a dead process never blocks; the
// descriptor is close-on-exec, so actor processes do not inherit it.
class RunLock {
 public:
  // Takes the lock; throws std::invalid_argument (exit status 2) naming the folder and the pid that
  // holds it.
  explicit RunLock(const std::string& folder);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // The pid of the process that holds `folder`'s lock (this one included), or 0 when none does.
  static long holder(const std::string& folder);
  // Throws what the constructor would when `folder` is held (before any work, e.g. a resume's).
  static void refuse_if_held(const std::string& folder);

 private:
  int fd_ = -1;
};

}  // namespace apiary::runner
