// What the algorithm tests (learner/, parallel/) share: metrics by name, and an algorithm's
// whole state saved to bytes and loaded back, as a checkpoint does.
#pragma once

#include <map>
#include <sstream>
#include <string>

#include <torch/serialize.h>

#include "learner/algorithm.h"

namespace apiary::testing {

inline std::map<std::string, double> as_map(const learner::Metrics& metrics) {
  std::map<std::string, double> out;
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

inline std::string saved_state(learner::Algorithm& algo) {
  std::stringstream stream;
  torch::serialize::OutputArchive archive;
  algo.save(archive);
  archive.save_to(stream);
  return stream.str();
}

inline void load_state(learner::Algorithm& algo, const std::string& state) {
  std::stringstream stream(state);
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  algo.load(archive);
}

}  // namespace apiary::testing
