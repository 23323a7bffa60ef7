// `precision: auto`: the precision a run's learner uses when the config leaves the choice to Apiary.
// bf16 only where the hardware has bf16 arithmetic and, on the CPU, where the run's own network trains
// measurably faster in it; fp32 otherwise. Small MLPs are cheaper in fp32 on a CPU even with AVX-512
// BF16 (the casts cost more than the arithmetic saves), convolutional encoders cheaper in bf16: the
// choice is measured, not assumed.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

#include "agents/policy_config.h"
#include "envs/env_spec.h"
#include "learner/precision.h"

namespace apiary::learner {

// Whether this CPU has bf16 arithmetic (AVX-512 BF16 or AMX-BF16, from /proc/cpuinfo's flags).
bool cpu_has_bf16();

struct PrecisionChoice {
  Precision precision = Precision::kFp32;
  std::string note;  // why, with the measured times where it measured: one line for the run's log
};

// Resolves `auto` for an actor-critic of `policy` on `spec` (the run's network shape) on `device`:
// a GPU with bf16 (`gpu_bf16`) takes bf16; a CPU with bf16 times `rows`-row updates (forward, loss and
// backward, after a warm-up) in fp32 and under bf16 autocast and takes bf16 only when its median is at
// least 10 % faster.
PrecisionChoice choose_auto_precision(const agents::PolicyConfig& policy, const envs::EnvSpec& spec,
                                      const torch::Device& device, bool gpu_bf16, std::int64_t rows = 256);

}  // namespace apiary::learner
