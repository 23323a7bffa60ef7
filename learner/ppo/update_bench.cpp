#include "learner/update_bench.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/encoder.h"
#include "learner/optim.h"
#include "learner/ppo/fused_net.h"
#include "learner/ppo/fused_step.h"
#include "learner/precision.h"
#include "learner/threads.h"

namespace apiary::learner {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

double micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The config's checks; the device it names, where `precision` can run.
torch::Device checked_device(const UpdateBenchConfig& config, Precision precision) {
  if (config.obs_dim < 1) throw std::invalid_argument("bench learner: --obs-dim must be at least 1");
  if (config.num_actions < 1) throw std::invalid_argument("bench learner: --actions must be at least 1");
  if (config.batch < 1) throw std::invalid_argument("bench learner: --batch must be at least 1");
  if (!(config.seconds > 0.0)) throw std::invalid_argument("bench learner: --seconds must be above 0");
  if (config.repeats < 1) throw std::invalid_argument("bench learner: --repeats must be at least 1");
  for (const auto h : config.hidden)
    if (h < 1) throw std::invalid_argument("bench learner: --hidden widths must be at least 1, got " + std::to_string(h));
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(config.device);
  } catch (const std::exception&) {
    throw std::invalid_argument("bench learner: --device: '" + config.device + "' is not a device (cpu, cuda, cuda:N)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("bench learner: --device " + config.device + ": this LibTorch has no CUDA device");
  check_precision_supported(precision, device);
  return device;
}

// The network the bench updates: the config's MLP, or its encoder over uint8 images shared by both
// heads; `obs_dim` gets the observation's flat width.
agents::PolicyConfig bench_policy(const UpdateBenchConfig& config, std::int64_t& obs_dim) {
  agents::PolicyConfig policy;
  policy.hidden_sizes = config.hidden;
  policy.recurrent_cell = config.recurrent;
  policy.recurrent_hidden = config.recurrent_hidden;
  obs_dim = config.obs_dim;
  if (config.encoder != "mlp") {
    agents::validate_encoder(agents::parse_encoder(config.encoder), config.obs_shape, "bench learner --obs");
    policy.encoder = config.encoder;
    policy.obs_shape = config.obs_shape;
    policy.shared_trunk = true;  // CleanRL's Atari agents: one network under both heads
    obs_dim = 1;
    for (const auto d : config.obs_shape) obs_dim *= d;
  }
  return policy;
}

// A recurrent core's sequences: whole lanes of `sequence` steps from a zero state, with an episode
// beginning in about one lane-step in fifty (as CartPole's early episodes do).
agents::Recurrence bench_recurrence(const UpdateBenchConfig& config, agents::ActorCriticImpl& net,
                                    const torch::TensorOptions& opts) {
  if (config.sequence < 1 || config.batch % config.sequence != 0)
    throw std::invalid_argument("bench learner: --batch " + std::to_string(config.batch) +
                                " must be a multiple of --sequence " + std::to_string(config.sequence));
  agents::Recurrence rec;
  rec.steps = config.sequence;
  rec.state = torch::zeros({config.batch / config.sequence, net.state_size()}, opts);
  rec.starts = torch::rand({rec.steps, rec.state.size(0)}, opts).lt(0.02).to(torch::kFloat);
  return rec;
}

// Floating-point operations of one update of an MLP network (with its recurrent cores, if any): the
// actor's and the critic's multiply-adds for one row, 2 flops each, times the batch, times 3 for the
// backward pass (gradients of the inputs and of the weights).
double update_flops(const UpdateBenchConfig& config, std::int64_t obs_dim, bool recurrent) {
  double macs = 0.0;
  for (const std::int64_t head : {config.num_actions, std::int64_t{1}}) {
    std::int64_t in = obs_dim;
    for (const auto h : config.hidden) {
      macs += static_cast<double>(in) * static_cast<double>(h);
      in = h;
    }
    if (recurrent) {  // each side's core: its input's and its state's products with the gates
      const double gates = (config.recurrent == "lstm" ? 4.0 : 3.0) * static_cast<double>(config.recurrent_hidden);
      macs += gates * static_cast<double>(in + config.recurrent_hidden);
      in = config.recurrent_hidden;
    }
    macs += static_cast<double>(in) * static_cast<double>(head);
  }
  return 2.0 * macs * static_cast<double>(config.batch) * 3.0;
}

}  // namespace

UpdateBenchResult bench_ppo_update(const UpdateBenchConfig& config) {
  const Precision precision = parse_precision(config.precision);
  const torch::Device device = checked_device(config, precision);
  set_compute_threads(config.threads);
  torch::manual_seed(0);
  std::int64_t obs_dim = 0;
  const agents::PolicyConfig policy = bench_policy(config, obs_dim);
  const bool images = config.encoder != "mlp";
  agents::ActorCritic net(obs_dim, envs::Space::discrete(config.num_actions), policy);
  net->to(device);
  FlatParameters flat(*net);
  torch::optim::Adam adam(std::vector<torch::Tensor>{flat.values()}, torch::optim::AdamOptions(3e-4).eps(1e-5));

  const auto opts = torch::TensorOptions().device(device);
  // Images are uint8 pixels, as the envs give them and the chunks carry them.
  const torch::Tensor obs = images ? torch::randint(0, 256, {config.batch, obs_dim}, opts.dtype(torch::kUInt8))
                                   : torch::randn({config.batch, obs_dim}, opts);
  const torch::Tensor actions = torch::randint(config.num_actions, {config.batch}, opts.dtype(torch::kInt64));
  const torch::Tensor advantages = torch::randn({config.batch}, opts);
  const torch::Tensor returns = torch::randn({config.batch}, opts);
  // What the clipped surrogate and value clipping compare with: behaviour log-probabilities near the
  // uniform policy's, behaviour values near the returns.
  const torch::Tensor old_log_probs = torch::randn({config.batch}, opts) * 0.1 - std::log(double(config.num_actions));
  const torch::Tensor old_values = returns + torch::randn({config.batch}, opts) * 0.1;
  const agents::Recurrence rec = net->recurrent() ? bench_recurrence(config, *net, opts) : agents::Recurrence{};
  const agents::Recurrence* recurrence = net->recurrent() ? &rec : nullptr;
  const bool fused = !images && !net->recurrent() && fused_step_applies(config.fused, device, precision);
  FusedPpoStep fused_step;
  FusedBatch fused_batch;
  fused_batch.rows = config.batch;
  fused_batch.obs = images ? nullptr : obs.data_ptr<float>();
  fused_batch.actions_d = actions.data_ptr<std::int64_t>();
  fused_batch.old_log_probs = old_log_probs.data_ptr<float>();
  fused_batch.old_values = old_values.data_ptr<float>();
  fused_batch.advantages = advantages.data_ptr<float>();
  fused_batch.returns = returns.data_ptr<float>();
  const FusedNet fused_net = fused ? fused_net_of(*net) : FusedNet{};

  UpdateBenchResult result;
  result.parameters = flat.values().numel();
  result.fused = fused;
  result.flops_per_update = images ? 0.0 : update_flops(config, obs_dim, net->recurrent());

  std::vector<double> rates, forward, backward, optimizer;
  auto one_update = [&](double* f, double* b, double* o) {
    const auto t0 = Clock::now();
    torch::Tensor loss;
    if (fused) {
      flat.grads().zero_();
      fused_step.run(fused_net, fused_batch, FusedLossOptions{});
    } else {
      AutocastGuard autocast(precision, device);
      const agents::EvalOut out = net->evaluate(obs, actions, recurrence);
      // PPO's loss terms, unclipped: policy gradient, value regression, entropy bonus.
      loss = -(out.log_prob * advantages).mean() + 0.5 * (out.value - returns).pow(2).mean() -
             0.01 * out.entropy.mean();
    }
    sync(device);
    const auto t1 = Clock::now();
    if (!fused) {
      flat.grads().zero_();
      loss.backward();
    }
    sync(device);
    const auto t2 = Clock::now();
    clip_grad_norm({flat.grads()}, 0.5);
    adam_step(adam);
    sync(device);
    const auto t3 = Clock::now();
    if (f) *f += micros(t0, t1);
    if (b) *b += micros(t1, t2);
    if (o) *o += micros(t2, t3);
  };
  for (int i = 0; i < 5; ++i) one_update(nullptr, nullptr, nullptr);  // warm-up: allocations, autocast caches
  for (int r = 0; r < config.repeats; ++r) {
    double f = 0, b = 0, o = 0;
    std::int64_t n = 0;
    const auto start = Clock::now();
    double elapsed = 0.0;
    do {
      one_update(&f, &b, &o);
      ++n;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < config.seconds);
    rates.push_back(static_cast<double>(n) / elapsed);
    forward.push_back(f / static_cast<double>(n));
    backward.push_back(b / static_cast<double>(n));
    optimizer.push_back(o / static_cast<double>(n));
    result.updates += n;
  }
  result.updates_per_second = median(rates);
  result.samples_per_second = result.updates_per_second * static_cast<double>(config.batch);
  result.achieved_flops = result.flops_per_update * result.updates_per_second;
  result.forward_us = median(forward);
  result.backward_us = median(backward);
  result.optimizer_us = median(optimizer);
  return result;
}

}  // namespace apiary::learner
