// Learning from images: PPO and DQN with convolutional encoders on MinAtar's uint8 observations. An
// update moves every parameter (the encoder's included), bf16 autocast trains the CNN too, the
// combinations that cannot work are refused with a message, and a short DQN run on MinAtar Breakout
// rises clearly above the random policy's return.
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/actor_critic.h"
#include "core/allocator.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/dqn/dqn_config.h"
#include "learner/ppo/ppo_config.h"
#include "learner/sac/sac.h"
#include "learner/sac/sac_config.h"
#include "tests/common/learning_smoke.h"
#include "tests/common/pixels_env.h"

namespace apiary::learner {
namespace {

std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

// Every parameter of `now` differs from `before` and is finite, and the network has an encoder.
void expect_every_parameter_moved(const std::map<std::string, torch::Tensor>& before, torch::nn::Module& now,
                                  const std::string& who) {
  bool encoder_seen = false;
  for (const auto& [name, value] : snapshot(now)) {
    encoder_seen = encoder_seen || name.rfind("encoder.", 0) == 0;
    EXPECT_FALSE(torch::equal(value, before.at(name))) << who << ": " << name << " did not move";
    EXPECT_TRUE(torch::isfinite(value).all().item<bool>()) << who << ": " << name;
  }
  EXPECT_TRUE(encoder_seen) << who << " has an encoder";
}

AlgorithmInit image_init(const std::string& algo, const std::string& encoder, const std::string& env_id,
                         const std::string& precision = "fp32") {
  AlgorithmInit init;
  init.config.algo = algo;
  init.config.seed = 2;
  init.config.total_steps = 100000;
  init.config.env.id = env_id;
  init.config.env.num_envs = 4;
  init.config.policy.encoder = encoder;
  init.config.policy.hidden_sizes = {};
  init.config.policy.activation = "relu";
  init.config.policy.shared_trunk = true;
  init.config.section<PpoConfig>("ppo").rollout_steps = 16;
  init.config.section<PpoConfig>("ppo").num_minibatches = 2;
  init.config.section<PpoConfig>("ppo").update_epochs = 1;
  auto& dqn = init.config.section<DqnConfig>("dqn");
  dqn.learning_starts = 16;
  dqn.train_frequency = 16;
  dqn.gradient_steps = 2;
  dqn.batch_size = 16;
  dqn.buffer_size = 1000;
  init.spec = envs::env_spec(env_id);
  init.precision = parse_precision(precision);
  return init;
}

// One chunk from a MinAtar actor, then one update: every parameter of the acting network moves.
void expect_update_moves_every_parameter(const std::string& algo_name, const std::string& encoder,
                                         const std::string& env_id, const std::string& precision = "fp32",
                                         bool dueling = false) {
  torch::set_num_threads(1);
  AlgorithmInit init = image_init(algo_name, encoder, env_id, precision);
  init.config.policy.dueling = dueling;
  torch::manual_seed(4);
  std::unique_ptr<Algorithm> algo = make_algorithm(init);
  envs::VecEnvConfig c;
  c.num_envs = 4;
  c.threads = 1;
  actors::ActorOptions options;
  options.record_log_probs = find_algorithm(algo_name).chunk_log_probs;
  actors::Actor actor(envs::make_env(env_id, c), algo->policy(), options);
  actor.reset(1);
  const auto before = snapshot(algo->policy()->module());
  for (int round = 0; round < 2; ++round) {  // DQN's first chunk only fills replay up to learning_starts
    const agents::TrajectoryChunk& chunk = actor.collect(find_algorithm(init.config.algo).rollout_steps(init.config), agents::ActContext{}, 0);
    ASSERT_EQ(chunk.obs.scalar_type(), torch::kUInt8);
    algo->update(chunk, UpdateContext{actor.env_steps(), init.config.total_steps});
  }
  expect_every_parameter_moved(before, algo->policy()->module(), algo_name + " " + encoder + " " + precision);
}

TEST(ImageLearning, PpoUpdatesEveryParameterOfEachEncoder) {
  expect_update_moves_every_parameter("ppo", "minatar", "MinAtar/Breakout-v1");
  expect_update_moves_every_parameter("ppo", "minatar", "MinAtar/Seaquest-v0");  // 10 channels, 6 actions
}

TEST(ImageLearning, DqnUpdatesEveryParameterIncludingTheDuelingHeads) {
  expect_update_moves_every_parameter("dqn", "minatar", "MinAtar/SpaceInvaders-v1");
  expect_update_moves_every_parameter("dqn", "minatar", "MinAtar/SpaceInvaders-v1", "fp32", /*dueling=*/true);
}

TEST(ImageLearning, Bf16AutocastTrainsTheCnnWithFp32Parameters) {
  expect_update_moves_every_parameter("ppo", "minatar", "MinAtar/Asterix-v1", "bf16");
  expect_update_moves_every_parameter("dqn", "minatar", "MinAtar/Freeway-v1", "bf16");
}

TEST(ImageLearning, Uint8ObservationsAreDividedByTheirSpacesHighBound) {
  // MinAtar's 0/1 maps reach the first layer as 0 and 1 (not 1/255: the features would hardly depend
  // on the frame, and PPO stalled at a return of 1.5 on Breakout with that); pixels as x / 255.
  const envs::EnvSpec minatar = envs::env_spec("MinAtar/Breakout-v1");
  EXPECT_EQ(to_policy_config(PolicySection{}, minatar).uint8_high, 1.0);
  EXPECT_EQ(to_policy_config(PolicySection{}, envs::env_spec("CartPole-v1")).uint8_high, 255.0) << "unused for floats";
  agents::PolicyConfig pixels;
  pixels.encoder = "minatar";
  pixels.obs_shape = {10, 10, 4};
  pixels.hidden_sizes = {};
  pixels.shared_trunk = true;
  agents::PolicyConfig maps = pixels;
  maps.uint8_high = 1.0;
  torch::manual_seed(1);
  agents::ActorCritic a(400, envs::Space::discrete(3), pixels);
  torch::manual_seed(1);
  agents::ActorCritic b(400, envs::Space::discrete(3), maps);
  const torch::Tensor frame = torch::randint(0, 2, {2, 400}, torch::kUInt8);
  EXPECT_TRUE(torch::allclose(a->forward(frame * 255).logits, b->forward(frame).logits, 1e-5, 1e-6));
  agents::PolicyConfig mlp;
  mlp.uint8_high = 1.0;
  torch::manual_seed(1);
  agents::ActorCritic c(400, envs::Space::discrete(3), mlp);
  EXPECT_TRUE(torch::allclose(c->forward(frame).value, c->forward(frame.to(torch::kFloat)).value));
}

TEST(ImageLearning, ImpalaAndNatureEncodersFitFrameStackedImages) {
  // A stack of 4 MinAtar frames is (10, 10, 16): IMPALA's ResNet takes any size; Nature's CNN is
  // refused below 36x36 with a message naming the env and the shape.
  AlgorithmInit init = image_init("ppo", "impala", "MinAtar/Breakout-v1");
  init.config.env.options["frame_stack"] = 4;
  init.spec = envs::env_spec("MinAtar/Breakout-v1", init.config.env.options);
  EXPECT_EQ(init.spec.observation_space.to_string(), "Box(0, 1, (10, 10, 16), uint8)");
  EXPECT_NO_THROW(make_algorithm(init));
  init.config.policy.encoder = "nature";
  try {
    make_algorithm(init);
    FAIL() << "the Nature CNN accepted a 10x10 image";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MinAtar/Breakout-v1"), std::string::npos) << what;
    EXPECT_NE(what.find("(10, 10, 16)"), std::string::npos) << what;
  }
}

TEST(ImageLearning, RefusesWhatCannotWorkWithAMessage) {
  // A convolutional encoder on a vector observation.
  AlgorithmInit vector = image_init("ppo", "minatar", "CartPole-v1");
  try {
    make_algorithm(vector);
    FAIL() << "a CNN on CartPole's vector was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("CartPole-v1"), std::string::npos) << e.what();
  }
  // A CNN on a vector: SAC refuses it as PPO does.
  AlgorithmInit sac = image_init("sac", "minatar", "MinAtar/Breakout-v1");
  sac.spec = envs::env_spec("Pendulum-v1");
  sac.config.env.id = "Pendulum-v1";
  EXPECT_THROW(make_algorithm(sac), std::invalid_argument);
}

// SAC on pixels (a Box action): the actor's encoder and the critic's shared one both learn, the
// replay keeps the frames as uint8, and the target critic follows the critic, encoder included.
TEST(ImageLearning, SacUpdatesTheActorsAndTheCriticsEncodersOnUint8Frames) {
  torch::set_num_threads(1);
  testing_envs::register_pixels();
  const std::string id = "TestPixelReacher-v0";
  AlgorithmInit init = image_init("sac", "minatar", id);
  init.config.policy.hidden_sizes = {32};
  init.config.policy.shared_trunk = false;  // SAC's networks never share one
  auto& sac_config = init.config.section<SacConfig>("sac");
  sac_config.learning_starts = 32;
  sac_config.batch_size = 16;
  sac_config.buffer_size = 500;
  sac_config.train_frequency = 4;
  sac_config.policy_frequency = 1;
  torch::manual_seed(5);
  std::unique_ptr<Algorithm> algo = make_algorithm(init);
  auto* sac = dynamic_cast<Sac*>(algo.get());
  ASSERT_NE(sac, nullptr);
  envs::VecEnvConfig c;
  c.num_envs = 4;
  c.threads = 1;
  actors::ActorOptions options;
  options.record_log_probs = false;
  actors::Actor actor(envs::make_env(id, c), algo->policy(), options);
  actor.reset(1);
  const auto actor_before = snapshot(algo->policy()->module());
  const auto critic_before = snapshot(*sac->critic());
  const auto target_before = snapshot(*sac->target_critic());
  for (int round = 0; round < 20; ++round) {
    const agents::TrajectoryChunk& chunk = actor.collect(find_algorithm(init.config.algo).rollout_steps(init.config), agents::ActContext{}, 0);
    ASSERT_EQ(chunk.obs.scalar_type(), torch::kUInt8);
    algo->update(chunk, UpdateContext{actor.env_steps(), init.config.total_steps});
  }
  ASSERT_GT(sac->gradient_steps(), 0) << "no update ran";
  EXPECT_GT(sac->buffer_size(), 32);
  expect_every_parameter_moved(actor_before, algo->policy()->module(), "actor");
  expect_every_parameter_moved(critic_before, *sac->critic(), "critic");
  expect_every_parameter_moved(target_before, *sac->target_critic(), "target critic");
  // The acting policy reads a uint8 frame as it is.
  const torch::Tensor frame = torch::zeros({1, 100}, torch::kUInt8);
  agents::ActContext ctx;
  ctx.deterministic = true;
  const torch::Tensor a = algo->policy()->act(frame, ctx).action;
  ASSERT_EQ(a.sizes(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE((a.abs() <= 1).all().item<bool>());
}

TEST(ImageLearning, DqnOnMinAtarBreakoutRisesClearlyAboveRandom) {
  torch::set_num_threads(1);
  // As the apiary program runs (core/allocator.h): the CNN's activations are reused, not page-faulted
  // in again every gradient step (4x slower without it here).
  core::keep_freed_memory_for_reuse();
  AlgorithmInit init = image_init("dqn", "minatar", "MinAtar/Breakout-v1");
  init.config.total_steps = 60000;
  init.config.env.num_envs = 4;
  auto& dqn = init.config.section<DqnConfig>("dqn");
  dqn.learning_rate = 3e-4;
  dqn.buffer_size = 50000;
  dqn.batch_size = 32;
  dqn.learning_starts = 2000;
  dqn.train_frequency = 16;
  dqn.gradient_steps = 4;
  dqn.target_network_frequency = 2000;
  dqn.start_e = 1.0;
  dqn.end_e = 0.05;
  dqn.exploration_fraction = 0.2;
  dqn.max_grad_norm = 10.0;
  torch::manual_seed(1);
  std::unique_ptr<Algorithm> algo = make_algorithm(init);
  apiary::testing::SmokeOptions o = apiary::testing::smoke_options(init.config);
  o.record_log_probs = false;
  o.eval_interval_steps = 10000;
  o.eval_episodes = 20;
  o.eval_lanes = 10;
  o.stop_return = 3.0;
  o.max_seconds = 240.0;
  o.final_episodes = 50;
  const apiary::testing::SmokeRun r = apiary::testing::learn_until(*algo, o);
  std::printf("DQN MinAtar/Breakout-v1: mean return %.2f over 50 episodes after %lld env steps, %.1f s\n",
              r.eval.mean_return, static_cast<long long>(r.env_steps), r.seconds);
  // A random policy scores about 0.5 a game; a policy that tracks the ball keeps hitting bricks
  // (`apiary train configs/minatar_breakout_dqn.yaml` with these settings: 2.9 after 60k steps).
  EXPECT_GE(r.eval.mean_return, 1.5);
}


}  // namespace
}  // namespace apiary::learner
