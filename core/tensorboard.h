// TensorBoard event files, written without TensorFlow or a protobuf library.
//
// A file is a sequence of TFRecords, each holding one serialized tensorflow.Event:
//   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
// The protobuf subset used (field numbers as in tensorflow/core/util/event.proto and summary.proto):
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apiary::core {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78); crc32c("123456789") == 0xE3069283.
// crc32c_extend continues an earlier CRC: crc32c_extend(crc32c(a), b) == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size);
inline std::uint32_t crc32c(const void* data, std::size_t size) {
  return crc32c_extend(0, data, size);
}
inline std::uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }
inline std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view bytes) {
  return crc32c_extend(crc, bytes.data(), bytes.size());
}
// The TFRecord mask, so that a CRC over data that itself contains CRCs stays informative.
std::uint32_t mask_crc32c(std::uint32_t crc);

// One scalar point as TensorBoard shows it.
struct ScalarEvent {
  double wall_time = 0;  // seconds since the Unix epoch
  std::int64_t step = 0;
  std::string tag;
  float value = 0;
};

// One decoded Event record (the fields Apiary writes; others are skipped).
struct EventRecord {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string file_version;                         // set only in the first record
  std::vector<std::pair<std::string, float>> values;  // (tag, simple_value)
};

// Serialization of one Event (no framing); exposed for tests.
std::string encode_event(const EventRecord& event);
// Frames `data` as one TFRecord.
std::string frame_record(std::string_view data);

// Appends scalars to a new event file in `dir` (created if missing). Thread-safe. Records are
// buffered; flush() (and the destructor) push them to the file so TensorBoard sees them.
class TensorBoardWriter {
 public:
  // Creates `dir`/events.out.tfevents.<unix_seconds>.<hostname> (a ".N" suffix is added if that
  // name is taken) and writes the first record, file_version "brain.Event:2".
  // Throws std::runtime_error when the folder or file cannot be created.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One point of the curve `tag` at `step`, stamped with the current wall time.
  void add_scalar(const std::string& tag, float value, std::int64_t step);
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write_record(const EventRecord& event);  // requires mutex_ held

  std::string path_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

// Every record of an event file, in order. Checks both CRCs of every record and throws
// std::runtime_error naming the file and byte offset on corruption or truncation.
std::vector<EventRecord> read_event_records(const std::string& path);
// The scalar points of an event file (one per tag and record), in file order.
std::vector<ScalarEvent> read_event_file(const std::string& path);

}  // namespace apiary::core
