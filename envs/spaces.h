// Observation and action spaces, as in Gymnasium 1.x (gymnasium/spaces/discrete.py, box.py).
// Plain host-side descriptions: nothing here runs per step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace apiary::envs {

enum class SpaceKind : std::uint8_t {
  kDiscrete,  // integers {start, ..., start + n - 1}; one int32 per lane
  kBox,       // a tensor of `shape` per lane in `dtype`, each element within [low, high]
};

// The element type of a Box: float32 (vectors, actions) or uint8 (images, channels-last (H, W, C)).
enum class BoxDType : std::uint8_t { kFloat32, kUInt8 };
const char* to_string(BoxDType dtype);           // "float32" or "uint8", as numpy names them
std::size_t element_size(BoxDType dtype);        // bytes per element

struct Space {
  SpaceKind kind = SpaceKind::kDiscrete;
  std::int64_t n = 0;      // kDiscrete: number of actions
  std::int64_t start = 0;  // kDiscrete: the first action (Gymnasium's `start`)
  std::vector<std::int64_t> shape;  // kBox: per-lane shape ({} for a scalar)
  std::vector<float> low;           // kBox: one bound per element (may be -inf)
  std::vector<float> high;          // kBox: one bound per element (may be +inf)
  BoxDType dtype = BoxDType::kFloat32;  // kBox: the element type; uint8 bounds are whole numbers in [0, 255]

  static Space discrete(std::int64_t n, std::int64_t start = 0);
  static Space box(std::vector<float> low, std::vector<float> high,
                   std::vector<std::int64_t> shape = {});
  // A uint8 Box of `shape` with every element in [low, high] (an image: (H, W, C)).
  static Space box_u8(std::vector<std::int64_t> shape, std::uint8_t low = 0, std::uint8_t high = 255);

  bool is_discrete() const { return kind == SpaceKind::kDiscrete; }
  bool is_uint8() const { return kind == SpaceKind::kBox && dtype == BoxDType::kUInt8; }
  // Elements per lane: 1 for a discrete space, the product of `shape` for a box.
  std::int64_t flat_size() const;
  bool contains(const float* row) const;  // kBox: every element within its bounds
  bool contains(const std::uint8_t* row) const;  // a uint8 kBox: every element within its bounds
  // "Discrete(2)", "Box(-inf, inf, (4,), float32)" or "Box(0, 255, (96, 96, 3), uint8)", as Gymnasium
  // prints them.
  std::string to_string() const;
};

}  // namespace apiary::envs
