// Recurrent PPO (policy.recurrent): the actor keeps each lane's memory and zeroes it exactly where an
// episode begins, the chunk carries the start state and the episode starts, PPO's update replays the
// core over whole lanes to the rollout's own log-probabilities and values, in fp32 and bf16, with two
// data-parallel ranks equal to one process, and resumes exactly; and with an LSTM it learns CartPole
// without velocities, which the same network without the core does not.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "actors/actor.h"
#include "actors/codec.h"
#include "agents/policy.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/ppo/ppo.h"
#include "learner/ppo/ppo_config.h"
#include "tests/common/algorithm_checks.h"
#include "tests/common/learning_smoke.h"

namespace apiary::learner {
namespace {

constexpr std::int32_t kRecLanes = 4, kRecSteps = 48;

TrainConfig recurrent_config(const std::string& cell = "lstm", bool shared = false) {
  TrainConfig config;
  config.seed = 7;
  config.env.num_envs = kRecLanes;
  config.policy.hidden_sizes = {16};
  config.policy.shared_trunk = shared;
  config.policy.recurrent.cell = cell;
  config.policy.recurrent.hidden = 16;
  PpoConfig& ppo = config.section<PpoConfig>("ppo");
  ppo.rollout_steps = kRecSteps;
  ppo.num_minibatches = 2;
  ppo.update_epochs = 2;
  ppo.anneal_lr = false;
  return config;
}

std::unique_ptr<Algorithm> make_recurrent_ppo(const TrainConfig& config, std::uint64_t init_seed,
                                              Precision precision = Precision::kFp32, GradientHook hook = {}) {
  AlgorithmInit init;
  init.config = config;
  init.spec = envs::env_spec(config.env.id, config.env.options);
  init.precision = precision;
  init.reduce_gradients = std::move(hook);
  torch::manual_seed(init_seed);
  return make_ppo(init);
}

// Records the state each step acted with, then acts with the wrapped policy.
class RecordingPolicy final : public agents::Policy {
 public:
  explicit RecordingPolicy(std::shared_ptr<agents::Policy> inner) : inner_(std::move(inner)) {}
  agents::PolicyAct act(const torch::Tensor& obs, const agents::ActContext& ctx) override {
    seen.push_back(ctx.state != nullptr ? ctx.state->clone() : torch::Tensor());
    return inner_->act(obs, ctx);
  }
  torch::nn::Module& module() override { return inner_->module(); }
  std::int64_t state_size() const override { return inner_->state_size(); }
  std::vector<torch::Tensor> seen;

 private:
  std::shared_ptr<agents::Policy> inner_;
};

std::unique_ptr<actors::Actor> cartpole_actor(std::shared_ptr<agents::Policy> policy, bool in_place = false) {
  envs::VecEnvConfig c;
  c.num_envs = kRecLanes;
  c.threads = 1;
  actors::ActorOptions options;
  options.in_place = in_place;
  auto actor = std::make_unique<actors::Actor>(envs::make_env("CartPole-v1", c), std::move(policy), options);
  actor->reset(5);
  return actor;
}

agents::TrajectoryChunk chunk_copy(const agents::TrajectoryChunk& c) {
  agents::TrajectoryChunk out = actors::host_copy(c);
  for (torch::Tensor* t : {&out.obs, &out.next_obs, &out.actions, &out.log_probs, &out.values, &out.rewards,
                           &out.terminated, &out.truncated, &out.state, &out.starts})
    if (t->defined()) *t = t->clone();
  return out;
}

// The core replayed over a chunk of whole lanes from its start state, with its episode starts.
agents::EvalOut replayed(agents::ActorCritic& net, const agents::TrajectoryChunk& chunk) {
  torch::NoGradGuard no_grad;
  agents::Recurrence rec;
  rec.state = chunk.state;
  rec.starts = chunk.starts;
  rec.steps = chunk.num_steps();
  return net->evaluate(chunk.obs.slice(0, 0, chunk.num_steps()).flatten(0, 1), chunk.actions.flatten(0, 1), &rec);
}

// The in-place actor (the policy reads the env's buffers) builds the copying actor's chunk.
void expect_in_place_and_copying_agree() {
  torch::set_num_threads(1);
  auto ppo = make_recurrent_ppo(recurrent_config("lstm", true), 2);
  auto copying = cartpole_actor(ppo->policy(), false), in_place = cartpole_actor(ppo->policy(), true);
  for (int k = 0; k < 2; ++k) {
    torch::manual_seed(9 + k);
    const agents::TrajectoryChunk a = chunk_copy(copying->collect(kRecSteps, agents::ActContext{}, 0));
    torch::manual_seed(9 + k);
    const agents::TrajectoryChunk b = chunk_copy(in_place->collect(kRecSteps, agents::ActContext{}, 0));
    EXPECT_TRUE(torch::equal(a.state, b.state));
    EXPECT_TRUE(torch::equal(a.starts, b.starts));
    EXPECT_TRUE(torch::equal(a.actions, b.actions));
    EXPECT_TRUE(torch::equal(a.values, b.values));
  }
}

TEST(RecurrentPpo, TheRolloutZeroesTheMemoryAtEpisodeStartsAndItsChunkReplaysExactly) {
  torch::set_num_threads(1);
  for (const char* cell : {"lstm", "gru"}) {
    auto ppo = make_recurrent_ppo(recurrent_config(cell), 1);
    auto* ac = dynamic_cast<agents::ActorCriticPolicy*>(ppo->policy().get());
    ASSERT_NE(ac, nullptr);
    auto recording = std::make_shared<RecordingPolicy>(ppo->policy());
    auto actor = cartpole_actor(recording);
    torch::manual_seed(3);
    const agents::TrajectoryChunk first = chunk_copy(actor->collect(kRecSteps, agents::ActContext{}, 0));
    const torch::Tensor memory_after_first = actor->memory().clone();
    const agents::TrajectoryChunk second = chunk_copy(actor->collect(kRecSteps, agents::ActContext{}, 0));
    ASSERT_GT(first.episodes.size() + second.episodes.size(), 4u) << "random CartPole episodes end within the chunks";

    // The chunk's start state: zeros at the first reset, then the memory the lanes carried over.
    EXPECT_TRUE(torch::equal(first.state, torch::zeros_like(first.state)));
    EXPECT_TRUE(torch::equal(first.starts[0], torch::ones({kRecLanes})));
    EXPECT_TRUE(torch::equal(second.state, memory_after_first));
    const torch::Tensor done = first.terminated.logical_or(first.truncated).to(torch::kFloat);
    EXPECT_TRUE(torch::equal(second.starts[0], done[kRecSteps - 1]));
    for (const auto* c : {&first, &second}) {
      const torch::Tensor ended = c->terminated.logical_or(c->truncated).to(torch::kFloat);
      EXPECT_TRUE(torch::equal(c->starts.slice(0, 1), ended.slice(0, 0, kRecSteps - 1))) << cell;
    }
    // Every step acted with a zero memory exactly in the lanes whose episode began there.
    ASSERT_EQ(recording->seen.size(), 2u * kRecSteps);
    for (std::int32_t k = 0; k < 2 * kRecSteps; ++k) {
      const agents::TrajectoryChunk& c = k < kRecSteps ? first : second;
      const torch::Tensor row_zero = recording->seen[static_cast<std::size_t>(k)].abs().sum(1).eq(0).to(torch::kFloat);
      EXPECT_TRUE(torch::equal(row_zero, c.starts[k % kRecSteps])) << cell << " step " << k;
    }
    // New weights (the same network, another policy object) leave the memory alone.
    const torch::Tensor before = actor->memory().clone();
    EXPECT_GT(before.abs().sum().item<double>(), 0.0);
    actor->set_policy(ppo->policy());
    EXPECT_TRUE(torch::equal(actor->memory(), before));

    // The replay gives the rollout's log-probabilities and values.
    for (const auto* c : {&first, &second}) {
      const agents::EvalOut r = replayed(ac->net(), *c);
      EXPECT_TRUE(torch::allclose(r.log_prob, c->log_probs.flatten(), 1e-5, 1e-5)) << cell;
      EXPECT_TRUE(torch::allclose(r.value, c->values.flatten(), 1e-5, 1e-5)) << cell;
    }
  }
  expect_in_place_and_copying_agree();
}

// A recurrent chunk survives the wire bit for bit (the state and episode starts included), and a
// learner whose schema expects another state size, or none, refuses it.
TEST(RecurrentPpo, ARecurrentChunkSurvivesTheWireBitForBit) {
  torch::set_num_threads(1);
  auto ppo = make_recurrent_ppo(recurrent_config("gru"), 3);
  auto actor = cartpole_actor(ppo->policy());
  chunk_copy(actor->collect(kRecSteps, agents::ActContext{}, 0));
  const agents::TrajectoryChunk chunk = chunk_copy(actor->collect(kRecSteps, agents::ActContext{}, 0));
  ASSERT_GT(chunk.state.abs().sum().item<double>(), 0.0);
  const std::vector<actors::wire::OutFrame> out = actors::encode_chunk(chunk, 77, {});
  auto frames = std::make_shared<std::vector<zmq::message_t>>();
  for (const auto& f : out) frames->emplace_back(f.data, f.size);
  const std::vector<actors::wire::FrameView> views = actors::frame_views(*frames);
  actors::wire::ChunkSchema schema;
  schema.num_envs = kRecLanes;
  schema.obs_dim = 4;
  schema.log_probs = true;
  schema.state_size = ppo->policy()->state_size();
  actors::wire::DecodeLimits limits;
  limits.chunk_schema = &schema;
  actors::wire::Header header;
  ASSERT_EQ(actors::wire::decode(views.data(), views.size(), limits, header), actors::wire::DecodeError::kOk);
  EXPECT_EQ(header.tensors.size(), actors::wire::kChunkTensorsRecurrent);
  const agents::TrajectoryChunk back = actors::decode_chunk(header, frames);
  for (auto [a, b] : {std::pair{&back.state, &chunk.state}, {&back.starts, &chunk.starts}, {&back.obs, &chunk.obs},
                      {&back.values, &chunk.values}, {&back.terminated, &chunk.terminated}})
    EXPECT_TRUE(torch::equal(*a, *b));
  for (const std::int64_t other : {std::int64_t{0}, schema.state_size + 2}) {
    schema.state_size = other;
    EXPECT_EQ(actors::wire::decode(views.data(), views.size(), limits, header), actors::wire::DecodeError::kSchema)
        << other;
  }
}

// A chunk of CartPole from `policy`, for updates.
agents::TrajectoryChunk recurrent_rollout(const std::shared_ptr<agents::Policy>& policy, std::uint64_t seed) {
  auto actor = cartpole_actor(policy);
  torch::manual_seed(seed);
  chunk_copy(actor->collect(kRecSteps / 2, agents::ActContext{}, 0));  // a start state that is not all zeros
  return chunk_copy(actor->collect(kRecSteps, agents::ActContext{}, 0));
}

std::vector<torch::Tensor> parameters_of(Algorithm& algo) {
  std::vector<torch::Tensor> out;
  for (const auto& p : algo.policy()->module().parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_two_ranks_equal_one_process() {
  torch::set_num_threads(1);
  TrainConfig config = recurrent_config("gru");
  config.section<PpoConfig>("ppo").num_minibatches = 1;
  config.section<PpoConfig>("ppo").norm_adv = false;
  apiary::testing::TwoRankAverager averager;
  const auto hook = [&averager](const std::vector<torch::Tensor>& g) { averager.average(g); };
  auto rank0 = make_recurrent_ppo(config, 1, Precision::kFp32, hook);
  auto rank1 = make_recurrent_ppo(config, 1, Precision::kFp32, hook);
  TrainConfig doubled = config;
  doubled.env.num_envs = 2 * kRecLanes;
  auto single = make_recurrent_ppo(doubled, 1);
  const agents::TrajectoryChunk c0 = recurrent_rollout(rank0->policy(), 11), c1 = recurrent_rollout(rank0->policy(), 12);
  const agents::TrajectoryChunk both = apiary::testing::lanes_of_both(c0, c1);
  std::thread t1([&] { rank1->update(c1, UpdateContext{both.env_steps(), 100000, 2}); });
  rank0->update(c0, UpdateContext{both.env_steps(), 100000, 2});
  t1.join();
  single->update(both, UpdateContext{both.env_steps(), 100000, 1});
  const auto w0 = parameters_of(*rank0), w1 = parameters_of(*rank1), ws = parameters_of(*single);
  for (std::size_t i = 0; i < w0.size(); ++i) {
    EXPECT_TRUE(torch::equal(w0[i], w1[i])) << i;
    EXPECT_TRUE(torch::allclose(w0[i], ws[i], 1e-4, 1e-6)) << i << ": " << (w0[i] - ws[i]).abs().max().item<double>();
  }
}

void expect_exact_resume() {
  torch::set_num_threads(1);
  const TrainConfig config = recurrent_config("lstm", true);
  auto original = make_recurrent_ppo(config, 1);
  const agents::TrajectoryChunk c1 = recurrent_rollout(original->policy(), 3);
  original->update(c1, UpdateContext{c1.env_steps(), 1000});
  auto resumed = make_recurrent_ppo(config, 99);
  apiary::testing::load_state(*resumed, apiary::testing::saved_state(*original));
  const agents::TrajectoryChunk c2 = recurrent_rollout(original->policy(), 5);
  const Metrics a = original->update(c2, UpdateContext{2 * c2.env_steps(), 1000});
  const Metrics b = resumed->update(c2, UpdateContext{2 * c2.env_steps(), 1000});
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isnan(a[i].second)) {
      EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
    }
  const auto wa = parameters_of(*original), wb = parameters_of(*resumed);
  for (std::size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << i;
}

// Updates in fp32 and bf16 move the core and report finite metrics; minibatches are whole lanes; two
// data-parallel ranks equal one process with both chunks; a resumed PPO takes the same next update.
TEST(RecurrentPpo, UpdatesDataParallelRanksAndResume) {
  torch::set_num_threads(1);
  for (const Precision precision : {Precision::kFp32, Precision::kBf16}) {
    auto ppo = make_recurrent_ppo(recurrent_config("lstm"), 1, precision);
    const agents::TrajectoryChunk chunk = recurrent_rollout(ppo->policy(), 4);
    const auto before = ppo->policy()->module().named_parameters().find("actor_core.lstm.weight_hh")->clone();
    const auto metrics = apiary::testing::as_map(ppo->update(chunk, UpdateContext{chunk.env_steps(), 100000}));
    EXPECT_EQ(metrics.count(kNonFiniteUpdate), 0u);
    for (const auto& [name, value] : metrics) EXPECT_TRUE(std::isfinite(value)) << name;
    EXPECT_GT(metrics.at("clipfrac") + metrics.at("approx_kl"), 0.0) << "the second epoch moved the policy";
    const auto after = ppo->policy()->module().named_parameters().find("actor_core.lstm.weight_hh");
    EXPECT_FALSE(torch::equal(before, *after)) << to_string(precision);
    EXPECT_EQ(ppo->policy_version(), 1);
  }
  // More minibatches than lanes: each minibatch is whole lanes.
  TrainConfig config = recurrent_config();
  config.section<PpoConfig>("ppo").num_minibatches = kRecLanes + 1;
  auto ppo = make_recurrent_ppo(config, 1);
  const agents::TrajectoryChunk chunk = recurrent_rollout(ppo->policy(), 4);
  try {
    ppo->update(chunk, UpdateContext{chunk.env_steps(), 100000});
    FAIL() << "more minibatches than lanes";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("whole lanes"), std::string::npos) << e.what();
  }
  expect_two_ranks_equal_one_process();
  expect_exact_resume();
}

// CartPole-v1 without velocities (env.options observe_velocity: 0) with configs/cartpole_nov_ppo_lstm.yaml's
// settings: the LSTM infers the velocities from what it remembers and balances the pole to 475 (about
// 20k-40k env steps, 4-9 s of training here); the same network without its core, given twice the
// steps, stays far below (a memoryless policy holds the pole for about 45 steps).
TEST(RecurrentPpo, AnLstmLearnsCartPoleWithoutVelocitiesAndNoCoreStaysFarBelow) {
  torch::set_num_threads(1);
  const auto run = [](const std::string& cell, double target) {
    TrainConfig config;
    config.seed = 1;
    config.env.num_envs = 16;
    config.env.options["observe_velocity"] = 0.0;
    config.total_steps = 80000;
    config.policy.hidden_sizes = {64};
    config.policy.recurrent.cell = cell;
    config.policy.recurrent.hidden = 64;
    PpoConfig& ppo = config.section<PpoConfig>("ppo");
    ppo.rollout_steps = 32;
    ppo.learning_rate = 2.5e-3;
    ppo.gamma = 0.98;
    ppo.gae_lambda = 0.8;
    ppo.num_minibatches = 2;
    ppo.update_epochs = 4;
    ppo.ent_coef = 0.0;
    AlgorithmInit init;
    init.config = config;
    init.spec = envs::env_spec("CartPole-v1", config.env.options);
    torch::manual_seed(1);
    auto algo = make_ppo(init);
    apiary::testing::SmokeOptions o = apiary::testing::smoke_options(config);
    o.eval_interval_steps = 10 * 32 * 16;
    o.stop_return = target;
    o.max_seconds = 90.0;
    return apiary::testing::learn_until(*algo, o);
  };
  EXPECT_EQ(envs::env_spec("CartPole-v1", {{"observe_velocity", 0.0}}).obs_dim(), 2);
  const apiary::testing::SmokeRun lstm = run("lstm", 475.0);
  std::cout << "[ LSTM, no velocities ] eval " << lstm.eval.mean_return << " after " << lstm.env_steps
            << " env steps, " << lstm.train_seconds << " s training\n";
  EXPECT_GE(lstm.eval.mean_return, 475.0);
  const apiary::testing::SmokeRun mlp = run("none", 475.0);
  std::cout << "[ no core, no velocities ] eval " << mlp.eval.mean_return << " after " << mlp.env_steps
            << " env steps\n";
  EXPECT_GE(mlp.env_steps, 2 * lstm.env_steps);
  EXPECT_LT(mlp.eval.mean_return, 100.0);
}

}  // namespace
}  // namespace apiary::learner
