// The building blocks of determinism: Philox4x32-10 against the known-answer vectors of its authors'
// Random123 distribution, the uniforms drawn from it, and the portable float32 sin/cos against libm
// in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "envs/math.h"
#include "envs/rng.h"

namespace apiary::envs {
namespace {

TEST(Philox, KnownAnswerVectors) {
  // Random123 kat_vectors: philox4x32 10 rounds.
  Uint4 r = philox4x32(Uint4{0, 0, 0, 0}, 0, 0);
  EXPECT_EQ(r.x, 0x6627e8d5u);
  EXPECT_EQ(r.y, 0xe169c58du);
  EXPECT_EQ(r.z, 0xbc57ac4cu);
  EXPECT_EQ(r.w, 0x9b00dbd8u);
  r = philox4x32(Uint4{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.x, 0x408f276du);
  EXPECT_EQ(r.y, 0x41c83b0eu);
  EXPECT_EQ(r.z, 0xa20bc7c6u);
  EXPECT_EQ(r.w, 0x6d5451fdu);
  r = philox4x32(Uint4{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.x, 0xd16cfe09u);
  EXPECT_EQ(r.y, 0x94fdccebu);
  EXPECT_EQ(r.z, 0x5001e420u);
  EXPECT_EQ(r.w, 0x24126ea1u);
}

TEST(LaneRng, UniformsAreInRangeAndUnbiased) {
  double sum = 0.0, sum_sq = 0.0;
  int n = 0;
  for (std::uint64_t lane = 0; lane < 64; ++lane) {
    LaneRng rng{123, lane, 0};
    for (int i = 0; i < 1000; ++i) {
      const Uniform4 u = rng.uniform4(-0.05f, 0.05f);
      for (float v : u.v) {
        ASSERT_GE(v, -0.05f);
        ASSERT_LT(v, 0.05f);
        sum += v;
        sum_sq += static_cast<double>(v) * v;
        ++n;
      }
    }
    EXPECT_EQ(rng.draws, 1000u);
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 3e-4);                  // sd of the mean: 0.1/sqrt(12 n) ~ 1.1e-4
  EXPECT_NEAR(var, 0.01 / 12.0, 0.01 / 12.0 * 0.02);
}

TEST(LaneRng, IntegerDrawsAreInRangeUnbiasedAndOneBlockEach) {
  LaneRng rng{7, 3, 0};
  constexpr std::uint32_t kN = 6;
  constexpr int kDraws = 60000;
  int counts[kN] = {};
  for (int i = 0; i < kDraws; ++i) {
    const std::uint32_t v = rng.uniform_int(kN);
    ASSERT_LT(v, kN);
    ++counts[v];
  }
  EXPECT_EQ(rng.draws, static_cast<std::uint64_t>(kDraws));  // no attempt was rejected at n = 6
  // Each face 10,000 times expected; 5 standard deviations is about 456.
  for (std::uint32_t k = 0; k < kN; ++k) EXPECT_NEAR(counts[k], kDraws / kN, 460) << k;
  // The value is the high half of the first word times n: the same stream gives the same integers.
  LaneRng a{7, 3, 0}, b{7, 3, 0};
  const Uint4 bits = b.next_bits();
  EXPECT_EQ(a.uniform_int(kN), static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits.x) * kN) >> 32));
  // Edge cases and the [low, high) form.
  EXPECT_EQ(rng.uniform_int(1u), 0u);
  EXPECT_EQ(rng.uniform_int(0u), 0u);
  bool seen_low = false, seen_high = false;
  for (int i = 0; i < 2000; ++i) {
    const std::int32_t v = rng.uniform_int(-3, 2);
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 2);
    seen_low = seen_low || v == -3;
    seen_high = seen_high || v == 1;
  }
  EXPECT_TRUE(seen_low && seen_high);
  EXPECT_EQ(rng.uniform_int(5, 5), 5);
  // Large n: rejection keeps it unbiased and in range.
  for (int i = 0; i < 1000; ++i) ASSERT_LT(rng.uniform_int(0xC0000000u), 0xC0000000u);
}

TEST(LaneRng, StreamsDependOnSeedLaneAndCounterOnly) {
  LaneRng a{5, 3, 0}, b{5, 3, 0}, other_lane{5, 4, 0}, other_seed{6, 3, 0};
  const Uint4 x = a.next_bits(), y = b.next_bits();
  EXPECT_EQ(x.x, y.x);
  EXPECT_EQ(x.w, y.w);
  EXPECT_NE(other_lane.next_bits().x, x.x);
  EXPECT_NE(other_seed.next_bits().x, x.x);
  EXPECT_NE(a.next_bits().x, x.x);  // the counter moved on
}

TEST(Math, SinCosWithinTwoUlpOfLibm) {
  double worst = 0.0;
  for (int i = -400000; i <= 400000; ++i) {
    const float x = static_cast<float>(i) * 2.5e-4f * (1.0f + static_cast<float>(i % 7) * 1e-3f);  // |x| <= ~101
    const math::SinCos sc = math::sincos(x);
    const double s = std::sin(static_cast<double>(x)), c = std::cos(static_cast<double>(x));
    // Error in units of float epsilon, relative to max(|value|, 2^-10) (absolute near the zeros).
    const double ulp_s = std::fabs(sc.sin - s) / (std::max(std::fabs(s), 0x1p-10) * 0x1p-23);
    const double ulp_c = std::fabs(sc.cos - c) / (std::max(std::fabs(c), 0x1p-10) * 0x1p-23);
    worst = std::max({worst, ulp_s, ulp_c});
    ASSERT_LE(ulp_s, 2.0) << "sin(" << x << ") = " << sc.sin << " vs " << s;
    ASSERT_LE(ulp_c, 2.0) << "cos(" << x << ") = " << sc.cos << " vs " << c;
  }
  RecordProperty("worst_ulp", std::to_string(worst));
}

TEST(Math, SinCosExactAtSpecialPoints) {
  EXPECT_EQ(math::sin(0.0f), 0.0f);
  EXPECT_EQ(math::cos(0.0f), 1.0f);
  EXPECT_NEAR(math::sin(math::kPi / 2), 1.0f, 1e-7f);
  EXPECT_NEAR(math::cos(math::kPi), -1.0f, 1e-7f);
  EXPECT_NEAR(math::sin(-math::kPi / 6), -0.5f, 1e-7f);
}

TEST(Math, FloorAndRound) {
  EXPECT_EQ(math::floor(2.5f), 2.0f);
  EXPECT_EQ(math::floor(-2.5f), -3.0f);
  EXPECT_EQ(math::floor(-3.0f), -3.0f);
  EXPECT_EQ(math::floor(0.999f), 0.0f);
  EXPECT_EQ(math::round_nearest(2.5f), 2.0f);  // ties to even, like rint
  EXPECT_EQ(math::round_nearest(3.5f), 4.0f);
  EXPECT_EQ(math::round_nearest(-1.4f), -1.0f);
  EXPECT_EQ(math::clamp(5.0f, -1.0f, 1.0f), 1.0f);
  EXPECT_EQ(math::clamp(-5.0f, -1.0f, 1.0f), -1.0f);
}

}  // namespace
}  // namespace apiary::envs
