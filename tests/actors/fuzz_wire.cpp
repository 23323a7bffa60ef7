// libFuzzer target for the wire decoder (actors/wire.h) and the chunk content checks
// (actors/chunk_check.h). Built with clang -fsanitize=fuzzer,address,undefined by
// tests/actors/CMakeLists.txt. Every input is used twice:
//   1. as raw frames (wire::split_frames): they must be decoded or refused without a crash, a leak or an
//      out-of-bounds read, and a chunk the decoder accepts goes through the content check too;
//   2. as the content of a chunk whose header and frame sizes are always well formed (the first bytes
//      choose the sizes and header fields, the rest the values, through small tables that hold NaN,
//      inf, out-of-range actions, bad flags and impossible episode lengths beside ordinary values; an
//      input of zero bytes is a valid chunk). The decoder must accept it, and the content check must
//      either refuse it with a reason or have let through only sound content, which an independent,
//      simpler check below confirms.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "actors/chunk_check.h"
#include "actors/wire.h"

namespace {

using namespace apiary::actors;
using namespace apiary::actors::wire;

constexpr std::uint64_t kSession = 77;
constexpr std::int64_t kLearnerVersion = 10;
constexpr std::int64_t kNumActions = 3;     // Discrete(3)
constexpr std::int64_t kActionDim = 2;      // or Box(2)
constexpr std::int64_t kObsDim = 2;
constexpr std::int64_t kMaxEpisodeSteps = 100;

// Reads the input as a stream of bytes; zeros once it runs out.
struct Bytes {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t at = 0;
  std::uint8_t next() { return at < size ? data[at++] : 0; }
};

float value(std::uint8_t b) {
  static const float table[16] = {0.25f, 1.0f, -1.0f, 0.0f, 3.5f, -200.0f, 1e30f, -1e-30f,
                                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(), 0.5f, 2.0f, -0.0f, 7.0f, 1e-45f};
  return table[b % 16];
}
float flag(std::uint8_t b) {
  static const float table[8] = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f, std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f};
  return table[b % 8];
}

template <class T>
T at(const FrameView& f, std::size_t i) {
  T v;
  std::memcpy(&v, static_cast<const std::uint8_t*>(f.data) + sizeof(T) * i, sizeof(T));
  return v;
}

// What a chunk the check accepted must satisfy, checked the plain way (std::isfinite on every value).
bool sound(const Header& h, const FrameView* frames, const ChunkExpectations& e) {
  const std::size_t t = static_cast<std::size_t>(e.num_steps), n = static_cast<std::size_t>(e.num_envs),
                    d = static_cast<std::size_t>(e.obs_dim);
  const FrameView* tensor = frames + 1;
  if (h.session != kSession || h.policy_version < 0 || h.policy_version > kLearnerVersion) return false;
  for (double s : h.stats)
    if (!std::isfinite(s) || s < 0) return false;
  for (std::size_t i = 0; i < (t + 1) * n * d; ++i)
    if (!std::isfinite(at<float>(tensor[kObs], i))) return false;
  for (std::size_t i = 0; i < t * n * d; ++i)
    if (!std::isfinite(at<float>(tensor[kNextObs], i))) return false;
  std::size_t done = 0;
  for (std::size_t i = 0; i < t * n; ++i) {
    if (e.num_actions > 0) {
      const auto a = at<std::int64_t>(tensor[kActions], i);
      if (a < 0 || a >= e.num_actions) return false;
    } else {
      for (std::size_t j = 0; j < static_cast<std::size_t>(e.action_dim); ++j)
        if (!std::isfinite(at<float>(tensor[kActions], i * static_cast<std::size_t>(e.action_dim) + j))) return false;
    }
    if (!std::isfinite(at<float>(tensor[kRewards], i))) return false;
    const float term = at<float>(tensor[kTerminated], i), trunc = at<float>(tensor[kTruncated], i);
    if ((term != 0 && term != 1) || (trunc != 0 && trunc != 1)) return false;
    done += term == 1 || trunc == 1;
    if (e.log_probs && (!std::isfinite(at<float>(tensor[kLogProbs], i)) || !std::isfinite(at<float>(tensor[kValues], i))))
      return false;
  }
  if (static_cast<std::size_t>(h.tensors[kEpisodes].shape[0]) != done) return false;
  for (std::size_t k = 0; k < done; ++k) {
    const float ret = at<float>(tensor[kEpisodes], 2 * k), len = at<float>(tensor[kEpisodes], 2 * k + 1);
    if (!std::isfinite(ret) || !(len >= 1) || len > static_cast<float>(kMaxEpisodeSteps) || len != std::floor(len))
      return false;
  }
  return true;
}

void expect_verdict(const ChunkVerdict& v, const Header& h, const FrameView* frames, const ChunkExpectations& e) {
  const int f = static_cast<int>(v.fault);
  if (f < 0 || f >= kNumChunkFaults) __builtin_trap();
  if (!v.ok() && v.detail.empty()) __builtin_trap();  // every refusal says why
  if (v.ok() && !sound(h, frames, e)) __builtin_trap();
}

// 1. Raw frames.
void fuzz_frames(const std::uint8_t* data, std::size_t size) {
  std::vector<FrameView> frames;
  if (!split_frames(data, size, frames)) return;
  ChunkSchema schema;
  schema.num_envs = 2;
  schema.obs_dim = 4;
  schema.log_probs = true;
  DecodeLimits limits;
  limits.max_message_bytes = 1 << 16;
  Header header;
  decode(frames.data(), frames.size(), limits, header);  // any kind, no schema
  limits.chunk_schema = &schema;
  limits.expected_kind = static_cast<std::uint16_t>(MessageKind::kChunk);
  if (decode(frames.data(), frames.size(), limits, header) != DecodeError::kOk) return;
  // Accepted: every tensor frame holds exactly its shape's bytes.
  for (std::size_t i = 0; i < header.tensors.size(); ++i)
    if (header.tensors[i].nbytes() != frames[i + 1].size) __builtin_trap();
  // And its content is judged: sizes as the header says (T from it), Discrete(2) actions.
  ChunkExpectations e;
  e.num_steps = header.tensors[kObs].shape[0] - 1;
  e.num_envs = 2;
  e.obs_dim = 4;
  e.num_actions = 2;
  e.log_probs = true;
  e.max_episode_steps = kMaxEpisodeSteps;
  ChunkGate gate(e, kSession, std::chrono::milliseconds(0));
  for (std::int32_t id = 0; id < 4; ++id) gate.assign(id);
  const ChunkVerdict v = gate.check(header, frames.data(), frames.size(), kLearnerVersion);
  expect_verdict(v, header, frames.data(), e);
  gate.log_line(v, header.actor_id, "fuzzer");
}

// 2. A well-formed chunk with the input as its content.
void fuzz_content(const std::uint8_t* data, std::size_t size) {
  Bytes in{data, size};
  const std::uint8_t shape = in.next();
  const std::int64_t t = 1 + (shape & 3), n = 1 + ((shape >> 2) & 1);
  const bool box = (shape >> 3) & 1, log_probs = !((shape >> 4) & 1);
  Header h;
  h.kind = MessageKind::kChunk;
  const std::uint8_t actor = in.next();
  h.actor_id = actor < 200 ? actor % 4 : (actor & 1 ? 999 : -5);
  h.session = in.next() == 0 ? kSession : kSession + 1;
  h.sequence = static_cast<std::int8_t>(in.next());
  const std::uint8_t version = in.next();
  h.policy_version = version == 0x80 ? std::int64_t{1000000000000000} : kLearnerVersion - static_cast<std::int8_t>(version);
  const std::uint8_t stats = in.next();
  if (stats != 0) h.stats[stats & 3] = value(static_cast<std::uint8_t>(stats >> 2));
  const std::int8_t episode_delta = static_cast<std::int8_t>(in.next());
  const std::uint8_t told = in.next();  // what the actor was told, when not what it sent

  const std::size_t steps = static_cast<std::size_t>(t * n);
  std::vector<float> obs(static_cast<std::size_t>((t + 1) * n * kObsDim)), next_obs(steps * kObsDim);
  std::vector<std::int64_t> actions(steps);
  std::vector<float> box_actions(steps * kActionDim), rewards(steps), term(steps), trunc(steps), lp(steps), val(steps);
  for (float& v : obs) v = value(in.next());
  for (std::size_t i = 0; i < steps; ++i) {
    const std::uint8_t a = in.next();
    actions[i] = a == 0x7f ? (std::int64_t{1} << 40) : static_cast<std::int8_t>(a);
    for (std::size_t j = 0; j < static_cast<std::size_t>(kActionDim); ++j) box_actions[i * kActionDim + j] = value(a);
    rewards[i] = value(in.next());
    term[i] = flag(in.next());
    trunc[i] = flag(in.next());
    lp[i] = value(in.next());
    val[i] = value(in.next());
  }
  for (float& v : next_obs) v = value(in.next());
  std::int64_t done = 0;
  for (std::size_t i = 0; i < steps; ++i) done += term[i] == 1.0f || trunc[i] == 1.0f;
  const std::int64_t rows = std::min<std::int64_t>(std::max<std::int64_t>(0, done + episode_delta), t * n);
  std::vector<float> episodes(static_cast<std::size_t>(2 * rows));
  for (std::int64_t k = 0; k < rows; ++k) {
    episodes[static_cast<std::size_t>(2 * k)] = value(in.next());
    const std::uint8_t b = in.next();
    episodes[static_cast<std::size_t>(2 * k + 1)] =
        b == 255 ? std::numeric_limits<float>::quiet_NaN() : b == 254 ? 0.0f : b == 253 ? 1.5f : b == 252 ? -3.0f : 1.0f + b;
  }

  h.tensors = {tensor_desc(DType::kFloat32, {t + 1, n, kObsDim}),
               box ? tensor_desc(DType::kFloat32, {t, n, kActionDim}) : tensor_desc(DType::kInt64, {t, n}),
               tensor_desc(DType::kFloat32, {t, n}),
               tensor_desc(DType::kFloat32, {t, n}),
               tensor_desc(DType::kFloat32, {t, n}),
               tensor_desc(DType::kFloat32, {t, n, kObsDim}),
               tensor_desc(DType::kFloat32, {rows, 2})};
  const auto header_frame = encode_header(h);
  std::vector<FrameView> frames = {{header_frame.data(), header_frame.size()},
                                   {obs.data(), obs.size() * 4},
                                   box ? FrameView{box_actions.data(), box_actions.size() * 4}
                                       : FrameView{actions.data(), actions.size() * 8},
                                   {rewards.data(), rewards.size() * 4},
                                   {term.data(), term.size() * 4},
                                   {trunc.data(), trunc.size() * 4},
                                   {next_obs.data(), next_obs.size() * 4},
                                   {episodes.data(), episodes.size() * 4}};
  std::vector<std::uint8_t> header_with_logprobs;
  if (log_probs) {
    h.tensors.push_back(tensor_desc(DType::kFloat32, {t, n}));
    h.tensors.push_back(tensor_desc(DType::kFloat32, {t, n}));
    header_with_logprobs = encode_header(h);
    frames[0] = {header_with_logprobs.data(), header_with_logprobs.size()};
    frames.push_back({lp.data(), lp.size() * 4});
    frames.push_back({val.data(), val.size() * 4});
  }

  // Well formed by construction: the decoder must accept it.
  ChunkSchema schema;
  schema.num_envs = n;
  schema.obs_dim = kObsDim;
  schema.action_dim = box ? kActionDim : 0;
  schema.log_probs = log_probs;
  DecodeLimits limits;
  limits.expected_kind = static_cast<std::uint16_t>(MessageKind::kChunk);
  limits.chunk_schema = &schema;
  Header decoded;
  if (decode(frames.data(), frames.size(), limits, decoded) != DecodeError::kOk) __builtin_trap();

  ChunkExpectations e;
  e.num_steps = t + ((told & 1) ? 1 : 0);
  e.num_envs = n + ((told & 2) ? 1 : 0);
  e.obs_dim = kObsDim;
  e.num_actions = (box != ((told & 4) != 0)) ? 0 : kNumActions;
  e.action_dim = e.num_actions > 0 ? 0 : kActionDim;
  e.log_probs = log_probs != ((told & 8) != 0);
  e.max_episode_steps = kMaxEpisodeSteps;
  ChunkGate gate(e, kSession, std::chrono::milliseconds(0));
  for (std::int32_t id = 0; id < 4; ++id) gate.assign(id);
  const ChunkVerdict v = gate.check(decoded, frames.data(), frames.size(), kLearnerVersion);
  expect_verdict(v, decoded, frames.data(), e);
  if (!v.ok() && gate.count(v.fault) != 1) __builtin_trap();
  // The same chunk again is a replay once it was accepted.
  const ChunkVerdict again = gate.check(decoded, frames.data(), frames.size(), kLearnerVersion);
  if (v.ok() && again.fault != ChunkFault::kStaleSequence) __builtin_trap();
  gate.log_line(again, decoded.actor_id, "fuzzer");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_frames(data, size);
  fuzz_content(data, size);
  return 0;
}
