// Replay buffers: wrap-around keeps the newest rows, uniform sampling, the sum tree's prefix search and
// sampling proportions, and prioritized replay's importance weights.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/replay_buffer.h"

namespace apiary::learner {
namespace {

// B transitions named by ids first .. first+B-1: obs = id, next_obs = id + 0.5, action = id,
// return = 2 id, discount = 0.99.
Transitions numbered(std::int64_t first, std::int64_t count) {
  const auto ids = torch::arange(first, first + count, torch::kFloat);
  return Transitions{ids.unsqueeze(1), ids.to(torch::kLong), 2 * ids, (ids + 0.5).unsqueeze(1),
                     torch::full({count}, 0.99f)};
}

// Obs id stored in each slot 0 .. capacity-1.
std::vector<float> slot_ids(const ReplayBuffer& buffer) {
  const auto all = buffer.gather(torch::arange(buffer.capacity(), torch::kLong)).obs.squeeze(1);
  return std::vector<float>(all.data_ptr<float>(), all.data_ptr<float>() + all.numel());
}

TEST(ReplayBuffer, WrapAroundKeepsTheNewestCapacityItems) {
  ReplayBuffer buffer(/*capacity=*/5, /*obs_dim=*/1);
  EXPECT_EQ(buffer.size(), 0);
  auto slots = buffer.add(numbered(0, 3));
  EXPECT_TRUE(torch::equal(slots, torch::tensor({0, 1, 2}, torch::kLong)));
  EXPECT_EQ(buffer.size(), 3);

  // 4 rows into 2 free slots: ids 3, 4 fill slots 3, 4; ids 5, 6 wrap onto slots 0, 1.
  slots = buffer.add(numbered(3, 4));
  EXPECT_TRUE(torch::equal(slots, torch::tensor({3, 4, 0, 1}, torch::kLong)));
  EXPECT_EQ(buffer.size(), 5);
  EXPECT_EQ(slot_ids(buffer), (std::vector<float>{5, 6, 2, 3, 4}));

  // 12 rows (ids 7 .. 18) into capacity 5: only the newest five (14 .. 18) survive, each in the slot
  // it would have reached one at a time (id % 5, since id 0 went to slot 0).
  slots = buffer.add(numbered(7, 12));
  EXPECT_EQ(slots.size(0), 5);
  EXPECT_EQ(slot_ids(buffer), (std::vector<float>{15, 16, 17, 18, 14}));
  EXPECT_EQ(buffer.size(), 5);

  // All fields travel together.
  const auto row = buffer.gather(torch::tensor({4}, torch::kLong));
  EXPECT_EQ(row.actions.item<std::int64_t>(), 14);
  EXPECT_FLOAT_EQ(row.returns.item<float>(), 28.0f);
  EXPECT_FLOAT_EQ(row.next_obs.item<float>(), 14.5f);
  EXPECT_FLOAT_EQ(row.discounts.item<float>(), 0.99f);
}

TEST(ReplayBuffer, UniformSampleStaysInTheFilledPartAndIsSeeded) {
  ReplayBuffer buffer(/*capacity=*/100, /*obs_dim=*/1);
  buffer.add(numbered(0, 10));
  const auto a = buffer.sample(/*batch_size=*/256, /*seed=*/std::uint64_t{7});
  const auto b = buffer.sample(256, std::uint64_t{7});
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
  EXPECT_GE(a.indices.min().item<std::int64_t>(), 0);
  EXPECT_LT(a.indices.max().item<std::int64_t>(), 10);
  EXPECT_EQ(torch::bincount(a.indices).gt(0).sum().item<std::int64_t>(), 10);  // every row drawn
  // Rows are the rows at the reported indices.
  EXPECT_TRUE(torch::equal(a.obs.squeeze(1), a.indices.to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(a.weights, torch::ones({256})));

  // One generator advances between calls.
  auto generator = make_generator(7);
  const auto first = buffer.sample(256, generator);
  const auto second = buffer.sample(256, generator);
  EXPECT_TRUE(torch::equal(first.indices, a.indices));
  EXPECT_FALSE(torch::equal(first.indices, second.indices));
}

// DQN's fused step gathers into host arrays: the same draws and the same rows as sample().
TEST(ReplayBuffer, HostGatherIsSampleWithoutTensors) {
  ReplayBuffer buffer(/*capacity=*/16, /*obs_dim=*/3);
  const auto ids = torch::arange(20, torch::kFloat);
  buffer.add(Transitions{ids.unsqueeze(1).repeat({1, 3}) + torch::tensor({0.f, 0.25f, 0.5f}), ids.to(torch::kLong) * 3,
                         2 * ids, ids.unsqueeze(1).repeat({1, 3}) - 1, torch::full({20}, 0.5f)});  // wraps
  ASSERT_TRUE(buffer.host_floats());
  auto g1 = make_generator(3), g2 = make_generator(3);
  const ReplaySample reference = buffer.sample(40, g1);
  const torch::Tensor indices = buffer.sample_indices(40, g2);
  EXPECT_TRUE(torch::equal(indices, reference.indices));
  std::vector<float> obs(40 * 3), next_obs(40 * 3), returns(40), discounts(40);
  std::vector<std::int64_t> actions(40);
  buffer.gather_host(indices.data_ptr<std::int64_t>(), 40, obs.data(), next_obs.data(), actions.data(), returns.data(),
                     discounts.data());
  EXPECT_TRUE(torch::equal(torch::from_blob(obs.data(), {40, 3}), reference.obs));
  EXPECT_TRUE(torch::equal(torch::from_blob(next_obs.data(), {40, 3}), reference.next_obs));
  EXPECT_TRUE(torch::equal(torch::from_blob(actions.data(), {40}, torch::kLong), reference.actions));
  EXPECT_TRUE(torch::equal(torch::from_blob(returns.data(), {40}), reference.returns));
  EXPECT_TRUE(torch::equal(torch::from_blob(discounts.data(), {40}), reference.discounts));

  const std::int64_t outside = 16;
  EXPECT_THROW(buffer.gather_host(&outside, 1, obs.data(), next_obs.data(), actions.data(), returns.data(),
                                  discounts.data()),
               c10::Error);
  EXPECT_FALSE(ReplayBuffer(4, 2, {}, torch::kLong, torch::kCPU, torch::kUInt8).host_floats());  // images

  // Box actions (SAC's fused step): each row's action elements, with the same draws.
  ReplayBuffer box(/*capacity=*/8, /*obs_dim=*/2, /*action_shape=*/{3}, torch::kFloat);
  const auto rows = torch::arange(10, torch::kFloat);
  box.add(Transitions{rows.unsqueeze(1).repeat({1, 2}), rows.unsqueeze(1) * 10 + torch::tensor({0.f, 1.f, 2.f}), -rows,
                      rows.unsqueeze(1).repeat({1, 2}) + 100, torch::full({10}, 0.9f)});  // wraps
  ASSERT_TRUE(box.host_floats());
  auto g3 = make_generator(5), g4 = make_generator(5);
  const ReplaySample box_reference = box.sample(12, g3);
  const torch::Tensor box_indices = box.sample_indices(12, g4);
  std::vector<float> box_obs(12 * 2), box_next(12 * 2), box_actions(12 * 3), box_returns(12), box_discounts(12);
  box.gather_host(box_indices.data_ptr<std::int64_t>(), 12, box_obs.data(), box_next.data(), box_actions.data(),
                  box_returns.data(), box_discounts.data());
  EXPECT_TRUE(torch::equal(torch::from_blob(box_actions.data(), {12, 3}), box_reference.actions));
  EXPECT_TRUE(torch::equal(torch::from_blob(box_obs.data(), {12, 2}), box_reference.obs));
  EXPECT_TRUE(torch::equal(torch::from_blob(box_next.data(), {12, 2}), box_reference.next_obs));
  EXPECT_TRUE(torch::equal(torch::from_blob(box_returns.data(), {12}), box_reference.returns));
  // The action type must be the buffer's: int64 rows from a Box buffer are refused.
  EXPECT_THROW(box.gather_host(box_indices.data_ptr<std::int64_t>(), 1, box_obs.data(), box_next.data(), actions.data(),
                               box_returns.data(), box_discounts.data()),
               c10::Error);
}

TEST(ReplayBuffer, ContinuousActions) {
  ReplayBuffer buffer(4, 2, /*action_shape=*/{3}, torch::kFloat);
  Transitions batch{torch::zeros({2, 2}), torch::tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}}),
                    torch::zeros({2}), torch::zeros({2, 2}), torch::ones({2})};
  buffer.add(batch);
  const auto rows = buffer.gather(torch::tensor({1}, torch::kLong));
  EXPECT_TRUE(torch::equal(rows.actions, torch::tensor({{4.f, 5.f, 6.f}})));
  EXPECT_THROW(ReplayBuffer(4, 2).sample(1, std::uint64_t{0}), c10::Error);  // empty
}

TEST(SumTree, PrefixSearch) {
  SumTree tree(/*capacity=*/5);  // 8 leaves, 3 of them padding
  const std::vector<double> priorities{1, 2, 3, 4};
  for (std::size_t i = 0; i < priorities.size(); ++i) tree.set(static_cast<std::int64_t>(i), priorities[i]);
  EXPECT_DOUBLE_EQ(tree.total(), 10.0);
  // Cumulative sums 1, 3, 6, 10: leaf i owns masses [cum_{i-1}, cum_i).
  EXPECT_EQ(tree.find_prefix_sum(0.0), 0);
  EXPECT_EQ(tree.find_prefix_sum(0.999), 0);
  EXPECT_EQ(tree.find_prefix_sum(1.0), 1);
  EXPECT_EQ(tree.find_prefix_sum(2.999), 1);
  EXPECT_EQ(tree.find_prefix_sum(3.0), 2);
  EXPECT_EQ(tree.find_prefix_sum(5.999), 2);
  EXPECT_EQ(tree.find_prefix_sum(6.0), 3);
  EXPECT_EQ(tree.find_prefix_sum(9.999), 3);
  // At or past the total (rounding), the last positive leaf, never the empty leaf 4 or padding.
  EXPECT_EQ(tree.find_prefix_sum(10.0), 3);
  EXPECT_EQ(tree.find_prefix_sum(1e9), 3);

  // Updating a leaf updates every sum above it: without leaf 1 the sums are 1, 1, 4, 8.
  tree.set(1, 0.0);
  EXPECT_DOUBLE_EQ(tree.total(), 8.0);
  EXPECT_EQ(tree.find_prefix_sum(1.5), 2);
  EXPECT_EQ(tree.find_prefix_sum(torch::tensor({0.5, 1.0, 4.0})).to(torch::kLong).sum().item<std::int64_t>(),
            0 + 2 + 3);
  EXPECT_THROW(tree.set(5, 1.0), c10::Error);
  EXPECT_THROW(tree.set(0, -1.0), c10::Error);
}

TEST(SumTree, SamplingProportions) {
  SumTree tree(4);
  tree.set(torch::tensor({0, 1, 2, 3}, torch::kLong), torch::tensor({1.0, 2.0, 3.0, 4.0}));
  auto generator = make_generator(123);
  const std::int64_t draws = 40000;
  const auto masses = torch::rand({draws}, generator, torch::kDouble) * tree.total();
  const auto counts = torch::bincount(tree.find_prefix_sum(masses), {}, 4).to(torch::kDouble) / draws;
  // P = 0.1, 0.2, 0.3, 0.4; the standard error at 40k draws is at most 0.0025.
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i].item<double>(), 0.1 * (i + 1), 0.01) << i;
}

// Four rows whose priorities^alpha are exactly 1, 2, 3, 4 (alpha = 1, tiny epsilon).
PrioritizedReplay four_rows(double beta) {
  PrioritizedReplay replay(/*capacity=*/8, /*obs_dim=*/1, {}, torch::kLong,
                           PrioritizedReplayOptions{/*alpha=*/1.0, beta, /*epsilon=*/1e-9});
  const auto slots = replay.add(numbered(0, 4));
  replay.update_priorities(slots, torch::tensor({1.0f, -2.0f, 3.0f, -4.0f}));
  return replay;
}

TEST(PrioritizedReplay, SamplesProportionallyToPriority) {
  const auto replay = four_rows(/*beta=*/0.4);
  EXPECT_NEAR(replay.tree().total(), 10.0, 1e-6);
  auto generator = make_generator(5);
  std::vector<double> counts(4, 0.0);
  const int batches = 40;
  const std::int64_t batch_size = 1000;  // 40k samples in all
  for (int b = 0; b < batches; ++b) {
    const auto sample = replay.sample(batch_size, generator);
    EXPECT_TRUE(torch::equal(sample.obs.squeeze(1), sample.indices.to(torch::kFloat)));
    const auto bins = torch::bincount(sample.indices, {}, 4);
    for (int i = 0; i < 4; ++i) counts[i] += static_cast<double>(bins[i].item<std::int64_t>());
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(counts[i] / (batches * batch_size), 0.1 * (i + 1), 0.01) << i;
  }
}

TEST(PrioritizedReplay, ImportanceWeights) {
  // N = 4, P(i) = p_i / 10, beta = 0.5: w_i = (4 p_i / 10)^-0.5. The largest weight belongs to the
  // smallest priority (p = 1), so normalised w_i = (p_i / 1)^-0.5: 1, 1/sqrt(2), 1/sqrt(3), 1/2.
  // Stratified sampling puts one sample in [0, 1) of each batch of 10, so p = 1 is always present.
  const auto replay = four_rows(/*beta=*/0.5);
  const auto sample = replay.sample(/*batch_size=*/10, /*seed=*/std::uint64_t{3});
  const double expected[4] = {1.0, 1.0 / std::sqrt(2.0), 1.0 / std::sqrt(3.0), 0.5};
  for (std::int64_t b = 0; b < 10; ++b) {
    const auto index = sample.indices[b].item<std::int64_t>();
    EXPECT_NEAR(sample.weights[b].item<float>(), expected[index], 1e-5) << "sample " << b;
  }
  EXPECT_FLOAT_EQ(sample.weights.max().item<float>(), 1.0f);
}

TEST(PrioritizedReplay, NewRowsGetTheMaxPriorityAndUpdatesAreChecked) {
  auto replay = four_rows(/*beta=*/0.4);
  EXPECT_NEAR(replay.max_priority(), 4.0, 1e-6);
  const auto slots = replay.add(numbered(4, 1));
  EXPECT_NEAR(replay.tree().get(slots[0].item<std::int64_t>()), 4.0, 1e-6);
  EXPECT_NEAR(replay.tree().total(), 14.0, 1e-6);
  // Row 6 has never been written.
  EXPECT_THROW(replay.update_priorities(torch::tensor({6}, torch::kLong), torch::tensor({1.0f})),
               c10::Error);
  EXPECT_THROW(replay.update_priorities(torch::tensor({0}, torch::kLong),
                                        torch::tensor({std::nanf("")})),
               c10::Error);
}

}  // namespace
}  // namespace apiary::learner
