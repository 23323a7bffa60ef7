#include "envs/spaces.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace apiary::envs {

Space Space::discrete(std::int64_t n, std::int64_t start) {
  if (n <= 0) throw std::invalid_argument("Discrete space needs n > 0, got " + std::to_string(n));
  Space s;
  s.kind = SpaceKind::kDiscrete;
  s.n = n;
  s.start = start;
  return s;
}

Space Space::box(std::vector<float> low, std::vector<float> high, std::vector<std::int64_t> shape) {
  if (low.size() != high.size()) throw std::invalid_argument("Box space: low and high differ in size");
  if (shape.empty()) shape = {static_cast<std::int64_t>(low.size())};
  Space s;
  s.kind = SpaceKind::kBox;
  s.shape = std::move(shape);
  s.low = std::move(low);
  s.high = std::move(high);
  if (static_cast<std::int64_t>(s.low.size()) != s.flat_size())
    throw std::invalid_argument("Box space: bounds do not match the shape");
  for (std::size_t i = 0; i < s.low.size(); ++i)
    if (!(s.low[i] <= s.high[i])) throw std::invalid_argument("Box space: low > high at element " + std::to_string(i));
  return s;
}

std::int64_t Space::flat_size() const {
  if (kind == SpaceKind::kDiscrete) return 1;
  std::int64_t size = 1;
  for (auto d : shape) size *= d;
  return size;
}

bool Space::contains(const float* row) const {
  if (kind == SpaceKind::kDiscrete) {
    const float a = row[0];
    return a == std::floor(a) && a >= static_cast<float>(start) && a < static_cast<float>(start + n);
  }
  for (std::size_t i = 0; i < low.size(); ++i)
    if (!(row[i] >= low[i] && row[i] <= high[i])) return false;
  return true;
}

namespace {
// A float32 as numpy's str() prints it: the shortest text that reads back to the same float, with
// ".0" on whole numbers ("-2.0", "0.07", "inf").
std::string float_string(float x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, static_cast<double>(x));
    if (std::strtof(buf, nullptr) == x) break;
  }
  std::string out(buf);
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

// Gymnasium prints one number when every element shares it, else the array.
std::string bound_string(const std::vector<float>& v) {
  bool same = !v.empty();
  for (float x : v) same = same && (x == v[0] || (std::isnan(x) && std::isnan(v[0])));
  if (same) return float_string(v[0]);
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + float_string(v[i]);
  return out + "]";
}
}  // namespace

std::string Space::to_string() const {
  std::ostringstream os;
  if (kind == SpaceKind::kDiscrete) {
    os << "Discrete(" << n;
    if (start != 0) os << ", start=" << start;
    os << ")";
    return os.str();
  }
  os << "Box(" << bound_string(low) << ", " << bound_string(high) << ", (";
  for (std::size_t i = 0; i < shape.size(); ++i) os << shape[i] << (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  os << "), float32)";
  return os.str();
}

}  // namespace apiary::envs
