// TensorBoard event files: CRC-32C against its standard check value, a write/read round trip,
// the exact first record, and detection of corruption.
#include "core/tensorboard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

std::string only_event_file(const std::filesystem::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files.push_back(entry.path().string());
  }
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? "" : files[0];
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // Extending a CRC equals the CRC of the concatenation.
  EXPECT_EQ(crc32c_extend(crc32c("1234"), "56789"), 0xE3069283u);
  // 32 bytes of zeros, from RFC 3720 (iSCSI) B.4.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32c, Mask) {
  const std::uint32_t crc = 0x12345678u;
  EXPECT_EQ(mask_crc32c(crc), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(TensorBoard, EncodesEventBytesAsProtobuf) {
  EventRecord ev;
  ev.wall_time = 1.5;
  ev.step = 300;
  ev.values.emplace_back("a", 2.0f);
  const std::string bytes = encode_event(ev);
  const std::string expected =
      std::string("\x09\x00\x00\x00\x00\x00\x00\xf8\x3f", 9) +  // wall_time = 1.5 (fixed64)
      std::string("\x10\xac\x02", 3) +                          // step = 300 (varint)
      std::string("\x2a\x0a\x0a\x08\x0a\x01" "a" "\x15\x00\x00\x00\x40", 12);  // summary
  EXPECT_EQ(bytes, expected);
}

TEST(TensorBoard, WriteReadRoundTrip) {
  testing::TempDir dir;
  const double before = std::chrono::duration<double>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::string path;
  {
    TensorBoardWriter writer(dir.file("tb"));
    path = writer.path();
    writer.add_scalar("charts/episodic_return", 21.5f, 0);
    writer.add_scalar("losses/value_loss", -0.125f, 2048);
    writer.add_scalar("charts/episodic_return", 500.0f, 10'000'000'000LL);
    writer.flush();
    EXPECT_EQ(read_event_file(path).size(), 3u);  // visible after flush, before close
  }
  const std::string name = std::filesystem::path(path).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_EQ(only_event_file(dir.file("tb")), path);

  const auto records = read_event_records(path);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].file_version, "brain.Event:2");
  EXPECT_TRUE(records[0].values.empty());
  EXPECT_GE(records[0].wall_time, before - 1);

  const auto scalars = read_event_file(path);
  ASSERT_EQ(scalars.size(), 3u);
  EXPECT_EQ(scalars[0].tag, "charts/episodic_return");
  EXPECT_EQ(scalars[0].value, 21.5f);
  EXPECT_EQ(scalars[0].step, 0);
  EXPECT_EQ(scalars[1].tag, "losses/value_loss");
  EXPECT_EQ(scalars[1].value, -0.125f);
  EXPECT_EQ(scalars[1].step, 2048);
  EXPECT_EQ(scalars[2].step, 10'000'000'000LL);
  EXPECT_EQ(scalars[2].value, 500.0f);
  for (const auto& s : scalars) {
    EXPECT_GE(s.wall_time, before - 1);
    EXPECT_LE(s.wall_time, before + 60);
  }
}

TEST(TensorBoard, FirstRecordFraming) {
  testing::TempDir dir;
  std::string path;
  { path = TensorBoardWriter(dir.path().string()).path(); }
  const std::string bytes = read_file(path);
  ASSERT_GE(bytes.size(), 16u);
  const std::uint64_t length = static_cast<unsigned char>(bytes[0]);  // small record
  EXPECT_EQ(bytes.size(), 8 + 4 + length + 4);
  // Event{wall_time, file_version = "brain.Event:2"}: 9 + 2 + 13 bytes.
  EXPECT_EQ(length, 24u);
  EXPECT_EQ(bytes.substr(12 + 9, 15), std::string("\x1a\x0d" "brain.Event:2"));
}

TEST(TensorBoard, DetectsFlippedByteAndTruncation) {
  testing::TempDir dir;
  std::string path;
  {
    TensorBoardWriter writer(dir.path().string());
    path = writer.path();
    writer.add_scalar("x", 1.0f, 1);
  }
  const std::string good = read_file(path);
  ASSERT_EQ(read_event_file(path).size(), 1u);
  // Flip one bit in every byte position in turn: each must be caught by a CRC.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    EXPECT_THROW(read_event_records(path), std::runtime_error) << "byte " << i;
  }
  write_file_atomic(path, good.substr(0, good.size() - 3));
  try {
    read_event_records(path);
    FAIL() << "truncation not detected";
  } catch (const std::runtime_error& e) {
    EXPECT_CONTAINS(e.what(), "truncated");
    EXPECT_CONTAINS(e.what(), path);
  }
}

TEST(TensorBoard, TwoWritersInOneSecondGetDistinctFiles) {
  testing::TempDir dir;
  TensorBoardWriter a(dir.path().string());
  TensorBoardWriter b(dir.path().string());
  EXPECT_NE(a.path(), b.path());
}

}  // namespace
}  // namespace apiary::core
