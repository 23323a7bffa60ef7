// Content validation of trajectory chunks that arrive over the wire. wire::decode (wire.h)
// checks that a message is well formed: sizes, dtypes, shapes. This file checks what the bytes say, so
// that a chunk which decodes cleanly but would poison training (an action index outside the action
// space, a NaN reward, a flag of 2, a replayed sequence number, a policy version from the future...)
// is dropped and counted, never learned from. No LibTorch and no ZeroMQ: it reads the decoded frame
// views, so the libFuzzer target builds it with clang alongside wire.cpp.
//
// Contract, for the learner's chunk source:
//   - Call `ChunkGate::check` on every message that wire::decode accepted as a kChunk (with a
//     ChunkSchema), before anything else reads its tensors. A verdict other than kOk means: drop the
//     chunk, nothing of it (steps, episodes, timing stats) counts anywhere. The gate has counted it;
//     `ChunkGate::log_line` gives a rate-limited line to log.
//   - Call `ChunkGate::assign(actor_id)` whenever the learner welcomes an actor (hello answered, id
//     given). A chunk from an id that was never assigned in this learner's session is refused; an
//     actor that joined an earlier session must say hello again. Assigning clears the actor's
//     sequence history, because a restarted actor process counts its chunks from 0 again.
//   - `check` records a chunk's sequence number only when the chunk passes every check, so a refused
//     chunk (whatever number it claims) never blocks the actor's later chunks.
//   - Dropping chunks for policy lag (actors.max_policy_lag) stays the learner's business: a chunk
//     older than the learner's version passes here; a newer one never does.
//   - Not thread-safe: one gate per learner thread that receives chunks.
//   - Never throws for any content; it throws std::invalid_argument only for impossible expectations
//     (ChunkExpectations::validate), which is a programming error of the caller.
// The checks run in the order of ChunkFault, cheap header checks first, and the first failure is the
// verdict; every float is read with memcpy, so frames need no alignment.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/wire.h"

namespace apiary::actors {

// Why a chunk was refused. kOk is 0; the rest index the gate's counters. chunk_fault_name gives each
// a snake_case name for metrics ("chunks_rejected_<name>").
enum class ChunkFault : int {
  kOk = 0,
  kNotAChunk,        // not a message wire::decode accepted as a chunk: wrong kind, tensor count,
                     // dtypes or shapes, or a frame whose size is not its shape's bytes
  kUnknownActor,     // an actor id this learner session never assigned (999, -5)
  kOtherSession,     // acted with weights of another learner session (an earlier run, before a restart)
  kStaleSequence,    // sequence number not newer than the last accepted one from that actor (a replay)
  kPolicyVersion,    // policy version newer than the learner's, or negative
  kWrongSize,        // T, N, D or the action shape not what the actor was told
  kBadTimingStats,   // header stats (cumulative seconds) non-finite or negative
  kActionOutOfRange, // a Discrete action index outside [0, n), or a Box action that is not finite
  kNonFinite,        // NaN or inf in an observation, next observation, reward, log-prob or value
  kBadFlag,          // a terminated / truncated value that is not exactly 0 or 1
  kBadEpisode,       // impossible episode statistics: non-finite return, length not a whole number in
                     // [1, max_episode_steps], longer than the steps since that lane's previous end in
                     // the chunk, or a count that is not the number of ended episodes (done flags)
};
inline constexpr int kNumChunkFaults = 12;
const char* chunk_fault_name(ChunkFault fault);

// What every chunk from this learner's actors must look like; all actors are told the same. Every
// size of the schema is set (num_steps, num_envs and obs_dim >= 1).
struct ChunkExpectations : wire::ChunkSchema {
  std::int64_t num_actions = 0;        // Discrete(n): indices 0..n-1 (the space's start removed); 0 for Box
  std::int64_t max_episode_steps = 0;  // the env's time limit; 0: none (lengths only bounded by int32)
  // Throws std::invalid_argument naming the field when these cannot describe any chunk.
  void validate() const;
};

// The verdict on one chunk: the fault (kOk when it may be learned from) and, for a refusal, a
// sentence naming what was wrong and where ("actions[3, 1] = 7 is outside Discrete(2)").
struct ChunkVerdict {
  ChunkFault fault = ChunkFault::kOk;
  std::string detail;
  bool ok() const { return fault == ChunkFault::kOk; }
};

// The actors a learner session has assigned, each with the last sequence number accepted from it.
class ActorBook {
 public:
  void assign(std::int32_t actor_id);  // known from now on; sequence history cleared
  void retire(std::int32_t actor_id);  // unknown again (its chunks are refused)
  bool assigned(std::int32_t actor_id) const { return last_.count(actor_id) != 0; }
  // The last sequence accepted from `actor_id`, or kNoSequence before its first accepted chunk.
  std::int64_t last_sequence(std::int32_t actor_id) const;
  void accepted(std::int32_t actor_id, std::int64_t sequence);  // no-op for an unassigned id
  static constexpr std::int64_t kNoSequence = -1;  // sequences count from 0, so any is newer

 private:
  std::unordered_map<std::int32_t, std::int64_t> last_;
};

// The learner's side at the time of a check.
struct LearnerState {
  std::uint64_t session = 0;         // this learner run's session (header.session of its weights)
  std::int64_t policy_version = 0;   // the learner's current policy version
  const ActorBook* actors = nullptr; // assigned ids and their last sequences (required)
};

// Checks one decoded chunk: `header` and `frames` (frames[0] the header frame, frames[1 + i] tensor
// i) as wire::decode returned them. Pure: reads its arguments only. The reasons are tried in the order
// of ChunkFault and the first that applies is returned.
ChunkVerdict check_chunk(const wire::Header& header, const wire::FrameView* frames, std::size_t num_frames,
                         const ChunkExpectations& expected, const LearnerState& learner);

// check_chunk with the state kept: the actor book, per-reason counters and a rate-limited log.
class ChunkGate {
 public:
  // `log_interval`: at most one log line per reason per interval (0: every refusal is logged).
  ChunkGate(const ChunkExpectations& expected, std::uint64_t session,
            std::chrono::milliseconds log_interval = std::chrono::milliseconds(1000));

  void assign(std::int32_t actor_id) { book_.assign(actor_id); }
  void retire(std::int32_t actor_id) { book_.retire(actor_id); }
  const ActorBook& actors() const { return book_; }
  const ChunkExpectations& expected() const { return expected_; }

  // check_chunk against this gate's session and book; counts the verdict and, when it is kOk,
  // records the chunk's sequence number as the actor's newest.
  ChunkVerdict check(const wire::Header& header, const wire::FrameView* frames, std::size_t num_frames,
                     std::int64_t learner_policy_version);

  std::int64_t accepted() const { return accepted_; }
  std::int64_t rejected() const;  // every fault together
  std::int64_t count(ChunkFault fault) const { return counts_[static_cast<std::size_t>(fault)]; }
  // "chunks_rejected" and "chunks_rejected_<name>" for every reason, zeros included (stable columns).
  std::vector<std::pair<std::string, double>> metrics() const;
  // The line to log for a refusal ("refused a chunk from actor 3 (PEER): bad_flag: ... (12 so far, 11
  // not logged)"), or "" for kOk and for refusals inside the interval of that reason's last line.
  std::string log_line(const ChunkVerdict& verdict, std::int32_t actor_id, const std::string& peer);

 private:
  ChunkExpectations expected_;
  std::uint64_t session_;
  std::chrono::milliseconds log_interval_;
  ActorBook book_;
  std::int64_t accepted_ = 0;
  std::array<std::int64_t, kNumChunkFaults> counts_{};
  std::array<std::int64_t, kNumChunkFaults> last_log_ms_{};
  std::array<std::int64_t, kNumChunkFaults> suppressed_{};
  std::array<bool, kNumChunkFaults> logged_once_{};
};

}  // namespace apiary::actors
