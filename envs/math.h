// Float32 maths with the same bits on every host compiler and on CUDA. The C library's sinf/cosf
// differ by an ulp between glibc and CUDA's libdevice and do not vectorise without -ffast-math, so the
// environments use these instead: plain IEEE additions, multiplications and selects, no FMA
// contraction (the build passes -ffp-contract=off and nvcc --fmad=false), nothing the compiler may
// reassociate. Accuracy: within 2 ulp of the true value for |x| < 8192 (tests/envs/math_rng_test.cpp).
#pragma once

#include <cstdint>

#include "envs/hd.h"

namespace apiary::envs::math {

inline constexpr float kPi = 3.14159265358979323846f;

// Round to the nearest integer (ties to even) for |x| < 2^22, by the 1.5 * 2^23 trick: the addition
// rounds away the fraction. Vectorises on plain SSE2, unlike rintf.
APIARY_HD float round_nearest(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  const float shifted = x + kMagic;
  return shifted - kMagic;
}

APIARY_HD float floor(float x) {
  const float r = round_nearest(x);
  return r > x ? r - 1.0f : r;
}

APIARY_HD float clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

struct SinCos {
  float sin, cos;
};

// sin(x) and cos(x) together. Reduction by pi/2 in three parts (Cody and Waite) into
// r in [-pi/4, pi/4], quadrant q; then minimax polynomials of degree 7 (sin) and 8 (cos) on r.
APIARY_HD SinCos sincos(float x) {
  const float k = round_nearest(x * 0.636619772367581343f);  // x / (pi/2), nearest integer
  const std::int32_t q = static_cast<std::int32_t>(k);
  // pi/2 = 1.5703125 + 4.837512969970703125e-4 + 7.549789948768648e-8: the first two parts have
  // few enough bits that k * part is exact for |k| < 2^12.
  float r = x - k * 1.5703125f;
  r = r - k * 4.837512969970703125e-4f;
  r = r - k * 7.549789948768648e-8f;
  const float z = r * r;
  const float sin_r = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
  const float cos_r =
      1.0f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
  // Quadrant q: sin(r + q pi/2) and cos(r + q pi/2) are (s, c), (c, -s), (-s, -c), (-c, s).
  const bool swap = (q & 1) != 0;
  float s = swap ? cos_r : sin_r;
  float c = swap ? sin_r : cos_r;
  s = (q & 2) ? -s : s;
  c = ((q + 1) & 2) ? -c : c;
  return SinCos{s, c};
}

APIARY_HD float sin(float x) { return sincos(x).sin; }
APIARY_HD float cos(float x) { return sincos(x).cos; }

}  // namespace apiary::envs::math
