// Nested checkpoint archives: each part of a learner (a network, an optimizer, a loss scaler) saves
// itself under its own key, so parts can be added without renaming the others.
#pragma once

#include <string>

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

}  // namespace apiary::learner
