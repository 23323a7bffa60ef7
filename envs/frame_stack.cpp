#include "envs/frame_stack.h"

#include "envs/wrapper_snapshot.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "frame_stack.cpp packs four bytes in a word, little-endian");

namespace apiary::envs {

std::int32_t take_frame_stack(const std::string& env_id, EnvOptions& options) {
  return take_whole_option(env_id, options, kFrameStackOption, 1, 1, kMaxFrameStack);
}

EnvSpec stacked_spec(const EnvSpec& spec, std::int32_t k) {
  EnvSpec out = spec;
  Space& space = out.observation_space;
  if (k <= 1) return out;
  const std::size_t flat = space.low.size(), last = static_cast<std::size_t>(space.shape.back());
  std::vector<float> low, high;
  low.reserve(flat * static_cast<std::size_t>(k));
  high.reserve(flat * static_cast<std::size_t>(k));
  for (std::size_t p = 0; p < flat / last; ++p)  // per pixel (or once for a vector): k copies of its bounds
    for (std::int32_t f = 0; f < k; ++f) {
      low.insert(low.end(), space.low.begin() + static_cast<std::ptrdiff_t>(p * last),
                 space.low.begin() + static_cast<std::ptrdiff_t>((p + 1) * last));
      high.insert(high.end(), space.high.begin() + static_cast<std::ptrdiff_t>(p * last),
                  space.high.begin() + static_cast<std::ptrdiff_t>((p + 1) * last));
    }
  space.low = std::move(low);
  space.high = std::move(high);
  space.shape.back() *= k;
  std::vector<std::int32_t> unbounded;
  for (const std::int32_t e : spec.unbounded_obs) {  // element e of every frame in the stack
    const std::int32_t p = e / static_cast<std::int32_t>(last), c = e % static_cast<std::int32_t>(last);
    for (std::int32_t f = 0; f < k; ++f)
      unbounded.push_back((p * k + f) * static_cast<std::int32_t>(last) + c);
  }
  out.unbounded_obs = std::move(unbounded);
  return out;
}

namespace {

class FrameStackVecEnv final : public WrappingVecEnv {
 public:
  FrameStackVecEnv(std::unique_ptr<VecEnv> inner, std::int32_t k)
      : WrappingVecEnv(stacked_spec(inner->spec(), k), std::move(inner)), k_(k) {
    require_host(std::string(": option '") + kFrameStackOption + "' stacks observations on the host");
    const Space& space = inner_->spec().observation_space;
    bytes_ = space.is_uint8();
    element_ = element_size(space.dtype);
    channels_ = space.shape.back();
    inner_dim_ = inner_->spec().obs_dim();
    const auto size = static_cast<std::size_t>(num_envs_ * inner_dim_ * k_) * element_;
    stack_.assign(size, 0);
    final_stack_.assign(size, 0);
    if (!bytes_) {  // NaN until written, as the back ends' own buffers
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (std::size_t i = 0; i < size; i += sizeof(float)) {
        std::memcpy(stack_.data() + i, &nan, sizeof nan);
        std::memcpy(final_stack_.data() + i, &nan, sizeof nan);
      }
    }
    buffers_ = inner_->buffers();
    if (bytes_) {
      buffers_.obs_u8 = stack_.data();
      buffers_.final_obs_u8 = final_stack_.data();
    } else {
      buffers_.obs = reinterpret_cast<float*>(stack_.data());
      buffers_.final_obs = reinterpret_cast<float*>(final_stack_.data());
    }
  }

  void reset(std::uint64_t seed) override {
    inner_->reset(seed);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) fill(lane);
  }

  void step(const ActionBatch& actions) override {
    inner_->step(actions);
    const BatchBuffers& in = inner_->buffers();
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      if (!steps(lane)) continue;
      const bool ended = in.terminated[lane] | in.truncated[lane];
      push(lane, ended ? inner_final(lane) : inner_obs(lane));
      if (ended) {
        std::memcpy(row(final_stack_, lane), row(stack_, lane), row_bytes());
        fill(lane);  // the new episode's first observation, k times
      }
    }
  }

  void reset_lanes(const std::uint8_t* mask) override {
    inner_->reset_lanes(mask);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane)
      if (mask[lane]) fill(lane);  // the new episode's first observation, k times
  }

  void copy_to_host(HostBatch& out) const override {
    copy_host_buffers(buffers_, num_envs_, spec_.obs_dim(), out);
  }

  void set_states(const std::vector<float>& states) override {
    inner_->set_states(states);
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) fill(lane);
  }

  std::vector<std::uint8_t> save_snapshot() const override {
    return wrap_snapshot(kMagic, static_cast<std::uint64_t>(k_), inner_->save_snapshot(), {&stack_, &final_stack_});
  }

  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    unwrap_snapshot(bytes, kMagic, static_cast<std::uint64_t>(k_), {&stack_, &final_stack_},
                    spec_.id + ": env snapshot does not match this frame stack of " + std::to_string(k_),
                    "it is not a stack of this depth",
                    [this](const std::vector<std::uint8_t>& inner) { inner_->load_snapshot(inner); });
  }

 private:
  static constexpr std::uint64_t kMagic = 0x4b43415453454d41ull;  // "AMESTACK"

  std::size_t row_bytes() const { return static_cast<std::size_t>(inner_dim_ * k_) * element_; }
  std::uint8_t* row(std::vector<std::uint8_t>& v, std::int32_t lane) const {
    return v.data() + static_cast<std::size_t>(lane) * row_bytes();
  }
  const std::uint8_t* inner_row(const void* base, std::int32_t lane) const {
    return static_cast<const std::uint8_t*>(base) + static_cast<std::size_t>(lane * inner_dim_) * element_;
  }
  const std::uint8_t* inner_obs(std::int32_t lane) const {
    const BatchBuffers& in = inner_->buffers();
    return inner_row(bytes_ ? static_cast<const void*>(in.obs_u8) : in.obs, lane);
  }
  const std::uint8_t* inner_final(std::int32_t lane) const {
    const BatchBuffers& in = inner_->buffers();
    return inner_row(bytes_ ? static_cast<const void*>(in.final_obs_u8) : in.final_obs, lane);
  }

  // Drops the oldest frame of `lane`'s stack and appends `frame` (per pixel: k blocks of C channels).
  void push(std::int32_t lane, const std::uint8_t* frame) {
    const std::size_t block = static_cast<std::size_t>(channels_) * element_;
    const std::size_t pixels = static_cast<std::size_t>(inner_dim_ / channels_);
    std::uint8_t* r = row(stack_, lane);
    if (block == 1 && k_ == 4) {  // four bytes a pixel, oldest first: one 32-bit word shifted (little-endian)
      for (std::size_t p = 0; p < pixels; ++p) {
        std::uint32_t cell;
        std::memcpy(&cell, r + 4 * p, 4);
        cell = (cell >> 8) | (static_cast<std::uint32_t>(frame[p]) << 24);
        std::memcpy(r + 4 * p, &cell, 4);
      }
      return;
    }
    if (block == 1) {  // one byte a pixel (grayscale pictures): a plain loop, not two library calls a pixel
      const std::size_t k = static_cast<std::size_t>(k_);
      for (std::size_t p = 0; p < pixels; ++p) {
        std::uint8_t* cell = r + p * k;
        for (std::size_t f = 0; f + 1 < k; ++f) cell[f] = cell[f + 1];
        cell[k - 1] = frame[p];
      }
      return;
    }
    for (std::size_t p = 0; p < pixels; ++p) {
      std::uint8_t* cell = r + p * block * static_cast<std::size_t>(k_);
      std::memmove(cell, cell + block, block * static_cast<std::size_t>(k_ - 1));
      std::memcpy(cell + block * static_cast<std::size_t>(k_ - 1), frame + p * block, block);
    }
  }

  // `lane`'s stack made of k copies of the inner env's current observation.
  void fill(std::int32_t lane) {
    for (std::int32_t f = 0; f < k_; ++f) push(lane, inner_obs(lane));
  }

  std::int32_t k_;
  bool bytes_ = false;
  std::size_t element_ = 4;
  std::int64_t channels_ = 1, inner_dim_ = 1;
  std::vector<std::uint8_t> stack_, final_stack_;  // [N, inner_dim * k] elements, as bytes
};

}  // namespace

std::unique_ptr<VecEnv> make_frame_stack(std::unique_ptr<VecEnv> inner, std::int32_t k) {
  if (k <= 1) return inner;
  return std::make_unique<FrameStackVecEnv>(std::move(inner), k);
}

}  // namespace apiary::envs
