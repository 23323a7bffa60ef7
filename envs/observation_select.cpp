#include "envs/observation_select.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/fnv1a.h"
#include "envs/wrapper_snapshot.h"

namespace apiary::envs {

bool take_observe_velocity(const std::string& env_id, EnvOptions& options) {
  const auto it = options.find(kObserveVelocityOption);
  if (it == options.end()) return true;
  const bool observe = flag_option(env_id, kObserveVelocityOption, it->second);
  options.erase(it);
  return observe;
}

std::vector<std::int32_t> elements_without_velocity(const EnvSpec& spec) {
  const Space& space = spec.observation_space;
  if (spec.velocity_elements.empty())
    throw std::invalid_argument(spec.id + ": option '" + kObserveVelocityOption + "' = false drops velocities, but " +
                                spec.id + " declares none in its observation " + space.to_string() +
                                " (EnvSpec::velocity_elements is empty); remove the option");
  const std::int64_t dim = space.flat_size();
  std::vector<std::uint8_t> velocity(static_cast<std::size_t>(dim), 0);
  for (const std::int32_t e : spec.velocity_elements) {
    if (space.shape.size() != 1 || e < 0 || e >= dim)
      throw std::invalid_argument(spec.id + ": velocity element " + std::to_string(e) +
                                  " is not an element of the observation " + space.to_string() +
                                  " (EnvSpec::velocity_elements indexes a vector observation)");
    velocity[static_cast<std::size_t>(e)] = 1;
  }
  std::vector<std::int32_t> kept;
  for (std::int32_t e = 0; e < dim; ++e)
    if (!velocity[static_cast<std::size_t>(e)]) kept.push_back(e);
  if (kept.empty())
    throw std::invalid_argument(spec.id + ": option '" + kObserveVelocityOption +
                                "' = false would leave nothing to observe: every element of " + space.to_string() +
                                " is declared a velocity");
  return kept;
}

EnvOptionInfo observe_velocity_info(const EnvSpec& spec) {
  std::ostringstream doc;
  doc << "0 (or false) drops the velocities, observation element" << (spec.velocity_elements.size() > 1 ? "s" : "");
  for (std::size_t i = 0; i < spec.velocity_elements.size(); ++i)
    doc << (i == 0 ? " " : ", ") << spec.velocity_elements[i];
  doc << " (a task that needs memory)";
  return EnvOptionInfo{kObserveVelocityOption, 1.0, 0.0, 1.0, false, false, doc.str()};
}

EnvSpec selected_spec(const EnvSpec& spec, const std::vector<std::int32_t>& kept) {
  EnvSpec out = spec;
  Space& space = out.observation_space;
  const std::int64_t dim = space.flat_size();
  // Where each inner element went: -1 where it was dropped.
  std::vector<std::int32_t> position(static_cast<std::size_t>(dim), -1);
  space.low.clear();
  space.high.clear();
  for (std::size_t j = 0; j < kept.size(); ++j) {
    const std::int32_t e = kept[j];
    if (e < 0 || e >= dim)
      throw std::invalid_argument(spec.id + ": observation element " + std::to_string(e) + " to keep is outside " +
                                  spec.observation_space.to_string());
    position[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(j);
    space.low.push_back(spec.observation_space.low[static_cast<std::size_t>(e)]);
    space.high.push_back(spec.observation_space.high[static_cast<std::size_t>(e)]);
  }
  space.shape = {static_cast<std::int64_t>(kept.size())};
  auto follow = [&position](const std::vector<std::int32_t>& elements) {
    std::vector<std::int32_t> moved;
    for (const std::int32_t e : elements)
      if (e >= 0 && static_cast<std::size_t>(e) < position.size() && position[static_cast<std::size_t>(e)] >= 0)
        moved.push_back(position[static_cast<std::size_t>(e)]);
    return moved;
  };
  out.unbounded_obs = follow(spec.unbounded_obs);
  out.velocity_elements = follow(spec.velocity_elements);
  return out;
}

namespace {

// Lane rows of `kept.size()` elements gathered from rows of `dim` elements.
template <class T>
void gather_rows(const T* in, T* out, std::int64_t dim, const std::vector<std::int32_t>& kept, std::int32_t lane) {
  const T* row = in + static_cast<std::int64_t>(lane) * dim;
  T* dst = out + static_cast<std::int64_t>(lane) * static_cast<std::int64_t>(kept.size());
  for (std::size_t j = 0; j < kept.size(); ++j) dst[j] = row[kept[j]];
}

class ObservationSelectVecEnv final : public WrappingVecEnv {
 public:
  ObservationSelectVecEnv(std::unique_ptr<VecEnv> inner, std::vector<std::int32_t> kept)
      : WrappingVecEnv(selected_spec(inner->spec(), kept), std::move(inner)), kept_(std::move(kept)) {
    require_host(std::string(": option '") + kObserveVelocityOption + "' selects observation elements on the host");
    bytes_ = inner_->spec().observation_space.is_uint8();
    inner_dim_ = inner_->spec().obs_dim();
    const std::size_t size = static_cast<std::size_t>(num_envs_) * kept_.size();
    buffers_ = inner_->buffers();
    if (bytes_) {
      obs_u8_.assign(size, 0);
      final_obs_u8_.assign(size, 0);
      buffers_.obs_u8 = obs_u8_.data();
      buffers_.final_obs_u8 = final_obs_u8_.data();
    } else {  // NaN until written, as the back ends' own buffers
      obs_.assign(size, std::numeric_limits<float>::quiet_NaN());
      final_obs_.assign(size, std::numeric_limits<float>::quiet_NaN());
      buffers_.obs = obs_.data();
      buffers_.final_obs = final_obs_.data();
    }
  }

  void reset(std::uint64_t seed) override {
    inner_->reset(seed);
    select_observations();
  }

  // Every lane's observation, and the final one where an episode ended: a lane that did not move
  // (set_active_lanes) gathers the same row again, so the mask need not be read.
  void step(const ActionBatch& actions) override {
    inner_->step(actions);
    const BatchBuffers& in = inner_->buffers();
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      gather(lane, /*final=*/false);
      if (in.terminated[lane] | in.truncated[lane]) gather(lane, /*final=*/true);
    }
  }

  void reset_lanes(const std::uint8_t* mask) override {
    inner_->reset_lanes(mask);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane)
      if (mask[lane]) gather(lane, /*final=*/false);
  }

  void copy_to_host(HostBatch& out) const override {
    copy_host_buffers(buffers_, num_envs_, spec_.obs_dim(), out);
  }

  void set_states(const std::vector<float>& states) override {
    inner_->set_states(states);
    select_observations();
  }

  // The inner env's snapshot behind a header that names this selection, so that a snapshot of the
  // full observation is not taken for this one (or the other way round) by mistake; the selected
  // rows are gathered again from the restored inner buffers.
  std::vector<std::uint8_t> save_snapshot() const override {
    return wrap_snapshot(kMagic, kept_hash(), inner_->save_snapshot());
  }

  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    unwrap_snapshot(bytes, kMagic, kept_hash(), {},
                    spec_.id + ": env snapshot does not match this env observed without velocities",
                    "it is not of the same observation elements",
                    [this](const std::vector<std::uint8_t>& inner) { inner_->load_snapshot(inner); });
    select_observations();
  }

 private:
  static constexpr std::uint64_t kMagic = 0x5443454c4553454dull;  // "MESELECT"

  // Two selections of one env differ in it.
  std::uint64_t kept_hash() const { return core::fnv1a(kept_.data(), kept_.size() * sizeof(std::int32_t)); }

  void gather(std::int32_t lane, bool final) {
    const BatchBuffers& in = inner_->buffers();
    if (bytes_)
      gather_rows(final ? in.final_obs_u8 : in.obs_u8, final ? buffers_.final_obs_u8 : buffers_.obs_u8, inner_dim_,
                  kept_, lane);
    else
      gather_rows(final ? in.final_obs : in.obs, final ? buffers_.final_obs : buffers_.obs, inner_dim_, kept_, lane);
  }

  // Every lane's observation and final observation from the inner env's (after a reset, set_states or
  // a restored snapshot, which write them all).
  void select_observations() {
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      gather(lane, /*final=*/false);
      gather(lane, /*final=*/true);
    }
  }

  std::vector<std::int32_t> kept_;  // the inner observation's elements this env observes, in order
  bool bytes_ = false;
  std::int64_t inner_dim_ = 1;
  std::vector<float> obs_, final_obs_;               // [N, kept], float envs
  std::vector<std::uint8_t> obs_u8_, final_obs_u8_;  // [N, kept], uint8 envs
};

}  // namespace

std::unique_ptr<VecEnv> make_observation_select(std::unique_ptr<VecEnv> inner, std::vector<std::int32_t> kept) {
  return std::make_unique<ObservationSelectVecEnv>(std::move(inner), std::move(kept));
}

}  // namespace apiary::envs
