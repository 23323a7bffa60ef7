// The wire format between actor processes and the learner (docs/architecture.md, "Data flow").
// A message is a ZeroMQ multipart: frame 0 is a small versioned header that describes every tensor
// (dtype and shape), then one frame per tensor holding its raw bytes, C-contiguous little-endian, so a
// tensor goes out and comes in without a copy. This file knows nothing of LibTorch or ZeroMQ (the
// libFuzzer target builds it alone with clang); actors/codec.h maps chunks and weights onto it.
//
// Header frame layout (little-endian, no padding beyond what is listed):
//   offset  size  field
//   0       4     magic 0x59524141 ("AARY")
//   4       2     protocol version (kProtocolVersion)
//   6       2     kind (MessageKind)
//   8       4     actor_id (int32)
//   12      4     num_tensors (uint32, <= kMaxTensors)
//   16      8     sequence (int64)
//   24      8     policy_version (int64)
//   32      8     session (uint64: which learner run the weights came from)
//   40      32    stats: 4 x float64, cumulative seconds the sender reports (kinds define them)
//   72      40 x num_tensors  tensor descriptors: dtype (u8), ndim (u8), 6 bytes zero, 4 x int64 dims
// The header frame is exactly 72 + 40 * num_tensors bytes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace apiary::actors::wire {

inline constexpr std::uint32_t kMagic = 0x59524141u;  // "AARY" read little-endian
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::uint32_t kMaxTensors = 16;
inline constexpr int kMaxDims = 4;
inline constexpr std::size_t kFixedHeaderBytes = 72;
inline constexpr std::size_t kTensorDescBytes = 40;

enum class MessageKind : std::uint16_t {
  kChunk = 1,    // actor -> learner: a trajectory chunk (tensors in ChunkTensor order)
  kWeights = 2,  // learner -> actors: one uint8 tensor of agents::Weights bytes
  kHello = 3,    // actor -> learner: asks for the run's config (no tensors)
  kWelcome = 4,  // learner -> actor: config YAML (uint8), weights (uint8); actor_id assigned
};

enum class DType : std::uint8_t { kFloat32 = 1, kInt64 = 2, kUInt8 = 3, kInt32 = 4 };
std::size_t dtype_size(DType dtype);  // 0 for an unknown value
const char* dtype_name(DType dtype);

// The tensors of a kChunk message, in this order (chunk_layout gives their dtypes and shapes);
// log_probs and values only when the algorithm records them (PPO); state and starts only after them,
// for a recurrent policy.
enum ChunkTensor : int {
  kObs = 0,
  kActions = 1,
  kRewards = 2,
  kTerminated = 3,
  kTruncated = 4,
  kNextObs = 5,
  kEpisodes = 6,  // return and length of each episode that ended in the chunk
  kLogProbs = 7,
  kValues = 8,
  kState = 9,   // float32 [N, S]: each lane's memory before obs[0]
  kStarts = 10, // float32 [T, N] 0/1: obs[t] begins an episode
};
inline constexpr std::uint32_t kChunkTensorsNoLogProbs = 7;
inline constexpr std::uint32_t kChunkTensorsWithLogProbs = 9;
inline constexpr std::uint32_t kChunkTensorsRecurrent = 11;

// What a kChunk sender reports in stats[] (cumulative seconds in that actor process).
enum ActorStat : int { kEnvSeconds = 0, kInferenceSeconds = 1, kSendWaitSeconds = 2, kWeightsSeconds = 3 };

struct TensorDesc {
  DType dtype = DType::kFloat32;
  std::uint8_t ndim = 0;
  std::array<std::int64_t, kMaxDims> shape{};
  std::size_t numel() const;   // product of the dims (1 for ndim 0); only meaningful once validated
  std::size_t nbytes() const { return numel() * dtype_size(dtype); }
};

// A descriptor of `dtype` with `shape` (at most kMaxDims dims; the caller keeps to that).
inline TensorDesc tensor_desc(DType dtype, std::initializer_list<std::int64_t> shape) {
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = static_cast<std::uint8_t>(shape.size());
  std::size_t i = 0;
  for (const std::int64_t s : shape) d.shape[i++] = s;
  return d;
}

struct Header {
  MessageKind kind = MessageKind::kChunk;
  std::int32_t actor_id = 0;
  std::int64_t sequence = 0;
  std::int64_t policy_version = 0;
  std::uint64_t session = 0;
  std::array<double, 4> stats{};
  std::vector<TensorDesc> tensors;
};

// Serialises `header` into its frame (exactly 72 + 40 * tensors bytes). Throws std::invalid_argument
// for more than kMaxTensors tensors or more than kMaxDims dims.
std::vector<std::uint8_t> encode_header(const Header& header);

// A received frame: bytes owned elsewhere (a zmq::message_t, a fuzzer input).
struct FrameView {
  const void* data = nullptr;
  std::size_t size = 0;
};

// An outgoing frame: bytes that `owner` keeps alive until the transport has sent them (zero copy).
struct OutFrame {
  const void* data = nullptr;
  std::size_t size = 0;
  std::shared_ptr<const void> owner;
};

// Why a message was refused. kOk is 0; the rest index DecodeStats.
enum class DecodeError : int {
  kOk = 0,
  kNoFrames,        // an empty multipart
  kShortHeader,     // header frame shorter than the fixed part
  kBadMagic,
  kBadVersion,      // another protocol version
  kBadKind,         // unknown message kind, or a kind the receiver does not take
  kTooManyTensors,  // num_tensors > kMaxTensors
  kHeaderSize,      // header frame size disagrees with num_tensors
  kFrameCount,      // frames other than 1 + num_tensors
  kBadDType,        // unknown dtype
  kBadShape,        // ndim > kMaxDims, a negative dim, or an element count that overflows
  kFrameSize,       // a tensor frame whose size is not its shape's bytes
  kOversize,        // total bytes above the limit (ZMQ_MAXMSGSIZE)
  kSchema,          // tensors that disagree with the env spec (a chunk of another env, wrong dtypes...)
};
inline constexpr int kNumDecodeErrors = 14;
const char* decode_error_name(DecodeError error);

// The sizes of a chunk: T steps, N lanes, D observation elements, the action kind and whether
// log-probabilities travel. With the count of episodes that ended in it, chunk_layout gives every
// tensor's descriptor: the one statement of a chunk's layout, read by the decoder, the chunk gate and
// the transport's buffer sizes.
struct ChunkShape {
  std::int64_t num_steps = 0;   // T
  std::int64_t num_envs = 0;    // N
  std::int64_t obs_dim = 0;     // D
  bool obs_uint8 = false;       // observations are uint8 (an image env), else float32
  std::int64_t action_dim = 0;  // 0: Discrete (int64 [T, N]); A > 0: Box (float32 [T, N, A])
  bool log_probs = false;       // 9 tensors (PPO) rather than 7
  std::int64_t state_size = 0;  // S > 0: a recurrent policy's chunk, 11 tensors (needs log_probs)
};

// The descriptors of a chunk of `shape` with `episodes` rows of episode statistics, in ChunkTensor order.
std::vector<TensorDesc> chunk_layout(const ChunkShape& shape, std::int64_t episodes);
const char* chunk_tensor_name(int tensor);  // "obs", "actions", ... ("tensor" past the last)
std::string describe(const TensorDesc& t);  // "float32 [4, 2]"
bool operator==(const TensorDesc& a, const TensorDesc& b);

// The shape of the chunk `h` describes, when its tensors are exactly chunk_layout's for that shape
// with T, N, D >= 1 and at most T * N episodes; otherwise false with `why` naming the first tensor
// that differs.
bool read_chunk_shape(const Header& h, ChunkShape& shape, std::int64_t& episodes, std::string& why);

// The bytes of the largest chunk of `shape` (every lane ending an episode every step), header included.
std::size_t max_chunk_bytes(const ChunkShape& shape);

// The shape a kChunk must have; zero num_steps, num_envs or obs_dim are not checked, and T is at
// most max_steps.
struct ChunkSchema : ChunkShape {
  std::int64_t max_steps = 1 << 20;
  // "" when `shape` fits, else what differs ("T x N x D = 4 x 2 x 4, expected 25000 x 2 x 4").
  std::string mismatch(const ChunkShape& shape) const;
};

struct DecodeLimits {
  std::size_t max_message_bytes = std::size_t{1} << 28;  // header and tensor frames together
  // The kind the receiver expects (kinds other than this one are kBadKind); 0 accepts any known kind.
  std::uint16_t expected_kind = 0;
  const ChunkSchema* chunk_schema = nullptr;  // checked for kChunk messages when set
};

// Checks `frames` completely and fills `header` (tensor i lives in frames[i + 1]). Never reads past a
// frame, never allocates more than kMaxTensors descriptors, never throws for bad input.
DecodeError decode(const FrameView* frames, std::size_t num_frames, const DecodeLimits& limits, Header& header);

// Counts refused messages by reason and logs them rate-limited (at most one line per `interval` per
// counter, with the number suppressed since); thread-safe.
class DecodeStats {
 public:
  explicit DecodeStats(std::chrono::milliseconds interval = std::chrono::milliseconds(1000)) : interval_(interval) {}
  // Counts `error` (kOk is ignored) and returns the line to log, or "" when rate-limited.
  std::string record(DecodeError error, const std::string& peer);
  std::int64_t count(DecodeError error) const { return counts_[static_cast<std::size_t>(error)].load(); }
  std::int64_t total() const;  // all refusals

 private:
  std::chrono::milliseconds interval_;
  std::array<std::atomic<std::int64_t>, kNumDecodeErrors> counts_{};
  std::array<std::atomic<std::int64_t>, kNumDecodeErrors> last_log_ms_{};
  std::array<std::atomic<std::int64_t>, kNumDecodeErrors> suppressed_{};
};

// The fuzzer's and the seed corpus's framing of a multipart in one byte string: u32 frame count, then
// per frame u32 size and its bytes. split_frames returns false when `data` is not in that form.
std::vector<std::uint8_t> join_frames(const std::vector<std::vector<std::uint8_t>>& frames);
bool split_frames(const std::uint8_t* data, std::size_t size, std::vector<FrameView>& frames);

}  // namespace apiary::actors::wire
