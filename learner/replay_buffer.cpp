#include "learner/replay_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace apiary::learner {

at::Generator make_generator(std::uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// ---- ReplayBuffer ---------------------------------------------------------------------------------

ReplayBuffer::ReplayBuffer(std::int64_t capacity, std::int64_t obs_dim,
                           std::vector<std::int64_t> action_shape, torch::Dtype action_dtype,
                           torch::Device device, torch::Dtype obs_dtype)
    : capacity_(capacity), obs_dim_(obs_dim), device_(device) {
  TORCH_CHECK(capacity >= 1, "ReplayBuffer: capacity must be >= 1, got ", capacity);
  TORCH_CHECK(obs_dim >= 1, "ReplayBuffer: obs_dim must be >= 1, got ", obs_dim);
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  const auto floats = torch::TensorOptions().dtype(torch::kFloat).device(device);
  TORCH_CHECK(obs_dtype == torch::kFloat || obs_dtype == torch::kUInt8,
              "ReplayBuffer: observations are float32 or uint8, got ", obs_dtype);
  const auto obs_options = floats.dtype(obs_dtype);
  const double unwritten = obs_dtype == torch::kFloat ? static_cast<double>(nan) : 0.0;
  obs_ = torch::full({capacity, obs_dim}, unwritten, obs_options);
  next_obs_ = torch::full({capacity, obs_dim}, unwritten, obs_options);
  returns_ = torch::full({capacity}, nan, floats);
  discounts_ = torch::full({capacity}, nan, floats);
  std::vector<std::int64_t> shape{capacity};
  shape.insert(shape.end(), action_shape.begin(), action_shape.end());
  const auto action_options = torch::TensorOptions().dtype(action_dtype).device(device);
  // Integer actions cannot hold NaN; -1 is no valid discrete action.
  actions_ = c10::isFloatingType(action_dtype) ? torch::full(shape, nan, action_options)
                                                 : torch::full(shape, -1, action_options);
}

torch::Tensor ReplayBuffer::add(const Transitions& batch) {
  torch::NoGradGuard no_grad;
  const auto rows = batch.size();
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  if (rows == 0) return torch::empty({0}, cpu_long);
  TORCH_CHECK(batch.obs.dim() == 2 && batch.obs.size(1) == obs_dim_,
              "ReplayBuffer::add: obs must be [B, ", obs_dim_, "], got ", batch.obs.sizes());
  TORCH_CHECK(batch.obs.scalar_type() == obs_.scalar_type() && batch.next_obs.scalar_type() == obs_.scalar_type(),
              "ReplayBuffer::add: observations must be ", obs_.scalar_type(), " as the buffer stores them, got ",
              batch.obs.scalar_type(), " and ", batch.next_obs.scalar_type());
  TORCH_CHECK(batch.next_obs.sizes() == batch.obs.sizes(),
              "ReplayBuffer::add: next_obs must be [B, ", obs_dim_, "], got ", batch.next_obs.sizes());
  TORCH_CHECK(batch.actions.dim() >= 1 && batch.actions.size(0) == rows &&
                  batch.actions.sizes().slice(1) == actions_.sizes().slice(1),
              "ReplayBuffer::add: actions must be [B, ", actions_.sizes().slice(1), "], got ",
              batch.actions.sizes());
  TORCH_CHECK(batch.returns.dim() == 1 && batch.returns.size(0) == rows &&
                  batch.discounts.dim() == 1 && batch.discounts.size(0) == rows,
              "ReplayBuffer::add: returns and discounts must be [B] = [", rows, "]");

  // Only the last `capacity_` rows of an oversize batch survive; they land where they would have had
  // the rows been added one by one.
  const auto kept = std::min(rows, capacity_);
  const auto skipped = rows - kept;
  const auto first = (next_ + skipped) % capacity_;
  const auto slots = torch::arange(first, first + kept, cpu_long).remainder(capacity_);
  const auto where = slots.to(device_);
  const auto tail = [&](const torch::Tensor& t, const torch::Tensor& like) {
    return t.slice(0, skipped).to(device_, like.scalar_type());
  };
  obs_.index_copy_(0, where, tail(batch.obs, obs_));
  actions_.index_copy_(0, where, tail(batch.actions, actions_));
  returns_.index_copy_(0, where, tail(batch.returns, returns_));
  next_obs_.index_copy_(0, where, tail(batch.next_obs, next_obs_));
  discounts_.index_copy_(0, where, tail(batch.discounts, discounts_));

  next_ = (next_ + rows) % capacity_;
  size_ = std::min(capacity_, size_ + rows);
  return slots;
}

ReplaySample ReplayBuffer::gather(const torch::Tensor& indices) const {
  torch::NoGradGuard no_grad;
  const auto where = indices.to(device_, torch::kLong);
  ReplaySample out;
  out.obs = obs_.index_select(0, where);
  out.actions = actions_.index_select(0, where);
  out.returns = returns_.index_select(0, where);
  out.next_obs = next_obs_.index_select(0, where);
  out.discounts = discounts_.index_select(0, where);
  out.indices = indices.to(torch::kLong);
  out.weights = torch::ones({indices.size(0)}, obs_.options());
  return out;
}

torch::Tensor ReplayBuffer::sample_indices(std::int64_t batch_size, at::Generator& generator) const {
  TORCH_CHECK(size_ > 0, "ReplayBuffer::sample: the buffer is empty; add transitions first");
  TORCH_CHECK(batch_size >= 1, "ReplayBuffer::sample: batch_size must be >= 1, got ", batch_size);
  return torch::randint(size_, {batch_size}, generator, torch::TensorOptions().dtype(torch::kLong));
}

ReplaySample ReplayBuffer::sample(std::int64_t batch_size, at::Generator& generator) const {
  return gather(sample_indices(batch_size, generator));
}

bool ReplayBuffer::host_floats() const {
  return device_.is_cpu() && obs_.scalar_type() == torch::kFloat &&
         ((actions_.scalar_type() == torch::kLong && actions_.dim() == 1) || actions_.scalar_type() == torch::kFloat);
}

template <class Action>
void ReplayBuffer::gather_rows(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs, Action* actions,
                               float* returns, float* discounts) const {
  TORCH_CHECK(host_floats() && actions_.scalar_type() == c10::CppTypeToScalarType<Action>::value,
              "ReplayBuffer::gather_host: the buffer is not a CPU one of fp32 observations and ",
              c10::CppTypeToScalarType<Action>::value, " actions");
  const float* obs_rows = obs_.data_ptr<float>();
  const float* next_rows = next_obs_.data_ptr<float>();
  const Action* action_rows = actions_.data_ptr<Action>();
  const float* return_rows = returns_.data_ptr<float>();
  const float* discount_rows = discounts_.data_ptr<float>();
  const std::int64_t action_numel = capacity_ > 0 ? actions_.numel() / capacity_ : 0;
  const auto row_bytes = static_cast<std::size_t>(obs_dim_) * sizeof(float);
  const auto action_bytes = static_cast<std::size_t>(action_numel) * sizeof(Action);
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t i = indices[r];
    TORCH_CHECK(i >= 0 && i < size_, "ReplayBuffer::gather_host: index ", i, " outside [0, ", size_, ")");
    std::memcpy(obs + r * obs_dim_, obs_rows + i * obs_dim_, row_bytes);
    std::memcpy(next_obs + r * obs_dim_, next_rows + i * obs_dim_, row_bytes);
    std::memcpy(actions + r * action_numel, action_rows + i * action_numel, action_bytes);
    returns[r] = return_rows[i];
    discounts[r] = discount_rows[i];
  }
}

void ReplayBuffer::gather_host(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs,
                               std::int64_t* actions, float* returns, float* discounts) const {
  gather_rows(indices, n, obs, next_obs, actions, returns, discounts);
}

void ReplayBuffer::gather_host(const std::int64_t* indices, std::int64_t n, float* obs, float* next_obs,
                               float* actions, float* returns, float* discounts) const {
  gather_rows(indices, n, obs, next_obs, actions, returns, discounts);
}

ReplaySample ReplayBuffer::sample(std::int64_t batch_size, std::uint64_t seed) const {
  auto generator = make_generator(seed);
  return sample(batch_size, generator);
}

// ---- SumTree --------------------------------------------------------------------------------------

SumTree::SumTree(std::int64_t capacity) : capacity_(capacity), leaves_(1) {
  TORCH_CHECK(capacity >= 1, "SumTree: capacity must be >= 1, got ", capacity);
  while (leaves_ < capacity_) leaves_ *= 2;
  nodes_.assign(static_cast<std::size_t>(2 * leaves_), 0.0);
}

void SumTree::set(std::int64_t index, double value) {
  TORCH_CHECK(index >= 0 && index < capacity_, "SumTree::set: index ", index, " outside [0, ",
              capacity_, ")");
  TORCH_CHECK(value >= 0.0 && std::isfinite(value),
              "SumTree::set: values must be finite and >= 0, got ", value);
  auto node = static_cast<std::size_t>(leaves_ + index);
  nodes_[node] = value;
  // Recomputed rather than adjusted by the difference, so rounding errors never accumulate.
  for (node /= 2; node >= 1; node /= 2) nodes_[node] = nodes_[2 * node] + nodes_[2 * node + 1];
}

void SumTree::set(const torch::Tensor& indices, const torch::Tensor& values) {
  TORCH_CHECK(indices.dim() == 1 && values.dim() == 1 && indices.size(0) == values.size(0),
              "SumTree::set: indices and values must be [B] of the same length");
  const auto index_host = indices.to(torch::kCPU, torch::kLong).contiguous();
  const auto value_host = values.to(torch::kCPU, torch::kDouble).contiguous();
  const auto* index = index_host.data_ptr<std::int64_t>();
  const auto* value = value_host.data_ptr<double>();
  for (std::int64_t i = 0; i < index_host.size(0); ++i) set(index[i], value[i]);
}

double SumTree::get(std::int64_t index) const {
  TORCH_CHECK(index >= 0 && index < capacity_, "SumTree::get: index ", index, " outside [0, ",
              capacity_, ")");
  return nodes_[static_cast<std::size_t>(leaves_ + index)];
}

std::int64_t SumTree::find_prefix_sum(double mass) const {
  std::size_t node = 1;
  const auto leaves = static_cast<std::size_t>(leaves_);
  while (node < leaves) {
    const auto left = 2 * node;
    // Go right only into mass that exists: a mass at or past the total (rounding) must not end on a
    // zero-priority leaf.
    if (mass < nodes_[left] || nodes_[left + 1] <= 0.0) {
      node = left;
    } else {
      mass -= nodes_[left];
      node = left + 1;
    }
  }
  return static_cast<std::int64_t>(node - leaves);
}

torch::Tensor SumTree::find_prefix_sum(const torch::Tensor& masses) const {
  TORCH_CHECK(masses.dim() == 1, "SumTree::find_prefix_sum: masses must be [B]");
  const auto mass_host = masses.to(torch::kCPU, torch::kDouble).contiguous();
  const auto* mass = mass_host.data_ptr<double>();
  auto out = torch::empty({mass_host.size(0)}, torch::TensorOptions().dtype(torch::kLong));
  auto* index = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < mass_host.size(0); ++i) index[i] = find_prefix_sum(mass[i]);
  return out;
}

// ---- PrioritizedReplay ----------------------------------------------------------------------------

PrioritizedReplay::PrioritizedReplay(std::int64_t capacity, std::int64_t obs_dim,
                                     std::vector<std::int64_t> action_shape,
                                     torch::Dtype action_dtype, PrioritizedReplayOptions options,
                                     torch::Device device, torch::Dtype obs_dtype)
    : buffer_(capacity, obs_dim, std::move(action_shape), action_dtype, device, obs_dtype),
      tree_(capacity),
      options_(options) {
  TORCH_CHECK(options.alpha >= 0.0, "PrioritizedReplay: alpha must be >= 0, got ", options.alpha);
  TORCH_CHECK(options.beta >= 0.0, "PrioritizedReplay: beta must be >= 0, got ", options.beta);
  TORCH_CHECK(options.epsilon > 0.0, "PrioritizedReplay: epsilon must be > 0, got ",
              options.epsilon);
}

torch::Tensor PrioritizedReplay::add(const Transitions& batch) {
  auto slots = buffer_.add(batch);
  const double priority = std::pow(max_priority_, options_.alpha);
  const auto* slot = slots.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < slots.size(0); ++i) tree_.set(slot[i], priority);
  return slots;
}

ReplaySample PrioritizedReplay::sample(std::int64_t batch_size, at::Generator& generator) const {
  TORCH_CHECK(size() > 0, "PrioritizedReplay::sample: the buffer is empty; add transitions first");
  TORCH_CHECK(batch_size >= 1, "PrioritizedReplay::sample: batch_size must be >= 1, got ",
              batch_size);
  const double total = tree_.total();
  const auto doubles = torch::TensorOptions().dtype(torch::kDouble);
  const auto uniform = torch::rand({batch_size}, generator, doubles);
  const auto masses =
      (torch::arange(batch_size, doubles) + uniform) * (total / static_cast<double>(batch_size));
  const auto indices = tree_.find_prefix_sum(masses);

  auto weights = torch::empty({batch_size}, doubles);
  auto* weight = weights.data_ptr<double>();
  const auto* index = indices.data_ptr<std::int64_t>();
  const auto filled = static_cast<double>(size());
  for (std::int64_t i = 0; i < batch_size; ++i) {
    const double probability = tree_.get(index[i]) / total;
    weight[i] = std::pow(filled * probability, -options_.beta);
  }
  weights.div_(weights.max());

  auto out = buffer_.gather(indices);
  out.weights = weights.to(out.returns.device(), torch::kFloat);
  return out;
}

ReplaySample PrioritizedReplay::sample(std::int64_t batch_size, std::uint64_t seed) const {
  auto generator = make_generator(seed);
  return sample(batch_size, generator);
}

void PrioritizedReplay::update_priorities(const torch::Tensor& indices,
                                          const torch::Tensor& td_errors) {
  TORCH_CHECK(indices.dim() == 1 && td_errors.dim() == 1 && indices.size(0) == td_errors.size(0),
              "PrioritizedReplay::update_priorities: indices and td_errors must be [B] alike");
  const auto index_host = indices.to(torch::kCPU, torch::kLong).contiguous();
  const auto td_host = td_errors.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const auto* index = index_host.data_ptr<std::int64_t>();
  const auto* td = td_host.data_ptr<double>();
  for (std::int64_t i = 0; i < index_host.size(0); ++i) {
    TORCH_CHECK(index[i] >= 0 && index[i] < size(), "PrioritizedReplay::update_priorities: index ",
                index[i], " outside the filled rows [0, ", size(), ")");
    TORCH_CHECK(std::isfinite(td[i]), "PrioritizedReplay::update_priorities: td_error of row ",
                index[i], " is not finite (", td[i], ")");
    const double priority = std::abs(td[i]) + options_.epsilon;
    max_priority_ = std::max(max_priority_, priority);
    tree_.set(index[i], std::pow(priority, options_.alpha));
  }
}

}  // namespace apiary::learner
