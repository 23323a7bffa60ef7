// Observation and action spaces, as in Gymnasium 1.x (gymnasium/spaces/discrete.py, box.py).
// Plain host-side descriptions: nothing here runs per step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace apiary::envs {

enum class SpaceKind : std::uint8_t {
  kDiscrete,  // integers {start, ..., start + n - 1}; one int32 per lane
  kBox,       // float32 tensor of `shape` per lane, each element within [low, high]
};

struct Space {
  SpaceKind kind = SpaceKind::kDiscrete;
  std::int64_t n = 0;      // kDiscrete: number of actions
  std::int64_t start = 0;  // kDiscrete: the first action (Gymnasium's `start`)
  std::vector<std::int64_t> shape;  // kBox: per-lane shape ({} for a scalar)
  std::vector<float> low;           // kBox: one bound per element (may be -inf)
  std::vector<float> high;          // kBox: one bound per element (may be +inf)

  static Space discrete(std::int64_t n, std::int64_t start = 0);
  static Space box(std::vector<float> low, std::vector<float> high,
                   std::vector<std::int64_t> shape = {});

  bool is_discrete() const { return kind == SpaceKind::kDiscrete; }
  // Elements per lane: 1 for a discrete space, the product of `shape` for a box.
  std::int64_t flat_size() const;
  bool contains(const float* row) const;  // kBox: every element within its bounds
  // "Discrete(2)" or "Box(-inf, inf, (4,), float32)", as Gymnasium prints them.
  std::string to_string() const;
};

}  // namespace apiary::envs
