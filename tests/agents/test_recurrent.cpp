// Recurrent cores (agents/recurrent_core.h) in the ActorCritic: the core replayed over a sequence of
// whole lanes gives what stepping it one step at a time gave (episodes beginning mid-sequence, lanes
// of different phases, LSTM and GRU, shared or separate cores, discrete or continuous actions), the
// state's layout, truncated backpropagation, bf16 autocast, and the lanes' memory (LaneMemory).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/policy.h"
#include "agents/recurrent_core.h"
#include "learner/precision.h"

namespace apiary::agents {
namespace {

constexpr std::int64_t kObs = 3, kSteps = 9, kLanes = 4, kHidden = 8;

PolicyConfig recurrent_config(const std::string& cell, bool shared) {
  PolicyConfig c;
  c.hidden_sizes = {16};
  c.shared_trunk = shared;
  c.recurrent_cell = cell;
  c.recurrent_hidden = kHidden;
  return c;
}

envs::Space action_space(bool discrete) {
  return discrete ? envs::Space::discrete(3) : envs::Space::box({-1.0f, -1.0f}, {1.0f, 1.0f});
}

// Episode starts with lanes of different phases: lane 0 begins one at step 0 and again at step 4, lane
// 1 at steps 3 and 7, lane 2 runs through, lane 3 begins at step 8 (the last).
torch::Tensor starts_pattern() {
  torch::Tensor s = torch::zeros({kSteps, kLanes});
  s[0][0] = 1, s[4][0] = 1, s[3][1] = 1, s[7][1] = 1, s[8][3] = 1;
  return s;
}

struct CoreCase {
  std::string cell;
  bool shared;
  bool discrete;
};

// One case: the sequence replayed against the steps an actor took.
void expect_replay_matches_steps(const CoreCase& p) {
  SCOPED_TRACE(p.cell + (p.shared ? " shared" : " separate") + (p.discrete ? " discrete" : " box"));
  torch::manual_seed(7);
  ActorCritic net(kObs, action_space(p.discrete), recurrent_config(p.cell, p.shared));
  ASSERT_EQ(net->state_size(), recurrent_state_size(net->config()));
  const torch::Tensor obs = torch::randn({kSteps, kLanes, kObs});
  const torch::Tensor starts = starts_pattern();
  // A start state that is not zero (the memory of earlier chunks), zero where step 0 begins an episode.
  torch::Tensor state0 = torch::randn({kLanes, net->state_size()}) * 0.5;
  state0[0].zero_();

  // Step by step, as an actor acts: the memory zeroed where an episode begins, then one step.
  std::vector<torch::Tensor> actions, log_probs, values;
  LaneMemory memory(net->state_size(), kLanes, torch::kCPU);
  memory.set(state0);
  ActorCriticPolicy policy(net);
  torch::manual_seed(11);
  for (std::int64_t t = 0; t < kSteps; ++t) {
    memory.reset_where(starts[t]);
    ActContext ctx;
    ctx.state = memory.state();
    const PolicyAct a = policy.act(obs[t], ctx);
    actions.push_back(a.action);
    log_probs.push_back(a.log_prob);
    values.push_back(a.value);
  }

  // Replayed over the whole sequence from the start state, with autograd as PPO's update runs it.
  Recurrence rec;
  torch::Tensor final_state, step_states;
  rec.state = state0;
  rec.starts = starts;
  rec.steps = kSteps;
  rec.final_state = &final_state;
  rec.step_states = &step_states;
  const EvalOut replay = net->evaluate(obs.flatten(0, 1), torch::stack(actions).flatten(0, 1), &rec);
  EXPECT_TRUE(torch::allclose(replay.log_prob, torch::stack(log_probs).flatten(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(replay.value, torch::stack(values).flatten(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(final_state, memory.tensor(), 1e-5, 1e-6));
  EXPECT_EQ(step_states.sizes(), (std::vector<std::int64_t>{kSteps, kLanes, net->state_size()}));
  EXPECT_TRUE(torch::allclose(step_states[kSteps - 1], final_state));
  EXPECT_TRUE(replay.log_prob.requires_grad());

  // Without the resets the replay differs: the starts matter.
  Recurrence no_resets = rec;
  no_resets.starts = torch::Tensor();
  no_resets.final_state = nullptr;
  no_resets.step_states = nullptr;
  const EvalOut wrong = net->evaluate(obs.flatten(0, 1), torch::stack(actions).flatten(0, 1), &no_resets);
  EXPECT_FALSE(torch::allclose(wrong.value, replay.value, 1e-4, 1e-4));
}

TEST(Recurrent, TheSequenceGivesWhatStepByStepGave) {
  for (const CoreCase& c : {CoreCase{"lstm", true, true}, CoreCase{"lstm", false, true}, CoreCase{"gru", true, true},
                            CoreCase{"gru", false, false}, CoreCase{"lstm", false, false}})
    expect_replay_matches_steps(c);
}


// The core's hand-written recurrence (one autograd node, its backward written out) against
// LibTorch's own cells (at::lstm_cell, at::gru_cell: PyTorch's nn.LSTMCell and nn.GRUCell) stepped
// under autograd with the same resets and truncation: outputs, final state and every gradient.
TEST(Recurrent, TheCoresRecurrenceAndItsGradientsAreLibTorchsCells) {
  const std::int64_t in = 5, steps = 7, lanes = 3, hidden = 4;
  for (const CoreCell cell : {CoreCell::kLstm, CoreCell::kGru}) {
    for (const std::int64_t bptt : {0, 3}) {
      torch::manual_seed(13);
      RecurrentCore core(in, cell, hidden, /*orthogonal=*/false);
      const bool lstm = cell == CoreCell::kLstm;
      torch::Tensor x = torch::randn({steps * lanes, in}).requires_grad_(true);
      torch::Tensor state0 = torch::randn({lanes, core->state_size()}).requires_grad_(true);
      torch::Tensor starts = torch::zeros({steps, lanes});
      starts[2][0] = 1, starts[5][1] = 1, starts[3][2] = 1;
      const torch::Tensor w_out = torch::randn({steps * lanes, hidden}), w_state = torch::randn({lanes, core->state_size()});
      const auto params = core->parameters();  // weight_ih, weight_hh, bias_ih, bias_hh

      Recurrence rec;
      torch::Tensor final_state;
      rec.state = state0;
      rec.starts = starts;
      rec.steps = steps;
      rec.bptt_steps = bptt;
      rec.final_state = &final_state;
      const torch::Tensor out = core->sequence(x, rec);
      const auto grads = torch::autograd::grad({(out * w_out).sum() + (final_state * w_state).sum()},
                                               {x, state0, params[0], params[1], params[2], params[3]});

      std::vector<torch::Tensor> ref_out;
      torch::Tensor h = state0.slice(1, 0, hidden), c = lstm ? state0.slice(1, hidden) : torch::Tensor();
      for (std::int64_t t = 0; t < steps; ++t) {
        if (bptt > 0 && t > 0 && t % bptt == 0) {
          h = h.detach();
          if (lstm) c = c.detach();
        }
        const torch::Tensor keep = (1 - starts[t]).unsqueeze(1);
        h = h * keep;
        const torch::Tensor xt = x.slice(0, t * lanes, (t + 1) * lanes);
        if (lstm) {
          c = c * keep;
          const auto hc = at::lstm_cell(xt, {h, c}, params[0], params[1], params[2], params[3]);
          h = std::get<0>(hc), c = std::get<1>(hc);
        } else {
          h = at::gru_cell(xt, h, params[0], params[1], params[2], params[3]);
        }
        ref_out.push_back(h);
      }
      const torch::Tensor ref = torch::cat(ref_out), ref_final = lstm ? torch::cat({h, c}, 1) : h;
      const auto ref_grads = torch::autograd::grad({(ref * w_out).sum() + (ref_final * w_state).sum()},
                                                   {x, state0, params[0], params[1], params[2], params[3]});
      const std::string label = std::string(lstm ? "lstm" : "gru") + " bptt " + std::to_string(bptt);
      EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-6)) << label;
      EXPECT_TRUE(torch::allclose(final_state, ref_final, 1e-5, 1e-6)) << label;
      const char* names[] = {"x", "state0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"};
      for (std::size_t k = 0; k < grads.size(); ++k)
        EXPECT_TRUE(torch::allclose(grads[k], ref_grads[k], 1e-4, 1e-5))
            << label << " d" << names[k] << ": max gap " << (grads[k] - ref_grads[k]).abs().max().item<double>();
    }
  }
}

void expect_state_layout_and_parameter_names() {
  const auto names = [](ActorCritic& net) {
    std::vector<std::string> out;
    for (const auto& p : net->named_parameters()) out.push_back(p.key());
    return out;
  };
  ActorCritic shared_lstm(kObs, action_space(true), recurrent_config("lstm", true));
  EXPECT_EQ(shared_lstm->state_size(), 2 * kHidden);  // h and c
  const auto n = names(shared_lstm);
  EXPECT_NE(std::find(n.begin(), n.end(), "core.lstm.weight_ih"), n.end());
  EXPECT_NE(std::find(n.begin(), n.end(), "core.lstm.weight_hh"), n.end());
  EXPECT_EQ(shared_lstm->named_parameters()["actor_head.weight"].size(1), kHidden);  // heads read the core
  ActorCritic separate_gru(kObs, action_space(false), recurrent_config("gru", false));
  EXPECT_EQ(separate_gru->state_size(), 2 * kHidden);  // one h per side
  const auto g = names(separate_gru);
  EXPECT_NE(std::find(g.begin(), g.end(), "actor_core.gru.bias_hh"), g.end());
  EXPECT_NE(std::find(g.begin(), g.end(), "critic_core.gru.weight_ih"), g.end());
  EXPECT_THROW(ActorCritic(kObs, action_space(true), recurrent_config("rnn", true)), std::invalid_argument);
}

void expect_no_core_keeps_the_network() {
  torch::manual_seed(3);
  ActorCritic plain(kObs, action_space(true), PolicyConfig{});
  PolicyConfig none;
  none.recurrent_cell = "none";
  torch::manual_seed(3);
  ActorCritic with_none(kObs, action_space(true), none);
  EXPECT_EQ(with_none->state_size(), 0);
  const auto a = plain->named_parameters(), b = with_none->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key(), b[i].key());
    EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
  }
  ActorCriticPolicy policy(plain);
  EXPECT_EQ(policy.state_size(), 0);
  EXPECT_TRUE(LaneMemory(policy, 4, torch::kCPU).empty());
}

void expect_acting_without_a_state_refused() {
  ActorCritic net(kObs, action_space(true), recurrent_config("lstm", false));
  ActorCriticPolicy policy(net);
  try {
    policy.act(torch::randn({2, kObs}), ActContext{});
    FAIL() << "acted without a state";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("recurrent core"), std::string::npos) << e.what();
  }
  EXPECT_ANY_THROW(net->forward(torch::randn({2, kObs})));
  Recurrence wrong;
  wrong.state = torch::zeros({2, net->state_size() + 1});
  EXPECT_ANY_THROW(net->forward(torch::randn({2, kObs}), &wrong));
}

void expect_lane_memory_zeroes_exactly_the_ended_rows() {
  LaneMemory memory(3, 4, torch::kCPU);
  EXPECT_TRUE(torch::equal(memory.tensor(), torch::zeros({4, 3})));
  const torch::Tensor filled = torch::arange(1, 13, torch::kFloat).view({4, 3});
  memory.set(filled);
  const std::uint8_t terminated[4] = {0, 1, 0, 0}, truncated[4] = {0, 0, 0, 1};
  memory.reset_where(terminated, truncated);
  torch::Tensor expected = filled.clone();
  expected[1].zero_();
  expected[3].zero_();
  EXPECT_TRUE(torch::equal(memory.tensor(), expected));
  memory.reset_where(torch::tensor({1.0f, 0.0f, 0.0f, 0.0f}));
  expected[0].zero_();
  EXPECT_TRUE(torch::equal(memory.tensor(), expected));
  memory.reset();
  EXPECT_TRUE(torch::equal(memory.tensor(), torch::zeros({4, 3})));
  EXPECT_ANY_THROW(memory.set(torch::zeros({4, 2})));
}

// The state's layout and parameter names, a network without a core unchanged bit for bit, acting
// without a state refused, and the lanes' memory zeroed exactly where episodes ended.
TEST(Recurrent, NetworksStatesAndRefusals) {
  expect_state_layout_and_parameter_names();
  expect_no_core_keeps_the_network();
  expect_acting_without_a_state_refused();
  expect_lane_memory_zeroes_exactly_the_ended_rows();
}

void expect_truncated_backpropagation() {
  torch::manual_seed(5);
  ActorCritic net(kObs, action_space(true), recurrent_config("lstm", true));
  const std::int64_t steps = 5, lanes = 2;
  const auto last_value_grad_at_step0 = [&](std::int64_t bptt) {
    torch::Tensor obs = torch::randn({steps * lanes, kObs}).requires_grad_(true);
    Recurrence rec;
    rec.state = torch::zeros({lanes, net->state_size()});
    rec.steps = steps;
    rec.bptt_steps = bptt;
    const torch::Tensor value = net->forward(obs, &rec).value;
    value.slice(0, (steps - 1) * lanes).sum().backward();
    return obs.grad().slice(0, 0, lanes).abs().sum().item<double>();
  };
  EXPECT_GT(last_value_grad_at_step0(0), 0.0);   // the whole sequence: step 4 depends on step 0
  EXPECT_EQ(last_value_grad_at_step0(2), 0.0);   // windows of 2: cut at steps 2 and 4
  EXPECT_GT(last_value_grad_at_step0(5), 0.0);
}

void expect_bf16_keeps_the_state_in_fp32() {
  torch::manual_seed(9);
  ActorCritic net(kObs, action_space(true), recurrent_config("gru", true));
  const torch::Tensor obs = torch::randn({kSteps * kLanes, kObs});
  const auto run = [&](learner::Precision precision, torch::Tensor& state) {
    learner::AutocastGuard autocast(precision, torch::kCPU);
    Recurrence rec;
    rec.state = torch::zeros({kLanes, net->state_size()});
    rec.starts = starts_pattern();
    rec.steps = kSteps;
    rec.final_state = &state;
    return net->forward(obs, &rec).value;
  };
  torch::Tensor s32, s16;
  const torch::Tensor v32 = run(learner::Precision::kFp32, s32);
  const torch::Tensor v16 = run(learner::Precision::kBf16, s16);
  EXPECT_EQ(s16.scalar_type(), torch::kFloat);
  EXPECT_EQ(v16.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(v16, v32, 0.05, 0.05)) << (v16 - v32).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(s16, s32, 0.05, 0.05));
}

// Truncated backpropagation stops gradients at the window; bf16 autocast keeps the state in fp32.
TEST(Recurrent, TruncatedBackpropagationAndBf16) {
  expect_truncated_backpropagation();
  expect_bf16_keeps_the_state_in_fp32();
}

}  // namespace
}  // namespace apiary::agents
