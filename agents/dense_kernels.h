// Dense-layer kernels on raw fp32 pointers for small MLPs on the CPU: a BLAS GEMM per matrix product and
// plain loops (which the compiler vectorises) for bias, activation and their gradients. PPO's
// hand-written minibatch step (learner/ppo/fused_step.h) and ActorCritic's inference on the CPU run on
// them, where LibTorch's per-operator dispatch would cost more than the arithmetic. No LibTorch here;
// the BLAS is the one LibTorch links (libblas.so.3: OpenBLAS on Debian), found by agents/CMakeLists.txt.
#pragma once

#include <cstdint>
#include <vector>

namespace apiary::agents {

// One Linear layer, y = x W^T + b, as pointers into a network's parameters and gradients.
struct DenseLayer {
  const float* weight = nullptr;  // [out, in], row-major ([in, out] where weight_in_out)
  const float* bias = nullptr;    // [out]
  float* weight_grad = nullptr;   // as weight, accumulated into (backward only); null: not wanted
  float* bias_grad = nullptr;     // [out], accumulated into (backward only); null: not wanted
  std::int64_t in = 0, out = 0;
  // The weight stored [in, out] (y = x W + b), as SAC's stacked critics hold theirs.
  bool weight_in_out = false;
};

// An MLP as the hand-written steps hold one: observation scaling (optional), hidden layers (each
// followed by the activation) and a linear head.
struct DenseMlp {
  std::vector<DenseLayer> body;
  DenseLayer head;
  bool tanh = false;  // the activation: tanh, or relu when false
  // Observation scaling, x' = (x - offset) * scale per input element; null: none.
  const float* obs_offset = nullptr;
  const float* obs_scale = nullptr;
};

// Whether the kernels can run: a BLAS with sgemm_ was linked at build time. Without one every caller
// keeps to LibTorch's operators.
bool dense_kernels_available();

// y[rows, out] = x[rows, in] W^T + b, then tanh (tanh), relu (!tanh) or nothing (!activate).
// Throws std::logic_error when dense_kernels_available() is false.
void dense_forward(const DenseLayer& layer, const float* x, std::int64_t rows, float* y, bool activate, bool tanh);

// The hidden layers of an MLP body (each Linear then the activation) on x[rows, in]: layer l's output
// goes to h[l] (grown as needed, kept for a backward pass); returns the last one (x itself for an
// empty body).
const float* dense_body_forward(const std::vector<DenseLayer>& body, const float* x, std::int64_t rows, bool tanh,
                                std::vector<std::vector<float>>& h);

// (x - offset) * scale per column of x[rows, dim] into `out` (an observation scaling); returns x itself
// when offset is null.
const float* dense_scale_input(const float* x, std::int64_t rows, std::int64_t dim, const float* offset,
                               const float* scale, std::vector<float>& out);

// net on x[rows, dim]: the scaled input into `input` (where net scales), the hidden activations into h
// (kept for a backward pass), the head's output into out [rows, head.out], which it returns.
const float* dense_mlp_forward(const DenseMlp& net, const float* x, std::int64_t rows, std::int64_t dim,
                               std::vector<float>& input, std::vector<std::vector<float>>& h, std::vector<float>& out);

// Given dz[rows, out], the gradient at the layer's output before any activation: adds the weight and
// bias gradients from the layer's input x (those of the pointers that are not null), and writes
// dx[rows, in] unless dx is null.
void dense_backward(const DenseLayer& layer, const float* x, const float* dz, std::int64_t rows, float* dx);

// d[i] *= act'(h[i]) for the post-activation values h (tanh, or relu when !tanh).
void activation_backward(const float* h, float* d, std::int64_t n, bool tanh);

// The mirror of dense_body_forward, on its x and h: given d_out, d loss / d the body's last activation
// (overwritten), adds every layer's weight and bias gradients, last layer first, and writes dx[rows, in]
// unless dx is null. An empty body does nothing. The scratch buffers are grown as needed.
void dense_body_backward(const std::vector<DenseLayer>& body, const float* x, const std::vector<std::vector<float>>& h,
                         std::int64_t rows, bool tanh, float* d_out, float* dx, std::vector<float>& scratch,
                         std::vector<float>& scratch_next);

// tanh of n floats in place, within a few ulp of std::tanh and vectorised (libm's tanhf is a scalar
// call): eight lanes where the CPU has AVX2, four otherwise, with bitwise the same results; NaN stays NaN.
void tanh_inplace(float* v, std::int64_t n);

// The sum of x[i]^2 over n elements (eight float partial sums, added in double at the end).
double sum_of_squares(const float* x, std::int64_t n);

// One Adam step over n elements, LibTorch's arithmetic (adam.cpp) without weight decay or AMSGrad:
// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= step_size m / (sqrt(v) / sqrt_bc2 + eps), with
// step_size = lr / (1 - b1^t) and sqrt_bc2 = sqrt(1 - b2^t) for step t.
void adam_update(float* w, const float* g, float* m, float* v, std::int64_t n, float b1, float b2, float step_size,
                 float sqrt_bc2, float eps);

// argmax over a row as LibTorch's: the first of the largest values, a NaN counting as the largest.
inline std::int64_t argmax_row(const float* row, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t k = 1; k < n; ++k) {
    if (row[best] != row[best]) break;               // NaN: nothing beats it
    if (row[k] != row[k] || row[k] > row[best]) best = k;  // a NaN, or a larger value
  }
  return best;
}

// Grows buffer to at least `size` elements (never shrinks).
inline void ensure_size(std::vector<float>& buffer, std::int64_t size) {
  if (static_cast<std::int64_t>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
}

}  // namespace apiary::agents
