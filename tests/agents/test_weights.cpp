// Weights as bytes: layout, round trip, size check, target-network updates.
#include <cstring>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/factory.h"
#include "agents/weights.h"
#include "test_helpers.h"

namespace apiary::agents {
namespace {

using testing::cartpole_like_spec;
using testing::random_obs;
using testing::two_dim_box_spec;

std::size_t count_elements(const torch::nn::Module& module) {
  std::size_t n = 0;
  for (const auto& p : module.parameters()) n += static_cast<std::size_t>(p.numel());
  for (const auto& b : module.buffers()) n += static_cast<std::size_t>(b.numel());
  return n;
}

TEST(Weights, SizeAndLayout) {
  PolicyConfig config;
  config.init_log_std = -0.25;
  ActorCritic policy = make_actor_critic(two_dim_box_spec(), config);
  EXPECT_EQ(weights_nbytes(*policy), 4 * count_elements(*policy));
  const Weights w = export_weights(*policy, /*version=*/17);
  EXPECT_EQ(w.version, 17);
  ASSERT_EQ(w.bytes.size(), weights_nbytes(*policy));
  // The module's own order: log_std is registered first, then the actor body's first weight.
  float first[2];
  std::memcpy(first, w.bytes.data(), sizeof(first));
  EXPECT_EQ(first[0], -0.25f);
  EXPECT_EQ(first[1], -0.25f);
  const torch::Tensor w0 = policy->named_parameters()["actor_body.0.weight"];
  EXPECT_EQ(std::memcmp(w.bytes.data() + 8, w0.data_ptr<float>(), 4 * w0.numel()), 0);

  // Exporting again into the same Weights reuses its storage.
  Weights reused = w;
  const std::uint8_t* storage = reused.bytes.data();
  export_weights(*policy, 18, reused);
  EXPECT_EQ(reused.bytes.data(), storage);
  EXPECT_EQ(reused.version, 18);
  EXPECT_EQ(reused.bytes, w.bytes);
}

TEST(Weights, RoundTripIntoDifferentlyInitialisedModule) {
  for (const auto& spec : {cartpole_like_spec(), two_dim_box_spec()}) {
    torch::manual_seed(1);
    ActorCritic source = make_actor_critic(spec);
    torch::manual_seed(2);
    ActorCritic dest = make_actor_critic(spec);
    {
      torch::NoGradGuard no_grad;
      if (!spec.action_space.is_discrete()) dest->named_parameters()["log_std"].fill_(1.0f);
    }
    const torch::Tensor obs = random_obs(12, spec.obs_dim(), 3);
    ASSERT_FALSE(torch::equal(source->forward(obs).value, dest->forward(obs).value)) << spec.id;

    const torch::Tensor dest_ptr_before = dest->named_parameters()["actor_head.weight"];
    const void* data_before = dest_ptr_before.data_ptr();
    import_weights(*dest, export_weights(*source, 3));
    // In place: the parameters keep their storage.
    EXPECT_EQ(dest->named_parameters()["actor_head.weight"].data_ptr(), data_before);

    const PolicyOut a = source->forward(obs);
    const PolicyOut b = dest->forward(obs);
    EXPECT_TRUE(torch::equal(a.value, b.value)) << spec.id;
    if (spec.action_space.is_discrete()) {
      EXPECT_TRUE(torch::equal(a.logits, b.logits));
    } else {
      EXPECT_TRUE(torch::equal(a.mean, b.mean));
      EXPECT_TRUE(torch::equal(source->log_std(), dest->log_std()));
    }
    EXPECT_EQ(export_weights(*dest, 0).bytes, export_weights(*source, 0).bytes);
  }
  // Q-networks too, dueling included.
  PolicyConfig dueling;
  dueling.dueling = true;
  QNetwork q_source = make_q_network(cartpole_like_spec(), dueling);
  QNetwork q_dest = make_q_network(cartpole_like_spec(), dueling);
  import_weights(*q_dest, export_weights(*q_source, 1));
  const torch::Tensor obs = random_obs(5, 4, 4);
  EXPECT_TRUE(torch::equal(q_source->forward(obs), q_dest->forward(obs)));
}

TEST(Weights, WrongSizeThrowsWithBothSizes) {
  ActorCritic policy = make_actor_critic(cartpole_like_spec());
  Weights w = export_weights(*policy, 5);
  const std::size_t expected = w.bytes.size();
  w.bytes.resize(expected - 4);
  try {
    import_weights(*policy, w);
    ADD_FAILURE() << "a short buffer must be rejected";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(std::to_string(expected)), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(expected - 4)), std::string::npos) << message;
  }
  // Weights of another architecture.
  PolicyConfig wide;
  wide.hidden_sizes = {128};
  EXPECT_THROW(import_weights(*policy, export_weights(*make_actor_critic(cartpole_like_spec(), wide), 1)),
               std::invalid_argument);
}

TEST(Weights, CopyAndPolyak) {
  torch::manual_seed(3);
  QNetwork online = make_q_network(cartpole_like_spec());
  torch::manual_seed(4);
  QNetwork target = make_q_network(cartpole_like_spec());
  const std::vector<std::uint8_t> online_bytes = export_weights(*online, 0).bytes;
  const std::vector<std::uint8_t> target_bytes = export_weights(*target, 0).bytes;
  ASSERT_NE(online_bytes, target_bytes);

  polyak_update(*target, *online, /*tau=*/0.0);
  EXPECT_EQ(export_weights(*target, 0).bytes, target_bytes);

  // tau = 0.5 averages.
  QNetwork half = make_q_network(cartpole_like_spec());
  copy_weights(*target, *half);
  EXPECT_EQ(export_weights(*half, 0).bytes, target_bytes);
  polyak_update(*half, *online, /*tau=*/0.5);
  const auto half_params = half->named_parameters();
  const auto online_params = online->named_parameters();
  const auto target_params = target->named_parameters();
  for (const auto& item : half_params) {
    const torch::Tensor expected = 0.5 * (online_params[item.key()] + target_params[item.key()]);
    EXPECT_TRUE(torch::allclose(item.value(), expected, 1e-6, 1e-7)) << item.key();
  }

  polyak_update(*target, *online, /*tau=*/1.0);
  EXPECT_EQ(export_weights(*target, 0).bytes, online_bytes);

  EXPECT_THROW(polyak_update(*target, *online, 1.5), std::invalid_argument);
  EXPECT_THROW(polyak_update(*target, *online, -0.1), std::invalid_argument);
  PolicyConfig other;
  other.hidden_sizes = {16};
  QNetwork small = make_q_network(cartpole_like_spec(), other);
  EXPECT_THROW(copy_weights(*online, *small), std::invalid_argument);
  EXPECT_THROW(polyak_update(*small, *online, 0.5), std::invalid_argument);
}

}  // namespace
}  // namespace apiary::agents

// Observation scaling maps bounded elements onto [-1, 1], leaves unbounded ones alone, and its buffers
// travel with the weights.
TEST(ObsScaling, MapsBoundsOntoUnitIntervalAndTravelsWithWeights) {
  apiary::agents::PolicyConfig config;
  config.obs_low = {-1.2f, -0.07f, -std::numeric_limits<float>::infinity()};
  config.obs_high = {0.6f, 0.07f, std::numeric_limits<float>::infinity()};
  apiary::agents::ObsScaling scaling(config.obs_low, config.obs_high);
  const auto y = scaling->forward(torch::tensor({{-1.2f, 0.07f, 5.0f}, {0.6f, 0.0f, -3.0f}}));
  EXPECT_NEAR(y[0][0].item<float>(), -1.0f, 1e-6f);
  EXPECT_NEAR(y[0][1].item<float>(), 1.0f, 1e-6f);
  EXPECT_EQ(y[0][2].item<float>(), 5.0f);
  EXPECT_NEAR(y[1][0].item<float>(), 1.0f, 1e-6f);
  EXPECT_NEAR(y[1][1].item<float>(), 0.0f, 1e-6f);
  EXPECT_EQ(y[1][2].item<float>(), -3.0f);

  apiary::agents::QNetwork scaled(3, 3, config), plain(3, 3, apiary::agents::PolicyConfig{});
  EXPECT_EQ(apiary::agents::weights_nbytes(*scaled), apiary::agents::weights_nbytes(*plain) + 2 * 3 * sizeof(float));
  apiary::agents::QNetwork other(3, 3, config);
  apiary::agents::import_weights(*other, apiary::agents::export_weights(*scaled, 1));
  const auto obs = torch::tensor({{-0.5f, 0.01f, 2.0f}});
  EXPECT_TRUE(torch::equal(scaled->forward(obs), other->forward(obs)));
  EXPECT_THROW(apiary::agents::import_weights(*plain, apiary::agents::export_weights(*scaled, 1)), std::invalid_argument);
}
