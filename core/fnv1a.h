// FNV-1a, 64 bits (Fowler, Noll, Vo): the one hash of the project, for golden hashes of env rollouts
// and pictures, ids in snapshot headers, transfer's checkpoint hashes and the ranks' weight checks. Stable across builds and platforms for the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace apiary::core {

inline constexpr std::uint64_t kFnvOffsetBasis = 14695981039346656037ull;
inline constexpr std::uint64_t kFnvPrime = 1099511628211ull;

// Incremental: add() bytes in order, read `h`.
struct Fnv1a {
  std::uint64_t h = kFnvOffsetBasis;
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  }
  void add_byte(std::uint8_t byte) { h = (h ^ byte) * kFnvPrime; }
  template <class T>
  void add(const std::vector<T>& v) {
    add(v.data(), v.size() * sizeof(T));
  }
};

inline std::uint64_t fnv1a(const void* data, std::size_t n) {
  Fnv1a f;
  f.add(data, n);
  return f.h;
}
inline std::uint64_t fnv1a(std::string_view s) { return fnv1a(s.data(), s.size()); }

}  // namespace apiary::core
