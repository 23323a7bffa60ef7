// The in-place path of the actor (issue 16): the policy reads the env's own observation buffer
// (torch::from_blob on the env's pointer), actions go back from the device they were sampled on, and
// the chunk is built from views of the env's rewards and flags. On a GPU this is what keeps a rollout
// off the host; here it runs with host pointers, and must give exactly the copying path's chunks.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "envs/registry.h"
#include "tests/common/pixels_env.h"

namespace apiary::actors {
namespace {

// Acts with the wrapped policy, remembering where each observation batch it was given lives.
class RecordingPolicy final : public agents::Policy {
 public:
  explicit RecordingPolicy(std::shared_ptr<agents::Policy> inner) : inner_(std::move(inner)) {}
  agents::PolicyAct act(const torch::Tensor& obs, const agents::ActContext& ctx) override {
    seen.push_back(obs.data_ptr());
    return inner_->act(obs, ctx);
  }
  torch::nn::Module& module() override { return inner_->module(); }
  std::vector<const void*> seen;

 private:
  std::shared_ptr<agents::Policy> inner_;
};

std::shared_ptr<agents::Policy> fresh_policy(const envs::EnvSpec& spec) {
  torch::manual_seed(11);  // the same weights for every actor of a comparison
  return std::make_shared<agents::ActorCriticPolicy>(agents::make_actor_critic(spec));
}

envs::VecEnvConfig lanes(std::int32_t n, std::int32_t max_episode_steps) {
  envs::VecEnvConfig c;
  c.num_envs = n;
  c.threads = 1;
  c.options[envs::kMaxEpisodeStepsOption] = max_episode_steps;
  return c;
}

// Three chunks of `steps` steps from 8 lanes, every tensor cloned (the actor reuses its buffers).
std::vector<agents::TrajectoryChunk> rollouts(const std::string& id, bool in_place, std::int32_t steps,
                                              std::int32_t max_episode_steps) {
  const envs::VecEnvConfig c = lanes(8, max_episode_steps);
  auto env = envs::make_env(id, c);
  ActorOptions options;
  options.in_place = in_place;
  Actor actor(std::move(env), fresh_policy(envs::env_spec(id, c.options)), options);
  actor.reset(5);
  torch::manual_seed(23);  // the same action samples on both paths
  std::vector<agents::TrajectoryChunk> out;
  for (int k = 0; k < 3; ++k) {
    agents::TrajectoryChunk chunk = actor.collect(steps, agents::ActContext{}, k);
    for (torch::Tensor* t : {&chunk.obs, &chunk.next_obs, &chunk.actions, &chunk.log_probs, &chunk.values,
                             &chunk.rewards, &chunk.terminated, &chunk.truncated})
      *t = t->clone();
    out.push_back(chunk);
  }
  return out;
}

void expect_same_chunks(const std::string& id, std::int32_t steps, std::int32_t max_episode_steps) {
  const auto copied = rollouts(id, false, steps, max_episode_steps);
  const auto in_place = rollouts(id, true, steps, max_episode_steps);
  std::size_t episodes = 0, truncations = 0;
  for (std::size_t k = 0; k < copied.size(); ++k) {
    const agents::TrajectoryChunk& a = copied[k];
    const agents::TrajectoryChunk& b = in_place[k];
    EXPECT_EQ(a.sequence, b.sequence);
    EXPECT_EQ(a.policy_version, b.policy_version);
    const std::vector<std::pair<const char*, std::pair<torch::Tensor, torch::Tensor>>> fields = {
        {"obs", {a.obs, b.obs}},           {"next_obs", {a.next_obs, b.next_obs}},
        {"actions", {a.actions, b.actions}}, {"log_probs", {a.log_probs, b.log_probs}},
        {"values", {a.values, b.values}},  {"rewards", {a.rewards, b.rewards}},
        {"terminated", {a.terminated, b.terminated}}, {"truncated", {a.truncated, b.truncated}}};
    for (const auto& [name, pair] : fields) {
      EXPECT_EQ(pair.first.scalar_type(), pair.second.scalar_type()) << id << " " << name;
      EXPECT_TRUE(torch::equal(pair.first, pair.second)) << id << " chunk " << k << ": " << name << " differs";
    }
    ASSERT_EQ(a.episodes.size(), b.episodes.size()) << id << " chunk " << k;
    for (std::size_t i = 0; i < a.episodes.size(); ++i) {
      EXPECT_EQ(a.episodes[i].episode_return, b.episodes[i].episode_return);
      EXPECT_EQ(a.episodes[i].episode_length, b.episodes[i].episode_length);
    }
    episodes += a.episodes.size();
    truncations += static_cast<std::size_t>(a.truncated.sum().item<float>());
  }
  // The comparison covers what is hardest to get right: lanes that end and reset mid-chunk, with
  // next_obs taking the final observation there, and truncation by the time limit.
  EXPECT_GT(episodes, 8u) << id;
  EXPECT_GT(truncations, 0u) << id;
}

TEST(InPlace, ThePolicyReadsTheEnvsObservationBufferItself) {
  const envs::VecEnvConfig c = lanes(8, 500);
  const envs::EnvSpec spec = envs::env_spec("CartPole-v1", c.options);
  for (const bool in_place : {true, false}) {
    auto recording = std::make_shared<RecordingPolicy>(fresh_policy(spec));
    ActorOptions options;
    options.in_place = in_place;
    Actor actor(envs::make_env("CartPole-v1", c), recording, options);
    actor.reset(1);
    const agents::TrajectoryChunk& chunk = actor.collect(16, agents::ActContext{}, 0);
    const void* env_obs = actor.env().buffers().obs;
    ASSERT_EQ(recording->seen.size(), 16u);
    for (const void* p : recording->seen) {
      if (in_place)
        EXPECT_EQ(p, env_obs) << "in place, the policy's input is the env's buffer: no copy before acting";
      else
        EXPECT_NE(p, env_obs) << "the copying path feeds the policy from the chunk";
    }
    EXPECT_EQ(actor.in_place(), in_place);
    EXPECT_TRUE(chunk.obs.device().is_cpu());
  }
}

TEST(InPlace, DiscreteChunksAreTheCopyingPathsBitForBit) {
  // CartPole's episodes end early under a random policy; a 40-step limit adds truncations.
  expect_same_chunks("CartPole-v1", 64, 40);
  expect_same_chunks("Acrobot-v1", 32, 20);  // three actions
}

TEST(InPlace, ImageChunksAreTheCopyingPathsBitForBit) {
  // uint8 observations: the policy reads the env's bytes in place, and the chunk keeps them as uint8.
  testing_envs::register_pixels();
  expect_same_chunks("TestPixels-v0", 32, 6);
}

TEST(InPlace, ContinuousChunksAreTheCopyingPathsBitForBit) {
  expect_same_chunks("Pendulum-v1", 64, 50);
  expect_same_chunks("MountainCarContinuous-v0", 64, 30);
}

TEST(InPlace, TheEnvAndThePolicyMustShareADevice) {
  const envs::VecEnvConfig c = lanes(4, 100);
  ActorOptions options;
  options.in_place = true;
  options.device = torch::Device(torch::kCUDA);  // constructing the device needs no GPU
  try {
    Actor actor(envs::make_env("CartPole-v1", c), fresh_policy(envs::env_spec("CartPole-v1", c.options)), options);
    FAIL() << "an env on the CPU read in place by a policy on cuda must be refused";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the env is on cpu and the policy on cuda"), std::string::npos) << what;
  }
}

TEST(InPlace, HostCopyKeepsTheHeaderAndEpisodes) {
  auto chunks = rollouts("CartPole-v1", true, 32, 20);
  const agents::TrajectoryChunk copy = host_copy(chunks[1]);
  EXPECT_EQ(copy.sequence, chunks[1].sequence);
  EXPECT_EQ(copy.episodes.size(), chunks[1].episodes.size());
  EXPECT_TRUE(torch::equal(copy.next_obs, chunks[1].next_obs));
  EXPECT_TRUE(torch::equal(copy.actions, chunks[1].actions));
  EXPECT_TRUE(copy.rewards.device().is_cpu());
}

}  // namespace
}  // namespace apiary::actors
