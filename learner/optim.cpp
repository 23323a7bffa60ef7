#include "learner/optim.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <torch/torch.h>

#include "agents/dense_kernels.h"

namespace apiary::learner {

namespace {

std::vector<torch::Tensor> parameters_of(const std::vector<torch::nn::Module*>& modules) {
  std::vector<torch::Tensor> out;
  for (torch::nn::Module* m : modules)
    for (const auto& p : m->parameters()) out.push_back(p);
  return out;
}

}  // namespace

FlatParameters::FlatParameters(torch::nn::Module& module) : FlatParameters(std::vector<torch::nn::Module*>{&module}) {}

FlatParameters::FlatParameters(const std::vector<torch::nn::Module*>& modules) {
  const auto params = parameters_of(modules);
  TORCH_CHECK(!params.empty(), "FlatParameters: the network has no parameters");
  std::int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  values_ = torch::empty({total}, params.front().options().requires_grad(false));
  grads_ = torch::zeros({total}, values_.options());
  values_.mutable_grad() = grads_;
  bind(modules);
}

void FlatParameters::bind(torch::nn::Module& module) { bind(std::vector<torch::nn::Module*>{&module}); }

void FlatParameters::bind(const std::vector<torch::nn::Module*>& modules) {
  torch::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (auto& p : parameters_of(modules)) {
    const std::int64_t n = p.numel();
    TORCH_CHECK(offset + n <= values_.numel(), "FlatParameters: the network's parameters changed shape");
    const auto slice = values_.narrow(0, offset, n);
    slice.copy_(p.reshape({n}));
    p.set_(values_.storage(), values_.storage_offset() + offset, p.sizes());  // contiguous strides
    p.mutable_grad() = grads_.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
  TORCH_CHECK(offset == values_.numel(), "FlatParameters: the network's parameters changed shape");
}

namespace {

bool plain_cpu_floats(const torch::Tensor& t) {
  return t.defined() && t.is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
}

}  // namespace

void clip_grad_norm(const std::vector<torch::Tensor>& grads, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> defined;
  for (const auto& g : grads)
    if (g.defined()) defined.push_back(g);
  if (defined.empty()) return;
  if (defined.size() == 1 && plain_cpu_floats(defined.front())) {
    // One flat fp32 buffer on the CPU: two loops instead of five operators. A non-finite norm gives a
    // non-finite coefficient, as below, and the update guard undoes the step.
    float* g = defined.front().data_ptr<float>();
    const std::int64_t n = defined.front().numel();
    const double coef = max_norm / (std::sqrt(agents::sum_of_squares(g, n)) + 1e-6);
    if (!(coef >= 1.0)) {
      const float c = static_cast<float>(coef);
      for (std::int64_t i = 0; i < n; ++i) g[i] *= c;
    }
    return;
  }
  const torch::Tensor norm = defined.size() == 1 ? defined.front().norm()
                                                 : torch::stack([&] {
                                                     std::vector<torch::Tensor> norms;
                                                     for (const auto& g : defined) norms.push_back(g.norm());
                                                     return norms;
                                                   }())
                                                       .norm();
  const auto clip_coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
  for (const auto& g : defined) g.mul_(clip_coef);
}

namespace {

template <class F>
void for_each_param(torch::optim::Adam& optimizer, F&& f) {
  std::size_t i = 0;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) f(i++, p);
}

// Optimizer::state() keeps a parameter's state under its TensorImpl, where LibTorch's own Adam::step
// looks it up (no accessor is offered): the pointer's text in LibTorch 1.x, the pointer itself in 2.x.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>::key_type;

template <class Key>
Key key_of(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // as c10::guts::to_string writes it
    text << impl;
    return text.str();
  } else {
    return impl;
  }
}

StateKey state_key(const torch::Tensor& p) { return key_of<StateKey>(p.unsafeGetTensorImpl()); }

torch::optim::AdamParamState* adam_state(torch::optim::Adam& optimizer, const torch::Tensor& p) {
  auto& states = optimizer.state();
  const auto it = states.find(state_key(p));
  return it == states.end() ? nullptr : static_cast<torch::optim::AdamParamState*>(it->second.get());
}

}  // namespace

void adam_step(torch::optim::Adam& optimizer) {
  auto& groups = optimizer.param_groups();
  if (groups.size() == 1 && groups.front().params().size() == 1) {
    torch::Tensor& p = groups.front().params().front();
    const auto& o = static_cast<const torch::optim::AdamOptions&>(groups.front().options());
    auto* s = adam_state(optimizer, p);
    if (s != nullptr && plain_cpu_floats(p) && plain_cpu_floats(p.grad()) && plain_cpu_floats(s->exp_avg()) &&
        plain_cpu_floats(s->exp_avg_sq()) && o.weight_decay() == 0.0 && !o.amsgrad()) {
      // LibTorch's Adam (adam.cpp), elementwise over the one buffer.
      s->step(s->step() + 1);
      const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
      const double step = static_cast<double>(s->step());
      const float step_size = static_cast<float>(o.lr() / (1.0 - std::pow(beta1, step)));
      const float sqrt_bc2 = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step)));
      agents::adam_update(p.data_ptr<float>(), p.grad().data_ptr<float>(), s->exp_avg().data_ptr<float>(),
                          s->exp_avg_sq().data_ptr<float>(), p.numel(), static_cast<float>(beta1),
                          static_cast<float>(beta2), step_size, sqrt_bc2, static_cast<float>(o.eps()));
      return;
    }
  }
  optimizer.step();  // the first step (it creates the state), several tensors, a GPU, AMSGrad, decay
}

void UpdateGuard::save() {
  torch::NoGradGuard no_grad;
  params_.clear();
  exp_avg_.clear();
  exp_avg_sq_.clear();
  max_exp_avg_sq_.clear();
  step_.clear();
  extra_saved_.clear();
  for (const auto& t : extra_) extra_saved_.push_back(t.detach().clone());
  for_each_param(optimizer_, [&](std::size_t, torch::Tensor& p) {
    params_.push_back(p.detach().clone());
    const auto* s = adam_state(optimizer_, p);
    step_.push_back(s ? s->step() : -1);
    exp_avg_.push_back(s ? s->exp_avg().clone() : torch::Tensor());
    exp_avg_sq_.push_back(s ? s->exp_avg_sq().clone() : torch::Tensor());
    max_exp_avg_sq_.push_back(s && s->max_exp_avg_sq().defined() ? s->max_exp_avg_sq().clone() : torch::Tensor());
  });
}

void UpdateGuard::restore() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < extra_saved_.size(); ++i) extra_[i].copy_(extra_saved_[i]);
  for_each_param(optimizer_, [&](std::size_t i, torch::Tensor& p) {
    if (i >= params_.size()) return;
    p.copy_(params_[i]);
    auto* s = adam_state(optimizer_, p);
    if (s == nullptr) return;
    if (step_[i] < 0) {
      optimizer_.state().erase(state_key(p));
      return;
    }
    s->step(step_[i]);
    s->exp_avg().copy_(exp_avg_[i]);
    s->exp_avg_sq().copy_(exp_avg_sq_[i]);
    if (max_exp_avg_sq_[i].defined()) s->max_exp_avg_sq().copy_(max_exp_avg_sq_[i]);
  });
}

bool UpdateGuard::finite() const {
  std::vector<torch::Tensor> flags;
  for (auto& group : optimizer_.param_groups())
    for (auto& p : group.params()) flags.push_back(torch::isfinite(p).all());
  return flags.empty() || torch::stack(flags).all().item<bool>();
}

torch::Tensor trainable_mask(const torch::nn::Module& module, const std::function<bool(const std::string&)>& frozen) {
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;  // (offset, numel) of the frozen ones
  std::int64_t offset = 0;
  torch::Tensor first;
  for (const auto& p : module.named_parameters()) {
    if (!first.defined()) first = p.value();
    const std::int64_t n = p.value().numel();
    if (frozen(p.key())) spans.emplace_back(offset, n);
    offset += n;
  }
  if (spans.empty()) return {};
  torch::NoGradGuard no_grad;
  torch::Tensor mask = torch::ones({offset}, first.options().requires_grad(false));
  for (const auto& [start, n] : spans) mask.narrow(0, start, n).zero_();
  return mask;
}

void hold_frozen(const torch::Tensor& mask, const FlatParameters& flat, torch::optim::Adam& optimizer) {
  if (!mask.defined()) return;
  torch::NoGradGuard no_grad;
  flat.grads().mul_(mask);
  if (auto* s = adam_state(optimizer, flat.values()); s != nullptr) {
    s->exp_avg().mul_(mask);
    s->exp_avg_sq().mul_(mask);
  }
}

AdamMoments adam_moments(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> avg, avg_sq;
  AdamMoments out;
  bool stepped = false;
  for (const auto& p : params) {
    const auto* s = adam_state(optimizer, p);
    const auto zeros = torch::zeros({p.numel()}, torch::kFloat);
    avg.push_back(s ? s->exp_avg().reshape({-1}).to(torch::kCPU, torch::kFloat) : zeros);
    avg_sq.push_back(s ? s->exp_avg_sq().reshape({-1}).to(torch::kCPU, torch::kFloat) : zeros);
    if (s && !stepped) {
      out.step = s->step();
      stepped = true;
    }
  }
  out.exp_avg = avg.empty() ? torch::zeros({0}) : torch::cat(avg);
  out.exp_avg_sq = avg_sq.empty() ? torch::zeros({0}) : torch::cat(avg_sq);
  return out;
}

void set_adam_moments(torch::optim::Adam& optimizer, const std::vector<torch::Tensor>& params,
                      const AdamMoments& moments) {
  torch::NoGradGuard no_grad;
  std::int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  if (moments.exp_avg.numel() != total || moments.exp_avg_sq.numel() != total)
    throw std::invalid_argument("optimizer state: " + std::to_string(moments.exp_avg.numel()) + " moments for " +
                                std::to_string(total) + " parameter elements");
  std::int64_t offset = 0;
  for (const auto& p : params) {
    const StateKey key = state_key(p);
    const auto n = p.numel();
    if (moments.step <= 0) {
      optimizer.state().erase(key);
    } else {
      auto state = std::make_unique<torch::optim::AdamParamState>();
      state->step(moments.step);
      state->exp_avg(moments.exp_avg.narrow(0, offset, n).view(p.sizes()).to(p.device(), p.scalar_type()).clone());
      state->exp_avg_sq(moments.exp_avg_sq.narrow(0, offset, n).view(p.sizes()).to(p.device(), p.scalar_type()).clone());
      optimizer.state()[key] = std::move(state);
    }
    offset += n;
  }
}

std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  out.reserve(parameters.size());
  for (const auto& p : parameters) out.push_back(p.grad());
  return out;
}

}  // namespace apiary::learner
