#include "learner/archive.h"

#include <sstream>
#include <stdexcept>
#include <vector>

#include <torch/torch.h>

namespace apiary::learner {

std::string shape_text(const std::vector<std::int64_t>& sizes) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

namespace {

// The stored tensor for each of `module`'s parameters and buffers, walking nested archives the way
// Module::save wrote them (own tensors, then one nested archive per child module).
void collect(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& key,
             const std::string& prefix, std::vector<std::pair<torch::Tensor, torch::Tensor>>& assignments) {
  auto take = [&](const std::string& name, const torch::Tensor& target, bool is_buffer) {
    torch::Tensor stored;
    const std::string full = prefix + name;
    if (!archive.try_read(name, stored, is_buffer))
      throw std::invalid_argument("'" + key + "' has no " + (is_buffer ? "buffer" : "parameter") + " '" + full +
                                  "' (the network wants one of shape " + shape_text(target.sizes().vec()) + ")");
    if (stored.sizes() != target.sizes())
      throw std::invalid_argument("parameter '" + full + "' of '" + key + "' has shape " +
                                  shape_text(stored.sizes().vec()) + " in the checkpoint, the network wants " +
                                  shape_text(target.sizes().vec()));
    if (stored.is_floating_point() && !torch::isfinite(stored).all().item<bool>())
      throw std::invalid_argument((is_buffer ? "buffer '" : "parameter '") + full + "' of '" + key +
                                  "' holds non-finite values (NaN or inf)");
    assignments.emplace_back(target, stored);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) take(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) take(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive nested;
    if (!archive.try_read(child.key(), nested))
      throw std::invalid_argument("'" + key + "' has no submodule '" + prefix + child.key() + "'");
    collect(nested, *child.value(), key, prefix + child.key() + ".", assignments);
  }
}

}  // namespace

void read_module(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module) {
  torch::serialize::InputArchive nested;
  if (!archive.try_read(key, nested)) throw std::invalid_argument("no network under '" + key + "'");
  // Every tensor is read and checked before any is assigned, so a refusal leaves the module as it was.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
  collect(nested, module, key, "", assignments);
  torch::NoGradGuard no_grad;
  for (auto& [target, stored] : assignments) target.copy_(stored);
}

void write_scalar(torch::serialize::OutputArchive& archive, const std::string& key, std::int64_t value) {
  archive.write(key, torch::tensor(value, torch::kInt64));
}
void write_scalar(torch::serialize::OutputArchive& archive, const std::string& key, double value) {
  archive.write(key, torch::tensor(value, torch::kFloat64));
}

namespace {
torch::Tensor read_one(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  if (!archive.try_read(key, t)) {
    c10::IValue value;  // checkpoints before 0.2 stored some counters as plain integers
    if (archive.try_read(key, value) && value.isInt()) return torch::tensor(value.toInt(), torch::kInt64);
    throw std::invalid_argument("no value under '" + key + "'");
  }
  if (t.numel() != 1) throw std::invalid_argument("'" + key + "' is not one value");
  return t;
}
}  // namespace

std::int64_t read_i64(torch::serialize::InputArchive& archive, const std::string& key) {
  return read_one(archive, key).item<std::int64_t>();
}
double read_f64(torch::serialize::InputArchive& archive, const std::string& key) {
  return read_one(archive, key).item<double>();
}

}  // namespace apiary::learner
