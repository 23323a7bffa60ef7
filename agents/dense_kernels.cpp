#include "agents/dense_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#ifdef APIARY_HAVE_BLAS
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

namespace apiary::agents {

bool dense_kernels_available() {
#ifdef APIARY_HAVE_BLAS
  return true;
#else
  return false;
#endif
}

namespace {

// Row-major C[m, n] = op(A) op(B) + beta C, with op(A) [m, k] and op(B) [k, n]; trans_a / trans_b say
// whether A / B are stored transposed. BLAS is column-major: row-major C is column-major C^T = B^T A^T.
void blas_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
#ifdef APIARY_HAVE_BLAS
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ilda = static_cast<int>(lda), ildb = static_cast<int>(ldb), ildc = static_cast<int>(ldc);
  const float one = 1.0f;
  sgemm_(&tb, &ta, &in, &im, &ik, &one, b, &ildb, a, &ilda, &beta, c, &ildc);
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)beta,
      (void)c, (void)ldc;
  throw std::logic_error("agents/dense_kernels: built without a BLAS");
#endif
}

// In plain arithmetic the compiler vectorises (libm's tanhf took 40% of PPO's step). |x| < 0.2: the
// odd Taylor series to x^9 (remainder below 2e-10); otherwise sign(x) (1 - e) / (1 + e) with
// e = exp(-2|x|) by Cody-Waite range reduction, e = 2^k e^r with |r| <= ln2 / 2, and e^r by its Taylor
// series to r^6 (relative remainder below 2e-7). |x| is capped at 9, where tanh is 1 in float.
void tanh_generic(float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = v[i];
    const float a = std::min(std::fabs(x), 9.0f);
    // e = exp(-2a)
    const float y = -2.0f * a;
    const float t = y * 1.44269504088896341f;  // y / ln 2
    const int k = static_cast<int>(t - 0.5f);   // round to nearest (t <= 0)
    const float kf = static_cast<float>(k);
    const float r = (y - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;  // ln 2, split hi + lo
    const float p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    std::int32_t bits = (k + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float e = p * scale;
    const float big = (1.0f - e) / (1.0f + e);
    const float x2 = a * a;
    const float small = a * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    const float m = a < 0.2f ? small : big;
    v[i] = x < 0.0f ? -m : m;
  }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// tanh_generic's arithmetic eight floats at a time with AVX2 (GCC's vector extensions; the baseline
// x86-64 build vectorises the generic loop four-wide with SSE only): the same operations in the same
// order, so the results are bitwise those of tanh_generic, 2.4x faster. Picked at run time where the CPU
// has AVX2.
typedef float Floats8 __attribute__((vector_size(32)));
typedef std::int32_t Ints8 __attribute__((vector_size(32)));

__attribute__((target("avx2"))) void tanh_avx2(float* v, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Floats8 x;
    std::memcpy(&x, v + i, sizeof x);
    Ints8 xb;
    std::memcpy(&xb, &x, sizeof xb);
    const Ints8 sign = xb & static_cast<std::int32_t>(0x80000000u);
    const Ints8 abs_bits = xb & 0x7fffffff;
    Floats8 a;
    std::memcpy(&a, &abs_bits, sizeof a);
    a = a < 9.0f ? a : 9.0f;  // NaN lanes are put back at the end
    const Floats8 y = -2.0f * a;
    const Floats8 t = y * 1.44269504088896341f;
    const Ints8 k = __builtin_convertvector(t - 0.5f, Ints8);
    const Floats8 kf = __builtin_convertvector(k, Floats8);
    const Floats8 r = (y - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;
    const Floats8 p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    const Ints8 scale_bits = (k + 127) << 23;
    Floats8 scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    const Floats8 e = p * scale;
    const Floats8 big = (1.0f - e) / (1.0f + e);
    const Floats8 x2 = a * a;
    const Floats8 small =
        a * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    const Floats8 m = a < 0.2f ? small : big;
    Ints8 out;
    std::memcpy(&out, &m, sizeof out);
    out |= sign;
    out = x != x ? xb : out;
    std::memcpy(v + i, &out, sizeof out);
  }
  tanh_generic(v + i, n - i);
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// Small products (PPO's 32-wide layers): OpenBLAS packs both operands for every call, which costs as
// much as the arithmetic at these sizes. C[m, n] = A(m, k) B(k, n) + beta C (beta 0 or 1) with
// A(m, k) = a[m * sam + k * sak] and B row-major [k, n]; n a multiple of 8.
//
// One block of C: kRows rows by 8 * kVecs columns, from a, b and c already at the block's first row and
// column, accumulated in registers over the whole k.
template <int kRows, int kVecs>
__attribute__((target("avx2,fma"), always_inline)) inline void small_gemm_block(std::int64_t k, const float* a, std::int64_t sam,
                                                                std::int64_t sak, const float* b, std::int64_t n,
                                                                float beta, float* c, std::int64_t ldc) {
  __m256 acc[kRows][kVecs];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVecs; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t p = 0; p < k; ++p) {
    __m256 bv[kVecs];
    for (int v = 0; v < kVecs; ++v) bv[v] = _mm256_loadu_ps(b + p * n + 8 * v);
    for (int r = 0; r < kRows; ++r) {
      const __m256 x = _mm256_broadcast_ss(a + r * sam + p * sak);
      for (int v = 0; v < kVecs; ++v) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVecs; ++v) {
      float* out = c + r * ldc + 8 * v;
      _mm256_storeu_ps(out, beta != 0.0f ? _mm256_add_ps(acc[r][v], _mm256_loadu_ps(out)) : acc[r][v]);
    }
}

// Blocks of 4 rows by 16 columns, single rows where m is not a multiple of 4, and the last 8 columns
// where n is not a multiple of 16.
__attribute__((target("avx2,fma"))) void small_gemm_avx2(std::int64_t m, std::int64_t n, std::int64_t k,
                                                        const float* a, std::int64_t sam, std::int64_t sak,
                                                        const float* b, float beta, float* c, std::int64_t ldc) {
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    std::int64_t i = 0;
    for (; i + 4 <= m; i += 4) small_gemm_block<4, 2>(k, a + i * sam, sam, sak, b + j, n, beta, c + i * ldc + j, ldc);
    for (; i < m; ++i) small_gemm_block<1, 2>(k, a + i * sam, sam, sak, b + j, n, beta, c + i * ldc + j, ldc);
  }
  for (; j < n; j += 8)
    for (std::int64_t i = 0; i < m; ++i) small_gemm_block<1, 1>(k, a + i * sam, sam, sak, b + j, n, beta, c + i * ldc + j, ldc);
}
#endif

// The product where it is small and its columns come in eights, on the CPUs with AVX2 and FMA; OpenBLAS
// otherwise. op(B) stored transposed is copied [k, n] first (at most 64 x 64 floats here).
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
          std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  constexpr std::int64_t kSmall = 64;
  if (n % 8 == 0 && n <= kSmall && k <= (trans_b ? kSmall : 4096) && (beta == 0.0f || beta == 1.0f) &&
      cpu_has_avx2_fma()) {
    thread_local std::vector<float> b_rows;
    const float* bk = b;
    if (trans_b || ldb != n) {
      b_rows.resize(static_cast<std::size_t>(k * n));
      for (std::int64_t p = 0; p < k; ++p)
        for (std::int64_t j = 0; j < n; ++j) b_rows[p * n + j] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
      bk = b_rows.data();
    }
    const std::int64_t sam = trans_a ? 1 : lda, sak = trans_a ? lda : 1;
    small_gemm_avx2(m, n, k, a, sam, sak, bk, beta, c, ldc);
    return;
  }
#endif
  blas_gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

void tanh_inplace(float* v, std::int64_t n) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  if (cpu_has_avx2()) return tanh_avx2(v, n);
#endif
  tanh_generic(v, n);
}

void dense_forward(const DenseLayer& layer, const float* x, std::int64_t rows, float* y, bool activate,
                    bool tanh) {
  // y starts as the bias on every row and the product is added (beta 1): OpenBLAS then skips its pass
  // that scales (here: clears) C, and no second pass adds the bias.
  for (std::int64_t r = 0; r < rows; ++r) std::memcpy(y + r * layer.out, layer.bias, sizeof(float) * layer.out);
  if (layer.weight_in_out) {
    gemm(false, false, rows, layer.out, layer.in, x, layer.in, layer.weight, layer.out, 1.0f, y, layer.out);
  } else {
    gemm(false, true, rows, layer.out, layer.in, x, layer.in, layer.weight, layer.in, 1.0f, y, layer.out);
  }
  if (!activate) return;
  const std::int64_t n = rows * layer.out;
  if (tanh) {
    tanh_inplace(y, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = std::max(y[i], 0.0f);
  }
}

const float* dense_body_forward(const std::vector<DenseLayer>& body, const float* x, std::int64_t rows, bool tanh,
                                std::vector<std::vector<float>>& h) {
  if (h.size() < body.size()) h.resize(body.size());
  for (std::size_t l = 0; l < body.size(); ++l) {
    ensure_size(h[l], rows * body[l].out);
    dense_forward(body[l], x, rows, h[l].data(), /*activate=*/true, tanh);
    x = h[l].data();
  }
  return x;
}

const float* dense_scale_input(const float* x, std::int64_t rows, std::int64_t dim, const float* offset,
                               const float* scale, std::vector<float>& out) {
  if (offset == nullptr) return x;
  ensure_size(out, rows * dim);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < dim; ++j) out[r * dim + j] = (x[r * dim + j] - offset[j]) * scale[j];
  return out.data();
}

const float* dense_mlp_forward(const DenseMlp& net, const float* x, std::int64_t rows, std::int64_t dim,
                               std::vector<float>& input, std::vector<std::vector<float>>& h, std::vector<float>& out) {
  const float* in = dense_scale_input(x, rows, dim, net.obs_offset, net.obs_scale, input);
  const float* features = dense_body_forward(net.body, in, rows, net.tanh, h);
  ensure_size(out, rows * net.head.out);
  dense_forward(net.head, features, rows, out.data(), /*activate=*/false, net.tanh);
  return out.data();
}

void dense_backward(const DenseLayer& layer, const float* x, const float* dz, std::int64_t rows, float* dx) {
  if (layer.weight_grad != nullptr) {
    if (layer.weight_in_out) {  // dW [in, out] += x^T dz
      gemm(true, false, layer.in, layer.out, rows, x, layer.in, dz, layer.out, 1.0f, layer.weight_grad, layer.out);
    } else {  // dW [out, in] += dz^T x
      gemm(true, false, layer.out, layer.in, rows, dz, layer.out, x, layer.in, 1.0f, layer.weight_grad, layer.in);
    }
  }
  if (layer.bias_grad != nullptr) {
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* row = dz + r * layer.out;
      for (std::int64_t j = 0; j < layer.out; ++j) layer.bias_grad[j] += row[j];
    }
  }
  if (dx == nullptr) return;
  if (layer.weight_in_out) {  // dx = dz W^T, W [in, out]
    gemm(false, true, rows, layer.in, layer.out, dz, layer.out, layer.weight, layer.out, 0.0f, dx, layer.in);
  } else {
    gemm(false, false, rows, layer.in, layer.out, dz, layer.out, layer.weight, layer.in, 0.0f, dx, layer.in);
  }
}

double sum_of_squares(const float* x, std::int64_t n) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) partial[j] += x[i + j] * x[i + j];
  double sum = 0.0;
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  for (const float p : partial) sum += p;
  return sum;
}

void adam_update(float* w, const float* g, float* m, float* v, std::int64_t n, float b1, float b2, float step_size,
                 float sqrt_bc2, float eps) {
  const float one_b1 = 1.0f - b1, one_b2 = 1.0f - b2;
  for (std::int64_t i = 0; i < n; ++i) {
    m[i] = m[i] * b1 + one_b1 * g[i];
    v[i] = v[i] * b2 + one_b2 * g[i] * g[i];
    w[i] -= step_size * (m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps));
  }
}

void activation_backward(const float* h, float* d, std::int64_t n, bool tanh) {
  if (tanh) {
    for (std::int64_t i = 0; i < n; ++i) d[i] *= 1.0f - h[i] * h[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) d[i] = h[i] > 0.0f ? d[i] : 0.0f;
  }
}

void dense_body_backward(const std::vector<DenseLayer>& body, const float* x, const std::vector<std::vector<float>>& h,
                         std::int64_t rows, bool tanh, float* d_out, float* dx, std::vector<float>& scratch,
                         std::vector<float>& scratch_next) {
  float* d = d_out;  // d loss / d layer l's activation
  for (std::size_t l = body.size(); l-- > 0;) {
    activation_backward(h[l].data(), d, rows * body[l].out, tanh);
    if (l == 0) {
      dense_backward(body[0], x, d, rows, dx);
      break;
    }
    ensure_size(scratch_next, rows * body[l].in);
    dense_backward(body[l], h[l - 1].data(), d, rows, scratch_next.data());
    std::swap(scratch, scratch_next);
    d = scratch.data();
  }
}

}  // namespace apiary::agents
