// Network weights as flat bytes, the form in which the learner broadcasts them to the actors: every
// named parameter, then every named buffer, in the module's own registration order (recursively),
// each as raw little-endian fp32, C-contiguous, with no header and no padding. The receiver must hold
// the same architecture; the byte count is the only check the format carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace apiary::agents {

struct Weights {
  std::int64_t version = 0;         // policy version that produced these weights (learner updates)
  std::vector<std::uint8_t> bytes;  // weights_nbytes(module) bytes, layout as above
};

// Bytes export_weights writes for `module`: 4 x (elements of every parameter and buffer).
std::size_t weights_nbytes(const torch::nn::Module& module);

// Writes `module`'s weights into `out`, reusing its capacity (no allocation after the first call).
// Parameters on another device or in another dtype are converted while copying.
void export_weights(const torch::nn::Module& module, std::int64_t version, Weights& out);

// As above, into a new Weights.
Weights export_weights(const torch::nn::Module& module, std::int64_t version);

// Copies `weights` into `module`'s existing tensors in place (no autograd, no per-tensor data
// allocation; converted to each tensor's device and dtype). Throws std::invalid_argument with the
// expected and the received byte counts when the size does not match `module`.
void import_weights(torch::nn::Module& module, const Weights& weights);

// Hard target-network update: every parameter and buffer of `to` becomes a copy of `from`'s. Throws
// std::invalid_argument naming the first tensor whose name or shape differs.
void copy_weights(const torch::nn::Module& from, torch::nn::Module& to);

// Soft target-network update: target = tau * online + (1 - tau) * target for every floating
// parameter and buffer (other buffers are copied). tau in [0, 1]: 1 copies, 0 leaves the target
// unchanged. Throws std::invalid_argument for tau out of range or mismatched modules.
void polyak_update(torch::nn::Module& target, const torch::nn::Module& online, double tau);

}  // namespace apiary::agents
