// The drawing surface every env's picture, the heads-up display and the plots draw on: RGB or RGBA
// pixels in memory with lines, filled and outlined polygons, circles and bitmap text, and a
// world-to-screen transform. It is pure software with no dependency (below envs/, which draw their own
// pictures with it, docs/architecture.md): the display back ends (render/window.h, an SDL2 window;
// render/image_io.h, a PNG file through SDL2_image) only copy its pixels out, so the window, a headless
// run and a pixel observation show the same bits, and a checksum of them is a stable golden value.
//
// A canvas owns its pixels (RGBA, what SDL shows) or draws into a caller's buffer (Canvas::over: RGB
// rows of an [N, H, W, 3] batch of observations, written in place). The channel count changes only how
// a pixel is stored: the same calls paint the same colours in both.
//
// Rasterisation rules (why the same input always gives the same pixels): a pixel (x, y) covers the
// square [x, x + 1) x [y, y + 1) and is inside a shape when its centre (x + 0.5, y + 0.5) is;
// no anti-aliasing. Colours with alpha < 255 are blended over what is there ("source over").
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace apiary::draw {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0, a = 255;
  friend bool operator==(const Color& x, const Color& y) {
    return x.r == y.r && x.g == y.g && x.b == y.b && x.a == y.a;
  }
  friend bool operator!=(const Color& x, const Color& y) { return !(x == y); }
};

namespace colors {
inline constexpr Color kWhite{255, 255, 255, 255};
inline constexpr Color kBlack{0, 0, 0, 255};
inline constexpr Color kGrey{128, 128, 128, 255};
inline constexpr Color kLightGrey{210, 210, 210, 255};
inline constexpr Color kRed{220, 40, 40, 255};
inline constexpr Color kGreen{40, 170, 60, 255};
inline constexpr Color kBlue{50, 90, 200, 255};
inline constexpr Color kYellow{204, 204, 0, 255};
}  // namespace colors

struct Vec2 {
  float x = 0.0f, y = 0.0f;
};

// Maps world coordinates (y up, in the env's units) onto pixels (y down, origin top-left):
// px = left + (x - x_min) * scale_x, py = top + (y_max - y) * scale_y. The default is the identity on
// pixels (y down), which the HUD and the plots use.
class Transform {
 public:
  Transform() = default;
  // The world rectangle [x_min, x_max] x [y_min, y_max] onto the pixel rectangle whose top-left
  // corner is (left, top), `width` x `height` pixels. Requires x_max > x_min and y_max > y_min.
  static Transform fit(float x_min, float y_min, float x_max, float y_max, float left, float top, float width,
                       float height);
  Vec2 apply(Vec2 world) const;
  // Pixels per world unit along x (radii and widths given in world units use it).
  float scale_x() const { return scale_x_; }
  float scale_y() const { return scale_y_; }

 private:
  float x0_ = 0.0f, y0_ = 0.0f;  // world point mapped to the pixel origin (left, top)
  float left_ = 0.0f, top_ = 0.0f;
  float scale_x_ = 1.0f, scale_y_ = 1.0f;
  bool y_up_ = false;
};

class Canvas {
 public:
  // An RGBA canvas owning its pixels: width, height in 1..16384; filled with `background`.
  Canvas(int width, int height, Color background = colors::kWhite);
  // A canvas drawing into `pixels`, which the caller owns and keeps alive while the canvas is used:
  // width * height * channels bytes, row by row from the top, `channels` 3 (RGB) or 4 (RGBA). The
  // bytes are left as they are (clear() them). Throws std::invalid_argument for a null buffer, a size
  // outside 1..16384 or another channel count.
  static Canvas over(std::uint8_t* pixels, int width, int height, int channels);
  // A copy owns a copy of the pixels (also of a canvas over a caller's buffer).
  Canvas(const Canvas& other);
  Canvas& operator=(const Canvas& other);
  Canvas(Canvas&& other) noexcept;
  Canvas& operator=(Canvas&& other) noexcept;
  ~Canvas() = default;

  int width() const { return width_; }
  int height() const { return height_; }
  int channels() const { return channels_; }
  // The pixel bytes, row by row from the top, channels() per pixel: RGBA is SDL's SDL_PIXELFORMAT_RGBA32.
  const std::uint8_t* data() const { return pixels_; }
  std::size_t size_bytes() const { return static_cast<std::size_t>(width_) * height_ * channels_; }
  // The pixel at (x, y) (alpha 255 on an RGB canvas); throws std::out_of_range outside the canvas.
  Color pixel(int x, int y) const;
  // FNV-1a (64 bit) of the width, the height and every pixel byte: the golden value of tests.
  std::uint64_t checksum() const;

  void clear(Color color);
  void set_transform(const Transform& transform) { transform_ = transform; }
  const Transform& transform() const { return transform_; }

  // ---- world coordinates (through transform()); widths and text sizes are in pixels -------------
  // A straight segment `width` pixels wide (1: a one-pixel line that never has gaps).
  void line(Vec2 a, Vec2 b, Color color, float width = 1.0f);
  // Consecutive points joined; `closed` joins the last to the first.
  void polyline(const std::vector<Vec2>& points, Color color, float width = 1.0f, bool closed = false);
  // The inside of a simple polygon (convex or not, even-odd rule), corners in order.
  void fill_polygon(const std::vector<Vec2>& points, Color color);
  void outline_polygon(const std::vector<Vec2>& points, Color color, float width = 1.0f) {
    polyline(points, color, width, true);
  }
  // Radius in world units (scaled by transform().scale_x()); at least one pixel is painted.
  void fill_circle(Vec2 centre, float radius, Color color);
  // A ring `width` pixels wide on the circle of `radius` world units.
  void outline_circle(Vec2 centre, float radius, Color color, float width = 1.0f);

  // ---- pixel coordinates, ignoring the transform ------------------------------------------------
  // The pixels [x, x + w) x [y, y + h), clipped to the canvas.
  void fill_rect(int x, int y, int w, int h, Color color);
  void outline_rect(int x, int y, int w, int h, Color color);
  // Text in the built-in 5 x 7 font (draw/font.h) with its top-left corner at (x, y), each font
  // pixel drawn as a `scale` x `scale` block; '\n' starts a new line. Characters outside ASCII 32..126
  // are drawn as '?'.
  void text(int x, int y, std::string_view text, Color color, int scale = 1);
  // Width and height in pixels that text() would cover.
  static int text_width(std::string_view text, int scale = 1);
  static int text_height(std::string_view text, int scale = 1);

  // Copies `source` with its top-left corner at (x, y), clipped (no blending; an RGB source gives
  // alpha 255 on an RGBA canvas).
  void blit(const Canvas& source, int x, int y);

  // Paints one pixel (blending by alpha); outside the canvas does nothing.
  void put(int x, int y, Color color);

 private:
  Canvas(std::uint8_t* pixels, int width, int height, int channels);  // over(): checked there
  void fill_polygon_px(const std::vector<Vec2>& px, Color color);
  void thin_line_px(Vec2 a, Vec2 b, Color color);
  void span(int y, int x_begin, int x_end, Color color);  // [x_begin, x_end) on row y, clipped
  std::uint8_t* at(int x, int y) { return pixels_ + (static_cast<std::size_t>(y) * width_ + x) * channels_; }
  const std::uint8_t* at(int x, int y) const {
    return pixels_ + (static_cast<std::size_t>(y) * width_ + x) * channels_;
  }

  int width_;
  int height_;
  int channels_;                // 3 (RGB) or 4 (RGBA)
  std::vector<std::uint8_t> owned_;  // the pixels of an owning canvas; empty over a caller's buffer
  std::uint8_t* pixels_;        // owned_.data() or the caller's buffer
  Transform transform_;
};

}  // namespace apiary::draw
