// n-step transitions against values computed by hand: n = 3 across a termination, a truncation and a
// chunk boundary; n = 1 equals ordinary one-step transitions; the streaming buffer equals the pure
// per-transition function on a random rollout.
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learner/nstep.h"

namespace apiary::learner {
namespace {

constexpr double kNStepTol = 1e-6;

// Two lanes, six steps, one float per observation that names it: obs[t, lane] = 10 t + lane, and a
// lane's final observation at a done step t is 1000 + 10 t + lane. Actions are 100 t + lane.
// Lane 0: rewards 1, 2, 3, 4, 5, 6; terminated at t = 3.
// Lane 1: rewards 1, 2, 4, 8, 16, 32; truncated at t = 1.
struct Script {
  static constexpr std::int64_t kSteps = 6;
  static constexpr std::int64_t kLanes = 2;
  std::vector<float> rewards[2] = {{1, 2, 3, 4, 5, 6}, {1, 2, 4, 8, 16, 32}};
  int terminated_at[2] = {3, -1};
  int truncated_at[2] = {-1, 1};

  torch::Tensor obs(std::int64_t t) const {
    return torch::tensor({10.0f * t, 10.0f * t + 1}).unsqueeze(1);
  }
  torch::Tensor next_obs(std::int64_t t) const {
    std::vector<float> row;
    for (int lane = 0; lane < 2; ++lane) {
      const bool done = terminated_at[lane] == t || truncated_at[lane] == t;
      row.push_back(done ? 1000.0f + 10.0f * t + lane : 10.0f * (t + 1) + lane);
    }
    return torch::tensor(row).unsqueeze(1);
  }
  torch::Tensor actions(std::int64_t t) const {
    return torch::tensor({100 * t, 100 * t + 1}, torch::kLong);
  }
  torch::Tensor reward(std::int64_t t) const { return torch::tensor({rewards[0][t], rewards[1][t]}); }
  torch::Tensor terminated(std::int64_t t) const {
    return torch::tensor({terminated_at[0] == t ? 1.0f : 0.0f, terminated_at[1] == t ? 1.0f : 0.0f});
  }
  torch::Tensor truncated(std::int64_t t) const {
    return torch::tensor({truncated_at[0] == t ? 1.0f : 0.0f, truncated_at[1] == t ? 1.0f : 0.0f});
  }
  NStepRollout rollout(std::int64_t begin, std::int64_t end) const {
    std::vector<torch::Tensor> o, a, r, te, tr, no;
    for (auto t = begin; t < end; ++t) {
      o.push_back(obs(t));
      a.push_back(actions(t));
      r.push_back(reward(t));
      te.push_back(terminated(t));
      tr.push_back(truncated(t));
      no.push_back(next_obs(t));
    }
    return NStepRollout{torch::stack(o), torch::stack(a), torch::stack(r),
                        torch::stack(te), torch::stack(tr), torch::stack(no)};
  }
};

struct Expected {
  float obs;
  std::int64_t action;
  float ret;
  float next_obs;
  float discount;
};

void expect_transitions(const Transitions& actual, const std::vector<Expected>& expected,
                        const std::string& where) {
  ASSERT_EQ(actual.size(), static_cast<std::int64_t>(expected.size())) << where;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto row = static_cast<std::int64_t>(i);
    EXPECT_FLOAT_EQ(actual.obs[row][0].item<float>(), expected[i].obs) << where << " row " << i;
    EXPECT_EQ(actual.actions[row].item<std::int64_t>(), expected[i].action) << where << " row " << i;
    EXPECT_NEAR(actual.returns[row].item<float>(), expected[i].ret, kNStepTol) << where << " row " << i;
    EXPECT_FLOAT_EQ(actual.next_obs[row][0].item<float>(), expected[i].next_obs)
        << where << " row " << i;
    EXPECT_NEAR(actual.discounts[row].item<float>(), expected[i].discount, kNStepTol)
        << where << " row " << i;
  }
}

// What each push of the script must emit with n = 3, gamma = 0.5, worked out by hand.
std::vector<std::vector<Expected>> expected_per_step() {
  return {
      // t=0: no window complete.
      {},
      // t=1: lane 1 truncated: both its windows end, bootstrapping from final obs 1011.
      //   start 0: 1 + 0.5*2 = 2, k = 2, discount 0.25;  start 1: 2, k = 1, discount 0.5.
      {{1, 1, 2.0f, 1011, 0.25f}, {11, 101, 2.0f, 1011, 0.5f}},
      // t=2: lane 0's first window is full: 1 + 0.5*2 + 0.25*3 = 2.75, next obs 30, 0.5^3.
      {{0, 0, 2.75f, 30, 0.125f}},
      // t=3 (first step of the second chunk): lane 0 terminates; windows from t = 1, 2, 3 end at final
      // obs 1030 with discount 0: 2 + 0.5*3 + 0.25*4 = 4.5;  3 + 0.5*4 = 5;  4.
      {{10, 100, 4.5f, 1030, 0.0f}, {20, 200, 5.0f, 1030, 0.0f}, {30, 300, 4.0f, 1030, 0.0f}},
      // t=4: lane 1's window from t = 2: 4 + 0.5*8 + 0.25*16 = 12, next obs 51.
      {{21, 201, 12.0f, 51, 0.125f}},
      // t=5: lane 1's window from t = 3: 8 + 0.5*16 + 0.25*32 = 24, next obs 61.
      {{31, 301, 24.0f, 61, 0.125f}},
  };
}

TEST(NStep, ThreeStepAcrossTerminationTruncationAndChunkBoundary) {
  const Script script;
  const auto expected = expected_per_step();
  NStepBuffer buffer(/*num_envs=*/2, /*n=*/3, /*gamma=*/0.5, /*obs_dim=*/1);
  // Two chunks of three steps: the buffer carries the open windows from one to the next.
  for (std::int64_t t = 0; t < Script::kSteps; ++t) {
    const auto out = buffer.push(script.obs(t), script.actions(t), script.reward(t),
                                 script.terminated(t), script.truncated(t), script.next_obs(t));
    expect_transitions(out, expected[static_cast<std::size_t>(t)], "step " + std::to_string(t));
  }
  // Windows from t = 4, 5 stay open in both lanes.
  EXPECT_EQ(buffer.pending(0), 2);
  EXPECT_EQ(buffer.pending(1), 2);
}

TEST(NStep, PureFunctionMatchesHandValues) {
  const Script script;
  std::vector<Expected> all;
  for (const auto& step : expected_per_step()) all.insert(all.end(), step.begin(), step.end());
  expect_transitions(nstep_transitions(script.rollout(0, Script::kSteps), 3, 0.5), all, "whole");
  // A chunk on its own emits only the windows that close inside it: steps 0..2 give the first three.
  expect_transitions(nstep_transitions(script.rollout(0, 3), 3, 0.5),
                     std::vector<Expected>(all.begin(), all.begin() + 3), "first chunk");
}

TEST(NStep, OneStepIsOrdinaryTransitions) {
  torch::manual_seed(1);
  const std::int64_t lanes = 4, dim = 3;
  const double gamma = 0.9;
  NStepBuffer buffer(lanes, /*n=*/1, gamma, dim);
  for (int t = 0; t < 10; ++t) {
    const auto obs = torch::randn({lanes, dim});
    const auto actions = torch::randint(0, 5, {lanes}, torch::kLong);
    const auto rewards = torch::randn({lanes});
    const auto terminated = (torch::rand({lanes}) < 0.2).to(torch::kFloat);
    const auto truncated = (torch::rand({lanes}) < 0.2).to(torch::kFloat);
    const auto next_obs = torch::randn({lanes, dim});
    const auto out = buffer.push(obs, actions, rewards, terminated, truncated, next_obs);
    ASSERT_EQ(out.size(), lanes);
    EXPECT_TRUE(torch::equal(out.obs, obs));
    EXPECT_TRUE(torch::equal(out.actions, actions));
    EXPECT_TRUE(torch::equal(out.returns, rewards));
    EXPECT_TRUE(torch::equal(out.next_obs, next_obs));
    EXPECT_TRUE(torch::allclose(out.discounts, gamma * (1.0 - terminated)));
  }
}

TEST(NStep, StreamingEqualsPureFunctionOnRandomRollout) {
  torch::manual_seed(2);
  const std::int64_t steps = 25, lanes = 3, dim = 2, n = 4;
  const double gamma = 0.8;
  NStepRollout rollout{torch::randn({steps, lanes, dim}),
                       torch::randint(0, 3, {steps, lanes}, torch::kLong),
                       torch::randn({steps, lanes}),
                       torch::rand({steps, lanes}) < 0.1,
                       torch::rand({steps, lanes}) < 0.1,
                       torch::randn({steps, lanes, dim})};
  const auto expected = nstep_transitions(rollout, n, gamma);

  NStepBuffer buffer(lanes, n, gamma, dim);
  std::vector<Transitions> parts;
  for (std::int64_t t = 0; t < steps; ++t) {
    parts.push_back(buffer.push(rollout.obs[t], rollout.actions[t], rollout.rewards[t],
                                rollout.terminated[t], rollout.truncated[t], rollout.next_obs[t]));
  }
  const auto cat = [&](auto field) {
    std::vector<torch::Tensor> pieces;
    for (const auto& p : parts) pieces.push_back(field(p));
    return torch::cat(pieces);
  };
  EXPECT_GT(expected.size(), steps);  // the rollout does emit a good number of windows
  EXPECT_TRUE(torch::equal(cat([](const Transitions& p) { return p.obs; }), expected.obs));
  EXPECT_TRUE(torch::equal(cat([](const Transitions& p) { return p.actions; }), expected.actions));
  EXPECT_TRUE(torch::allclose(cat([](const Transitions& p) { return p.returns; }), expected.returns));
  EXPECT_TRUE(torch::equal(cat([](const Transitions& p) { return p.next_obs; }), expected.next_obs));
  EXPECT_TRUE(
      torch::allclose(cat([](const Transitions& p) { return p.discounts; }), expected.discounts));
}

TEST(NStep, RejectsBadArguments) {
  EXPECT_THROW(NStepBuffer(2, 0, 0.9, 1), c10::Error);
  NStepBuffer buffer(2, 3, 0.9, 1);
  EXPECT_THROW(buffer.push(torch::zeros({3, 1}), torch::zeros({3}), torch::zeros({3}),
                           torch::zeros({3}), torch::zeros({3}), torch::zeros({3, 1})),
               c10::Error);
}

}  // namespace
}  // namespace apiary::learner
