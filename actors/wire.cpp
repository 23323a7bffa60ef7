#include "actors/wire.h"

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

bool is_shape(const TensorDesc& t, DType dtype, std::initializer_list<std::int64_t> dims) {
  if (t.dtype != dtype || t.ndim != dims.size()) return false;
  int i = 0;
  for (std::int64_t d : dims) {
    if (d >= 0 && t.shape[static_cast<std::size_t>(i)] != d) return false;  // d < 0: any size
    ++i;
  }
  return true;
}

bool check_chunk(const Header& h, const ChunkSchema& s) {
  const std::size_t n_tensors = h.tensors.size();
  if (n_tensors != (s.log_probs ? kChunkTensorsWithLogProbs : kChunkTensorsNoLogProbs)) return false;
  const TensorDesc& obs = h.tensors[kObs];
  const DType obs_dtype = s.obs_uint8 ? DType::kUInt8 : DType::kFloat32;
  if (obs.dtype != obs_dtype || obs.ndim != 3 || obs.shape[0] < 2) return false;
  const std::int64_t t = obs.shape[0] - 1, n = obs.shape[1], d = obs.shape[2];
  if (t > s.max_steps || n < 1 || d < 1) return false;
  if ((s.num_envs > 0 && n != s.num_envs) || (s.obs_dim > 0 && d != s.obs_dim)) return false;
  const TensorDesc& act = h.tensors[kActions];
  if (s.action_dim == 0) {
    if (!is_shape(act, DType::kInt64, {t, n})) return false;
  } else if (!is_shape(act, DType::kFloat32, {t, n, s.action_dim})) {
    return false;
  }
  for (int k : {kRewards, kTerminated, kTruncated})
    if (!is_shape(h.tensors[static_cast<std::size_t>(k)], DType::kFloat32, {t, n})) return false;
  if (!is_shape(h.tensors[kNextObs], obs_dtype, {t, n, d})) return false;
  const TensorDesc& ep = h.tensors[kEpisodes];
  if (!is_shape(ep, DType::kFloat32, {-1, 2}) || ep.shape[0] > t * n) return false;
  if (s.log_probs)
    for (int k : {kLogProbs, kValues})
      if (!is_shape(h.tensors[static_cast<std::size_t>(k)], DType::kFloat32, {t, n})) return false;
  return true;
}

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
  if (header.kind == MessageKind::kChunk && limits.chunk_schema != nullptr &&
      !check_chunk(header, *limits.chunk_schema))
    return DecodeError::kSchema;
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
