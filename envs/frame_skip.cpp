#include "envs/frame_skip.h"

#include "envs/wrapper_snapshot.h"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace apiary::envs {

std::int32_t take_frame_skip(const std::string& env_id, EnvOptions& options) {
  return take_whole_option(env_id, options, kFrameSkipOption, 1, 1, kMaxFrameSkip);
}

EnvSpec skipped_spec(const EnvSpec& spec, std::int32_t k) {
  EnvSpec out = spec;
  if (k > 1 && spec.max_episode_steps > 0) out.max_episode_steps = (spec.max_episode_steps + k - 1) / k;
  return out;
}

namespace {

class FrameSkipVecEnv final : public WrappingVecEnv {
 public:
  FrameSkipVecEnv(std::unique_ptr<VecEnv> inner, std::int32_t k)
      : WrappingVecEnv(skipped_spec(inner->spec(), k), std::move(inner)), k_(k) {
    require_host(std::string(": option '") + kFrameSkipOption + "' reads each frame's flags on the host");
    if (!inner_->holds_lanes())
      throw std::invalid_argument(spec_.id + ": option '" + kFrameSkipOption +
                                  "' needs a back end that holds lanes whose episode ended while the others play "
                                  "on (VecEnv::holds_lanes); this one does not");
    const auto n = static_cast<std::size_t>(num_envs_);
    // One block, so that a snapshot is one buffer: reward f32, elapsed i32, final_length i32, terminated,
    // truncated.
    state_.assign(n * (3 * 4 + 2), 0);
    buffers_ = inner_->buffers();
    buffers_.reward = reinterpret_cast<float*>(state_.data());
    buffers_.elapsed = reinterpret_cast<std::int32_t*>(state_.data() + 4 * n);
    buffers_.final_length = reinterpret_cast<std::int32_t*>(state_.data() + 8 * n);
    buffers_.terminated = state_.data() + 12 * n;
    buffers_.truncated = state_.data() + 13 * n;
    playing_.assign(n, 0);
  }

  void reset(std::uint64_t seed) override {
    inner_->reset(seed);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) start(lane);
  }

  void step(const ActionBatch& actions) override {
    BatchBuffers& b = buffers_;
    std::int32_t playing = 0;
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      playing_[lane] = steps(lane) ? 1 : 0;
      if (!playing_[lane]) continue;
      ++playing;
      b.reward[lane] = 0.0f;
      b.terminated[lane] = b.truncated[lane] = 0;
    }
    try {
      for (std::int32_t frame = 0; frame < k_ && playing > 0; ++frame) {
        inner_->set_active_lanes(playing_.data());
        inner_->skip_observations(frame + 1 < k_);  // nobody sees the frames before the decision's last
        inner_->step(actions);
        const BatchBuffers& in = inner_->buffers();
        for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
          if (!playing_[lane]) continue;
          b.reward[lane] += in.reward[lane];
          if (in.terminated[lane] | in.truncated[lane]) {
            b.terminated[lane] = in.terminated[lane];
            b.truncated[lane] = in.truncated[lane];
            playing_[lane] = 0;
            --playing;
          }
        }
      }
    } catch (...) {
      inner_->set_active_lanes(active_);
      inner_->skip_observations(false);
      throw;
    }
    inner_->set_active_lanes(active_);
    inner_->skip_observations(false);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      if (!steps(lane)) continue;
      b.elapsed[lane] += 1;
      if (b.terminated[lane] | b.truncated[lane]) {
        b.final_length[lane] = b.elapsed[lane];
        b.elapsed[lane] = 0;
      }
    }
  }

  void reset_lanes(const std::uint8_t* mask) override {
    inner_->reset_lanes(mask);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane)
      if (mask[lane]) start(lane);
  }

  void copy_to_host(HostBatch& out) const override {
    copy_host_buffers(buffers_, num_envs_, spec_.obs_dim(), out);
  }

  void set_states(const std::vector<float>& states) override { inner_->set_states(states); }

  std::vector<std::uint8_t> save_snapshot() const override {
    return wrap_snapshot(kMagic, static_cast<std::uint64_t>(k_), inner_->save_snapshot(), {&state_});
  }

  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    unwrap_snapshot(bytes, kMagic, static_cast<std::uint64_t>(k_), {&state_},
                    spec_.id + ": env snapshot does not match this frame skip of " + std::to_string(k_),
                    "it is not a frame skip of this many frames",
                    [this](const std::vector<std::uint8_t>& inner) { inner_->load_snapshot(inner); });
  }

 private:
  static constexpr std::uint64_t kMagic = 0x50494b53454d4146ull;  // "FAMESKIP"

  // A new episode on `lane`: nothing played yet, no reward, no flags.
  void start(std::int32_t lane) {
    buffers_.elapsed[lane] = 0;
    buffers_.reward[lane] = 0.0f;
    buffers_.terminated[lane] = buffers_.truncated[lane] = 0;
  }

  std::int32_t k_;
  std::vector<std::uint8_t> state_;    // the wrapper's own buffers (see the constructor)
  std::vector<std::uint8_t> playing_;  // [N] lanes still playing this step's frames: the inner env's mask
};

}  // namespace

std::unique_ptr<VecEnv> make_frame_skip(std::unique_ptr<VecEnv> inner, std::int32_t k) {
  if (k <= 1) return inner;
  return std::make_unique<FrameSkipVecEnv>(std::move(inner), k);
}

}  // namespace apiary::envs
