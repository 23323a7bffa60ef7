#include "learner/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <stdexcept>

namespace apiary::learner {

// LibTorch 2.4 replaced the per-device autocast setters with device-type-taking ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define APIARY_AUTOCAST_BY_DEVICE_TYPE 1
#endif

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") return Precision::kFp16;
  throw std::invalid_argument("precision '" + name + "' is not one of fp32, bf16, fp16");
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    default: return "fp32";
  }
}

void check_precision_supported(Precision precision, const torch::Device& device) {
#if TORCH_VERSION_MAJOR < 2
  if (precision == Precision::kFp16 && device.is_cpu())
    throw std::invalid_argument(std::string("precision fp16 on the CPU needs LibTorch 2.x (this is ") +
                                TORCH_VERSION + ", whose CPU autocast supports bf16 only); use bf16 or a CUDA device");
#else
  (void)precision;
  (void)device;
#endif
}

namespace {
torch::ScalarType dtype_of(Precision p) { return p == Precision::kBf16 ? torch::kBFloat16 : torch::kHalf; }
}  // namespace

AutocastGuard::AutocastGuard(Precision precision, const torch::Device& device) {
  if (precision == Precision::kFp32) return;
  active_ = true;
  cuda_ = device.is_cuda();
#ifdef APIARY_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  previous_enabled_ = at::autocast::is_autocast_enabled(type);
  previous_dtype_ = at::autocast::get_autocast_dtype(type);
  at::autocast::set_autocast_dtype(type, dtype_of(precision));
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype_of(precision));
    at::autocast::set_enabled(true);
  } else {
    previous_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype_of(precision));
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost autocast region frees its cache of cast weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef APIARY_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, previous_enabled_);
  at::autocast::set_autocast_dtype(type, previous_dtype_);
#else
  if (cuda_) {
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(previous_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
#endif
}

}  // namespace apiary::learner
