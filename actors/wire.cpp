#include "actors/wire.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace apiary::actors::wire {

static_assert(sizeof(double) == 8, "the header's stats are IEEE-754 float64");

namespace {

// The format is little-endian; so is every host Apiary builds on (x86-64, aarch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire.cpp assumes a little-endian host");

template <class T>
void put(std::uint8_t* out, std::size_t offset, T value) {
  std::memcpy(out + offset, &value, sizeof(T));
}
template <class T>
T get(const std::uint8_t* in, std::size_t offset) {
  T value;
  std::memcpy(&value, in + offset, sizeof(T));
  return value;
}

bool known_kind(std::uint16_t kind) { return kind >= 1 && kind <= 4; }

// The fixed tensor layout of the kinds other than kChunk.
bool check_kind_layout(const Header& h) {
  const auto bytes_tensor = [](const TensorDesc& t) { return t.dtype == DType::kUInt8 && t.ndim == 1; };
  switch (h.kind) {
    case MessageKind::kHello: return h.tensors.empty();
    case MessageKind::kWeights: return h.tensors.size() == 1 && bytes_tensor(h.tensors[0]);
    case MessageKind::kWelcome:
      return h.tensors.size() == 2 && bytes_tensor(h.tensors[0]) && bytes_tensor(h.tensors[1]);
    case MessageKind::kChunk: return true;
  }
  return false;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt8: return 1;
    case DType::kInt32: return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kInt32: return "int32";
  }
  return "unknown";
}

std::size_t TensorDesc::numel() const {
  std::size_t n = 1;
  for (int i = 0; i < ndim && i < kMaxDims; ++i) n *= static_cast<std::size_t>(shape[static_cast<std::size_t>(i)]);
  return n;
}

bool operator==(const TensorDesc& a, const TensorDesc& b) {
  if (a.dtype != b.dtype || a.ndim != b.ndim) return false;
  for (std::size_t d = 0; d < a.ndim && d < static_cast<std::size_t>(kMaxDims); ++d)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

std::string describe(const TensorDesc& t) {
  std::string s = std::string(dtype_name(t.dtype)) + " [";
  for (std::size_t d = 0; d < t.ndim && d < static_cast<std::size_t>(kMaxDims); ++d)
    s += (d > 0 ? ", " : "") + std::to_string(t.shape[d]);
  return s + "]";
}

const char* chunk_tensor_name(int tensor) {
  static const char* const names[] = {"obs",      "actions",  "rewards",   "terminated", "truncated",
                                      "next_obs", "episodes", "log_probs", "values",     "state",
                                      "starts"};
  return tensor >= 0 && tensor < static_cast<int>(kChunkTensorsRecurrent) ? names[tensor] : "tensor";
}

std::vector<TensorDesc> chunk_layout(const ChunkShape& s, std::int64_t episodes) {
  const std::int64_t t = s.num_steps, n = s.num_envs, d = s.obs_dim;
  const DType obs = s.obs_uint8 ? DType::kUInt8 : DType::kFloat32;
  std::vector<TensorDesc> layout = {
      tensor_desc(obs, {t + 1, n, d}),
      s.action_dim == 0 ? tensor_desc(DType::kInt64, {t, n}) : tensor_desc(DType::kFloat32, {t, n, s.action_dim}),
      tensor_desc(DType::kFloat32, {t, n}),  // rewards
      tensor_desc(DType::kFloat32, {t, n}),  // terminated
      tensor_desc(DType::kFloat32, {t, n}),  // truncated
      tensor_desc(obs, {t, n, d}),
      tensor_desc(DType::kFloat32, {episodes, 2}),
  };
  if (s.log_probs) {
    layout.push_back(tensor_desc(DType::kFloat32, {t, n}));  // log_probs
    layout.push_back(tensor_desc(DType::kFloat32, {t, n}));  // values
  }
  if (s.state_size > 0) {
    layout.push_back(tensor_desc(DType::kFloat32, {n, s.state_size}));  // state
    layout.push_back(tensor_desc(DType::kFloat32, {t, n}));             // starts
  }
  return layout;
}

bool read_chunk_shape(const Header& h, ChunkShape& shape, std::int64_t& episodes, std::string& why) {
  const std::size_t count = h.tensors.size();
  if (count != kChunkTensorsNoLogProbs && count != kChunkTensorsWithLogProbs && count != kChunkTensorsRecurrent) {
    why = std::to_string(count) + " tensors, a chunk has 7, 9 or 11";
    return false;
  }
  const TensorDesc& obs = h.tensors[kObs];
  const TensorDesc& act = h.tensors[kActions];
  const TensorDesc& ep = h.tensors[kEpisodes];
  if ((obs.dtype != DType::kFloat32 && obs.dtype != DType::kUInt8) || obs.ndim != 3 || obs.shape[0] < 2 ||
      obs.shape[1] < 1 || obs.shape[2] < 1) {
    why = "observations are " + describe(obs) + ", not float32 or uint8 [T+1, N, D] with T, N, D >= 1";
    return false;
  }
  shape.num_steps = obs.shape[0] - 1;
  shape.num_envs = obs.shape[1];
  shape.obs_dim = obs.shape[2];
  shape.obs_uint8 = obs.dtype == DType::kUInt8;
  shape.action_dim = act.ndim == 3 ? std::max<std::int64_t>(act.shape[2], 1) : 0;
  shape.log_probs = count >= kChunkTensorsWithLogProbs;
  shape.state_size = 0;
  if (count == kChunkTensorsRecurrent) {
    const TensorDesc& state = h.tensors[kState];
    if (state.ndim != 2 || state.shape[1] < 1) {
      why = "state is " + describe(state) + ", not float32 [N, S] with S >= 1";
      return false;
    }
    shape.state_size = state.shape[1];
  }
  episodes = ep.ndim >= 1 ? ep.shape[0] : 0;
  const std::vector<TensorDesc> layout = chunk_layout(shape, episodes);
  for (std::size_t k = 0; k < count; ++k)
    if (!(h.tensors[k] == layout[k])) {
      why = std::string(chunk_tensor_name(static_cast<int>(k))) + " are " + describe(h.tensors[k]) + ", expected " +
            describe(layout[k]);
      return false;
    }
  if (episodes > shape.num_steps * shape.num_envs) {
    why = std::to_string(episodes) + " episode rows in " + std::to_string(shape.num_steps * shape.num_envs) +
          " lane steps";
    return false;
  }
  return true;
}

std::size_t max_chunk_bytes(const ChunkShape& shape) {
  const std::vector<TensorDesc> layout = chunk_layout(shape, shape.num_steps * shape.num_envs);
  std::size_t bytes = kFixedHeaderBytes + kTensorDescBytes * layout.size();
  for (const TensorDesc& t : layout) bytes += t.nbytes();
  return bytes;
}

namespace {

std::string sizes(std::int64_t t, std::int64_t n, std::int64_t d) {
  return std::to_string(t) + " x " + std::to_string(n) + " x " + std::to_string(d);
}

std::string actions(std::int64_t action_dim) {
  return action_dim == 0 ? std::string("int64 [T, N]") : "float32 [T, N, " + std::to_string(action_dim) + "]";
}

}  // namespace

std::string ChunkSchema::mismatch(const ChunkShape& s) const {
  const auto differs = [](std::int64_t want, std::int64_t got) { return want != 0 && want != got; };
  if (differs(num_steps, s.num_steps) || differs(num_envs, s.num_envs) || differs(obs_dim, s.obs_dim))
    return "T x N x D = " + sizes(s.num_steps, s.num_envs, s.obs_dim) + ", expected " +
           sizes(num_steps, num_envs, obs_dim);
  if (s.num_steps > max_steps)
    return "T = " + std::to_string(s.num_steps) + " is above the limit " + std::to_string(max_steps);
  if (s.obs_uint8 != obs_uint8)
    return std::string("observations are ") + (s.obs_uint8 ? "uint8" : "float32") + ", expected " +
           (obs_uint8 ? "uint8" : "float32");
  if (s.action_dim != action_dim) return "actions " + actions(s.action_dim) + ", expected " + actions(action_dim);
  if (s.log_probs != log_probs)
    return std::string(s.log_probs ? "log-probabilities and values present" : "no log-probabilities and values") +
           ", expected " + (log_probs ? "them" : "none");
  if (s.state_size != state_size)
    return "a recurrent state of " + std::to_string(s.state_size) + " elements per lane, expected " +
           std::to_string(state_size) + (state_size == 0 ? " (the policy has no memory)" : "");
  return "";
}

std::vector<std::uint8_t> encode_header(const Header& header) {
  if (header.tensors.size() > kMaxTensors)
    throw std::invalid_argument("wire: " + std::to_string(header.tensors.size()) + " tensors, at most " +
                                std::to_string(kMaxTensors));
  std::vector<std::uint8_t> out(kFixedHeaderBytes + kTensorDescBytes * header.tensors.size(), 0);
  std::uint8_t* p = out.data();
  put<std::uint32_t>(p, 0, kMagic);
  put<std::uint16_t>(p, 4, kProtocolVersion);
  put<std::uint16_t>(p, 6, static_cast<std::uint16_t>(header.kind));
  put<std::int32_t>(p, 8, header.actor_id);
  put<std::uint32_t>(p, 12, static_cast<std::uint32_t>(header.tensors.size()));
  put<std::int64_t>(p, 16, header.sequence);
  put<std::int64_t>(p, 24, header.policy_version);
  put<std::uint64_t>(p, 32, header.session);
  for (std::size_t i = 0; i < 4; ++i) put<double>(p, 40 + 8 * i, header.stats[i]);
  for (std::size_t i = 0; i < header.tensors.size(); ++i) {
    const TensorDesc& t = header.tensors[i];
    if (t.ndim > kMaxDims) throw std::invalid_argument("wire: a tensor of rank " + std::to_string(t.ndim));
    const std::size_t o = kFixedHeaderBytes + kTensorDescBytes * i;
    put<std::uint8_t>(p, o, static_cast<std::uint8_t>(t.dtype));
    put<std::uint8_t>(p, o + 1, t.ndim);
    for (std::size_t d = 0; d < static_cast<std::size_t>(kMaxDims); ++d)
      put<std::int64_t>(p, o + 8 + 8 * d, d < t.ndim ? t.shape[d] : 0);
  }
  return out;
}

DecodeError decode(const FrameView* frames, std::size_t num_frames, const DecodeLimits& limits, Header& header) {
  if (num_frames == 0 || frames == nullptr) return DecodeError::kNoFrames;
  const FrameView& hf = frames[0];
  if (hf.size < kFixedHeaderBytes || hf.data == nullptr) return DecodeError::kShortHeader;
  const auto* p = static_cast<const std::uint8_t*>(hf.data);
  if (get<std::uint32_t>(p, 0) != kMagic) return DecodeError::kBadMagic;
  if (get<std::uint16_t>(p, 4) != kProtocolVersion) return DecodeError::kBadVersion;
  const std::uint16_t kind = get<std::uint16_t>(p, 6);
  if (!known_kind(kind) || (limits.expected_kind != 0 && kind != limits.expected_kind)) return DecodeError::kBadKind;
  const std::uint32_t num_tensors = get<std::uint32_t>(p, 12);
  if (num_tensors > kMaxTensors) return DecodeError::kTooManyTensors;
  if (hf.size != kFixedHeaderBytes + kTensorDescBytes * num_tensors) return DecodeError::kHeaderSize;
  if (num_frames != 1 + static_cast<std::size_t>(num_tensors)) return DecodeError::kFrameCount;

  header.kind = static_cast<MessageKind>(kind);
  header.actor_id = get<std::int32_t>(p, 8);
  header.sequence = get<std::int64_t>(p, 16);
  header.policy_version = get<std::int64_t>(p, 24);
  header.session = get<std::uint64_t>(p, 32);
  for (std::size_t i = 0; i < 4; ++i) header.stats[i] = get<double>(p, 40 + 8 * i);
  header.tensors.resize(num_tensors);

  std::size_t total = hf.size;
  for (std::uint32_t i = 0; i < num_tensors; ++i) {
    const std::size_t o = kFixedHeaderBytes + kTensorDescBytes * i;
    TensorDesc& t = header.tensors[i];
    const auto dtype = static_cast<DType>(get<std::uint8_t>(p, o));
    if (dtype_size(dtype) == 0) return DecodeError::kBadDType;
    t.dtype = dtype;
    t.ndim = get<std::uint8_t>(p, o + 1);
    if (t.ndim > kMaxDims) return DecodeError::kBadShape;
    std::size_t bytes = dtype_size(dtype);
    for (std::size_t d = 0; d < static_cast<std::size_t>(kMaxDims); ++d) {
      t.shape[d] = get<std::int64_t>(p, o + 8 + 8 * d);
      if (d >= t.ndim) {
        t.shape[d] = 0;
        continue;
      }
      if (t.shape[d] < 0) return DecodeError::kBadShape;
      if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(t.shape[d]), &bytes)) return DecodeError::kBadShape;
    }
    if (bytes > limits.max_message_bytes) return DecodeError::kOversize;
    const FrameView& f = frames[1 + i];
    if (f.size != bytes || (bytes > 0 && f.data == nullptr)) return DecodeError::kFrameSize;
    total += f.size;
    if (total > limits.max_message_bytes) return DecodeError::kOversize;
  }
  if (!check_kind_layout(header)) return DecodeError::kSchema;
  if (header.kind == MessageKind::kChunk && limits.chunk_schema != nullptr) {
    ChunkShape shape;
    std::int64_t episodes = 0;
    std::string why;
    if (!read_chunk_shape(header, shape, episodes, why) || !limits.chunk_schema->mismatch(shape).empty())
      return DecodeError::kSchema;
  }
  return DecodeError::kOk;
}

const char* decode_error_name(DecodeError error) {
  switch (error) {
    case DecodeError::kOk: return "ok";
    case DecodeError::kNoFrames: return "no_frames";
    case DecodeError::kShortHeader: return "short_header";
    case DecodeError::kBadMagic: return "bad_magic";
    case DecodeError::kBadVersion: return "bad_version";
    case DecodeError::kBadKind: return "bad_kind";
    case DecodeError::kTooManyTensors: return "too_many_tensors";
    case DecodeError::kHeaderSize: return "header_size";
    case DecodeError::kFrameCount: return "frame_count";
    case DecodeError::kBadDType: return "bad_dtype";
    case DecodeError::kBadShape: return "bad_shape";
    case DecodeError::kFrameSize: return "frame_size";
    case DecodeError::kOversize: return "oversize";
    case DecodeError::kSchema: return "schema";
  }
  return "unknown";
}

std::string DecodeStats::record(DecodeError error, const std::string& peer) {
  if (error == DecodeError::kOk) return "";
  const auto i = static_cast<std::size_t>(error);
  const std::int64_t n = counts_[i].fetch_add(1) + 1;
  const std::int64_t now = now_ms();
  std::int64_t last = last_log_ms_[i].load();
  if (n > 1 && now - last < interval_.count()) {
    suppressed_[i].fetch_add(1);
    return "";
  }
  if (!last_log_ms_[i].compare_exchange_strong(last, now)) {
    suppressed_[i].fetch_add(1);
    return "";
  }
  const std::int64_t skipped = suppressed_[i].exchange(0);
  std::string line = "refused a message from " + peer + ": " + decode_error_name(error) + " (" + std::to_string(n) +
                     " so far";
  if (skipped > 0) line += ", " + std::to_string(skipped) + " not logged";
  return line + ")";
}

std::int64_t DecodeStats::total() const {
  std::int64_t n = 0;
  for (int i = 1; i < kNumDecodeErrors; ++i) n += counts_[static_cast<std::size_t>(i)].load();
  return n;
}

std::vector<std::uint8_t> join_frames(const std::vector<std::vector<std::uint8_t>>& frames) {
  std::size_t total = 4;
  for (const auto& f : frames) total += 4 + f.size();
  std::vector<std::uint8_t> out(total);
  std::size_t at = 0;
  put<std::uint32_t>(out.data(), at, static_cast<std::uint32_t>(frames.size()));
  at += 4;
  for (const auto& f : frames) {
    put<std::uint32_t>(out.data(), at, static_cast<std::uint32_t>(f.size()));
    at += 4;
    if (!f.empty()) std::memcpy(out.data() + at, f.data(), f.size());
    at += f.size();
  }
  return out;
}

bool split_frames(const std::uint8_t* data, std::size_t size, std::vector<FrameView>& frames) {
  frames.clear();
  if (size < 4) return false;
  const std::uint32_t count = get<std::uint32_t>(data, 0);
  if (count > 64) return false;
  std::size_t at = 4;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (size - at < 4) return false;
    const std::uint32_t n = get<std::uint32_t>(data, at);
    at += 4;
    if (size - at < n) return false;
    frames.push_back(FrameView{data + at, n});
    at += n;
  }
  return true;
}

}  // namespace apiary::actors::wire
