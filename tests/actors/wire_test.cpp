// The wire decoder trusts nothing (docs/architecture.md, "Contracts that tests hold"): a valid chunk round-trips,
// and each malformed case is refused with its own reason and counted, never read out of bounds.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "actors/wire.h"

namespace apiary::actors::wire {
namespace {

// A CartPole-shaped chunk: T = 4 steps, N = 2 lanes, D = 4, Discrete actions, with log-probs.
struct Message {
  Header header;
  std::vector<std::vector<std::uint8_t>> frames;  // header frame first

  std::vector<FrameView> views() const {
    std::vector<FrameView> v;
    for (const auto& f : frames) v.push_back(FrameView{f.data(), f.size()});
    return v;
  }
  void reencode() { frames[0] = encode_header(header); }
};

constexpr std::int64_t kT = 4, kN = 2, kD = 4;

Message valid_chunk() {
  Message m;
  m.header.kind = MessageKind::kChunk;
  m.header.actor_id = 3;
  m.header.sequence = 17;
  m.header.policy_version = 42;
  m.header.session = 0xabcdef;
  m.header.stats = {1.5, 2.5, 0.25, 0.125};
  m.header.tensors = {tensor_desc(DType::kFloat32, {kT + 1, kN, kD}), tensor_desc(DType::kInt64, {kT, kN}),
                      tensor_desc(DType::kFloat32, {kT, kN}),         tensor_desc(DType::kFloat32, {kT, kN}),
                      tensor_desc(DType::kFloat32, {kT, kN}),         tensor_desc(DType::kFloat32, {kT, kN, kD}),
                      tensor_desc(DType::kFloat32, {1, 2}),           tensor_desc(DType::kFloat32, {kT, kN}),
                      tensor_desc(DType::kFloat32, {kT, kN})};
  m.frames.push_back(encode_header(m.header));
  for (const auto& t : m.header.tensors) m.frames.emplace_back(t.nbytes(), std::uint8_t{7});
  return m;
}

ChunkSchema cartpole_schema() {
  ChunkSchema s;
  s.num_envs = kN;
  s.obs_dim = kD;
  s.action_dim = 0;
  s.log_probs = true;
  return s;
}

DecodeError decode_with_schema(const Message& m, std::size_t max_bytes = 1 << 20) {
  const ChunkSchema schema = cartpole_schema();
  DecodeLimits limits;
  limits.max_message_bytes = max_bytes;
  limits.expected_kind = static_cast<std::uint16_t>(MessageKind::kChunk);
  limits.chunk_schema = &schema;
  Header out;
  const auto v = m.views();
  return decode(v.data(), v.size(), limits, out);
}

TEST(WireTest, ChunkLayoutIsTheOneTheDecoderReadsAndSizesTheLargestChunk) {
  ChunkShape shape;
  shape.num_steps = kT;
  shape.num_envs = kN;
  shape.obs_dim = kD;
  shape.log_probs = true;
  const Message m = valid_chunk();
  const std::vector<TensorDesc> layout = chunk_layout(shape, 1);
  ASSERT_EQ(layout.size(), m.header.tensors.size());
  for (std::size_t k = 0; k < layout.size(); ++k) EXPECT_EQ(describe(layout[k]), describe(m.header.tensors[k])) << k;

  ChunkShape read;
  std::int64_t episodes = -1;
  std::string why;
  ASSERT_TRUE(read_chunk_shape(m.header, read, episodes, why)) << why;
  EXPECT_EQ(read.num_steps, kT);
  EXPECT_EQ(read.num_envs, kN);
  EXPECT_EQ(read.obs_dim, kD);
  EXPECT_FALSE(read.obs_uint8);
  EXPECT_EQ(read.action_dim, 0);
  EXPECT_TRUE(read.log_probs);
  EXPECT_EQ(episodes, 1);

  // The largest chunk: every lane ends an episode every step (T * N rows), by hand.
  const std::size_t floats_tn = kT * kN * 4;
  EXPECT_EQ(max_chunk_bytes(shape), kFixedHeaderBytes + 9 * kTensorDescBytes + (kT + 1) * kN * kD * 4 +
                                        kT * kN * 8 + 3 * floats_tn + kT * kN * kD * 4 + kT * kN * 2 * 4 +
                                        2 * floats_tn);

  // Box actions, uint8 observations, no log-probabilities: 7 tensors of those dtypes.
  shape.action_dim = 3;
  shape.obs_uint8 = true;
  shape.log_probs = false;
  const std::vector<TensorDesc> box = chunk_layout(shape, 0);
  ASSERT_EQ(box.size(), kChunkTensorsNoLogProbs);
  EXPECT_EQ(describe(box[kObs]), "uint8 [5, 2, 4]");
  EXPECT_EQ(describe(box[kActions]), "float32 [4, 2, 3]");
  EXPECT_EQ(describe(box[kNextObs]), "uint8 [4, 2, 4]");
  EXPECT_EQ(describe(box[kEpisodes]), "float32 [0, 2]");

  // A recurrent policy's chunk: 11 tensors, each lane's state and the episode starts after the values.
  shape.log_probs = true;
  shape.state_size = 6;
  const std::vector<TensorDesc> recurrent = chunk_layout(shape, 0);
  ASSERT_EQ(recurrent.size(), kChunkTensorsRecurrent);
  EXPECT_EQ(describe(recurrent[kState]), "float32 [2, 6]");
  EXPECT_EQ(describe(recurrent[kStarts]), "float32 [4, 2]");
  EXPECT_STREQ(chunk_tensor_name(kState), "state");
  EXPECT_STREQ(chunk_tensor_name(kStarts), "starts");
  Header recurrent_header;
  recurrent_header.tensors = recurrent;
  ASSERT_TRUE(read_chunk_shape(recurrent_header, read, episodes, why)) << why;
  EXPECT_EQ(read.state_size, 6);
  EXPECT_EQ(max_chunk_bytes(shape), max_chunk_bytes([&] {
              ChunkShape plain = shape;
              plain.state_size = 0;
              return plain;
            }()) + 2 * kTensorDescBytes + kN * 6 * 4 + kT * kN * 4);
  recurrent_header.tensors[kState] = tensor_desc(DType::kFloat32, {kN + 1, 6});
  EXPECT_FALSE(read_chunk_shape(recurrent_header, read, episodes, why));
  EXPECT_EQ(why, "state are float32 [3, 6], expected float32 [2, 6]");
  shape.state_size = 0;

  // A tensor off the layout is named with what it is and what it should be.
  Message bad = valid_chunk();
  bad.header.tensors[kRewards].shape[0] = kT + 1;
  EXPECT_FALSE(read_chunk_shape(bad.header, read, episodes, why));
  EXPECT_EQ(why, "rewards are float32 [5, 2], expected float32 [4, 2]");
}

TEST(WireTest, ValidChunkRoundTripsEveryHeaderField) {
  const Message m = valid_chunk();
  EXPECT_EQ(m.frames[0].size(), kFixedHeaderBytes + 9 * kTensorDescBytes);
  const ChunkSchema schema = cartpole_schema();
  DecodeLimits limits;
  limits.chunk_schema = &schema;
  Header out;
  const auto v = m.views();
  ASSERT_EQ(decode(v.data(), v.size(), limits, out), DecodeError::kOk);
  EXPECT_EQ(out.kind, MessageKind::kChunk);
  EXPECT_EQ(out.actor_id, 3);
  EXPECT_EQ(out.sequence, 17);
  EXPECT_EQ(out.policy_version, 42);
  EXPECT_EQ(out.session, 0xabcdefu);
  EXPECT_EQ(out.stats[3], 0.125);
  ASSERT_EQ(out.tensors.size(), 9u);
  EXPECT_EQ(out.tensors[kObs].shape[0], kT + 1);
  EXPECT_EQ(out.tensors[kActions].dtype, DType::kInt64);
  EXPECT_EQ(out.tensors[kNextObs].nbytes(), static_cast<std::size_t>(kT * kN * kD * 4));
}

TEST(WireTest, RefusesEmptyMultipart) {
  Header out;
  EXPECT_EQ(decode(nullptr, 0, DecodeLimits{}, out), DecodeError::kNoFrames);
}

TEST(WireTest, RefusesShortHeader) {
  Message m = valid_chunk();
  m.frames = {std::vector<std::uint8_t>(kFixedHeaderBytes - 1, 0)};
  EXPECT_EQ(decode_with_schema(m), DecodeError::kShortHeader);
}

TEST(WireTest, RefusesWrongMagic) {
  Message m = valid_chunk();
  m.frames[0][0] ^= 0xff;
  EXPECT_EQ(decode_with_schema(m), DecodeError::kBadMagic);
}

TEST(WireTest, RefusesWrongProtocolVersion) {
  Message m = valid_chunk();
  const std::uint16_t v = kProtocolVersion + 1;
  std::memcpy(&m.frames[0][4], &v, 2);
  EXPECT_EQ(decode_with_schema(m), DecodeError::kBadVersion);
}

TEST(WireTest, RefusesUnknownAndUnexpectedKinds) {
  Message m = valid_chunk();
  const std::uint16_t unknown = 99;
  std::memcpy(&m.frames[0][6], &unknown, 2);
  EXPECT_EQ(decode_with_schema(m), DecodeError::kBadKind);
  Message w = valid_chunk();
  w.header.kind = MessageKind::kWeights;  // a valid kind the data socket does not take
  w.reencode();
  EXPECT_EQ(decode_with_schema(w), DecodeError::kBadKind);
}

TEST(WireTest, RefusesTooManyTensors) {
  Message m = valid_chunk();
  const std::uint32_t n = kMaxTensors + 1;
  std::memcpy(&m.frames[0][12], &n, 4);
  EXPECT_EQ(decode_with_schema(m), DecodeError::kTooManyTensors);
}

TEST(WireTest, RefusesHeaderFrameOfTheWrongSize) {
  Message m = valid_chunk();
  m.frames[0].push_back(0);
  EXPECT_EQ(decode_with_schema(m), DecodeError::kHeaderSize);
}

TEST(WireTest, RefusesMissingOrExtraFrames) {
  Message m = valid_chunk();
  m.frames.pop_back();
  EXPECT_EQ(decode_with_schema(m), DecodeError::kFrameCount);
  Message extra = valid_chunk();
  extra.frames.emplace_back(4, 0);
  EXPECT_EQ(decode_with_schema(extra), DecodeError::kFrameCount);
}

TEST(WireTest, RefusesUnknownDType) {
  Message m = valid_chunk();
  m.frames[0][kFixedHeaderBytes + kTensorDescBytes * kRewards] = 200;
  EXPECT_EQ(decode_with_schema(m), DecodeError::kBadDType);
}

TEST(WireTest, RefusesImpossibleShapes) {
  Message rank = valid_chunk();
  rank.frames[0][kFixedHeaderBytes + 1] = kMaxDims + 1;
  EXPECT_EQ(decode_with_schema(rank), DecodeError::kBadShape);
  Message negative = valid_chunk();
  const std::int64_t minus_one = -1;
  std::memcpy(&negative.frames[0][kFixedHeaderBytes + 8], &minus_one, 8);
  EXPECT_EQ(decode_with_schema(negative), DecodeError::kBadShape);
  Message overflow = valid_chunk();  // 2^62 * 2^62 * 4 bytes wraps a size_t
  const std::int64_t huge = std::int64_t{1} << 62;
  std::memcpy(&overflow.frames[0][kFixedHeaderBytes + 8], &huge, 8);
  std::memcpy(&overflow.frames[0][kFixedHeaderBytes + 16], &huge, 8);
  EXPECT_EQ(decode_with_schema(overflow), DecodeError::kBadShape);
}

TEST(WireTest, RefusesFrameWhoseSizeDisagreesWithItsShape) {
  Message m = valid_chunk();
  m.frames[1 + kRewards].pop_back();
  EXPECT_EQ(decode_with_schema(m), DecodeError::kFrameSize);
}

TEST(WireTest, RefusesOversizeMessages) {
  const Message m = valid_chunk();
  std::size_t total = 0;
  for (const auto& f : m.frames) total += f.size();
  EXPECT_EQ(decode_with_schema(m, total), DecodeError::kOk);
  EXPECT_EQ(decode_with_schema(m, total - 1), DecodeError::kOversize);
  Message big = valid_chunk();  // a shape that claims more than the limit is refused before its frame
  big.header.tensors[kObs] = tensor_desc(DType::kFloat32, {1 << 20, kN, kD});
  big.reencode();
  EXPECT_EQ(decode_with_schema(big), DecodeError::kOversize);
}

TEST(WireTest, RefusesChunksThatDisagreeWithTheEnvSpec) {
  const auto with = [](auto change) {
    Message m = valid_chunk();
    change(m.header);
    m.reencode();
    for (std::size_t i = 0; i < m.header.tensors.size(); ++i) m.frames[i + 1].assign(m.header.tensors[i].nbytes(), 0);
    m.frames.resize(m.header.tensors.size() + 1);
    return decode_with_schema(m);
  };
  EXPECT_EQ(with([](Header&) {}), DecodeError::kOk);
  EXPECT_EQ(with([](Header& h) { h.tensors[kObs].shape[2] = kD + 1; }), DecodeError::kSchema);   // obs_dim
  EXPECT_EQ(with([](Header& h) { h.tensors[kObs].shape[1] = kN + 1; }), DecodeError::kSchema);   // num_envs
  EXPECT_EQ(with([](Header& h) { h.tensors[kActions].dtype = DType::kFloat32; }), DecodeError::kSchema);
  EXPECT_EQ(with([](Header& h) { h.tensors[kRewards].shape[0] = kT + 1; }), DecodeError::kSchema);
  EXPECT_EQ(with([](Header& h) { h.tensors[kEpisodes].shape[1] = 3; }), DecodeError::kSchema);
  EXPECT_EQ(with([](Header& h) { h.tensors.pop_back(); }), DecodeError::kSchema);  // no values
  EXPECT_EQ(with([](Header& h) { h.tensors[kEpisodes].shape[0] = kT * kN + 1; }), DecodeError::kSchema);
}

TEST(WireTest, StatsCountEveryRefusalAndRateLimitTheLog) {
  DecodeStats stats(std::chrono::milliseconds(60000));
  EXPECT_FALSE(stats.record(DecodeError::kBadMagic, "peer").empty());  // the first one is logged
  for (int i = 0; i < 99; ++i) EXPECT_TRUE(stats.record(DecodeError::kBadMagic, "peer").empty());
  EXPECT_FALSE(stats.record(DecodeError::kOversize, "peer").empty());  // its own counter and limit
  EXPECT_EQ(stats.record(DecodeError::kOk, "peer"), "");
  EXPECT_EQ(stats.count(DecodeError::kBadMagic), 100);
  EXPECT_EQ(stats.count(DecodeError::kOversize), 1);
  EXPECT_EQ(stats.total(), 101);
}

TEST(WireTest, FuzzFramingRoundTripsAndRefusesTruncation) {
  const Message m = valid_chunk();
  const auto joined = join_frames(m.frames);
  std::vector<FrameView> frames;
  ASSERT_TRUE(split_frames(joined.data(), joined.size(), frames));
  ASSERT_EQ(frames.size(), m.frames.size());
  EXPECT_EQ(frames[3].size, m.frames[3].size());
  EXPECT_FALSE(split_frames(joined.data(), joined.size() - 1, frames));
}

}  // namespace
}  // namespace apiary::actors::wire
