#include "actors/chunk_check.h"

#include <algorithm>
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

// kNotAChunk: a chunk's layout (wire::read_chunk_shape), every frame exactly its shape's bytes.
bool structure(const wire::Header& h, const FrameView* frames, std::size_t num_frames, wire::ChunkShape& shape,
               std::int64_t& episodes, std::string& why) {
  if (h.kind != wire::MessageKind::kChunk) {
    why = "message kind " + std::to_string(static_cast<int>(h.kind)) + " is not a chunk";
    return false;
  }
  const std::size_t count = h.tensors.size();
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
  return wire::read_chunk_shape(h, shape, episodes, why);
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
std::string where(const char* name, std::size_t i, std::size_t n, std::size_t inner) {
  std::string s = std::string(name) + "[" + std::to_string(i / (inner * n)) + ", " + std::to_string((i / inner) % n);
  if (inner > 1) s += ", " + std::to_string(i % inner);
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
  need(num_steps <= max_steps, "num_steps must be <= max_steps");
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

namespace {

// The sizes of the chunk being checked, as flat counts.
struct Sizes {
  std::size_t t, n, d, a;  // a: action elements per step and lane (1 for Discrete)
};

// kUnknownActor .. kPolicyVersion: who sent it, for which learner run, in which order, acting with
// which weights.
ChunkVerdict sender_fault(const wire::Header& h, const LearnerState& learner) {
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
  return ChunkVerdict{};
}

// kBadTimingStats: the header's cumulative seconds.
ChunkVerdict stats_fault(const wire::Header& h) {
  for (std::size_t i = 0; i < h.stats.size(); ++i)
    if (!std::isfinite(h.stats[i]) || h.stats[i] < 0)
      return fault(ChunkFault::kBadTimingStats, "timing stat " + std::to_string(i) + " is " + num(h.stats[i]) +
                                                    " (cumulative seconds must be finite and >= 0)");
  return ChunkVerdict{};
}

// kActionOutOfRange: Discrete indices inside 0..n-1, Box actions finite.
ChunkVerdict action_fault(const FrameView& actions, const Sizes& z, const ChunkExpectations& expected) {
  if (expected.num_actions > 0) {
    for (std::size_t i = 0; i < z.t * z.n; ++i) {
      const std::int64_t a = i64(actions, i);
      if (a < 0 || a >= expected.num_actions)
        return fault(ChunkFault::kActionOutOfRange, where("actions", i, z.n, 1) + " = " + std::to_string(a) +
                                                        " is outside 0.." + std::to_string(expected.num_actions - 1));
    }
    return ChunkVerdict{};
  }
  const std::size_t count = z.t * z.n * z.a;
  const std::size_t i = first_non_finite(actions, count);
  if (i < count)
    return fault(ChunkFault::kActionOutOfRange, where("actions", i, z.n, z.a) +
                                                    " = " + num(f32(actions, i)) + " is not finite");
  return ChunkVerdict{};
}

// kNonFinite: rewards, float observations, log-probabilities and values (uint8 pixels are finite).
ChunkVerdict non_finite_fault(const FrameView* tensor, const Sizes& z, const wire::ChunkShape& shape) {
  struct Floats {
    int k;
    std::size_t count;
    std::size_t inner;
  };
  std::vector<Floats> floats = {{wire::kRewards, z.t * z.n, 1}};
  if (!shape.obs_uint8) {
    floats.push_back({wire::kObs, (z.t + 1) * z.n * z.d, z.d});
    floats.push_back({wire::kNextObs, z.t * z.n * z.d, z.d});
  }
  if (shape.log_probs) {
    floats.push_back({wire::kLogProbs, z.t * z.n, 1});
    floats.push_back({wire::kValues, z.t * z.n, 1});
  }
  for (const Floats& f : floats) {
    const std::size_t i = first_non_finite(tensor[f.k], f.count);
    if (i < f.count)
      return fault(ChunkFault::kNonFinite,
                   where(wire::chunk_tensor_name(f.k), i, z.n, f.inner) + " = " + num(f32(tensor[f.k], i)));
  }
  if (shape.state_size > 0) {  // [N, S]: one row per lane
    const auto s = static_cast<std::size_t>(shape.state_size);
    const std::size_t i = first_non_finite(tensor[wire::kState], z.n * s);
    if (i < z.n * s)
      return fault(ChunkFault::kNonFinite, "state[" + std::to_string(i / s) + ", " + std::to_string(i % s) +
                                               "] = " + num(f32(tensor[wire::kState], i)));
  }
  return ChunkVerdict{};
}

// kBadFlag: terminated, truncated (and a recurrent chunk's episode starts) exactly 0 or 1, an episode
// starting exactly where the lane's last one ended (starts[t] = terminated[t-1] | truncated[t-1]), and
// a lane whose first observation begins an episode carrying a zero memory into it.
ChunkVerdict flag_fault(const FrameView* tensor, const Sizes& z, std::size_t state_size) {
  const bool recurrent = state_size > 0;
  std::vector<int> flags = {wire::kTerminated, wire::kTruncated};
  if (recurrent) flags.push_back(wire::kStarts);
  for (int k : flags)
    for (std::size_t i = 0; i < z.t * z.n; ++i) {
      const float v = f32(tensor[k], i);
      if (v != 0.0f && v != 1.0f)
        return fault(ChunkFault::kBadFlag, where(wire::chunk_tensor_name(k), i, z.n, 1) + " = " + num(v) +
                                               " (must be exactly 0 or 1)");
    }
  if (recurrent)
    for (std::size_t i = z.n; i < z.t * z.n; ++i) {
      const bool ended = f32(tensor[wire::kTerminated], i - z.n) == 1.0f || f32(tensor[wire::kTruncated], i - z.n) == 1.0f;
      if ((f32(tensor[wire::kStarts], i) == 1.0f) != ended)
        return fault(ChunkFault::kBadFlag, where("starts", i, z.n, 1) + " = " + num(f32(tensor[wire::kStarts], i)) +
                                               " but the lane's episode " + (ended ? "ended" : "did not end") +
                                               " at the step before");
    }
  for (std::size_t lane = 0; recurrent && lane < z.n; ++lane) {
    if (f32(tensor[wire::kStarts], lane) != 1.0f) continue;
    for (std::size_t k = 0; k < state_size; ++k)
      if (f32(tensor[wire::kState], lane * state_size + k) != 0.0f)
        return fault(ChunkFault::kBadFlag, "state[" + std::to_string(lane) + ", " + std::to_string(k) + "] = " +
                                               num(f32(tensor[wire::kState], lane * state_size + k)) +
                                               " but the lane's first observation begins an episode (its memory "
                                               "must be zero)");
  }
  return ChunkVerdict{};
}

// kBadEpisode: one row per ended episode, in the order the actor appends them (step-major, then lane),
// so row e belongs to the e-th done flag; each a finite return and a possible length.
ChunkVerdict episode_fault(const FrameView* tensor, const Sizes& z, std::int64_t episodes,
                           std::int64_t max_episode_steps) {
  const auto ended = [&](std::size_t i) {
    return f32(tensor[wire::kTerminated], i) == 1.0f || f32(tensor[wire::kTruncated], i) == 1.0f;
  };
  std::size_t done = 0;
  for (std::size_t i = 0; i < z.t * z.n; ++i) done += ended(i);
  if (static_cast<std::size_t>(episodes) != done)
    return fault(ChunkFault::kBadEpisode,
                 std::to_string(episodes) + " episode rows for " + std::to_string(done) + " ended episodes (done flags)");
  const double max_length = max_episode_steps > 0 ? static_cast<double>(max_episode_steps)
                                                  : static_cast<double>(std::numeric_limits<std::int32_t>::max());
  std::vector<std::int64_t> previous_end(z.n, -1);  // step of each lane's last end in this chunk
  std::size_t e = 0;
  for (std::size_t step = 0; step < z.t; ++step)
    for (std::size_t lane = 0; lane < z.n; ++lane) {
      if (!ended(step * z.n + lane)) continue;
      const float ret = f32(tensor[wire::kEpisodes], 2 * e);
      const float len = f32(tensor[wire::kEpisodes], 2 * e + 1);
      const std::string row = "episode " + std::to_string(e) + " (step " + std::to_string(step) + ", lane " +
                              std::to_string(lane) + ")";
      if (!std::isfinite(ret)) return fault(ChunkFault::kBadEpisode, row + ": return " + num(ret));
      if (!(len >= 1.0f) || !(len <= max_length) || std::floor(len) != len)
        return fault(ChunkFault::kBadEpisode, row + ": length " + num(len) + " is not a whole number in [1, " +
                                                  num(max_length) + "]");
      const std::int64_t since = static_cast<std::int64_t>(step) - previous_end[lane];
      if (previous_end[lane] >= 0 && static_cast<double>(len) > static_cast<double>(since))
        return fault(ChunkFault::kBadEpisode, row + ": length " + num(len) + " but the lane's previous episode ended " +
                                                  std::to_string(since) + " steps before");
      previous_end[lane] = static_cast<std::int64_t>(step);
      ++e;
    }
  return ChunkVerdict{};
}

}  // namespace

ChunkVerdict check_chunk(const wire::Header& h, const FrameView* frames, std::size_t num_frames,
                         const ChunkExpectations& expected, const LearnerState& learner) {
  wire::ChunkShape shape;
  std::int64_t episodes = 0;
  std::string why;
  if (!structure(h, frames, num_frames, shape, episodes, why)) return fault(ChunkFault::kNotAChunk, why);
  if (ChunkVerdict v = sender_fault(h, learner); !v.ok()) return v;
  if (std::string differs = expected.mismatch(shape); !differs.empty())
    return fault(ChunkFault::kWrongSize, std::move(differs));
  if (ChunkVerdict v = stats_fault(h); !v.ok()) return v;

  const Sizes z{static_cast<std::size_t>(shape.num_steps), static_cast<std::size_t>(shape.num_envs),
                static_cast<std::size_t>(shape.obs_dim),
                static_cast<std::size_t>(std::max<std::int64_t>(shape.action_dim, 1))};
  const FrameView* tensor = frames + 1;  // tensor k lives in tensor[k]
  if (ChunkVerdict v = action_fault(tensor[wire::kActions], z, expected); !v.ok()) return v;
  if (ChunkVerdict v = non_finite_fault(tensor, z, shape); !v.ok()) return v;
  if (ChunkVerdict v = flag_fault(tensor, z, static_cast<std::size_t>(shape.state_size)); !v.ok()) return v;
  return episode_fault(tensor, z, episodes, expected.max_episode_steps);
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
