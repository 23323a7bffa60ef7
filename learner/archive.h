// Checkpoint archives, written one way everywhere: each part of a learner (a network, an optimizer, a
// loss scaler) saves itself under its own key, so parts can be added without renaming the others, and
// scalars are 0-dim tensors (int64 or float64) under their own keys.
#pragma once

#include <cstdint>
#include <string>

#include <torch/nn/module.h>
#include <torch/serialize/archive.h>

namespace apiary::learner {

// Anything with save(OutputArchive&) (modules, optimizers, LossScaler) under `key`.
template <class Part>
void write_part(torch::serialize::OutputArchive& archive, const std::string& key, const Part& part) {
  torch::serialize::OutputArchive nested;
  part.save(nested);
  archive.write(key, nested);
}

// Anything with load(InputArchive&) from `key`.
template <class Part>
void read_part(torch::serialize::InputArchive& archive, const std::string& key, Part& part) {
  torch::serialize::InputArchive nested;
  archive.read(key, nested);
  part.load(nested);
}

// A network from `key`, checked: every parameter and buffer the module has must be in the archive
// with the shape the module was built with. Throws std::invalid_argument naming the key, the
// parameter and both shapes (LibTorch's own Module::load would re-seat a tensor of another shape
// silently, or fail with a backtrace).
void read_module(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module);

void write_scalar(torch::serialize::OutputArchive& archive, const std::string& key, std::int64_t value);
void write_scalar(torch::serialize::OutputArchive& archive, const std::string& key, double value);
// Reads what write_scalar wrote (or any one-element tensor); throws std::invalid_argument naming the key
// when it is missing or not one element.
std::int64_t read_i64(torch::serialize::InputArchive& archive, const std::string& key);
double read_f64(torch::serialize::InputArchive& archive, const std::string& key);

// "[64, 4]"
std::string shape_text(const std::vector<std::int64_t>& sizes);

}  // namespace apiary::learner
