// What the five MinAtar games share: the action indices, the random-source interface, the Apiary
// adapter over LaneRng, and a fixed-capacity list with Python's list semantics (Seaquest).
//
// MinAtar (Young and Tian, "MinAtar: An Atari-inspired testbed for thorough and reproducible
// reinforcement learning experiments", 2019; github.com/kenjyoung/MinAtar 1.0.15) is written in
// numpy; these are Apiary's own C++ versions, checked step by step against transitions recorded from
// it (tests/envs/minatar_test.cpp, tests/data/minatar/).
//
// The random source. Every game is templated on a source R with exactly the two calls the reference
// makes on its numpy RandomState, in the reference's order:
//   double rand();                  // random.rand(): uniform in [0, 1)
//   int randint(int low, int high); // random.randint(low, high): uniform in [low, high), high exclusive
// numpy's sized calls are that many single calls (Freeway's randint(1, 6, 8) is 8 randint(1, 6)).
// Training uses LaneDraws (below); the parity test replays recorded draws.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "envs/rng.h"

namespace apiary::envs::minatar {

// The reference's full action list ['n','l','u','r','d','f'].
enum ActionIndex : int { kNoop = 0, kLeft = 1, kUp = 2, kRight = 3, kDown = 4, kFire = 5 };
inline constexpr int kNumFullActions = 6;
inline constexpr int kGrid = 10;  // every game is 10 x 10 cells

// The random source over a lane's Philox stream: one block per draw.
//   rand():       52 random bits k of the block, as (2k + 1) / 2^53: uniform on an even grid in (0, 1)
//                 that never gives 0 or exactly 0.5 (numpy can give 0.5, where Freeway's sign() would
//                 make a car of speed 0 that the reference cannot draw; here it cannot happen).
//   randint(l, h): LaneRng::uniform_int(l, h), unbiased.
struct LaneDraws {
  LaneRng& rng;

  APIARY_HOST_DEVICE double rand() {
    const Uint4 b = rng.next_bits();
    const std::uint64_t k = (static_cast<std::uint64_t>(b.x) << 20) | (b.y >> 12);  // 52 bits
    return (2.0 * static_cast<double>(k) + 1.0) * 0x1p-53;
  }
  APIARY_HOST_DEVICE int randint(int low, int high) { return rng.uniform_int(low, high); }
};

// Python's floor division (the reference's //) for a positive divisor.
APIARY_HOST_DEVICE constexpr int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// A list of at most N elements, in place, with the semantics of the Python list operations the
// reference uses: append, remove(value) (drops the FIRST element equal to value, which need not be the
// one being visited), and iteration by index. A reversed() loop over a Python list reads index i, then
// i - 1, ..., and stops as soon as the index is outside the list; visiting
// `for (int i = size() - 1; i >= 0 && i < size(); --i)` and rereading element i does the same.
template <class T, int N>
class PyList {
 public:
  APIARY_HOST_DEVICE int size() const { return n_; }
  APIARY_HOST_DEVICE T& operator[](int i) { return items_[i]; }
  APIARY_HOST_DEVICE const T& operator[](int i) const { return items_[i]; }
  APIARY_HOST_DEVICE const T* begin() const { return items_; }
  APIARY_HOST_DEVICE const T* end() const { return items_ + n_; }
  APIARY_HOST_DEVICE void clear() { n_ = 0; }

  // Capacities are upper bounds the games cannot reach (each game states why); a breach is a bug.
  APIARY_HOST_DEVICE void append(const T& value) {
    if (n_ == N) {
#if defined(__CUDA_ARCH__)
      __trap();  // no exceptions on the GPU: the kernel fails, and the launch reports it
#else
      throw std::length_error("MinAtar: a list outgrew its fixed capacity");
#endif
    }
    items_[n_++] = value;
  }
  APIARY_HOST_DEVICE void erase(int i) {
    for (int j = i + 1; j < n_; ++j) items_[j - 1] = items_[j];
    --n_;
  }
  // list.remove(value): erases the first element equal to value and returns its index.
  APIARY_HOST_DEVICE int remove(const T& value) {
    for (int i = 0; i < n_; ++i)
      if (items_[i] == value) {
        erase(i);
        return i;
      }
#if defined(__CUDA_ARCH__)
    __trap();
    return -1;
#else
    throw std::logic_error("MinAtar: list.remove() of an absent value");  // the reference would raise too
#endif
  }

 private:
  T items_[N];
  int n_ = 0;
};

// |v| and the number of set bits, on both sides (std::abs and std::bitset are host-only).
APIARY_HOST_DEVICE constexpr int iabs(int v) { return v < 0 ? -v : v; }
APIARY_HOST_DEVICE inline int popcount16(std::uint16_t v) {
#if defined(__CUDA_ARCH__)
  return __popc(v);
#else
  return __builtin_popcount(v);
#endif
}

// Sets (row, col, channel) of a (10, 10, C) channels-last observation to 1.
template <int C>
APIARY_HOST_DEVICE inline void set_cell(std::uint8_t* obs, int row, int col, int channel) {
  obs[(row * kGrid + col) * C + channel] = 1;
}

}  // namespace apiary::envs::minatar
