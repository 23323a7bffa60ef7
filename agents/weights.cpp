#include "agents/weights.h"

#include <stdexcept>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace apiary::agents {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "export_weights writes host-order fp32 bytes; the wire format is little-endian"
#endif

namespace {

// Every parameter, then every buffer, in registration order: the layout of the byte format.
struct NamedTensors {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
};

NamedTensors named_weights(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.names.push_back(item.key());
    out.tensors.push_back(item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    out.names.push_back(item.key());
    out.tensors.push_back(item.value());
  }
  return out;
}

std::size_t total_nbytes(const std::vector<torch::Tensor>& tensors) {
  std::size_t elements = 0;
  for (const auto& t : tensors) elements += static_cast<std::size_t>(t.numel());
  return elements * sizeof(float);
}

// A fp32 view of `numel(sizes)` elements at `data`; no allocation of data.
torch::Tensor float_view(const std::uint8_t* data, torch::IntArrayRef sizes) {
  return torch::from_blob(const_cast<std::uint8_t*>(data), sizes, torch::kFloat);
}

std::string tensor_shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i > 0 ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Checks that `from` and `to` have the same tensors by name and shape; `who` prefixes the error.
void check_same_layout(const NamedTensors& from, const NamedTensors& to, const char* who) {
  if (from.tensors.size() != to.tensors.size())
    throw std::invalid_argument(std::string(who) + ": the source has " + std::to_string(from.tensors.size()) +
                                " parameters and buffers, the target " + std::to_string(to.tensors.size()));
  for (std::size_t i = 0; i < from.tensors.size(); ++i) {
    if (from.names[i] != to.names[i] || !from.tensors[i].sizes().equals(to.tensors[i].sizes()))
      throw std::invalid_argument(std::string(who) + ": tensor " + std::to_string(i) + " is '" + from.names[i] + "' " +
                                  tensor_shape_string(from.tensors[i]) + " in the source but '" + to.names[i] + "' " +
                                  tensor_shape_string(to.tensors[i]) + " in the target");
  }
}

}  // namespace

std::size_t weights_nbytes(const torch::nn::Module& module) { return total_nbytes(named_weights(module).tensors); }

void export_weights(const torch::nn::Module& module, std::int64_t version, Weights& out) {
  const NamedTensors weights = named_weights(module);
  out.version = version;
  out.bytes.resize(total_nbytes(weights.tensors));
  torch::NoGradGuard no_grad;
  std::size_t offset = 0;
  for (const auto& t : weights.tensors) {
    float_view(out.bytes.data() + offset, t.sizes()).copy_(t);
    offset += static_cast<std::size_t>(t.numel()) * sizeof(float);
  }
}

Weights export_weights(const torch::nn::Module& module, std::int64_t version) {
  Weights out;
  export_weights(module, version, out);
  return out;
}

void import_weights(torch::nn::Module& module, const Weights& weights) {
  const NamedTensors targets = named_weights(module);
  const std::size_t expected = total_nbytes(targets.tensors);
  if (weights.bytes.size() != expected)
    throw std::invalid_argument("import_weights: expected " + std::to_string(expected) + " bytes (" +
                                std::to_string(expected / sizeof(float)) + " fp32 values) for this module, got " +
                                std::to_string(weights.bytes.size()) + " bytes (weights version " +
                                std::to_string(weights.version) + ")");
  torch::NoGradGuard no_grad;
  std::size_t offset = 0;
  for (const auto& t : targets.tensors) {
    // copy_ rather than memcpy: it converts device and dtype and bumps the autograd version counter.
    torch::Tensor(t).copy_(float_view(weights.bytes.data() + offset, t.sizes()));
    offset += static_cast<std::size_t>(t.numel()) * sizeof(float);
  }
}

void copy_weights(const torch::nn::Module& from, torch::nn::Module& to) {
  const NamedTensors source = named_weights(from);
  const NamedTensors target = named_weights(to);
  check_same_layout(source, target, "copy_weights");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < source.tensors.size(); ++i) torch::Tensor(target.tensors[i]).copy_(source.tensors[i]);
}

void polyak_update(torch::nn::Module& target, const torch::nn::Module& online, double tau) {
  if (!(tau >= 0.0 && tau <= 1.0))
    throw std::invalid_argument("polyak_update: tau must be in [0, 1], got " + std::to_string(tau));
  const NamedTensors source = named_weights(online);
  const NamedTensors dest = named_weights(target);
  check_same_layout(source, dest, "polyak_update");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < source.tensors.size(); ++i) {
    torch::Tensor t = dest.tensors[i];
    if (t.is_floating_point()) {
      // lerp is exact at both ends: tau = 1 yields the online value, tau = 0 the target's.
      t.lerp_(source.tensors[i].to(t.dtype()), tau);
    } else {
      t.copy_(source.tensors[i]);
    }
  }
}

}  // namespace apiary::agents
