// Content validation of chunks (actors/chunk_check.h): every chunk here is well formed (wire::decode
// accepts it with the env's schema), and each test changes one thing in its content that must be
// refused for one reason, named and counted. A valid chunk of each action kind passes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "actors/chunk_check.h"
#include "actors/wire.h"

namespace apiary::actors {
namespace {

using wire::DType;
using wire::tensor_desc;

constexpr std::int64_t kT = 4, kN = 2, kD = 4, kA = 2;  // Box actions: 2 elements
constexpr std::uint64_t kSession = 0x5e55;
constexpr std::int64_t kLearnerVersion = 42;
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<std::uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A chunk as typed arrays (T = 4 steps, N = 2 lanes, D = 4, time-major), turned into wire frames.
// Lane 0 ends an episode at step 1 (terminated, 10 steps long) and another at step 3 (truncated, 2
// steps: it began after step 1); lane 1 runs on.
struct Chunk {
  wire::Header header;
  bool discrete = true;
  bool log_probs = true;
  std::vector<float> obs = std::vector<float>((kT + 1) * kN * kD, 0.25f);
  std::vector<std::int64_t> actions = {0, 1, 1, 0, 0, 0, 1, 1};
  std::vector<float> box_actions = std::vector<float>(kT * kN * kA, -0.5f);
  std::vector<float> rewards = std::vector<float>(kT * kN, 1.0f);
  std::vector<float> terminated = {0, 0, 1, 0, 0, 0, 0, 0};
  std::vector<float> truncated = {0, 0, 0, 0, 0, 0, 1, 0};
  std::vector<float> next_obs = std::vector<float>(kT * kN * kD, 0.5f);
  std::vector<float> episodes = {10.0f, 10.0f, 2.0f, 2.0f};  // (return, length) rows
  std::vector<float> log_probs_v = std::vector<float>(kT * kN, -0.69f);
  std::vector<float> values = std::vector<float>(kT * kN, 3.0f);
  // An image env's chunk: uint8 observations (obs and next_obs as bytes, of the dtypes below).
  bool images = false;
  DType obs_dtype = DType::kUInt8, next_obs_dtype = DType::kUInt8;
  std::vector<std::uint8_t> obs_u8 = std::vector<std::uint8_t>((kT + 1) * kN * kD, 200);
  std::vector<std::uint8_t> next_obs_u8 = std::vector<std::uint8_t>(kT * kN * kD, 7);
  // A recurrent policy's chunk: each lane's state [N, S] and the episode starts [T, N], consistent
  // with the done flags above (lane 0's second episode begins at step 2).
  std::int64_t state_size = 0;
  std::vector<float> state = {0, 0, 0, 0, 0.5f, -0.25f, 0.125f, 1.0f};  // lane 0 begins an episode
  std::vector<float> starts = {1, 0, 0, 0, 1, 0, 0, 0};

  Chunk() {
    header.kind = wire::MessageKind::kChunk;
    header.actor_id = 1;
    header.sequence = 5;
    header.policy_version = 40;
    header.session = kSession;
    header.stats = {1.0, 0.5, 0.0, 0.25};
  }

  std::vector<std::vector<std::uint8_t>> frames() {
    const std::int64_t episode_rows = static_cast<std::int64_t>(episodes.size() / 2);
    header.tensors = {tensor_desc(images ? obs_dtype : DType::kFloat32, {kT + 1, kN, kD}),
                      discrete ? tensor_desc(DType::kInt64, {kT, kN}) : tensor_desc(DType::kFloat32, {kT, kN, kA}),
                      tensor_desc(DType::kFloat32, {kT, kN}),
                      tensor_desc(DType::kFloat32, {kT, kN}),
                      tensor_desc(DType::kFloat32, {kT, kN}),
                      tensor_desc(images ? next_obs_dtype : DType::kFloat32, {kT, kN, kD}),
                      tensor_desc(DType::kFloat32, {episode_rows, 2})};
    std::vector<std::vector<std::uint8_t>> f = {{},
                                                images ? obs_u8 : bytes_of(obs),
                                                discrete ? bytes_of(actions) : bytes_of(box_actions),
                                                bytes_of(rewards),
                                                bytes_of(terminated),
                                                bytes_of(truncated),
                                                images ? next_obs_u8 : bytes_of(next_obs),
                                                bytes_of(episodes)};
    if (log_probs) {
      header.tensors.push_back(tensor_desc(DType::kFloat32, {kT, kN}));
      header.tensors.push_back(tensor_desc(DType::kFloat32, {kT, kN}));
      f.push_back(bytes_of(log_probs_v));
      f.push_back(bytes_of(values));
    }
    if (state_size > 0) {
      header.tensors.push_back(tensor_desc(DType::kFloat32, {kN, state_size}));
      header.tensors.push_back(tensor_desc(DType::kFloat32, {kT, kN}));
      f.push_back(bytes_of(state));
      f.push_back(bytes_of(starts));
    }
    f[0] = wire::encode_header(header);
    return f;
  }
};

ChunkExpectations expectations(bool discrete = true, std::int64_t state_size = 0) {
  ChunkExpectations e;
  e.state_size = state_size;
  e.num_steps = kT;
  e.num_envs = kN;
  e.obs_dim = kD;
  e.num_actions = discrete ? 2 : 0;
  e.action_dim = discrete ? 0 : kA;
  e.log_probs = true;
  e.max_episode_steps = 500;
  return e;
}

// Decodes `chunk` as the learner does (it must be well formed) and checks it with a gate that has
// assigned actors 0..3.
struct Checked {
  ChunkVerdict verdict;
  wire::DecodeError decoded;
};

Checked check(Chunk& chunk, ChunkGate& gate, std::int64_t learner_version = kLearnerVersion) {
  const auto frames = chunk.frames();
  std::vector<wire::FrameView> views;
  for (const auto& f : frames) views.push_back(wire::FrameView{f.data(), f.size()});
  wire::ChunkSchema schema;
  schema.num_envs = gate.expected().num_envs;
  schema.obs_dim = gate.expected().obs_dim;
  schema.obs_uint8 = gate.expected().obs_uint8;
  schema.action_dim = gate.expected().action_dim;
  schema.log_probs = gate.expected().log_probs;
  schema.state_size = gate.expected().state_size;
  wire::DecodeLimits limits;
  limits.chunk_schema = &schema;
  wire::Header decoded;
  Checked out;
  out.decoded = wire::decode(views.data(), views.size(), limits, decoded);
  out.verdict = gate.check(decoded, views.data(), views.size(), learner_version);
  return out;
}

ChunkGate make_gate(bool discrete = true, std::int64_t state_size = 0) {
  ChunkGate gate(expectations(discrete, state_size), kSession, std::chrono::milliseconds(60000));
  for (std::int32_t id = 0; id < 4; ++id) gate.assign(id);
  return gate;
}

// Checks `chunk` on a fresh gate; it must decode cleanly and be refused for `fault`, with a detail
// that contains `detail_part`, counted once under that reason.
void expect_refused(Chunk chunk, ChunkFault fault, const std::string& detail_part, std::int64_t gate_state_size = -1) {
  ChunkGate gate = make_gate(chunk.discrete, gate_state_size >= 0 ? gate_state_size : chunk.state_size);
  const Checked c = check(chunk, gate);
  if (fault != ChunkFault::kNotAChunk) {
    ASSERT_EQ(c.decoded, wire::DecodeError::kOk) << "not well formed";
  }
  EXPECT_EQ(c.verdict.fault, fault) << chunk_fault_name(c.verdict.fault) << ": " << c.verdict.detail;
  EXPECT_NE(c.verdict.detail.find(detail_part), std::string::npos) << c.verdict.detail << " lacks " << detail_part;
  EXPECT_EQ(gate.count(fault), 1);
  EXPECT_EQ(gate.rejected(), 1);
  EXPECT_EQ(gate.accepted(), 0);
}

// A recurrent policy's chunk: its state and episode starts pass when finite and consistent with the
// done flags; a NaN state, a state of another size, a missing one, a start flag that is not 0/1 or that
// disagrees with where the lane's episode ended, and a memory carried into an episode's first step are
// each refused and counted.
TEST(ChunkCheck, RecurrentChunksCarryAFiniteStateAndConsistentEpisodeStarts) {
  Chunk valid;
  valid.state_size = 4;
  {
    ChunkGate gate = make_gate(true, 4);
    const Checked c = check(valid, gate);
    EXPECT_EQ(c.decoded, wire::DecodeError::kOk);
    EXPECT_TRUE(c.verdict.ok()) << c.verdict.detail;
  }
  Chunk nan_state = valid;
  nan_state.state[6] = kNaN;
  expect_refused(nan_state, ChunkFault::kNonFinite, "state[1, 2]");
  Chunk inf_state = valid;
  inf_state.state[0] = kInf;
  expect_refused(inf_state, ChunkFault::kNonFinite, "state[0, 0]");
  // A state of another size, or none where one is expected (or one where none is): the decoder's
  // schema refuses it, and the gate names what differs.
  Chunk smaller = valid;
  smaller.state_size = 2;
  smaller.state.resize(kN * 2);
  Chunk stateless = valid;
  stateless.state_size = 0;
  const std::tuple<Chunk*, std::int64_t, const char*> sizes[] = {
      {&smaller, 4, "recurrent state of 2 elements per lane, expected 4"},
      {&stateless, 4, "recurrent state of 0 elements per lane, expected 4"},
      {&valid, 0, "expected 0 (the policy has no memory)"}};
  for (const auto& [chunk, expected, detail] : sizes) {
    ChunkGate gate = make_gate(true, expected);
    const Checked c = check(*chunk, gate);
    EXPECT_EQ(c.decoded, wire::DecodeError::kSchema) << detail;
    EXPECT_EQ(c.verdict.fault, ChunkFault::kWrongSize) << c.verdict.detail;
    EXPECT_NE(c.verdict.detail.find(detail), std::string::npos) << c.verdict.detail;
    EXPECT_EQ(gate.count(ChunkFault::kWrongSize), 1);
  }
  Chunk half = valid;
  half.starts[3] = 0.5f;
  expect_refused(half, ChunkFault::kBadFlag, "starts[1, 1] = 0.5");
  Chunk early = valid;  // lane 1 did not end an episode at step 1
  early.starts[5] = 1.0f;
  expect_refused(early, ChunkFault::kBadFlag, "starts[2, 1] = 1 but the lane's episode did not end");
  Chunk missed = valid;  // lane 0 ended one at step 1
  missed.starts[4] = 0.0f;
  expect_refused(missed, ChunkFault::kBadFlag, "starts[2, 0] = 0 but the lane's episode ended");
  Chunk remembers = valid;  // lane 0 begins an episode at step 0 with a memory
  remembers.state[2] = 0.5f;
  expect_refused(remembers, ChunkFault::kBadFlag, "state[0, 2] = 0.5 but the lane's first observation begins an episode");
}

TEST(ChunkCheck, ValidDiscreteAndBoxChunksPass) {
  for (bool discrete : {true, false}) {
    Chunk chunk;
    chunk.discrete = discrete;
    ChunkGate gate = make_gate(discrete);
    const Checked c = check(chunk, gate);
    ASSERT_EQ(c.decoded, wire::DecodeError::kOk);
    EXPECT_TRUE(c.verdict.ok()) << chunk_fault_name(c.verdict.fault) << ": " << c.verdict.detail;
    EXPECT_EQ(gate.accepted(), 1);
    EXPECT_EQ(gate.rejected(), 0);
    EXPECT_EQ(gate.actors().last_sequence(1), 5);
  }
  // Without log-probabilities (DQN), where that is what the actors were told.
  Chunk chunk;
  chunk.log_probs = false;
  ChunkExpectations e = expectations();
  e.log_probs = false;
  ChunkGate gate(e, kSession);
  gate.assign(1);
  EXPECT_TRUE(check(chunk, gate).verdict.ok());
}

// A gate of an image env: uint8 observations expected.
ChunkGate make_image_gate() {
  ChunkExpectations e = expectations();
  e.obs_uint8 = true;
  ChunkGate gate(e, kSession, std::chrono::milliseconds(60000));
  gate.assign(1);
  return gate;
}

TEST(ChunkCheck, ImageChunksPassWithUint8ObservationsAndTheirBytesUnchecked) {
  Chunk chunk;
  chunk.images = true;
  chunk.obs_u8[3] = 255;  // every byte is a valid pixel: nothing to call non-finite
  ChunkGate gate = make_image_gate();
  const Checked c = check(chunk, gate);
  ASSERT_EQ(c.decoded, wire::DecodeError::kOk);
  EXPECT_TRUE(c.verdict.ok()) << chunk_fault_name(c.verdict.fault) << ": " << c.verdict.detail;
  EXPECT_EQ(gate.accepted(), 1);
}

TEST(ChunkCheck, RefusesObservationsOfTheOtherDtypeOrMixedDtypes) {
  // A float chunk where images are expected, and an image chunk where floats are: the decoder's schema
  // refuses both, and the gate names the dtypes.
  {
    Chunk chunk;
    ChunkGate gate = make_image_gate();
    const Checked c = check(chunk, gate);
    EXPECT_EQ(c.decoded, wire::DecodeError::kSchema);
    EXPECT_EQ(c.verdict.fault, ChunkFault::kWrongSize);
    EXPECT_NE(c.verdict.detail.find("observations are float32, expected uint8"), std::string::npos)
        << c.verdict.detail;
    EXPECT_EQ(gate.count(ChunkFault::kWrongSize), 1);
  }
  {
    Chunk chunk;
    chunk.images = true;
    ChunkGate gate = make_gate();
    const Checked c = check(chunk, gate);
    EXPECT_EQ(c.decoded, wire::DecodeError::kSchema);
    EXPECT_EQ(c.verdict.fault, ChunkFault::kWrongSize);
    EXPECT_NE(c.verdict.detail.find("observations are uint8, expected float32"), std::string::npos)
        << c.verdict.detail;
  }
  // uint8 observations with float next observations, or another dtype altogether: not a chunk.
  for (const DType next : {DType::kFloat32, DType::kInt32}) {
    Chunk chunk;
    chunk.images = true;
    chunk.next_obs_dtype = next;
    if (next == DType::kFloat32) chunk.next_obs_u8.resize(chunk.next_obs_u8.size() * 4);
    if (next == DType::kInt32) chunk.next_obs_u8.resize(chunk.next_obs_u8.size() * 4);
    ChunkGate gate = make_image_gate();
    const Checked c = check(chunk, gate);
    EXPECT_EQ(c.verdict.fault, ChunkFault::kNotAChunk) << c.verdict.detail;
    EXPECT_NE(c.verdict.detail.find(std::string("next_obs are ") + wire::dtype_name(next) + " [4, 2, 4]"),
              std::string::npos)
        << c.verdict.detail;
    EXPECT_NE(c.verdict.detail.find("expected uint8 [4, 2, 4]"), std::string::npos) << c.verdict.detail;
  }
  {
    Chunk chunk;
    chunk.images = true;
    chunk.obs_dtype = DType::kInt64;
    chunk.obs_u8.resize(chunk.obs_u8.size() * 8);
    ChunkGate gate = make_image_gate();
    EXPECT_EQ(check(chunk, gate).verdict.fault, ChunkFault::kNotAChunk);
  }
}

TEST(ChunkCheck, RefusesWhatIsNotADecodedChunk) {
  Chunk chunk;
  ChunkGate gate = make_gate();
  auto frames = chunk.frames();
  std::vector<wire::FrameView> views;
  for (const auto& f : frames) views.push_back(wire::FrameView{f.data(), f.size()});
  wire::Header weights = chunk.header;
  weights.kind = wire::MessageKind::kWeights;
  EXPECT_EQ(gate.check(weights, views.data(), views.size(), kLearnerVersion).fault, ChunkFault::kNotAChunk);
  EXPECT_EQ(gate.check(chunk.header, views.data(), views.size() - 1, kLearnerVersion).fault, ChunkFault::kNotAChunk);
  views[3].size -= 4;  // rewards one element short of its shape
  EXPECT_EQ(gate.check(chunk.header, views.data(), views.size(), kLearnerVersion).fault, ChunkFault::kNotAChunk);
  views = {};
  for (const auto& f : frames) views.push_back(wire::FrameView{f.data(), f.size()});
  wire::Header overflow = chunk.header;  // a shape whose byte count wraps: refused, never read
  overflow.tensors[wire::kNextObs].shape = {std::int64_t{1} << 62, std::int64_t{1} << 62, 4, 0};
  EXPECT_EQ(gate.check(overflow, views.data(), views.size(), kLearnerVersion).fault, ChunkFault::kNotAChunk);
  EXPECT_EQ(gate.count(ChunkFault::kNotAChunk), 4);
}

TEST(ChunkCheck, RefusesActorIdsNeverAssigned) {
  for (std::int32_t id : {999, -5, 4}) {
    Chunk chunk;
    chunk.header.actor_id = id;
    expect_refused(chunk, ChunkFault::kUnknownActor, "actor " + std::to_string(id) + " was never assigned");
  }
  // Retired ids are unknown again.
  Chunk chunk;
  ChunkGate gate = make_gate();
  gate.retire(1);
  EXPECT_EQ(check(chunk, gate).verdict.fault, ChunkFault::kUnknownActor);
}

TEST(ChunkCheck, RefusesChunksOfAnotherLearnerSession) {
  Chunk chunk;
  chunk.header.session = kSession + 1;
  expect_refused(chunk, ChunkFault::kOtherSession, "session " + std::to_string(kSession + 1));
}

TEST(ChunkCheck, RefusesReplayedAndOlderSequenceNumbers) {
  ChunkGate gate = make_gate();
  Chunk chunk;
  ASSERT_TRUE(check(chunk, gate).verdict.ok());
  for (int replay = 0; replay < 20; ++replay) {
    const ChunkVerdict v = check(chunk, gate).verdict;
    EXPECT_EQ(v.fault, ChunkFault::kStaleSequence);
    EXPECT_NE(v.detail.find("sequence 5 of actor 1 is not newer than its last accepted 5"), std::string::npos)
        << v.detail;
  }
  chunk.header.sequence = 4;
  EXPECT_EQ(check(chunk, gate).verdict.fault, ChunkFault::kStaleSequence);
  EXPECT_EQ(gate.count(ChunkFault::kStaleSequence), 21);
  chunk.header.sequence = 6;
  EXPECT_TRUE(check(chunk, gate).verdict.ok());
  // Sequences count from 0: a negative one is never new.
  Chunk negative;
  negative.header.actor_id = 2;
  negative.header.sequence = -1;
  EXPECT_EQ(check(negative, gate).verdict.fault, ChunkFault::kStaleSequence);
  negative.header.sequence = 0;
  EXPECT_TRUE(check(negative, gate).verdict.ok());
}

TEST(ChunkCheck, OnlyAcceptedChunksMoveTheSequenceAndAssignStartsAgain) {
  ChunkGate gate = make_gate();
  Chunk bad;
  bad.header.sequence = std::int64_t{1} << 60;
  bad.rewards[3] = kNaN;
  EXPECT_EQ(check(bad, gate).verdict.fault, ChunkFault::kNonFinite);
  Chunk good;  // sequence 5: the refused chunk's huge number was not recorded
  EXPECT_TRUE(check(good, gate).verdict.ok());
  EXPECT_EQ(gate.actors().last_sequence(1), 5);
  // A restarted actor process is welcomed again and counts from 0.
  gate.assign(1);
  EXPECT_EQ(gate.actors().last_sequence(1), ActorBook::kNoSequence);
  good.header.sequence = 0;
  EXPECT_TRUE(check(good, gate).verdict.ok());
}

TEST(ChunkCheck, RefusesPolicyVersionsNewerThanTheLearnersOrNegative) {
  Chunk future;
  future.header.policy_version = 1000000000000000;  // 10^15
  expect_refused(future, ChunkFault::kPolicyVersion, "newer than the learner's 42");
  Chunk next;
  next.header.policy_version = kLearnerVersion + 1;
  expect_refused(next, ChunkFault::kPolicyVersion, "policy version 43");
  Chunk negative;
  negative.header.policy_version = -1;
  expect_refused(negative, ChunkFault::kPolicyVersion, "is negative");
  // The learner's own version and older ones pass (policy lag is the learner's business).
  for (std::int64_t v : {kLearnerVersion, std::int64_t{0}}) {
    Chunk chunk;
    chunk.header.policy_version = v;
    ChunkGate gate = make_gate();
    EXPECT_TRUE(check(chunk, gate).verdict.ok()) << v;
  }
}

TEST(ChunkCheck, RefusesSizesOtherThanTheActorWasTold) {
  // T and N other than told, through expectations (the chunk's own shapes are consistent).
  const auto refused_with = [](ChunkExpectations e, const std::string& part) {
    Chunk chunk;
    ChunkGate gate(e, kSession);
    gate.assign(1);
    const ChunkVerdict v = check(chunk, gate).verdict;
    EXPECT_EQ(v.fault, ChunkFault::kWrongSize) << v.detail;
    EXPECT_NE(v.detail.find(part), std::string::npos) << v.detail;
  };
  ChunkExpectations e = expectations();
  e.num_steps = 25000;
  refused_with(e, "T x N x D = 4 x 2 x 4, expected 25000 x 2 x 4");
  e = expectations();
  e.num_envs = 3;
  refused_with(e, "expected 4 x 3 x 4");
  e = expectations();
  e.obs_dim = 3;
  refused_with(e, "expected 4 x 2 x 3");
  e = expectations();
  e.log_probs = false;
  refused_with(e, "log-probabilities and values present");
  // Box actions where Discrete ones were told, and the reverse.
  Chunk box;
  box.discrete = false;
  ChunkGate gate = make_gate(/*discrete=*/true);
  const auto frames = box.frames();
  std::vector<wire::FrameView> views;
  for (const auto& f : frames) views.push_back(wire::FrameView{f.data(), f.size()});
  const ChunkVerdict v = gate.check(box.header, views.data(), views.size(), kLearnerVersion);
  EXPECT_EQ(v.fault, ChunkFault::kWrongSize);
  EXPECT_NE(v.detail.find("actions float32 [T, N, 2], expected int64 [T, N]"), std::string::npos) << v.detail;
  e = expectations(/*discrete=*/false);
  e.action_dim = 3;
  ChunkGate box_gate(e, kSession);
  box_gate.assign(1);
  EXPECT_EQ(box_gate.check(box.header, views.data(), views.size(), kLearnerVersion).fault, ChunkFault::kWrongSize);
}

TEST(ChunkCheck, RefusesNonFiniteOrNegativeTimingStats) {
  for (double bad : {std::nan(""), -1.0, std::numeric_limits<double>::infinity()}) {
    Chunk chunk;
    chunk.header.stats[2] = bad;
    expect_refused(chunk, ChunkFault::kBadTimingStats, "timing stat 2");
  }
}

TEST(ChunkCheck, RefusesDiscreteActionsOutsideTheActionSpace) {
  for (std::int64_t bad : {std::int64_t{7}, std::int64_t{-1}, std::int64_t{1} << 40, std::int64_t{2}}) {
    Chunk chunk;
    chunk.actions[5] = bad;  // step 2, lane 1
    expect_refused(chunk, ChunkFault::kActionOutOfRange, "actions[2, 1] = " + std::to_string(bad) + " is outside 0..1");
  }
}

TEST(ChunkCheck, RefusesNonFiniteBoxActions) {
  for (float bad : {kNaN, kInf, -kInf}) {
    Chunk chunk;
    chunk.discrete = false;
    chunk.box_actions[7] = bad;  // step 1, lane 1, element 1
    expect_refused(chunk, ChunkFault::kActionOutOfRange, "actions[1, 1, 1]");
  }
  // Box actions travel unclipped: large finite values pass.
  Chunk chunk;
  chunk.discrete = false;
  chunk.box_actions[0] = 1e30f;
  ChunkGate gate = make_gate(false);
  EXPECT_TRUE(check(chunk, gate).verdict.ok());
}

TEST(ChunkCheck, RefusesEveryNonFiniteFloat) {
  struct Case {
    const char* where;
    std::vector<float> Chunk::*field;
    std::size_t index;
  };
  const Case cases[] = {{"obs[4, 1, 3]", &Chunk::obs, 4 * kN * kD + 1 * kD + 3},  // the bootstrap row T
                        {"obs[0, 0, 0]", &Chunk::obs, 0},
                        {"next_obs[2, 0, 1]", &Chunk::next_obs, 2 * kN * kD + 1},
                        {"rewards[3, 1]", &Chunk::rewards, 7},
                        {"log_probs[0, 1]", &Chunk::log_probs_v, 1},
                        {"values[1, 0]", &Chunk::values, 2}};
  for (const Case& c : cases)
    for (float bad : {kNaN, kInf, -kInf}) {
      Chunk chunk;
      (chunk.*c.field)[c.index] = bad;
      expect_refused(chunk, ChunkFault::kNonFinite, c.where);
    }
}

TEST(ChunkCheck, RefusesFlagsOtherThanExactlyZeroOrOne) {
  for (float bad : {2.0f, -1.0f, 0.5f, kNaN}) {
    Chunk t;
    t.terminated[1] = bad;
    expect_refused(t, ChunkFault::kBadFlag, "terminated[0, 1]");
    Chunk u;
    u.truncated[5] = bad;
    expect_refused(u, ChunkFault::kBadFlag, "truncated[2, 1]");
  }
}

TEST(ChunkCheck, RefusesImpossibleEpisodeStatistics) {
  Chunk nan_return;
  nan_return.episodes[0] = kNaN;
  expect_refused(nan_return, ChunkFault::kBadEpisode, "episode 0 (step 1, lane 0): return nan");
  for (float bad : {0.0f, -3.0f, 1.5f, 501.0f, kNaN, kInf}) {  // the time limit is 500
    Chunk length;
    length.episodes[1] = bad;
    expect_refused(length, ChunkFault::kBadEpisode, "is not a whole number in [1, 500]");
  }
  // The second episode of lane 0 began after step 1 and ended at step 3: it cannot be 3 steps long.
  Chunk too_long;
  too_long.episodes[3] = 3.0f;
  expect_refused(too_long, ChunkFault::kBadEpisode, "previous episode ended 2 steps before");
  // One row per ended episode, no more, no fewer.
  Chunk extra;
  extra.episodes.insert(extra.episodes.end(), {1.0f, 1.0f});
  expect_refused(extra, ChunkFault::kBadEpisode, "3 episode rows for 2 ended episodes");
  Chunk missing;
  missing.episodes.resize(2);
  expect_refused(missing, ChunkFault::kBadEpisode, "1 episode rows for 2 ended episodes");
  // Without a time limit, lengths up to int32 pass.
  Chunk long_episode;
  long_episode.episodes[1] = 1e6f;
  ChunkExpectations e = expectations();
  e.max_episode_steps = 0;
  ChunkGate gate(e, kSession);
  gate.assign(1);
  EXPECT_TRUE(check(long_episode, gate).verdict.ok());
}

TEST(ChunkCheck, GateCountsEveryReasonUnderItsNameAndRateLimitsTheLog) {
  ChunkGate gate = make_gate();
  Chunk nan;
  nan.rewards[0] = kNaN;
  Chunk flag;
  flag.terminated[0] = 2.0f;
  const ChunkVerdict first = check(nan, gate).verdict;
  const std::string line = gate.log_line(first, 1, "tcp://127.0.0.1:5555");
  EXPECT_NE(line.find("refused a chunk from actor 1 (tcp://127.0.0.1:5555): non_finite: rewards[0, 0] = nan (1 so far"),
            std::string::npos)
      << line;
  for (int i = 0; i < 9; ++i) EXPECT_EQ(gate.log_line(check(nan, gate).verdict, 1, "peer"), "");
  EXPECT_NE(gate.log_line(check(flag, gate).verdict, 1, "peer"), "");  // another reason, its own limit
  EXPECT_EQ(gate.log_line(ChunkVerdict{}, 1, "peer"), "");
  EXPECT_EQ(gate.count(ChunkFault::kNonFinite), 10);
  EXPECT_EQ(gate.count(ChunkFault::kBadFlag), 1);
  EXPECT_EQ(gate.rejected(), 11);

  const auto metrics = gate.metrics();
  ASSERT_EQ(metrics.size(), static_cast<std::size_t>(kNumChunkFaults));  // the total and one per reason
  EXPECT_EQ(metrics[0].first, "chunks_rejected");
  EXPECT_EQ(metrics[0].second, 11.0);
  std::vector<std::string> names;
  for (int i = 1; i < kNumChunkFaults; ++i) names.push_back(chunk_fault_name(static_cast<ChunkFault>(i)));
  for (std::size_t i = 1; i < metrics.size(); ++i) {
    EXPECT_EQ(metrics[i].first, "chunks_rejected_" + names[i - 1]);
    for (std::size_t j = 0; j < i - 1; ++j) EXPECT_NE(names[i - 1], names[j]) << "two reasons share a name";
  }
  for (const auto& [name, value] : metrics) {
    if (name == "chunks_rejected_non_finite") {
      EXPECT_EQ(value, 10.0);
    }
    if (name == "chunks_rejected_bad_flag") {
      EXPECT_EQ(value, 1.0);
    }
  }

  // With no interval every refusal is logged, with the count so far.
  ChunkGate every(expectations(), kSession, std::chrono::milliseconds(0));
  every.assign(1);
  EXPECT_NE(every.log_line(check(nan, every).verdict, 1, "p").find("(1 so far)"), std::string::npos);
  EXPECT_NE(every.log_line(check(nan, every).verdict, 1, "p").find("(2 so far)"), std::string::npos);
}

TEST(ChunkCheck, ImpossibleExpectationsAreAProgrammingError) {
  ChunkExpectations e = expectations();
  e.num_steps = 0;
  EXPECT_THROW(ChunkGate(e, kSession), std::invalid_argument);
  e = expectations();
  e.action_dim = 2;  // both Discrete and Box
  EXPECT_THROW(ChunkGate(e, kSession), std::invalid_argument);
  e = expectations();
  e.max_episode_steps = -1;
  EXPECT_THROW(ChunkGate(e, kSession), std::invalid_argument);
}

}  // namespace
}  // namespace apiary::actors
