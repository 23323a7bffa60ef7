// Hand-written protobuf encoding and TFRecord framing for TensorBoard event files.
#include "core/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace apiary::core {

namespace {

constexpr std::uint32_t kCrc32cPoly = 0x82F63B78u;  // Castagnoli, bit-reversed
constexpr std::uint32_t kMaskDelta = 0xa282ead8u;

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kCrc32cPoly : c >> 1;
    table[i] = c;
  }
  return table;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
}

template <class T>
void put_le(std::string& out, T v) {  // v: an unsigned integer
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

void put_double(std::string& out, int field, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_tag(out, field, kFixed64);
  put_le(out, bits);
}

void put_float(std::string& out, int field, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_tag(out, field, kFixed32);
  put_le(out, bits);
}

template <class T>
T get_le(const unsigned char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

// A bounds-checked protobuf reader over one message.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& what) : data_(data), what_(what) {}

  bool done() const { return pos_ >= data_.size(); }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    bad("varint longer than 10 bytes");
  }
  std::uint64_t fixed64() {
    need(8);
    const auto v = get_le<std::uint64_t>(bytes() + pos_);
    pos_ += 8;
    return v;
  }
  std::uint32_t fixed32() {
    need(4);
    const auto v = get_le<std::uint32_t>(bytes() + pos_);
    pos_ += 4;
    return v;
  }
  std::string_view length_delimited() {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) bad("length-delimited field runs past the message");
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case kVarint: varint(); break;
      case kFixed64: fixed64(); break;
      case kLengthDelimited: length_delimited(); break;
      case kFixed32: fixed32(); break;
      default: bad("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(data_.data()); }
  void need(size_t n) const {
    if (n > data_.size() - pos_) bad("message truncated");
  }
  [[noreturn]] void bad(const std::string& why) const {
    throw std::runtime_error("malformed " + what_ + ": " + why);
  }

  std::string_view data_;
  size_t pos_ = 0;
  const std::string& what_;
};

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

EventRecord decode_event(std::string_view data, const std::string& what) {
  EventRecord ev;
  ProtoReader r(data, what);
  while (!r.done()) {
    const std::uint64_t key = r.varint();
    const int field = static_cast<int>(key >> 3);
    const int wire = static_cast<int>(key & 7);
    if (field == 1 && wire == kFixed64) {
      const std::uint64_t bits = r.fixed64();
      std::memcpy(&ev.wall_time, &bits, sizeof bits);
    } else if (field == 2 && wire == kVarint) {
      ev.step = static_cast<std::int64_t>(r.varint());
    } else if (field == 3 && wire == kLengthDelimited) {
      ev.file_version = std::string(r.length_delimited());
    } else if (field == 5 && wire == kLengthDelimited) {
      ProtoReader summary(r.length_delimited(), what);
      while (!summary.done()) {
        const std::uint64_t sk = summary.varint();
        if ((sk >> 3) != 1 || (sk & 7) != kLengthDelimited) {
          summary.skip(static_cast<int>(sk & 7));
          continue;
        }
        ProtoReader value(summary.length_delimited(), what);
        std::pair<std::string, float> tv{"", 0.0f};
        while (!value.done()) {
          const std::uint64_t vk = value.varint();
          if ((vk >> 3) == 1 && (vk & 7) == kLengthDelimited) {
            tv.first = std::string(value.length_delimited());
          } else if ((vk >> 3) == 2 && (vk & 7) == kFixed32) {
            const std::uint32_t bits = value.fixed32();
            std::memcpy(&tv.second, &bits, sizeof bits);
          } else {
            value.skip(static_cast<int>(vk & 7));
          }
        }
        ev.values.push_back(std::move(tv));
      }
    } else {
      r.skip(wire);
    }
  }
  return ev;
}

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> kTable = make_crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t mask_crc32c(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

std::string encode_event(const EventRecord& event) {
  std::string out;
  put_double(out, 1, event.wall_time);
  if (event.step != 0) {
    put_tag(out, 2, kVarint);
    put_varint(out, static_cast<std::uint64_t>(event.step));  // negative: 10-byte two's complement
  }
  if (!event.file_version.empty()) put_bytes(out, 3, event.file_version);
  if (!event.values.empty()) {
    std::string summary;
    for (const auto& [tag, value] : event.values) {
      std::string v;
      put_bytes(v, 1, tag);
      put_float(v, 2, value);
      put_bytes(summary, 1, v);
    }
    put_bytes(out, 5, summary);
  }
  return out;
}

std::string frame_record(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, static_cast<std::uint64_t>(data.size()));
  put_le(out, mask_crc32c(crc32c(out.data(), 8)));
  out.append(data.data(), data.size());
  put_le(out, mask_crc32c(crc32c(data)));
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot create TensorBoard folder '" + dir + "': " + ec.message());
  }
  const std::string base = (std::filesystem::path(dir) /
                            ("events.out.tfevents." + std::to_string(std::time(nullptr)) + "." +
                             host_name()))
                               .string();
  for (int attempt = 0; file_ == nullptr; ++attempt) {
    path_ = attempt == 0 ? base : base + "." + std::to_string(attempt);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      file_ = ::fdopen(fd, "wb");
      if (file_ == nullptr) ::close(fd);
    } else if (errno != EEXIST || attempt > 1000) {
      throw std::runtime_error("cannot create TensorBoard event file '" + path_ +
                               "': " + std::strerror(errno));
    }
  }
  EventRecord first;
  first.wall_time = unix_now();
  first.file_version = "brain.Event:2";
  std::lock_guard<std::mutex> lock(mutex_);
  write_record(first);
  std::fflush(file_);
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, float value, std::int64_t step) {
  EventRecord ev;
  ev.wall_time = unix_now();
  ev.step = step;
  ev.values.emplace_back(tag, value);
  std::lock_guard<std::mutex> lock(mutex_);
  write_record(ev);
}

void TensorBoardWriter::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::fflush(file_) != 0) {
    throw std::runtime_error("cannot write TensorBoard event file '" + path_ +
                             "': " + std::strerror(errno));
  }
}

void TensorBoardWriter::write_record(const EventRecord& event) {
  const std::string rec = frame_record(encode_event(event));
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size()) {
    throw std::runtime_error("cannot write TensorBoard event file '" + path_ +
                             "': " + std::strerror(errno));
  }
}

std::vector<EventRecord> read_event_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open event file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());

  std::vector<EventRecord> records;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const std::string where = "event file '" + path + "' at byte " + std::to_string(pos);
    if (bytes.size() - pos < 12) throw std::runtime_error(where + ": truncated record header");
    const auto length = get_le<std::uint64_t>(p + pos);
    if (get_le<std::uint32_t>(p + pos + 8) != mask_crc32c(crc32c(p + pos, 8))) {
      throw std::runtime_error(where + ": length CRC mismatch (corrupt file)");
    }
    if (length > bytes.size() - pos - 12 || bytes.size() - pos - 12 - length < 4) {
      throw std::runtime_error(where + ": truncated record");
    }
    const std::string_view data(bytes.data() + pos + 12, length);
    if (get_le<std::uint32_t>(p + pos + 12 + length) != mask_crc32c(crc32c(data))) {
      throw std::runtime_error(where + ": data CRC mismatch (corrupt file)");
    }
    records.push_back(decode_event(data, "Event in " + where));
    pos += 12 + length + 4;
  }
  return records;
}

std::vector<ScalarEvent> read_event_file(const std::string& path) {
  std::vector<ScalarEvent> out;
  for (const auto& rec : read_event_records(path)) {
    for (const auto& [tag, value] : rec.values) {
      out.push_back(ScalarEvent{rec.wall_time, rec.step, tag, value});
    }
  }
  return out;
}

}  // namespace apiary::core
