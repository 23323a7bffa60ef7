#include "learner/nstep.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace apiary::learner {

namespace {

// int64 index tensor on `device` from host indices.
torch::Tensor to_index(const std::vector<std::int64_t>& v, torch::Device device) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong)).to(device);
}

torch::Tensor to_float(const std::vector<float>& v, torch::Device device) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat)).to(device);
}

// A [N] flag or reward tensor as contiguous host memory of type T.
torch::Tensor host_row(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.to(torch::kCPU, dtype).contiguous();
}

}  // namespace

NStepBuffer::NStepBuffer(std::int64_t num_envs, std::int64_t n, double gamma, std::int64_t obs_dim,
                         torch::Device device, torch::Dtype obs_dtype)
    : num_envs_(num_envs), n_(n), gamma_(gamma), obs_dim_(obs_dim), device_(device) {
  TORCH_CHECK(num_envs >= 1, "NStepBuffer: num_envs must be >= 1, got ", num_envs);
  TORCH_CHECK(n >= 1, "NStepBuffer: n must be >= 1 (1 gives one-step transitions), got ", n);
  TORCH_CHECK(obs_dim >= 1, "NStepBuffer: obs_dim must be >= 1, got ", obs_dim);
  TORCH_CHECK(gamma >= 0.0 && gamma <= 1.0, "NStepBuffer: gamma must be in [0, 1], got ", gamma);
  pending_.assign(static_cast<std::size_t>(num_envs), 0);
  reward_history_.assign(static_cast<std::size_t>(n * num_envs), 0.0f);
  // NaN sentinel: a read of a row that was never written shows up in the losses (uint8 images: 0).
  const bool floats = obs_dtype == torch::kFloat;
  obs_history_ = torch::full({n * num_envs, obs_dim}, floats ? std::numeric_limits<float>::quiet_NaN() : 0.0f,
                             torch::TensorOptions().dtype(obs_dtype).device(device));
}

void NStepBuffer::clear() {
  std::fill(pending_.begin(), pending_.end(), 0);
}

Transitions NStepBuffer::push(const torch::Tensor& obs, const torch::Tensor& actions,
                              const torch::Tensor& rewards, const torch::Tensor& terminated,
                              const torch::Tensor& truncated, const torch::Tensor& next_obs) {
  torch::NoGradGuard no_grad;
  const auto lanes = num_envs_;
  TORCH_CHECK(obs.dim() == 2 && obs.size(0) == lanes && obs.size(1) == obs_dim_,
              "NStepBuffer::push: obs must be [num_envs, obs_dim] = [", lanes, ", ", obs_dim_,
              "], got ", obs.sizes());
  TORCH_CHECK(next_obs.sizes() == obs.sizes(), "NStepBuffer::push: next_obs must be [", lanes, ", ",
              obs_dim_, "], got ", next_obs.sizes());
  TORCH_CHECK(actions.dim() >= 1 && actions.size(0) == lanes,
              "NStepBuffer::push: actions must be [num_envs, ...], got ", actions.sizes());
  for (const auto* t : {&rewards, &terminated, &truncated}) {
    TORCH_CHECK(t->dim() == 1 && t->size(0) == lanes,
                "NStepBuffer::push: rewards, terminated and truncated must be [num_envs] = [", lanes,
                "], got ", t->sizes());
  }

  if (!action_history_.defined()) {
    std::vector<std::int64_t> shape{n_ * lanes};
    shape.insert(shape.end(), actions.sizes().begin() + 1, actions.sizes().end());
    action_history_ = torch::zeros(shape, actions.options().device(device_));
  }
  TORCH_CHECK(actions.sizes().slice(1) == action_history_.sizes().slice(1),
              "NStepBuffer::push: action shape changed from ", action_history_.sizes().slice(1),
              " to ", actions.sizes().slice(1));

  const auto slot = step_ % n_;
  obs_history_.slice(0, slot * lanes, (slot + 1) * lanes).copy_(obs);
  action_history_.slice(0, slot * lanes, (slot + 1) * lanes).copy_(actions);

  const auto rewards_host = host_row(rewards, torch::kFloat);
  const auto terminated_host = host_row(terminated, torch::kBool);
  const auto truncated_host = host_row(truncated, torch::kBool);
  const float* reward = rewards_host.data_ptr<float>();
  const bool* term = terminated_host.data_ptr<bool>();
  const bool* trunc = truncated_host.data_ptr<bool>();
  std::copy(reward, reward + lanes, reward_history_.begin() + slot * lanes);

  std::vector<std::int64_t> rows;       // history rows of the emitted transitions' first step
  std::vector<std::int64_t> out_lanes;  // their lanes, for next_obs
  std::vector<float> returns;
  std::vector<float> discounts;
  for (std::int64_t lane = 0; lane < lanes; ++lane) {
    auto& open = pending_[static_cast<std::size_t>(lane)];
    open += 1;  // the window starting at this step
    const bool done = term[lane] || trunc[lane];
    const std::int64_t emit = done ? open : (open == n_ ? 1 : 0);
    for (std::int64_t j = 0; j < emit; ++j) {
      const std::int64_t start = step_ - open + 1 + j;
      const std::int64_t k = step_ - start + 1;  // rewards in the window, 1 ... n
      double ret = 0.0;
      double discount = 1.0;
      for (std::int64_t i = 0; i < k; ++i) {
        ret += discount * reward_history_[static_cast<std::size_t>(((start + i) % n_) * lanes + lane)];
        discount *= gamma_;
      }
      rows.push_back((start % n_) * lanes + lane);
      out_lanes.push_back(lane);
      returns.push_back(static_cast<float>(ret));
      discounts.push_back(term[lane] ? 0.0f : static_cast<float>(discount));
    }
    open = done ? 0 : open - emit;
  }
  step_ += 1;

  const auto row_index = to_index(rows, device_);
  Transitions out;
  out.obs = obs_history_.index_select(0, row_index);
  out.actions = action_history_.index_select(0, row_index);
  out.returns = to_float(returns, device_);
  out.next_obs = next_obs.to(device_, obs_history_.scalar_type()).index_select(0, to_index(out_lanes, device_));
  out.discounts = to_float(discounts, device_);
  return out;
}

Transitions nstep_transitions(const NStepRollout& rollout, std::int64_t n, double gamma) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(n >= 1, "nstep_transitions: n must be >= 1, got ", n);
  TORCH_CHECK(rollout.obs.dim() == 3, "nstep_transitions: obs must be [T, N, D], got ",
              rollout.obs.sizes());
  const auto steps = rollout.obs.size(0);
  const auto lanes = rollout.obs.size(1);
  const auto dim = rollout.obs.size(2);
  TORCH_CHECK(rollout.next_obs.sizes() == rollout.obs.sizes(),
              "nstep_transitions: next_obs must be [T, N, D] like obs");
  for (const auto* t : {&rollout.rewards, &rollout.terminated, &rollout.truncated}) {
    TORCH_CHECK(t->dim() == 2 && t->size(0) == steps && t->size(1) == lanes,
                "nstep_transitions: rewards, terminated, truncated must be [T, N], got ",
                t->sizes());
  }
  TORCH_CHECK(rollout.actions.dim() >= 2 && rollout.actions.size(0) == steps &&
                  rollout.actions.size(1) == lanes,
              "nstep_transitions: actions must be [T, N, ...], got ", rollout.actions.sizes());

  const auto rewards_host = host_row(rollout.rewards, torch::kFloat);
  const auto term_host = host_row(rollout.terminated, torch::kBool);
  const auto trunc_host = host_row(rollout.truncated, torch::kBool);
  const float* reward = rewards_host.data_ptr<float>();
  const bool* term = term_host.data_ptr<bool>();
  const bool* trunc = trunc_host.data_ptr<bool>();

  struct Item {
    std::int64_t end, lane, start;
    float ret, discount;
  };
  std::vector<Item> items;
  for (std::int64_t start = 0; start < steps; ++start) {
    for (std::int64_t lane = 0; lane < lanes; ++lane) {
      double ret = 0.0;
      double discount = 1.0;
      for (std::int64_t k = 1; k <= n && start + k - 1 < steps; ++k) {
        const auto at = (start + k - 1) * lanes + lane;
        ret += discount * reward[at];
        discount *= gamma;
        if (term[at] || trunc[at] || k == n) {
          items.push_back({start + k - 1, lane, start, static_cast<float>(ret),
                           term[at] ? 0.0f : static_cast<float>(discount)});
          break;
        }
      }
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.end, a.lane, a.start) < std::tie(b.end, b.lane, b.start);
  });

  std::vector<std::int64_t> first_rows, last_rows;
  std::vector<float> returns, discounts;
  for (const auto& item : items) {
    first_rows.push_back(item.start * lanes + item.lane);
    last_rows.push_back(item.end * lanes + item.lane);
    returns.push_back(item.ret);
    discounts.push_back(item.discount);
  }
  const auto device = rollout.obs.device();
  std::vector<std::int64_t> action_shape{steps * lanes};
  action_shape.insert(action_shape.end(), rollout.actions.sizes().begin() + 2,
                      rollout.actions.sizes().end());
  const auto first = to_index(first_rows, device);
  Transitions out;
  // Observations keep their dtype (uint8 images stay uint8); any other becomes float32.
  const auto obs_dtype = rollout.obs.scalar_type() == torch::kUInt8 ? torch::kUInt8 : torch::kFloat;
  out.obs = rollout.obs.reshape({steps * lanes, dim}).to(obs_dtype).index_select(0, first);
  out.actions = rollout.actions.reshape(action_shape).index_select(0, first.to(rollout.actions.device()));
  out.returns = to_float(returns, device);
  out.next_obs = rollout.next_obs.reshape({steps * lanes, dim})
                     .to(obs_dtype)
                     .index_select(0, to_index(last_rows, rollout.next_obs.device()));
  out.discounts = to_float(discounts, device);
  return out;
}

}  // namespace apiary::learner
