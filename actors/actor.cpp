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

torch::Tensor view(void* data, torch::IntArrayRef shape, torch::ScalarType dtype, envs::Device device) {
  return torch::from_blob(data, shape,
                          torch::TensorOptions().dtype(dtype).device(device == envs::Device::kCuda ? torch::kCUDA : torch::kCPU));
}

bool on_gpu(const envs::VecEnv& env) { return env.device() == envs::Device::kCuda; }

// Finite-only training: the first non-finite observation element or reward of a step stops the run with
// an error that names the env, the plugin it came from, the lane and the step. `obs` and `reward`
// ([N, D] and [N], host memory; `reward` may be null) are one step's. It is a scan of
// num_envs * (obs_dim + 1) floats per step, small next to stepping and acting.
// uint8 observations are finite by construction: `obs` is then null and only rewards are checked.
void check_finite(const envs::VecEnv& env, const float* obs, const float* reward, std::int64_t step) {
  const std::int64_t n = env.num_envs(), d = obs != nullptr ? env.spec().obs_dim() : 0;
  bool finite = true;
  for (std::int64_t k = 0; k < n * d; ++k) finite &= std::isfinite(obs[k]);
  if (reward != nullptr)
    for (std::int64_t i = 0; i < n; ++i) finite &= std::isfinite(reward[i]);
  if (finite) return;
  const envs::EnvEntry* entry = envs::Registry::global().find(env.spec().id);
  const std::string origin = entry != nullptr && entry->origin != "builtin" ? " (plugin " + entry->origin + ")" : "";
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j)
      if (!std::isfinite(obs[i * d + j]))
        throw std::runtime_error("env " + env.spec().id + origin + " wrote a non-finite observation (element " +
                                 std::to_string(j) + " = " + std::to_string(obs[i * d + j]) + ") in lane " +
                                 std::to_string(i) + " at step " + std::to_string(step) +
                                 "; the run stops so that it does not train on it");
    if (reward != nullptr && !std::isfinite(reward[i]))
      throw std::runtime_error("env " + env.spec().id + origin + " gave a non-finite reward (" +
                               std::to_string(reward[i]) + ") in lane " + std::to_string(i) + " at step " +
                               std::to_string(step) + "; the run stops so that it does not train on it");
  }
}

// The same check for an env on the GPU: its observation after reset, read to the host.
void check_finite_reset(const envs::VecEnv& env, std::int64_t step) {
  if (!on_gpu(env)) return check_finite(env, env.buffers().obs, nullptr, step);
  if (env.spec().observation_space.is_uint8()) return;
  const torch::Tensor obs = env_views(env).obs.cpu();
  check_finite(env, obs.data_ptr<float>(), nullptr, step);
}

}  // namespace

agents::TrajectoryChunk host_copy(const agents::TrajectoryChunk& chunk) {
  agents::TrajectoryChunk out = chunk;  // header and episodes; the tensors are replaced below
  for (torch::Tensor* t : {&out.obs, &out.next_obs, &out.actions, &out.log_probs, &out.values, &out.rewards,
                           &out.terminated, &out.truncated, &out.state, &out.starts})
    if (t->defined()) *t = t->to(torch::kCPU);
  return out;
}

torch::ScalarType obs_dtype(const envs::EnvSpec& spec) {
  return spec.observation_space.is_uint8() ? torch::kUInt8 : torch::kFloat32;
}

EnvViews env_views(const envs::VecEnv& env) {
  const envs::BatchBuffers& buf = env.buffers();
  const std::int64_t n = env.num_envs(), d = env.spec().obs_dim();
  const envs::Device where = env.device();
  EnvViews v;
  if (env.spec().observation_space.is_uint8()) {
    v.obs = view(buf.obs_u8, {n, d}, torch::kUInt8, where);
    v.final_obs = view(buf.final_obs_u8, {n, d}, torch::kUInt8, where);
  } else {
    v.obs = view(buf.obs, {n, d}, torch::kFloat32, where);
    v.final_obs = view(buf.final_obs, {n, d}, torch::kFloat32, where);
  }
  v.reward = view(buf.reward, {n}, torch::kFloat32, where);
  v.terminated = view(buf.terminated, {n}, torch::kUInt8, where);
  v.truncated = view(buf.truncated, {n}, torch::kUInt8, where);
  v.final_return = view(buf.final_return, {n}, torch::kFloat32, where);
  v.final_length = view(buf.final_length, {n}, torch::kInt32, where);
  return v;
}


Actor::Actor(std::unique_ptr<envs::VecEnv> env, std::shared_ptr<agents::Policy> policy, ActorOptions options)
    : env_(std::move(env)), policy_(std::move(policy)), options_(options) {
  if (!env_ || !policy_) throw std::invalid_argument("actors::Actor needs an env and a policy");
  if (on_gpu(*env_)) options_.in_place = true;  // nothing else reads a GPU env's buffers
  const bool same_device = on_gpu(*env_) ? options_.device.is_cuda() : options_.device.is_cpu();
  if (options_.in_place && !same_device)
    throw std::invalid_argument("actors::Actor: the env is on " + envs::to_string(env_->device()) +
                                " and the policy on " + options_.device.str() +
                                "; acting in place needs both on one device (set env.device and device alike)");
  discrete_actions_.resize(static_cast<std::size_t>(env_->num_envs()));
  make_memory();
  if (options_.in_place) {
    views_ = env_views(*env_);
    if (env_->spec().action_space.is_discrete())
      device_actions_ = torch::empty({env_->num_envs()}, views_.obs.options().dtype(torch::kInt32));
  }
}

void Actor::make_memory() {
  const torch::Device where = options_.in_place ? options_.device : torch::Device(torch::kCPU);
  memory_ = agents::LaneMemory(*policy_, env_->num_envs(), options_.device);
  starts_ = memory_.empty() ? torch::Tensor() : torch::ones({env_->num_envs()}, torch::TensorOptions().device(where));
}

void Actor::set_policy(std::shared_ptr<agents::Policy> policy) {
  const bool same_memory = policy != nullptr && policy->state_size() == policy_->state_size();
  policy_ = std::move(policy);
  if (!same_memory) make_memory();  // new weights of the same network keep the lanes' memory
}

void Actor::set_memory(const torch::Tensor& state, const torch::Tensor& starts) {
  memory_.set(state);
  starts_.copy_(starts.view({-1}));
}

void Actor::reset(std::uint64_t seed) {
  env_->reset(seed);
  memory_.reset();
  if (starts_.defined()) starts_.fill_(1.0);
  check_finite_reset(*env_, env_steps_ / std::max<std::int64_t>(1, env_->num_envs()));
}

void Actor::allocate(std::int32_t num_steps) {
  const std::int64_t n = env_->num_envs(), d = env_->spec().obs_dim(), t = num_steps;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(options_.in_place ? options_.device : torch::kCPU);
  const auto obs_options = f32.dtype(obs_dtype(env_->spec()));
  chunk_.obs = torch::empty({t + 1, n, d}, obs_options);
  chunk_.next_obs = torch::empty({t, n, d}, obs_options);
  if (env_->spec().action_space.is_discrete())
    chunk_.actions = torch::empty({t, n}, f32.dtype(torch::kInt64));
  else
    chunk_.actions = torch::empty({t, n, env_->spec().action_dim()}, f32);
  chunk_.log_probs = options_.record_log_probs ? torch::empty({t, n}, f32) : torch::Tensor();
  chunk_.values = options_.record_log_probs ? torch::empty({t, n}, f32) : torch::Tensor();
  chunk_.rewards = torch::empty({t, n}, f32);
  chunk_.terminated = torch::empty({t, n}, f32);
  chunk_.truncated = torch::empty({t, n}, f32);
  chunk_.starts = memory_.empty() ? torch::Tensor() : torch::empty({t, n}, f32);
  if (options_.in_place) {
    ended_ = torch::empty({t, n}, f32.dtype(torch::kBool));
    ended_return_ = torch::empty({t, n}, f32);
    ended_length_ = torch::empty({t, n}, f32.dtype(torch::kInt32));
  }
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
                                 &chunk_.rewards, &chunk_.terminated, &chunk_.truncated, &chunk_.starts})
    shared = shared || (t->defined() && t->use_count() > 1);
  if (!chunk_.rewards.defined() || chunk_.num_steps() != num_steps || shared) allocate(num_steps);
  chunk_.episodes.clear();
  chunk_.actor_id = options_.actor_id;
  chunk_.sequence = sequence_++;
  chunk_.policy_version = policy_version;
  ctx.state = memory_.state();
  if (!memory_.empty()) chunk_.state = memory_.tensor().to(chunk_.rewards.device(), /*non_blocking=*/false, /*copy=*/true);
  if (options_.in_place)
    collect_in_place(num_steps, ctx);
  else
    collect_copying(num_steps, ctx);
  return chunk_;
}

void Actor::collect_copying(std::int32_t num_steps, agents::ActContext& ctx) {
  const std::int64_t n = env_->num_envs(), d = env_->spec().obs_dim();
  // Observations are copied as bytes in the env's dtype (float32, or uint8 images).
  const bool bytes = env_->spec().observation_space.is_uint8();
  const std::size_t row_bytes = static_cast<std::size_t>(d) * (bytes ? 1 : sizeof(float));
  const std::size_t obs_bytes = static_cast<std::size_t>(n) * row_bytes;
  const envs::BatchBuffers& buf = env_->buffers();
  const auto* env_obs = bytes ? buf.obs_u8 : reinterpret_cast<const std::uint8_t*>(buf.obs);
  const auto* env_final_obs = bytes ? buf.final_obs_u8 : reinterpret_cast<const std::uint8_t*>(buf.final_obs);
  const bool on_host = options_.device.is_cpu();
  auto* obs = static_cast<std::uint8_t*>(chunk_.obs.data_ptr());
  auto* next_obs = static_cast<std::uint8_t*>(chunk_.next_obs.data_ptr());
  float* rewards = chunk_.rewards.data_ptr<float>();
  float* terminated = chunk_.terminated.data_ptr<float>();
  float* truncated = chunk_.truncated.data_ptr<float>();
  std::memcpy(obs, env_obs, obs_bytes);
  for (std::int32_t t = 0; t < num_steps; ++t) {
    torch::Tensor obs_t = chunk_.obs[t];
    if (!on_host) obs_t = obs_t.to(options_.device);
    ctx.global_step = env_steps_;
    std::optional<core::ScopedTimer> inference;
    if (options_.profiler) inference.emplace(*options_.profiler, core::ProfileCategory::kInference);
    if (!memory_.empty()) chunk_.starts[t].copy_(starts_);
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
    check_finite(*env_, buf.obs, buf.reward, env_steps_ / n);
    // Rewards, flags and the next observation (the final one where the episode ended).
    std::uint8_t* next = next_obs + t * obs_bytes;
    std::memcpy(next, env_obs, obs_bytes);
    std::memcpy(obs + (t + 1) * obs_bytes, env_obs, obs_bytes);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t k = t * n + i;
      rewards[k] = buf.reward[i];
      terminated[k] = buf.terminated[i];
      truncated[k] = buf.truncated[i];
      if (buf.terminated[i] | buf.truncated[i]) {
        std::memcpy(next + i * row_bytes, env_final_obs + i * row_bytes, row_bytes);
        chunk_.episodes.push_back(agents::EpisodeStat{buf.final_return[i], buf.final_length[i]});
      }
    }
    if (!memory_.empty()) {  // a lane whose episode ended starts the next one with a zero memory
      memory_.reset_where(buf.terminated, buf.truncated);
      float* starts = starts_.data_ptr<float>();
      for (std::int64_t i = 0; i < n; ++i) starts[i] = static_cast<float>(buf.terminated[i] | buf.truncated[i]);
    }
  }
}

void Actor::collect_in_place(std::int32_t num_steps, agents::ActContext& ctx) {
  const std::int64_t n = env_->num_envs();
  const std::int64_t first_step = env_steps_ / n;
  const bool discrete = env_->spec().action_space.is_discrete();
  const envs::Device where = env_->device();
  chunk_.obs[0].copy_(views_.obs);
  for (std::int32_t t = 0; t < num_steps; ++t) {
    ctx.global_step = env_steps_;
    std::optional<core::ScopedTimer> inference;
    if (options_.profiler) inference.emplace(*options_.profiler, core::ProfileCategory::kInference);
    // The policy's input is the env's own observation buffer.
    if (!memory_.empty()) chunk_.starts[t].copy_(starts_);
    agents::PolicyAct act = policy_->act(views_.obs, ctx);
    chunk_.actions[t].copy_(act.action.view(chunk_.actions[t].sizes()));
    if (options_.record_log_probs) {
      chunk_.log_probs[t].copy_(act.log_prob);
      chunk_.values[t].copy_(act.value);
    }
    // The env takes int32 (shifted by the space's start) or fp32 actions from the policy's device.
    torch::Tensor action;
    if (discrete) {
      device_actions_.copy_(act.action.view({n}));
      if (env_->spec().action_space.start != 0) device_actions_.add_(env_->spec().action_space.start);
    } else {
      action = chunk_.actions[t];  // fp32, contiguous: a row block of the chunk
    }
    inference.reset();
    {
      std::optional<core::ScopedTimer> stepping;
      if (options_.profiler) stepping.emplace(*options_.profiler, core::ProfileCategory::kEnv);
      if (discrete)
        env_->step(envs::ActionBatch::discrete(device_actions_.data_ptr<std::int32_t>(), n, where));
      else
        env_->step(envs::ActionBatch::continuous(action.data_ptr<float>(), n, env_->spec().action_dim(), where));
    }
    env_steps_ += n;
    if (!on_gpu(*env_)) check_finite(*env_, env_->buffers().obs, env_->buffers().reward, env_steps_ / n);
    chunk_.rewards[t].copy_(views_.reward);
    chunk_.terminated[t].copy_(views_.terminated);
    chunk_.truncated[t].copy_(views_.truncated);
    torch::Tensor ended = ended_[t];
    torch::logical_or_out(ended, views_.terminated, views_.truncated);
    if (!memory_.empty()) {
      memory_.reset_where(ended);
      starts_.copy_(ended);
    }
    torch::Tensor next = chunk_.next_obs[t];
    torch::where_out(next, ended.unsqueeze(1), views_.final_obs, views_.obs);
    chunk_.obs[t + 1].copy_(views_.obs);
    ended_return_[t].copy_(views_.final_return);
    ended_length_[t].copy_(views_.final_length);
  }
  if (on_gpu(*env_)) {
    // One check per chunk on the device; the host reads the chunk only to name the culprit.
    const bool finite = torch::isfinite(chunk_.obs).all().item<bool>() && torch::isfinite(chunk_.rewards).all().item<bool>();
    if (!finite) {
      const torch::Tensor obs = chunk_.obs.cpu(), rewards = chunk_.rewards.cpu();
      const bool float_obs = obs.scalar_type() == torch::kFloat32;
      for (std::int32_t t = 0; t < num_steps; ++t)
        check_finite(*env_, float_obs ? obs[t + 1].data_ptr<float>() : nullptr, rewards[t].data_ptr<float>(),
                     first_step + t + 1);
    }
  }
  // The episodes that ended, in step then lane order (as the copying path lists them).
  const torch::Tensor ended = ended_.cpu(), returns = ended_return_.cpu(), lengths = ended_length_.cpu();
  const bool* e = ended.data_ptr<bool>();
  const float* r = returns.data_ptr<float>();
  const std::int32_t* l = lengths.data_ptr<std::int32_t>();
  for (std::int64_t k = 0; k < num_steps * n; ++k)
    if (e[k]) chunk_.episodes.push_back(agents::EpisodeStat{r[k], l[k]});
}

EvalResult evaluate(envs::VecEnv& env, agents::Policy& policy, std::int32_t episodes, std::uint64_t seed,
                    torch::Device device) {
  if (episodes < 1) throw std::invalid_argument("evaluate: episodes must be >= 1");
  torch::NoGradGuard no_grad;
  const std::int32_t n = env.num_envs();
  const bool gpu = on_gpu(env);
  if (gpu && !device.is_cuda())
    throw std::invalid_argument("evaluate: the env is on cuda and the policy on " + device.str() +
                                "; an env on the GPU is played by a policy on the GPU");
  const EnvViews views = env_views(env);
  // Each lane owes a fixed number of episodes, so short episodes are not over-represented.
  std::vector<std::int32_t> owed(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) owed[static_cast<std::size_t>(i)] = (episodes + i) / n;
  // A lane that owes no more episodes need not move while the others finish theirs (a back end that
  // honours the hint skips its physics; the episodes counted are the same either way).
  std::vector<std::uint8_t> active(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < active.size(); ++i) active[i] = owed[i] > 0;
  struct ActiveLanes {
    envs::VecEnv& env;
    ~ActiveLanes() { env.set_active_lanes(nullptr); }
  } active_lanes{env};
  env.set_active_lanes(active.data());
  std::vector<double> returns, lengths;
  std::vector<std::int32_t> discrete(static_cast<std::size_t>(n));
  const envs::Space& space = env.spec().action_space;
  env.reset(seed);
  agents::LaneMemory memory(policy, n, device);  // a recurrent policy's, zeroed as each episode ends
  const envs::BatchBuffers& buf = env.buffers();
  const envs::Device where = env.device();
  // A GPU env's episode-end fields are read to the host once a step (2 x N bytes and 2 x N words).
  while (static_cast<std::int32_t>(returns.size()) < episodes) {
    torch::Tensor obs = gpu || device.is_cpu() ? views.obs : views.obs.to(device);
    torch::Tensor action = policy.deterministic_action(obs, memory.state());
    if (gpu) {
      if (space.is_discrete()) {
        const torch::Tensor a = (action.view({n}) + space.start).to(torch::kInt32).contiguous();
        env.step(envs::ActionBatch::discrete(a.data_ptr<std::int32_t>(), n, where));
      } else {
        const torch::Tensor a = action.to(torch::kFloat32).contiguous();
        env.step(envs::ActionBatch::continuous(a.data_ptr<float>(), n, env.spec().action_dim(), where));
      }
    } else if (space.is_discrete()) {
      action = action.to(torch::kCPU).contiguous();
      const auto* a = action.data_ptr<std::int64_t>();
      for (std::int32_t i = 0; i < n; ++i) discrete[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(a[i] + space.start);
      env.step(envs::ActionBatch::discrete(discrete.data(), n));
    } else {
      action = action.to(torch::kCPU, torch::kFloat32).contiguous();
      env.step(envs::ActionBatch::continuous(action.data_ptr<float>(), n, env.spec().action_dim()));
    }
    const std::uint8_t* terminated = buf.terminated;
    const std::uint8_t* truncated = buf.truncated;
    const float* final_return = buf.final_return;
    const std::int32_t* final_length = buf.final_length;
    torch::Tensor host_flags, host_return, host_length;
    if (gpu) {
      host_flags = torch::stack({views.terminated, views.truncated}).cpu();
      host_return = views.final_return.cpu();
      host_length = views.final_length.cpu();
      terminated = host_flags.data_ptr<std::uint8_t>();
      truncated = terminated + n;
      final_return = host_return.data_ptr<float>();
      final_length = host_length.data_ptr<std::int32_t>();
    }
    memory.reset_where(terminated, truncated);
    for (std::int32_t i = 0; i < n; ++i) {
      if (!(terminated[i] | truncated[i]) || owed[static_cast<std::size_t>(i)] == 0) continue;
      if (--owed[static_cast<std::size_t>(i)] == 0) active[static_cast<std::size_t>(i)] = 0;
      returns.push_back(final_return[i]);
      lengths.push_back(final_length[i]);
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
