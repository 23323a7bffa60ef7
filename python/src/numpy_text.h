// Text for error messages of both extension modules (_apiary and _apiary_torch): a numpy shape as
// Python writes it, "(3,)" or "(4, 2)".
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace apiary::python {

inline std::string shape_string(const std::vector<pybind11::ssize_t>& shape) {
  std::ostringstream os;
  os << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) os << shape[i] << (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  os << ")";
  return os.str();
}

inline std::string shape_string(const pybind11::array& a) {
  return shape_string(std::vector<pybind11::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

}  // namespace apiary::python
