// Uniformly random actions for every lane, drawn from per-(seed, lane) counter-based streams so that a
// random rollout is reproducible whatever the thread count. Used by `apiary rollout`, `apiary bench`
// and the determinism tests; the buffers live on the host and are reused every call.
#pragma once

#include <cstdint>
#include <vector>

#include "envs/env_spec.h"
#include "envs/vec_env.h"

namespace apiary::envs {

class RandomActions {
 public:
  RandomActions(const EnvSpec& spec, std::int32_t num_envs, std::uint64_t seed);
  // Draws the next batch (host memory, valid until the next call).
  ActionBatch next();

 private:
  EnvSpec spec_;
  std::int32_t num_envs_;
  std::uint64_t seed_;
  std::uint64_t draw_ = 0;  // batches drawn so far: the counter of every lane's stream
  std::vector<std::int32_t> discrete_;
  std::vector<float> continuous_;
};

}  // namespace apiary::envs
