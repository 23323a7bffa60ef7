#include "learner/archive.h"

#include <algorithm>
#include <set>
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

// Every parameter and buffer of `module` (names prefixed by `prefix`), for a message.
void list_tensors(torch::nn::Module& module, const std::string& prefix, const std::string& why,
                  std::vector<std::string>& problems) {
  for (const auto& p : module.named_parameters(/*recurse=*/true))
    problems.push_back("'" + prefix + p.key() + "' " + shape_text(p.value().sizes().vec()) + ": " + why);
  for (const auto& b : module.named_buffers(/*recurse=*/true))
    problems.push_back("'" + prefix + b.key() + "' " + shape_text(b.value().sizes().vec()) + ": " + why);
}

// The stored tensor for each of `module`'s parameters and buffers, walking nested archives the way
// Module::save wrote them (own tensors, then one nested archive per child module). Each difference
// between the archive and the module (a tensor missing, of another shape, not finite, or stored
// without a place in the module) goes into `problems`, so that the message names them all.
void collect(torch::serialize::InputArchive& archive, torch::nn::Module& module, const std::string& prefix,
             std::vector<std::pair<torch::Tensor, torch::Tensor>>& assignments, std::vector<std::string>& problems) {
  std::set<std::string> known;
  auto take = [&](const std::string& name, const torch::Tensor& target, bool is_buffer) {
    known.insert(name);
    torch::Tensor stored;
    const std::string full = prefix + name;
    const std::string want = shape_text(target.sizes().vec());
    if (!archive.try_read(name, stored, is_buffer)) {
      problems.push_back("'" + full + "' " + want + ": not in the checkpoint");
      return;
    }
    if (stored.sizes() != target.sizes()) {
      problems.push_back("'" + full + "' is " + shape_text(stored.sizes().vec()) + " in the checkpoint, " + want +
                         " in the network");
      return;
    }
    if (stored.is_floating_point() && !torch::isfinite(stored).all().item<bool>()) {
      problems.push_back(std::string(is_buffer ? "buffer" : "parameter") + " '" + full +
                         "' holds non-finite values (NaN or inf)");
      return;
    }
    assignments.emplace_back(target, stored);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) take(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) take(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    known.insert(child.key());
    torch::serialize::InputArchive nested;
    if (!archive.try_read(child.key(), nested)) {
      list_tensors(*child.value(), prefix + child.key() + ".", "not in the checkpoint", problems);
      continue;
    }
    collect(nested, *child.value(), prefix + child.key() + ".", assignments, problems);
  }
  for (const std::string& stored : archive.keys()) {
    if (known.count(stored) != 0) continue;
    torch::Tensor t;
    if (archive.try_read(stored, t))
      problems.push_back("'" + prefix + stored + "' " + shape_text(t.sizes().vec()) +
                         ": in the checkpoint, not in the network");
    else
      problems.push_back("'" + prefix + stored + "': a layer in the checkpoint, not in the network");
  }
}

}  // namespace

void read_module(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module) {
  torch::serialize::InputArchive nested;
  if (!archive.try_read(key, nested)) throw std::invalid_argument("no network under '" + key + "'");
  // Every tensor is read and checked before any is assigned, so a refusal leaves the module as it was.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
  std::vector<std::string> problems;
  collect(nested, module, "", assignments, problems);
  if (!problems.empty()) {
    std::string text = "'" + key + "' differs from the network in " + std::to_string(problems.size()) +
                       (problems.size() == 1 ? " place:" : " places:");
    const std::size_t shown = std::min<std::size_t>(problems.size(), 12);
    for (std::size_t i = 0; i < shown; ++i) text += "\n  " + problems[i];
    if (shown < problems.size()) text += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
    throw std::invalid_argument(text);
  }
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
