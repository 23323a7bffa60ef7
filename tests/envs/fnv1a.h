// FNV-1a over bytes: the golden hashes of env rollouts (stable across builds and platforms with the
// same float bits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace apiary::testing {

struct Fnv1a {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  template <class T>
  void add(const std::vector<T>& v) {
    add(v.data(), v.size() * sizeof(T));
  }
};

}  // namespace apiary::testing
