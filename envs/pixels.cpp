#include "envs/pixels.h"

#include "envs/thread_pool.h"
#include "envs/wrapper_snapshot.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace apiary::envs {

namespace {

// The option `name` out of `options` (removed), or `fallback` when absent; `given` set when present.
bool take_flag(const std::string& env_id, EnvOptions& options, const char* name, bool fallback, bool& given) {
  const auto it = options.find(name);
  if (it == options.end()) return fallback;
  const bool value = flag_option(env_id, name, it->second);
  options.erase(it);
  given = true;
  return value;
}

std::int32_t take_side(const std::string& env_id, EnvOptions& options, const char* name, std::int32_t fallback,
                       bool& given) {
  const auto it = options.find(name);
  if (it == options.end()) return fallback;
  const std::int32_t value = whole_option(env_id, name, it->second, 8, kMaxPixelsSide, "pixels");
  options.erase(it);
  given = true;
  return value;
}

// Gymnasium's GrayscaleObservation: a weighted sum in float64, truncated to uint8.
constexpr double kGrayR = 0.2125, kGrayG = 0.7154, kGrayB = 0.0721;
inline std::uint8_t gray(double r, double g, double b) {
  return static_cast<std::uint8_t>(kGrayR * r + kGrayG * g + kGrayB * b);
}

// The same for whole bytes, from each channel's products in tables: the same float64 products added in
// the same order, so the same bytes as gray(), without three conversions and products a pixel.
struct GrayTables {
  double r[256], g[256], b[256];
  GrayTables() {
    for (int v = 0; v < 256; ++v) {
      r[v] = kGrayR * v;
      g[v] = kGrayG * v;
      b[v] = kGrayB * v;
    }
  }
  void convert(const std::uint8_t* rgb, std::uint8_t* out, std::size_t pixels) const {
    for (std::size_t p = 0; p < pixels; ++p, rgb += 3)
      out[p] = static_cast<std::uint8_t>(r[rgb[0]] + g[rgb[1]] + b[rgb[2]]);
  }
};
const GrayTables& gray_tables() {
  static const GrayTables tables;
  return tables;
}

// The source pixels an output pixel averages along one axis: the output interval
// [o * scale, (o + 1) * scale) over the input's, each input pixel weighted by its overlap.
struct Tap {
  int index;
  double weight;
};
std::vector<std::vector<Tap>> area_taps(int in, int out) {
  std::vector<std::vector<Tap>> taps(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    for (int i = static_cast<int>(std::floor(lo)); i < in && i < hi; ++i) {
      const double overlap = std::min<double>(i + 1, hi) - std::max<double>(i, lo);
      if (overlap > 1e-12) taps[static_cast<std::size_t>(o)].push_back(Tap{i, overlap / scale});
    }
  }
  return taps;
}

}  // namespace

PixelsOptions take_pixels(const std::string& env_id, EnvOptions& options) {
  PixelsOptions out;
  bool on_given = false, other_given = false;
  out.on = take_flag(env_id, options, kPixelsOption, false, on_given);
  out.width = take_side(env_id, options, kPixelsWidthOption, out.width, other_given);
  out.height = take_side(env_id, options, kPixelsHeightOption, out.height, other_given);
  out.grayscale = take_flag(env_id, options, kPixelsGrayscaleOption, out.grayscale, other_given);
  if (other_given && !out.on)
    throw std::invalid_argument(env_id + ": options '" + kPixelsWidthOption + "', '" + kPixelsHeightOption + "' and '" +
                                kPixelsGrayscaleOption + "' shape pixel observations, which need '" + kPixelsOption +
                                "': true");
  return out;
}

bool observes_rgb(const EnvSpec& spec) {
  const Space& space = spec.observation_space;
  return space.is_uint8() && space.shape.size() == 3 && space.shape[2] == 3;
}

EnvSpec pixels_spec(const EnvSpec& spec, const PixelsOptions& pixels) {
  if (!pixels.on) return spec;
  EnvSpec out = spec;
  out.observation_space = Space::box_u8({pixels.height, pixels.width, pixels.grayscale ? 1 : 3});
  out.unbounded_obs.clear();
  out.velocity_elements.clear();
  return out;
}

void resample_rgb(const std::uint8_t* in, int in_h, int in_w, std::uint8_t* out, int out_h, int out_w, int channels) {
  const auto rows = area_taps(in_h, out_h), cols = area_taps(in_w, out_w);
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox) {
      double rgb[3] = {0, 0, 0};
      for (const Tap& ty : rows[static_cast<std::size_t>(oy)])
        for (const Tap& tx : cols[static_cast<std::size_t>(ox)]) {
          const std::uint8_t* p = in + (static_cast<std::size_t>(ty.index) * in_w + tx.index) * 3;
          const double w = ty.weight * tx.weight;
          for (int c = 0; c < 3; ++c) rgb[c] += w * p[c];
        }
      std::uint8_t* o = out + (static_cast<std::size_t>(oy) * out_w + ox) * channels;
      if (channels == 1) {
        o[0] = gray(rgb[0], rgb[1], rgb[2]);
      } else {
        for (int c = 0; c < 3; ++c) o[c] = static_cast<std::uint8_t>(std::min(255.0, std::floor(rgb[c] + 0.5)));
      }
    }
}

namespace {

class PixelsVecEnv final : public WrappingVecEnv {
 public:
  PixelsVecEnv(std::unique_ptr<VecEnv> inner, const PixelsOptions& pixels)
      : WrappingVecEnv(pixels_spec(inner->spec(), pixels), std::move(inner)),
        width_(pixels.width),
        height_(pixels.height),
        channels_(pixels.grayscale ? 1 : 3),
        redraw_(!observes_rgb(inner_->spec())) {
    const std::string option = std::string(": option '") + kPixelsOption + "': ";
    require_host(option + "pictures are observed on the host");
    if (redraw_ && !inner_->has_picture())
      throw std::invalid_argument(spec_.id + option + "this env has no picture to observe (it describes no Scene)");
    if (redraw_ && !inner_->keep_final_pictures(true))
      throw std::invalid_argument(spec_.id + option +
                                  "its back end cannot keep the picture of an episode's end (final_obs): it does "
                                  "not implement VecEnv::keep_final_pictures");
    frame_ = static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * static_cast<std::size_t>(channels_);
    obs_.assign(frame_ * static_cast<std::size_t>(num_envs_), 0);
    final_obs_.assign(obs_.size(), 0);
    buffers_ = inner_->buffers();
    buffers_.obs = buffers_.final_obs = nullptr;
    buffers_.obs_u8 = obs_.data();
    buffers_.final_obs_u8 = final_obs_.data();
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) all_.push_back(lane);
  }

  void reset(std::uint64_t seed) override {
    inner_->reset(seed);
    observe(all_, false);
  }

  void step(const ActionBatch& actions) override {
    inner_->step(actions);
    const BatchBuffers& in = inner_->buffers();
    lanes_.clear();
    ended_.clear();
    for (std::int32_t lane = 0; lane < num_envs_; ++lane) {
      if (!steps(lane)) continue;
      lanes_.push_back(lane);
      if (in.terminated[lane] | in.truncated[lane]) ended_.push_back(lane);
    }
    observe(skip_ ? ended_ : lanes_, false);  // a frame nobody looks at: only the new episodes' first pictures
    observe(ended_, true);
  }

  void skip_observations(bool skip) override {
    skip_ = skip;
    inner_->skip_observations(skip);
  }

  void reset_lanes(const std::uint8_t* mask) override {
    inner_->reset_lanes(mask);
    lanes_.clear();
    for (std::int32_t lane = 0; lane < num_envs_; ++lane)
      if (mask[lane]) lanes_.push_back(lane);
    observe(lanes_, false);
  }

  void copy_to_host(HostBatch& out) const override { copy_host_buffers(buffers_, num_envs_, spec_.obs_dim(), out); }

  void set_states(const std::vector<float>& states) override {
    inner_->set_states(states);
    observe(all_, false);
  }

  std::vector<std::uint8_t> save_snapshot() const override {
    return wrap_snapshot(kMagic, frame_, inner_->save_snapshot(), {&obs_, &final_obs_});
  }

  void load_snapshot(const std::vector<std::uint8_t>& bytes) override {
    unwrap_snapshot(bytes, kMagic, frame_, {&obs_, &final_obs_},
                    spec_.id + ": env snapshot does not match these pixel observations",
                    "it holds pictures of another size",
                    [this](const std::vector<std::uint8_t>& inner) { inner_->load_snapshot(inner); });
  }

 private:
  static constexpr std::uint64_t kMagic = 0x534c45584950414dull;  // "MAPIXELS"

  // Writes the observation rows of `lanes` (final: final_obs, of lanes that just ended).
  void observe(const std::vector<std::int32_t>& lanes, bool final) {
    if (lanes.empty()) return;
    std::vector<std::uint8_t>& target = final ? final_obs_ : obs_;
    if (!redraw_) {  // an RGB observation, resized
      const BatchBuffers& in = inner_->buffers();
      const Space& space = inner_->spec().observation_space;
      const int in_h = static_cast<int>(space.shape[0]), in_w = static_cast<int>(space.shape[1]);
      const std::uint8_t* rows = final ? in.final_obs_u8 : in.obs_u8;
      for (const std::int32_t lane : lanes)
        resample_rgb(rows + static_cast<std::size_t>(lane) * in_h * in_w * 3, in_h, in_w, row(target, lane), height_,
                     width_, channels_);
      return;
    }
    // Every lane (the lists are ascending, without repeats), in RGB: drawn in place.
    const bool direct = channels_ == 3 && lanes.size() == static_cast<std::size_t>(num_envs_);
    std::uint8_t* rgb = target.data();
    const std::size_t rgb_frame = static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * 3;
    if (!direct) {
      rgb_.resize(rgb_frame * lanes.size());
      rgb = rgb_.data();
    }
    if (final)
      inner_->render_final_lanes(lanes, height_, width_, rgb);
    else
      inner_->render_lanes(lanes, height_, width_, rgb);
    if (direct) return;
    const std::size_t pixels = static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_);
    const GrayTables& tables = gray_tables();
    const auto one = [&](std::int64_t k) {
      const std::uint8_t* from = rgb + static_cast<std::size_t>(k) * rgb_frame;
      std::uint8_t* to = row(target, lanes[static_cast<std::size_t>(k)]);
      if (channels_ == 3)
        std::memcpy(to, from, rgb_frame);
      else
        tables.convert(from, to, pixels);
    };
    pool().run(static_cast<std::int64_t>(lanes.size()), one);
  }

  // Threads for the conversions, as many as the env steps on (made again when that changes).
  ThreadPool& pool() {
    const std::int32_t want = threads_ > 0 ? threads_ : ThreadPool::hardware_threads();
    if (!pool_ || pool_->threads() != want) pool_ = std::make_unique<ThreadPool>(want);
    return *pool_;
  }

  std::uint8_t* row(std::vector<std::uint8_t>& v, std::int32_t lane) const {
    return v.data() + static_cast<std::size_t>(lane) * frame_;
  }

  std::int32_t width_, height_, channels_;
  bool redraw_;  // draw the env's picture (false: resize its RGB observation)
  bool skip_ = false;  // skip_observations(): this step's pictures of lanes that go on are not read
  std::size_t frame_ = 0;
  std::vector<std::int32_t> all_, lanes_, ended_;
  std::vector<std::uint8_t> obs_, final_obs_, rgb_;
  std::unique_ptr<ThreadPool> pool_;  // pool()
};

}  // namespace

std::unique_ptr<VecEnv> make_pixels(std::unique_ptr<VecEnv> inner, const PixelsOptions& pixels) {
  if (!pixels.on) return inner;
  return std::make_unique<PixelsVecEnv>(std::move(inner), pixels);
}

}  // namespace apiary::envs
