// APIARY_HD marks functions that run on the host and, compiled by nvcc, on the GPU. Environment
// physics is written once with it (docs/custom-envs.md).
#pragma once

#if defined(__CUDACC__)
#define APIARY_HD __host__ __device__ __forceinline__
#else
#define APIARY_HD inline __attribute__((always_inline))
#endif

// APIARY_HOST_DEVICE marks code for both sides without forcing it inline: the member functions of
// larger env objects (the MinAtar games), which the compiler inlines as it sees fit.
#if defined(__CUDACC__)
#define APIARY_HOST_DEVICE __host__ __device__
#else
#define APIARY_HOST_DEVICE
#endif

// No-alias promise for the buffers a kernel writes: byte-sized stores (the flags) could otherwise alias
// everything, forcing reloads that stop the compiler from vectorising the lane loop.
#define APIARY_RESTRICT __restrict__
