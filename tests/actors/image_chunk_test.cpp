// uint8 observations (images) from the env to the learner's buffers, bit for bit: the actor's chunk,
// the wire (encode, decode with the image schema, decode_chunk), and replay (uniform and n-step).
// Nothing on the way widens them to float.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include <torch/torch.h>
#include <zmq.hpp>

#include "actors/actor.h"
#include "actors/codec.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "envs/registry.h"
#include "learner/nstep.h"
#include "learner/replay_buffer.h"
#include "tests/common/pixels_env.h"

namespace apiary::actors {
namespace {

constexpr std::int32_t kLanes = 4, kSteps = 12;

// A chunk of TestPixels-v0 from the copying actor, with the env's observation after every step.
struct Rollout {
  agents::TrajectoryChunk chunk;
  std::vector<std::vector<std::uint8_t>> env_obs;  // [T+1] rows of N * D bytes, as the env held them
};

Rollout rollout() {
  testing_envs::register_pixels();
  envs::VecEnvConfig c;
  c.num_envs = kLanes;
  c.threads = 1;
  auto env = envs::make_env("TestPixels-v0", c);
  torch::manual_seed(3);
  auto policy = std::make_shared<agents::ActorCriticPolicy>(agents::make_actor_critic(env->spec()));
  Actor actor(std::move(env), policy, ActorOptions{});
  actor.reset(17);
  Rollout r;
  const std::int64_t d = actor.env().spec().obs_dim();
  // Step the env once per collected step by collecting one step at a time, recording its buffer.
  r.env_obs.emplace_back(actor.env().buffers().obs_u8, actor.env().buffers().obs_u8 + kLanes * d);
  std::vector<agents::TrajectoryChunk> pieces;
  for (std::int32_t t = 0; t < kSteps; ++t) {
    agents::TrajectoryChunk piece = actor.collect(1, agents::ActContext{}, 0);
    for (torch::Tensor* x : {&piece.obs, &piece.next_obs, &piece.actions, &piece.log_probs, &piece.values,
                             &piece.rewards, &piece.terminated, &piece.truncated})
      *x = x->clone();
    pieces.push_back(piece);
    r.env_obs.emplace_back(actor.env().buffers().obs_u8, actor.env().buffers().obs_u8 + kLanes * d);
  }
  // One chunk of kSteps steps, stitched from the one-step pieces.
  std::vector<torch::Tensor> obs{pieces[0].obs[0]}, next_obs, actions, rewards, terminated, truncated, lp, v;
  for (const auto& p : pieces) {
    obs.push_back(p.obs[1]);
    next_obs.push_back(p.next_obs[0]);
    actions.push_back(p.actions[0]);
    rewards.push_back(p.rewards[0]);
    terminated.push_back(p.terminated[0]);
    truncated.push_back(p.truncated[0]);
    lp.push_back(p.log_probs[0]);
    v.push_back(p.values[0]);
    r.chunk.episodes.insert(r.chunk.episodes.end(), p.episodes.begin(), p.episodes.end());
  }
  r.chunk.obs = torch::stack(obs);
  r.chunk.next_obs = torch::stack(next_obs);
  r.chunk.actions = torch::stack(actions);
  r.chunk.rewards = torch::stack(rewards);
  r.chunk.terminated = torch::stack(terminated);
  r.chunk.truncated = torch::stack(truncated);
  r.chunk.log_probs = torch::stack(lp);
  r.chunk.values = torch::stack(v);
  return r;
}

TEST(ImageChunks, TheActorKeepsTheEnvsBytesAsUint8) {
  const Rollout r = rollout();
  ASSERT_EQ(r.chunk.obs.scalar_type(), torch::kUInt8);
  ASSERT_EQ(r.chunk.next_obs.scalar_type(), torch::kUInt8);
  const std::int64_t d = 2 * 3 * 2;
  ASSERT_EQ(r.chunk.obs.sizes(), (std::vector<std::int64_t>{kSteps + 1, kLanes, d}));
  for (std::int32_t t = 0; t <= kSteps; ++t)
    EXPECT_EQ(0, std::memcmp(r.chunk.obs[t].contiguous().data_ptr<std::uint8_t>(), r.env_obs[t].data(), kLanes * d))
        << "step " << t;
  // Where an episode ended, next_obs holds the final frame (position 3); elsewhere the next obs.
  std::int64_t ended = 0;
  for (std::int32_t t = 0; t < kSteps; ++t)
    for (std::int32_t i = 0; i < kLanes; ++i) {
      const bool terminated = r.chunk.terminated[t][i].item<float>() == 1.0f;
      const bool truncated = r.chunk.truncated[t][i].item<float>() == 1.0f;
      const std::uint8_t next_position = r.chunk.next_obs[t][i][0].item<std::uint8_t>();
      const std::uint8_t next_steps = r.chunk.next_obs[t][i][1].item<std::uint8_t>();
      if (terminated) {
        ++ended;
        EXPECT_EQ(next_position, 3);
      } else if (truncated) {  // the time limit (8 steps) cut the episode: its last frame, not the reset one
        ++ended;
        EXPECT_EQ(next_steps, 80);
      } else {
        EXPECT_EQ(next_position, r.chunk.obs[t + 1][i][0].item<std::uint8_t>());
        EXPECT_EQ(next_steps, r.chunk.obs[t + 1][i][1].item<std::uint8_t>());
      }
    }
  EXPECT_GT(ended, 0) << "the rollout must cover episodes that end";
}

TEST(ImageChunks, SurviveTheWireBitForBit) {
  const Rollout r = rollout();
  const std::vector<wire::OutFrame> out = encode_chunk(r.chunk, 77, {});
  auto frames = std::make_shared<std::vector<zmq::message_t>>();
  for (const auto& f : out) frames->emplace_back(f.data, f.size);
  const std::vector<wire::FrameView> views = frame_views(*frames);
  wire::ChunkSchema schema;
  schema.num_envs = kLanes;
  schema.obs_dim = 12;
  schema.obs_uint8 = true;
  schema.log_probs = true;
  wire::DecodeLimits limits;
  limits.chunk_schema = &schema;
  wire::Header header;
  ASSERT_EQ(wire::decode(views.data(), views.size(), limits, header), wire::DecodeError::kOk);
  EXPECT_EQ(header.tensors[wire::kObs].dtype, wire::DType::kUInt8);
  EXPECT_EQ(header.tensors[wire::kObs].nbytes(), static_cast<std::size_t>((kSteps + 1) * kLanes * 12))
      << "one byte a pixel on the wire";
  const agents::TrajectoryChunk back = decode_chunk(header, frames);
  EXPECT_TRUE(torch::equal(back.obs, r.chunk.obs));
  EXPECT_TRUE(torch::equal(back.next_obs, r.chunk.next_obs));
  EXPECT_EQ(back.obs.scalar_type(), torch::kUInt8);
  // The same message is refused by a learner of a float env (another schema).
  schema.obs_uint8 = false;
  EXPECT_EQ(wire::decode(views.data(), views.size(), limits, header), wire::DecodeError::kSchema);
}

TEST(ImageChunks, ReplayStoresUint8AndGivesTheSameBytesBack) {
  const Rollout r = rollout();
  const std::int64_t d = 12;
  learner::ReplayBuffer replay(64, d, {}, torch::kLong, torch::kCPU, torch::kUInt8);
  learner::Transitions t;
  t.obs = r.chunk.obs.slice(0, 0, kSteps).reshape({kSteps * kLanes, d});
  t.next_obs = r.chunk.next_obs.reshape({kSteps * kLanes, d});
  t.actions = r.chunk.actions.reshape({kSteps * kLanes});
  t.returns = r.chunk.rewards.reshape({kSteps * kLanes});
  t.discounts = torch::ones({kSteps * kLanes});
  const torch::Tensor slots = replay.add(t);
  const learner::ReplaySample back = replay.gather(slots);
  EXPECT_EQ(back.obs.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(back.obs, t.obs));
  EXPECT_TRUE(torch::equal(back.next_obs, t.next_obs));
  // A float batch is refused rather than narrowed.
  learner::Transitions wrong = t;
  wrong.obs = t.obs.to(torch::kFloat);
  wrong.next_obs = t.next_obs.to(torch::kFloat);
  EXPECT_THROW(replay.add(wrong), c10::Error);
  // n-step windows keep the dtype too.
  learner::NStepBuffer nstep(kLanes, 3, 0.99, d, torch::kCPU, torch::kUInt8);
  std::int64_t emitted = 0;
  for (std::int32_t s = 0; s < kSteps; ++s) {
    const learner::Transitions w = nstep.push(r.chunk.obs[s], r.chunk.actions[s], r.chunk.rewards[s],
                                              r.chunk.terminated[s], r.chunk.truncated[s], r.chunk.next_obs[s]);
    if (w.size() == 0) continue;
    EXPECT_EQ(w.obs.scalar_type(), torch::kUInt8);
    EXPECT_EQ(w.next_obs.scalar_type(), torch::kUInt8);
    replay.add(w);
    emitted += w.size();
  }
  EXPECT_GT(emitted, 0);
}

}  // namespace
}  // namespace apiary::actors
