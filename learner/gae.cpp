#include "learner/gae.h"

#include <vector>

namespace apiary::learner {

namespace {

// compute_gae for fp32 on the CPU as one loop over the elements, the operators' arithmetic in their
// order (float, the scalars rounded to float as the operators round them): the same bits, without
// the seven operators per step that cost more than the arithmetic on short rollouts.
GaeOut compute_gae_host(const GaeIn& in, std::int64_t steps, std::int64_t lanes) {
  const auto floats = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat).contiguous(); };
  const auto flags = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kBool).contiguous(); };
  const torch::Tensor rewards = floats(in.rewards), values = floats(in.values), next_values = floats(in.next_values);
  const torch::Tensor final_values = floats(in.final_values);
  const torch::Tensor terminated = flags(in.terminated), truncated = flags(in.truncated);
  const float* r = rewards.data_ptr<float>();
  const float* v = values.data_ptr<float>();
  const float* nv = next_values.data_ptr<float>();
  const float* fv = final_values.data_ptr<float>();
  const bool* term = terminated.data_ptr<bool>();
  const bool* trunc = truncated.data_ptr<bool>();
  torch::Tensor advantages = torch::empty({steps, lanes}, torch::kFloat);
  float* adv = advantages.data_ptr<float>();
  const float gamma = static_cast<float>(in.gamma);
  const float decay = static_cast<float>(in.gamma * in.gae_lambda);
  std::vector<float> running(static_cast<std::size_t>(lanes), 0.0f);  // A_{t+1}
  for (std::int64_t t = steps - 1; t >= 0; --t) {
    for (std::int64_t n = 0; n < lanes; ++n) {
      const std::int64_t i = t * lanes + n;
      const float following = t + 1 < steps ? v[i + lanes] : nv[n];
      const float boot = trunc[i] ? fv[i] : following;
      const float bootstrap = term[i] ? 0.0f : boot;
      const float delta = (r[i] + gamma * bootstrap) - v[i];
      const float not_done = (term[i] || trunc[i]) ? 0.0f : 1.0f;
      running[static_cast<std::size_t>(n)] = delta + decay * not_done * running[static_cast<std::size_t>(n)];
      adv[i] = running[static_cast<std::size_t>(n)];
    }
  }
  return GaeOut{advantages, advantages + values};
}

}  // namespace

GaeOut compute_gae(const GaeIn& in) {
  // Advantages and returns are regression targets, never differentiated through.
  torch::NoGradGuard no_grad;
  TORCH_CHECK(in.values.dim() == 2, "compute_gae: values must be [T, N], got ", in.values.sizes());
  const auto steps = in.values.size(0);
  const auto lanes = in.values.size(1);
  const auto check_tn = [&](const torch::Tensor& t, const char* name) {
    TORCH_CHECK(t.defined() && t.dim() == 2 && t.size(0) == steps && t.size(1) == lanes,
                "compute_gae: ", name, " must be [T, N] = [", steps, ", ", lanes, "], got ",
                t.defined() ? t.sizes() : torch::IntArrayRef{});
  };
  check_tn(in.rewards, "rewards");
  check_tn(in.terminated, "terminated");
  check_tn(in.truncated, "truncated");
  check_tn(in.final_values, "final_values");
  TORCH_CHECK(in.next_values.defined() && in.next_values.dim() == 1 &&
                  in.next_values.size(0) == lanes,
              "compute_gae: next_values must be [N] = [", lanes, "]");

  const auto dtype = in.values.scalar_type();
  if (dtype == torch::kFloat && in.values.device().is_cpu()) return compute_gae_host(in, steps, lanes);
  const auto rewards = in.rewards.to(dtype);
  const auto terminated = in.terminated.to(torch::kBool);
  const auto truncated = in.truncated.to(torch::kBool);
  const auto not_done = torch::logical_not(terminated.logical_or(truncated)).to(dtype);

  // V of the observation that follows step t within the same row of lanes; where the lane was
  // truncated at t that observation belongs to the next episode, so the final one is used instead.
  const auto following_values = torch::cat({in.values.slice(0, 1), in.next_values.unsqueeze(0)}, 0);
  const auto boot = torch::where(truncated, in.final_values.to(dtype), following_values);
  // (1 - terminated) as a selection rather than a product: a lane flagged both terminated and
  // truncated must not turn an unused NaN final value into a NaN advantage.
  const auto bootstrap = torch::where(terminated, torch::zeros_like(boot), boot);
  const auto deltas = rewards + in.gamma * bootstrap - in.values;

  const double decay = in.gamma * in.gae_lambda;
  auto advantages = torch::empty_like(in.values);
  auto running = torch::zeros({lanes}, in.values.options());  // A_{t+1}, [N]
  for (auto t = steps - 1; t >= 0; --t) {
    running = deltas[t] + decay * not_done[t] * running;
    advantages[t].copy_(running);
  }
  return GaeOut{advantages, advantages + in.values};
}

}  // namespace apiary::learner
