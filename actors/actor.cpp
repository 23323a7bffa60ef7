#include "actors/actor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "envs/registry.h"

namespace apiary::actors {

namespace {

torch::Tensor host_obs_view(envs::VecEnv& env) {
  if (env.device() != envs::Device::kCpu)
    throw std::invalid_argument("actors::Actor needs an env on the CPU (got " + envs::to_string(env.device()) + ")");
  return torch::from_blob(env.buffers().obs, {env.num_envs(), env.spec().obs_dim()}, torch::kFloat32);
}

// Finite-only training: the first non-finite observation element or reward of a step stops the run with
// an error that names the env, the plugin it came from, the lane and the step. It is a scan of
// num_envs * (obs_dim + 1) floats per step, small next to stepping and acting.
void check_finite(const envs::VecEnv& env, std::int64_t step, bool rewards = true) {
  const envs::BatchBuffers& buf = env.buffers();
  const std::int64_t n = env.num_envs(), d = env.spec().obs_dim();
  bool finite = true;
  for (std::int64_t k = 0; k < n * d; ++k) finite &= std::isfinite(buf.obs[k]);
  if (rewards && buf.reward != nullptr)
    for (std::int64_t i = 0; i < n; ++i) finite &= std::isfinite(buf.reward[i]);
  if (finite) return;
  const envs::EnvEntry* entry = envs::Registry::global().find(env.spec().id);
  const std::string origin = entry != nullptr && entry->origin != "builtin" ? " (plugin " + entry->origin + ")" : "";
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j)
      if (!std::isfinite(buf.obs[i * d + j]))
        throw std::runtime_error("env " + env.spec().id + origin + " wrote a non-finite observation (element " +
                                 std::to_string(j) + " = " + std::to_string(buf.obs[i * d + j]) + ") in lane " +
                                 std::to_string(i) + " at step " + std::to_string(step) +
                                 "; the run stops so that it does not train on it");
    if (rewards && buf.reward != nullptr && !std::isfinite(buf.reward[i]))
      throw std::runtime_error("env " + env.spec().id + origin + " gave a non-finite reward (" +
                               std::to_string(buf.reward[i]) + ") in lane " + std::to_string(i) + " at step " +
                               std::to_string(step) + "; the run stops so that it does not train on it");
  }
}

}  // namespace

Actor::Actor(std::unique_ptr<envs::VecEnv> env, std::shared_ptr<agents::Policy> policy, ActorOptions options)
    : env_(std::move(env)), policy_(std::move(policy)), options_(options) {
  if (!env_ || !policy_) throw std::invalid_argument("actors::Actor needs an env and a policy");
  host_obs_view(*env_);  // checks the device early
  discrete_actions_.resize(static_cast<std::size_t>(env_->num_envs()));
}

void Actor::reset(std::uint64_t seed) {
  env_->reset(seed);
  check_finite(*env_, env_steps_ / std::max<std::int64_t>(1, env_->num_envs()), /*rewards=*/false);
}

void Actor::allocate(std::int32_t num_steps) {
  const std::int64_t n = env_->num_envs(), d = env_->spec().obs_dim(), t = num_steps;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  chunk_.obs = torch::empty({t + 1, n, d}, f32);
  chunk_.next_obs = torch::empty({t, n, d}, f32);
  if (env_->spec().action_space.is_discrete())
    chunk_.actions = torch::empty({t, n}, torch::kInt64);
  else
    chunk_.actions = torch::empty({t, n, env_->spec().action_dim()}, f32);
  chunk_.log_probs = options_.record_log_probs ? torch::empty({t, n}, f32) : torch::Tensor();
  chunk_.values = options_.record_log_probs ? torch::empty({t, n}, f32) : torch::Tensor();
  chunk_.rewards = torch::empty({t, n}, f32);
  chunk_.terminated = torch::empty({t, n}, f32);
  chunk_.truncated = torch::empty({t, n}, f32);
}

void Actor::step_env(const torch::Tensor& action) {
  const std::int32_t n = env_->num_envs();
  if (env_->spec().action_space.is_discrete()) {
    const auto* a = action.data_ptr<std::int64_t>();
    const auto start = static_cast<std::int64_t>(env_->spec().action_space.start);
    for (std::int32_t i = 0; i < n; ++i) discrete_actions_[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(a[i] + start);
    env_->step(envs::ActionBatch::discrete(discrete_actions_.data(), n));
  } else {
    env_->step(envs::ActionBatch::continuous(action.data_ptr<float>(), n, env_->spec().action_dim()));
  }
}

const agents::TrajectoryChunk& Actor::collect(std::int32_t num_steps, agents::ActContext ctx,
                                              std::int64_t policy_version) {
  if (num_steps < 1) throw std::invalid_argument("Actor::collect: num_steps must be >= 1");
  // Fresh buffers when the last chunk's are still referenced elsewhere (a zero-copy send in flight).
  bool shared = false;
  for (const torch::Tensor* t : {&chunk_.obs, &chunk_.next_obs, &chunk_.actions, &chunk_.log_probs, &chunk_.values,
                                 &chunk_.rewards, &chunk_.terminated, &chunk_.truncated})
    shared = shared || (t->defined() && t->use_count() > 1);
  if (!chunk_.rewards.defined() || chunk_.num_steps() != num_steps || shared) allocate(num_steps);
  const std::int64_t n = env_->num_envs(), d = env_->spec().obs_dim();
  const std::size_t obs_bytes = static_cast<std::size_t>(n * d) * sizeof(float);
  const envs::BatchBuffers& buf = env_->buffers();
  const bool on_host = options_.device.is_cpu();
  chunk_.episodes.clear();
  chunk_.actor_id = options_.actor_id;
  chunk_.sequence = sequence_++;
  chunk_.policy_version = policy_version;

  float* obs = chunk_.obs.data_ptr<float>();
  float* next_obs = chunk_.next_obs.data_ptr<float>();
  float* rewards = chunk_.rewards.data_ptr<float>();
  float* terminated = chunk_.terminated.data_ptr<float>();
  float* truncated = chunk_.truncated.data_ptr<float>();
  std::memcpy(obs, buf.obs, obs_bytes);
  for (std::int32_t t = 0; t < num_steps; ++t) {
    torch::Tensor obs_t = chunk_.obs[t];
    if (!on_host) obs_t = obs_t.to(options_.device);
    ctx.global_step = env_steps_;
    std::optional<core::ScopedTimer> inference;
    if (options_.profiler) inference.emplace(*options_.profiler, core::ProfileCategory::kInference);
    agents::PolicyAct act = policy_->act(obs_t, ctx);
    torch::Tensor action = act.action.to(torch::kCPU).contiguous();
    if (!env_->spec().action_space.is_discrete() && action.scalar_type() != torch::kFloat32)
      action = action.to(torch::kFloat32);
    chunk_.actions[t].copy_(action.view(chunk_.actions[t].sizes()));
    if (options_.record_log_probs) {
      chunk_.log_probs[t].copy_(act.log_prob);
      chunk_.values[t].copy_(act.value);
    }
    inference.reset();
    {
      std::optional<core::ScopedTimer> stepping;
      if (options_.profiler) stepping.emplace(*options_.profiler, core::ProfileCategory::kEnv);
      step_env(action);
    }
    env_steps_ += n;
    check_finite(*env_, env_steps_ / n);
    // Rewards, flags and the next observation (the final one where the episode ended).
    float* next = next_obs + t * n * d;
    std::memcpy(next, buf.obs, obs_bytes);
    std::memcpy(obs + (t + 1) * n * d, buf.obs, obs_bytes);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t k = t * n + i;
      rewards[k] = buf.reward[i];
      terminated[k] = buf.terminated[i];
      truncated[k] = buf.truncated[i];
      if (buf.terminated[i] | buf.truncated[i]) {
        std::memcpy(next + i * d, buf.final_obs + i * d, static_cast<std::size_t>(d) * sizeof(float));
        chunk_.episodes.push_back(agents::EpisodeStat{buf.final_return[i], buf.final_length[i]});
      }
    }
  }
  return chunk_;
}

EvalResult evaluate(envs::VecEnv& env, agents::Policy& policy, std::int32_t episodes, std::uint64_t seed,
                    torch::Device device) {
  if (episodes < 1) throw std::invalid_argument("evaluate: episodes must be >= 1");
  torch::NoGradGuard no_grad;
  const std::int32_t n = env.num_envs();
  torch::Tensor obs_view = host_obs_view(env);
  // Each lane owes a fixed number of episodes, so short episodes are not over-represented.
  std::vector<std::int32_t> owed(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) owed[static_cast<std::size_t>(i)] = (episodes + i) / n;
  std::vector<double> returns, lengths;
  std::vector<std::int32_t> discrete(static_cast<std::size_t>(n));
  const envs::Space& space = env.spec().action_space;
  env.reset(seed);
  agents::ActContext ctx;
  ctx.deterministic = true;
  const envs::BatchBuffers& buf = env.buffers();
  while (static_cast<std::int32_t>(returns.size()) < episodes) {
    torch::Tensor obs = device.is_cpu() ? obs_view : obs_view.to(device);
    torch::Tensor action = policy.act(obs, ctx).action.to(torch::kCPU).contiguous();
    if (space.is_discrete()) {
      const auto* a = action.data_ptr<std::int64_t>();
      for (std::int32_t i = 0; i < n; ++i) discrete[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(a[i] + space.start);
      env.step(envs::ActionBatch::discrete(discrete.data(), n));
    } else {
      action = action.to(torch::kFloat32).contiguous();
      env.step(envs::ActionBatch::continuous(action.data_ptr<float>(), n, env.spec().action_dim()));
    }
    for (std::int32_t i = 0; i < n; ++i) {
      if (!(buf.terminated[i] | buf.truncated[i]) || owed[static_cast<std::size_t>(i)] == 0) continue;
      --owed[static_cast<std::size_t>(i)];
      returns.push_back(buf.final_return[i]);
      lengths.push_back(buf.final_length[i]);
    }
  }
  EvalResult r;
  r.episodes = static_cast<std::int32_t>(returns.size());
  double sum = 0, sum_sq = 0, len = 0;
  for (std::size_t i = 0; i < returns.size(); ++i) {
    sum += returns[i];
    sum_sq += returns[i] * returns[i];
    len += lengths[i];
  }
  r.mean_return = sum / r.episodes;
  r.std_return = std::sqrt(std::max(0.0, sum_sq / r.episodes - r.mean_return * r.mean_return));
  r.mean_length = len / r.episodes;
  return r;
}

}  // namespace apiary::actors
