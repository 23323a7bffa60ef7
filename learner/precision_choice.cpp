#include "learner/precision_choice.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "agents/factory.h"

namespace apiary::learner {

bool cpu_has_bf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string word;
    while (words >> word)
      if (word == "avx512_bf16" || word == "amx_bf16") return true;
    return false;
  }
  return false;
}

namespace {

// Median milliseconds of one update of `net` on `obs` under `precision`.
double update_ms(agents::ActorCritic& net, const torch::Tensor& obs, const torch::Tensor& actions, Precision precision,
                 const torch::Device& device, const agents::Recurrence* rec) {
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    torch::Tensor loss;
    {
      AutocastGuard autocast(precision, device);
      const agents::EvalOut out = net->evaluate(obs, actions, rec);
      loss = -out.log_prob.mean() + out.value.pow(2).mean() - 0.01 * out.entropy.mean();
    }
    net->zero_grad();
    loss.backward();
    if (i >= 2)  // two warm-up updates: allocations, oneDNN's kernel choice, autocast's weight casts
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

PrecisionChoice choose_auto_precision(const agents::PolicyConfig& policy, const envs::EnvSpec& spec,
                                      const torch::Device& device, bool gpu_bf16, std::int64_t rows) {
  PrecisionChoice choice;
  if (device.is_cuda()) {
    choice.precision = gpu_bf16 ? Precision::kBf16 : Precision::kFp32;
    choice.note = gpu_bf16 ? "precision auto: bf16 (the GPU has bf16 arithmetic)"
                           : "precision auto: fp32 (the GPU has no bf16 arithmetic)";
    return choice;
  }
  if (!cpu_has_bf16()) {
    choice.note = "precision auto: fp32 (this CPU has no AVX-512 BF16 or AMX-BF16)";
    return choice;
  }
  // The run's network with fresh weights, on a batch of random observations and actions; the global
  // random state is left as it was, so that the run's own initialisation does not depend on this.
  at::Generator cpu_rng = at::detail::getDefaultCPUGenerator();
  const torch::Tensor saved_rng = cpu_rng.get_state();
  agents::ActorCritic net = agents::make_actor_critic(spec, policy);
  net->to(device);
  const auto opts = torch::TensorOptions().device(device);
  const torch::Tensor obs = spec.observation_space.is_uint8()
                                ? torch::randint(0, 256, {rows, spec.obs_dim()}, opts.dtype(torch::kUInt8))
                                : torch::randn({rows, spec.obs_dim()}, opts);
  const torch::Tensor actions = spec.action_space.is_discrete()
                                    ? torch::randint(spec.action_space.n, {rows}, opts.dtype(torch::kInt64))
                                    : torch::randn({rows, spec.action_dim()}, opts);
  // A recurrent network's rows are a sequence: 8 lanes of rows / 8 steps, replayed through the core.
  agents::Recurrence rec;
  if (net->recurrent()) {
    const std::int64_t lanes = std::min<std::int64_t>(8, rows);
    rec.steps = rows / lanes;
    rec.state = torch::zeros({lanes, net->state_size()}, opts);
  }
  const std::int64_t used = net->recurrent() ? rec.steps * rec.state.size(0) : rows;
  const agents::Recurrence* r = net->recurrent() ? &rec : nullptr;
  const double fp32 = update_ms(net, obs.slice(0, 0, used), actions.slice(0, 0, used), Precision::kFp32, device, r);
  const double bf16 = update_ms(net, obs.slice(0, 0, used), actions.slice(0, 0, used), Precision::kBf16, device, r);
  cpu_rng.set_state(saved_rng);
  choice.precision = bf16 < 0.9 * fp32 ? Precision::kBf16 : Precision::kFp32;
  char line[200];
  std::snprintf(line, sizeof line,
                "precision auto: %s (one %lld-row update of this network: fp32 %.2f ms, bf16 autocast %.2f ms)",
                to_string(choice.precision).c_str(), static_cast<long long>(rows), fp32, bf16);
  choice.note = line;
  return choice;
}

}  // namespace apiary::learner
