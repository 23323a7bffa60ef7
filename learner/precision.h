// Mixed precision: reduced precision applies to the forward pass and the loss
// under autocast; parameters, optimizer state, log-probabilities, entropy and loss reductions stay fp32.
// fp16 also scales the loss (learner/loss_scaler.h).
#pragma once

#include <string>

#include <torch/types.h>

namespace apiary::learner {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; throws std::invalid_argument otherwise.
Precision parse_precision(const std::string& name);
std::string to_string(Precision precision);

// Throws std::invalid_argument when `precision` cannot run on `device` with this LibTorch (fp16
// autocast on the CPU needs LibTorch 2.x), naming both.
void check_precision_supported(Precision precision, const torch::Device& device);

// Autocast for the lifetime of the guard (nothing for fp32), on the device's autocast state, restored
// on exit. Works with LibTorch 1.13 and 2.x.
class AutocastGuard {
 public:
  AutocastGuard(Precision precision, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat32;
};

}  // namespace apiary::learner
