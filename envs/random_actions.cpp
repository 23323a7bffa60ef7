#include "envs/random_actions.h"

#include "envs/rng.h"

namespace apiary::envs {

namespace {
// Keeps action streams apart from the env's own reset streams under the same user seed.
constexpr std::uint64_t kActionStreamSalt = 0x5DEECE66DA3B9F1Dull;
}  // namespace

RandomActions::RandomActions(const EnvSpec& spec, std::int32_t num_envs, std::uint64_t seed)
    : spec_(spec), num_envs_(num_envs), seed_(seed ^ kActionStreamSalt) {
  if (spec_.action_space.is_discrete())
    discrete_.resize(static_cast<std::size_t>(num_envs));
  else
    continuous_.resize(static_cast<std::size_t>(num_envs * spec_.action_dim()));
}

ActionBatch RandomActions::next() {
  const Space& space = spec_.action_space;
  const std::int64_t dim = spec_.action_dim();
  for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
    LaneRng rng{seed_, static_cast<std::uint64_t>(lane), draw_ * static_cast<std::uint64_t>(dim)};
    if (space.is_discrete()) {
      const float u = rng.uniform4(0.0f, 1.0f).v[0];
      auto a = static_cast<std::int32_t>(u * static_cast<float>(space.n));
      discrete_[static_cast<std::size_t>(lane)] = a < space.n ? a : static_cast<std::int32_t>(space.n - 1);
    } else {
      for (std::int64_t i = 0; i < dim; ++i) {
        const std::size_t k = static_cast<std::size_t>(i);
        continuous_[static_cast<std::size_t>(lane * dim + i)] =
            rng.uniform4(space.low[k], space.high[k]).v[0];
      }
    }
  }
  ++draw_;
  if (space.is_discrete()) return ActionBatch::discrete(discrete_.data(), num_envs_);
  return ActionBatch::continuous(continuous_.data(), num_envs_, dim);
}

}  // namespace apiary::envs
