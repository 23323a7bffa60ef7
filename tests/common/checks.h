// Small checks that many test files use. Shared here rather than repeated per file: the test sources
// are compiled in batches (unity builds), where two files' helpers of the same name would collide.
#pragma once

#include <cstring>
#include <string>

namespace apiary::testing {

inline constexpr double kPi = 3.14159265358979323846;

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Same bits, NaN included: for buffers that must keep their older values.
inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

}  // namespace apiary::testing
