// Observing pictures, a generic env option: any env observes its own picture instead of its state,
// as uint8 (H, W, C), e.g. CartPole from pixels.
//
//   env:
//     options: {pixels: true, pixels_width: 84, pixels_height: 84, pixels_grayscale: true}
//
// - An env with a picture (every bundled env, and plugins that describe a Scene) is drawn at
//   pixels_width x pixels_height (default 84 x 84) after every step, on the back end's threads. The
//   final observation of a lane whose episode ended is its picture before the same-step auto-reset:
//   the back end keeps each ending lane's look (VecEnv::keep_final_pictures). Aspect ratios are not
//   kept, as with Gymnasium's ResizeObservation.
// - An env that already observes an RGB image (CarRacing-v3's 96 x 96 x 3) has that observation
//   resized (area averaging, as cv2's INTER_AREA that ResizeObservation uses) rather than redrawn.
// - pixels_grayscale (default true) makes one channel, Gymnasium's GrayscaleObservation weights
//   (0.2125 R + 0.7154 G + 0.0721 B, truncated), else three (RGB).
// Applied by the registry over the env's back end, before frame_stack (which then stacks pictures);
// refused beside observe_velocity: false, which has nothing to drop from a picture.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "envs/params.h"
#include "envs/vec_env.h"

namespace apiary::envs {

inline constexpr const char* kPixelsOption = "pixels";
inline constexpr const char* kPixelsWidthOption = "pixels_width";
inline constexpr const char* kPixelsHeightOption = "pixels_height";
inline constexpr const char* kPixelsGrayscaleOption = "pixels_grayscale";
inline constexpr std::int32_t kMaxPixelsSide = 1024;

struct PixelsOptions {
  bool on = false;
  std::int32_t width = 84, height = 84;
  bool grayscale = true;
};

// The pixels options out of `options` (removed from it). Throws std::invalid_argument naming the env,
// the option and its value: a size outside [8, kMaxPixelsSide] or not whole, a flag other than 0 or 1,
// pixels_* given without pixels: true.
PixelsOptions take_pixels(const std::string& env_id, EnvOptions& options);

// Whether `spec` observes an RGB image, which pixels resizes instead of drawing.
bool observes_rgb(const EnvSpec& spec);

// spec observing pictures: Box(0, 255, (height, width, 1 or 3), uint8); the rest as it was.
EnvSpec pixels_spec(const EnvSpec& spec, const PixelsOptions& pixels);

// Wraps `inner` so that it observes pictures (pixels.on; otherwise `inner` itself). Throws
// std::invalid_argument naming the env when it has no picture, or when its back end cannot keep the
// pictures of episodes' ends.
std::unique_ptr<VecEnv> make_pixels(std::unique_ptr<VecEnv> inner, const PixelsOptions& pixels);

// Area-averaging resize of one RGB image (in_h x in_w x 3) to out_h x out_w x `channels` (1: grayscale
// as above, 3: RGB); `out` holds out_h * out_w * channels bytes.
void resample_rgb(const std::uint8_t* in, int in_h, int in_w, std::uint8_t* out, int out_h, int out_w, int channels);

}  // namespace apiary::envs
