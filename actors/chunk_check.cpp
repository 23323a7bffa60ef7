#include "actors/chunk_check.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace apiary::actors {

namespace {

using wire::DType;
using wire::FrameView;
using wire::TensorDesc;

ChunkVerdict fault(ChunkFault f, std::string detail) { return ChunkVerdict{f, std::move(detail)}; }

std::string num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The bytes a descriptor claims, or false when its rank or element count is impossible (a header that
// did not come from wire::decode may claim anything).
bool claimed_bytes(const TensorDesc& t, std::size_t& bytes) {
  bytes = wire::dtype_size(t.dtype);
  if (bytes == 0 || t.ndim > wire::kMaxDims) return false;
  for (std::size_t d = 0; d < t.ndim; ++d) {
    if (t.shape[d] < 0) return false;
    if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(t.shape[d]), &bytes)) return false;
  }
  return true;
}

// `t` has `dtype` and exactly `dims` (a negative entry matches any size).
bool is_shape(const TensorDesc& t, DType dtype, std::initializer_list<std::int64_t> dims) {
  if (t.dtype != dtype || t.ndim != dims.size()) return false;
  std::size_t i = 0;
  for (std::int64_t d : dims) {
    if (d >= 0 && t.shape[i] != d) return false;
    ++i;
  }
  return true;
}

// The sizes of a structurally sound chunk.
struct Dims {
  std::int64_t t = 0, n = 0, d = 0;
  bool obs_uint8 = false;       // uint8 observations (image envs), else float32
  std::int64_t action_dim = 0;  // 0: Discrete (int64 [T, N])
  std::int64_t episodes = 0;    // E
  bool log_probs = false;
};

// kNotAChunk: the layout of wire.h's ChunkTensor, every frame exactly its shape's bytes.
bool structure(const wire::Header& h, const FrameView* frames, std::size_t num_frames, Dims& dims, std::string& why) {
  if (h.kind != wire::MessageKind::kChunk) {
    why = "message kind " + std::to_string(static_cast<int>(h.kind)) + " is not a chunk";
    return false;
  }
  const std::size_t count = h.tensors.size();
  if (count != wire::kChunkTensorsNoLogProbs && count != wire::kChunkTensorsWithLogProbs) {
    why = std::to_string(count) + " tensors, a chunk has 7 or 9";
    return false;
  }
  if (frames == nullptr || num_frames != count + 1) {
    why = std::to_string(num_frames) + " frames for " + std::to_string(count) + " tensors";
    return false;
  }
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t bytes = 0;
    if (!claimed_bytes(h.tensors[i], bytes) || frames[i + 1].size != bytes ||
        (bytes > 0 && frames[i + 1].data == nullptr)) {
      why = "tensor " + std::to_string(i) + " does not match its frame";
      return false;
    }
  }
  const TensorDesc& obs = h.tensors[wire::kObs];
  if ((obs.dtype != DType::kFloat32 && obs.dtype != DType::kUInt8) || obs.ndim != 3 || obs.shape[0] < 2) {
    why = "observations are not float32 or uint8 [T+1, N, D] with T >= 1";
    return false;
  }
  dims.obs_uint8 = obs.dtype == DType::kUInt8;
  dims.t = obs.shape[0] - 1;
  dims.n = obs.shape[1];
  dims.d = obs.shape[2];
  const TensorDesc& act = h.tensors[wire::kActions];
  if (is_shape(act, DType::kInt64, {dims.t, dims.n})) {
    dims.action_dim = 0;
  } else if (is_shape(act, DType::kFloat32, {dims.t, dims.n, -1}) && act.shape[2] >= 1) {
    dims.action_dim = act.shape[2];
  } else {
    why = "actions are neither int64 [T, N] nor float32 [T, N, A]";
    return false;
  }
  for (int k : {wire::kRewards, wire::kTerminated, wire::kTruncated})
    if (!is_shape(h.tensors[static_cast<std::size_t>(k)], DType::kFloat32, {dims.t, dims.n})) {
      why = "tensor " + std::to_string(k) + " is not float32 [T, N]";
      return false;
    }
  if (!is_shape(h.tensors[wire::kNextObs], obs.dtype, {dims.t, dims.n, dims.d})) {
    why = std::string("next observations are not ") + wire::dtype_name(obs.dtype) + " [T, N, D] as the observations";
    return false;
  }
  if (!is_shape(h.tensors[wire::kEpisodes], DType::kFloat32, {-1, 2})) {
    why = "episodes are not float32 [E, 2]";
    return false;
  }
  dims.episodes = h.tensors[wire::kEpisodes].shape[0];
  dims.log_probs = count == wire::kChunkTensorsWithLogProbs;
  if (dims.log_probs)
    for (int k : {wire::kLogProbs, wire::kValues})
      if (!is_shape(h.tensors[static_cast<std::size_t>(k)], DType::kFloat32, {dims.t, dims.n})) {
        why = "tensor " + std::to_string(k) + " is not float32 [T, N]";
        return false;
      }
  return true;
}

// Element i of a float32 / int64 frame; frames need no alignment.
float f32(const FrameView& f, std::size_t i) {
  float v;
  std::memcpy(&v, static_cast<const unsigned char*>(f.data) + 4 * i, 4);
  return v;
}
std::int64_t i64(const FrameView& f, std::size_t i) {
  std::int64_t v;
  std::memcpy(&v, static_cast<const unsigned char*>(f.data) + 8 * i, 8);
  return v;
}

// The first non-finite element of a float32 frame of `count` elements, or `count`.
std::size_t first_non_finite(const FrameView& f, std::size_t count) {
  const auto* p = static_cast<const unsigned char*>(f.data);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, p + 4 * i, 4);
    if ((bits & 0x7f800000u) == 0x7f800000u) return i;  // exponent all ones: inf or NaN
  }
  return count;
}

// "name[t, lane]" or "name[t, lane, j]" of flat index i in a [.., n] or [.., n, inner] tensor.
std::string where(const char* name, std::size_t i, std::int64_t n, std::int64_t inner) {
  const auto in = static_cast<std::size_t>(inner), nn = static_cast<std::size_t>(n);
  std::string s = std::string(name) + "[" + std::to_string(i / (in * nn)) + ", " + std::to_string((i / in) % nn);
  if (inner > 1) s += ", " + std::to_string(i % in);
  return s + "]";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* chunk_fault_name(ChunkFault f) {
  switch (f) {
    case ChunkFault::kOk: return "ok";
    case ChunkFault::kNotAChunk: return "not_a_chunk";
    case ChunkFault::kUnknownActor: return "unknown_actor";
    case ChunkFault::kOtherSession: return "other_session";
    case ChunkFault::kStaleSequence: return "stale_sequence";
    case ChunkFault::kPolicyVersion: return "policy_version";
    case ChunkFault::kWrongSize: return "wrong_size";
    case ChunkFault::kBadTimingStats: return "bad_timing_stats";
    case ChunkFault::kActionOutOfRange: return "action_out_of_range";
    case ChunkFault::kNonFinite: return "non_finite";
    case ChunkFault::kBadFlag: return "bad_flag";
    case ChunkFault::kBadEpisode: return "bad_episode";
  }
  return "unknown";
}

void ChunkExpectations::validate() const {
  const auto need = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("chunk expectations: ") + what);
  };
  need(num_steps >= 1, "num_steps must be >= 1");
  need(num_envs >= 1, "num_envs must be >= 1");
  need(obs_dim >= 1, "obs_dim must be >= 1");
  need((num_actions > 0) != (action_dim > 0), "exactly one of num_actions (Discrete) and action_dim (Box) must be > 0");
  need(num_actions >= 0 && action_dim >= 0, "num_actions and action_dim must not be negative");
  need(max_episode_steps >= 0, "max_episode_steps must be >= 0 (0: no time limit)");
}

void ActorBook::assign(std::int32_t actor_id) { last_[actor_id] = kNoSequence; }

void ActorBook::retire(std::int32_t actor_id) { last_.erase(actor_id); }

std::int64_t ActorBook::last_sequence(std::int32_t actor_id) const {
  const auto it = last_.find(actor_id);
  return it == last_.end() ? kNoSequence : it->second;
}

void ActorBook::accepted(std::int32_t actor_id, std::int64_t sequence) {
  const auto it = last_.find(actor_id);
  if (it != last_.end() && sequence > it->second) it->second = sequence;
}

ChunkVerdict check_chunk(const wire::Header& h, const FrameView* frames, std::size_t num_frames,
                         const ChunkExpectations& expected, const LearnerState& learner) {
  Dims dims;
  std::string why;
  if (!structure(h, frames, num_frames, dims, why)) return fault(ChunkFault::kNotAChunk, why);

  // Who sent it, for which learner run, in which order, acting with which weights.
  const std::string actor = "actor " + std::to_string(h.actor_id);
  if (learner.actors == nullptr || !learner.actors->assigned(h.actor_id))
    return fault(ChunkFault::kUnknownActor, actor + " was never assigned by this learner");
  if (h.session != learner.session)
    return fault(ChunkFault::kOtherSession, actor + " acted with weights of session " + std::to_string(h.session) +
                                                ", this learner's is " + std::to_string(learner.session));
  const std::int64_t last = learner.actors->last_sequence(h.actor_id);
  if (h.sequence <= last)
    return fault(ChunkFault::kStaleSequence, "sequence " + std::to_string(h.sequence) + " of " + actor +
                                                 " is not newer than its last accepted " + std::to_string(last));
  if (h.policy_version < 0 || h.policy_version > learner.policy_version)
    return fault(ChunkFault::kPolicyVersion, "policy version " + std::to_string(h.policy_version) +
                                                 (h.policy_version < 0 ? " is negative"
                                                                       : " is newer than the learner's " +
                                                                             std::to_string(learner.policy_version)));

  // The sizes this actor was told.
  const bool discrete = expected.num_actions > 0;
  if (dims.t != expected.num_steps || dims.n != expected.num_envs || dims.d != expected.obs_dim)
    return fault(ChunkFault::kWrongSize, "T x N x D = " + std::to_string(dims.t) + " x " + std::to_string(dims.n) +
                                             " x " + std::to_string(dims.d) + ", expected " +
                                             std::to_string(expected.num_steps) + " x " +
                                             std::to_string(expected.num_envs) + " x " + std::to_string(expected.obs_dim));
  if (dims.obs_uint8 != expected.obs_uint8)
    return fault(ChunkFault::kWrongSize, std::string("observations are ") + (dims.obs_uint8 ? "uint8" : "float32") +
                                             ", expected " + (expected.obs_uint8 ? "uint8" : "float32"));
  if (discrete != (dims.action_dim == 0) || (!discrete && dims.action_dim != expected.action_dim))
    return fault(ChunkFault::kWrongSize,
                 "actions " + (dims.action_dim == 0 ? std::string("int64 [T, N]")
                                                    : "float32 [T, N, " + std::to_string(dims.action_dim) + "]") +
                     ", expected " +
                     (discrete ? std::string("int64 [T, N]")
                               : "float32 [T, N, " + std::to_string(expected.action_dim) + "]"));
  if (dims.log_probs != expected.log_probs)
    return fault(ChunkFault::kWrongSize, std::string(dims.log_probs ? "log-probabilities and values present"
                                                                    : "no log-probabilities and values") +
                                             ", expected " + (expected.log_probs ? "them" : "none"));

  for (std::size_t i = 0; i < h.stats.size(); ++i)
    if (!std::isfinite(h.stats[i]) || h.stats[i] < 0)
      return fault(ChunkFault::kBadTimingStats, "timing stat " + std::to_string(i) + " is " + num(h.stats[i]) +
                                                    " (cumulative seconds must be finite and >= 0)");

  const auto t = static_cast<std::size_t>(dims.t), n = static_cast<std::size_t>(dims.n),
             d = static_cast<std::size_t>(dims.d);
  const FrameView* tensor = frames + 1;  // tensor k lives in tensor[k]

  // Actions inside the action space.
  if (discrete) {
    for (std::size_t i = 0; i < t * n; ++i) {
      const std::int64_t a = i64(tensor[wire::kActions], i);
      if (a < 0 || a >= expected.num_actions)
        return fault(ChunkFault::kActionOutOfRange, where("actions", i, dims.n, 1) + " = " + std::to_string(a) +
                                                        " is outside 0.." + std::to_string(expected.num_actions - 1));
    }
  } else {
    const std::size_t count = t * n * static_cast<std::size_t>(dims.action_dim);
    const std::size_t i = first_non_finite(tensor[wire::kActions], count);
    if (i < count)
      return fault(ChunkFault::kActionOutOfRange, where("actions", i, dims.n, dims.action_dim) + " = " +
                                                      num(f32(tensor[wire::kActions], i)) + " is not finite");
  }

  // Every other float finite.
  struct Floats {
    int k;
    const char* name;
    std::size_t count;
    std::int64_t inner;
  };
  std::vector<Floats> floats = {{wire::kRewards, "rewards", t * n, 1}};
  if (!dims.obs_uint8) {  // uint8 observations are finite by construction
    floats.push_back({wire::kObs, "obs", (t + 1) * n * d, dims.d});
    floats.push_back({wire::kNextObs, "next_obs", t * n * d, dims.d});
  }
  if (dims.log_probs) {
    floats.push_back({wire::kLogProbs, "log_probs", t * n, 1});
    floats.push_back({wire::kValues, "values", t * n, 1});
  }
  for (const Floats& f : floats) {
    const std::size_t i = first_non_finite(tensor[f.k], f.count);
    if (i < f.count)
      return fault(ChunkFault::kNonFinite, where(f.name, i, dims.n, f.inner) + " = " + num(f32(tensor[f.k], i)));
  }

  // Flags exactly 0 or 1.
  std::size_t done = 0;
  for (int k : {wire::kTerminated, wire::kTruncated})
    for (std::size_t i = 0; i < t * n; ++i) {
      const float v = f32(tensor[k], i);
      if (v != 0.0f && v != 1.0f)
        return fault(ChunkFault::kBadFlag, where(k == wire::kTerminated ? "terminated" : "truncated", i, dims.n, 1) +
                                               " = " + num(v) + " (must be exactly 0 or 1)");
    }
  for (std::size_t i = 0; i < t * n; ++i)
    done += f32(tensor[wire::kTerminated], i) == 1.0f || f32(tensor[wire::kTruncated], i) == 1.0f;

  // Episode statistics: one row per ended episode, in the order the actor appends them (step-major,
  // then lane), so row e belongs to the e-th done flag.
  if (static_cast<std::size_t>(dims.episodes) != done)
    return fault(ChunkFault::kBadEpisode, std::to_string(dims.episodes) + " episode rows for " + std::to_string(done) +
                                              " ended episodes (done flags)");
  const double max_length = expected.max_episode_steps > 0 ? static_cast<double>(expected.max_episode_steps)
                                                           : static_cast<double>(std::numeric_limits<std::int32_t>::max());
  std::vector<std::int64_t> previous_end(n, -1);  // step of each lane's last end in this chunk
  std::size_t e = 0;
  for (std::size_t step = 0; step < t; ++step)
    for (std::size_t lane = 0; lane < n; ++lane) {
      const std::size_t i = step * n + lane;
      if (f32(tensor[wire::kTerminated], i) != 1.0f && f32(tensor[wire::kTruncated], i) != 1.0f) continue;
      const float ret = f32(tensor[wire::kEpisodes], 2 * e);
      const float len = f32(tensor[wire::kEpisodes], 2 * e + 1);
      const std::string row = "episode " + std::to_string(e) + " (step " + std::to_string(step) + ", lane " +
                              std::to_string(lane) + ")";
      if (!std::isfinite(ret)) return fault(ChunkFault::kBadEpisode, row + ": return " + num(ret));
      if (!(len >= 1.0f) || !(len <= max_length) || std::floor(len) != len)
        return fault(ChunkFault::kBadEpisode, row + ": length " + num(len) + " is not a whole number in [1, " +
                                                  num(max_length) + "]");
      const std::int64_t prev = previous_end[lane];
      if (prev >= 0 && static_cast<double>(len) > static_cast<double>(static_cast<std::int64_t>(step) - prev))
        return fault(ChunkFault::kBadEpisode, row + ": length " + num(len) + " but the lane's previous episode ended " +
                                                  std::to_string(static_cast<std::int64_t>(step) - prev) +
                                                  " steps before");
      previous_end[lane] = static_cast<std::int64_t>(step);
      ++e;
    }
  return ChunkVerdict{};
}

ChunkGate::ChunkGate(const ChunkExpectations& expected, std::uint64_t session, std::chrono::milliseconds log_interval)
    : expected_(expected), session_(session), log_interval_(log_interval) {
  expected_.validate();
}

ChunkVerdict ChunkGate::check(const wire::Header& header, const FrameView* frames, std::size_t num_frames,
                              std::int64_t learner_policy_version) {
  LearnerState learner;
  learner.session = session_;
  learner.policy_version = learner_policy_version;
  learner.actors = &book_;
  ChunkVerdict v = check_chunk(header, frames, num_frames, expected_, learner);
  if (v.ok()) {
    ++accepted_;
    book_.accepted(header.actor_id, header.sequence);
  } else {
    ++counts_[static_cast<std::size_t>(v.fault)];
  }
  return v;
}

std::int64_t ChunkGate::rejected() const {
  std::int64_t total = 0;
  for (int i = 1; i < kNumChunkFaults; ++i) total += counts_[static_cast<std::size_t>(i)];
  return total;
}

std::vector<std::pair<std::string, double>> ChunkGate::metrics() const {
  std::vector<std::pair<std::string, double>> m;
  m.emplace_back("chunks_rejected", static_cast<double>(rejected()));
  for (int i = 1; i < kNumChunkFaults; ++i)
    m.emplace_back(std::string("chunks_rejected_") + chunk_fault_name(static_cast<ChunkFault>(i)),
                   static_cast<double>(counts_[static_cast<std::size_t>(i)]));
  return m;
}

std::string ChunkGate::log_line(const ChunkVerdict& verdict, std::int32_t actor_id, const std::string& peer) {
  if (verdict.ok()) return "";
  const auto i = static_cast<std::size_t>(verdict.fault);
  const std::int64_t now = now_ms();
  if (logged_once_[i] && now - last_log_ms_[i] < log_interval_.count()) {
    ++suppressed_[i];
    return "";
  }
  logged_once_[i] = true;
  last_log_ms_[i] = now;
  std::string line = "refused a chunk from actor " + std::to_string(actor_id) + " (" + peer +
                     "): " + chunk_fault_name(verdict.fault) + ": " + verdict.detail + " (" +
                     std::to_string(counts_[i]) + " so far";
  if (suppressed_[i] > 0) line += ", " + std::to_string(suppressed_[i]) + " not logged";
  suppressed_[i] = 0;
  return line + ")";
}

}  // namespace apiary::actors
