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

Space Space::box_u8(std::vector<std::int64_t> shape, std::uint8_t low, std::uint8_t high) {
  if (shape.empty()) throw std::invalid_argument("uint8 Box space: the shape is empty");
  std::int64_t size = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 1)
      throw std::invalid_argument("uint8 Box space: dimension " + std::to_string(i) + " is " + std::to_string(shape[i]));
    size *= shape[i];
  }
  Space s = box(std::vector<float>(static_cast<std::size_t>(size), low),
                std::vector<float>(static_cast<std::size_t>(size), high), std::move(shape));
  s.dtype = BoxDType::kUInt8;
  return s;
}

const char* to_string(BoxDType dtype) { return dtype == BoxDType::kUInt8 ? "uint8" : "float32"; }

std::size_t element_size(BoxDType dtype) { return dtype == BoxDType::kUInt8 ? 1 : 4; }

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

bool Space::contains(const std::uint8_t* row) const {
  for (std::size_t i = 0; i < low.size(); ++i)
    if (!(static_cast<float>(row[i]) >= low[i] && static_cast<float>(row[i]) <= high[i])) return false;
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
// Integer dtypes print without a decimal point ("0", "255").
std::string bound_string(const std::vector<float>& v, BoxDType dtype) {
  auto str = [dtype](float x) {
    return dtype == BoxDType::kUInt8 ? std::to_string(static_cast<int>(x)) : float_string(x);
  };
  bool same = !v.empty();
  for (float x : v) same = same && (x == v[0] || (std::isnan(x) && std::isnan(v[0])));
  if (same) return str(v[0]);
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + str(v[i]);
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
  os << "Box(" << bound_string(low, dtype) << ", " << bound_string(high, dtype) << ", (";
  for (std::size_t i = 0; i < shape.size(); ++i)
    os << shape[i] << (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  os << "), " << envs::to_string(dtype) << ")";
  return os.str();
}

}  // namespace apiary::envs
