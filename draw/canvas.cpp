#include "draw/canvas.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/fnv1a.h"
#include "draw/font.h"

namespace apiary::draw {

Transform Transform::fit(float x_min, float y_min, float x_max, float y_max, float left, float top, float width,
                         float height) {
  if (!(x_max > x_min) || !(y_max > y_min) || !(width > 0.0f) || !(height > 0.0f))
    throw std::invalid_argument("Transform::fit: empty world or pixel rectangle");
  Transform t;
  t.x0_ = x_min;
  t.y0_ = y_max;
  t.left_ = left;
  t.top_ = top;
  t.scale_x_ = width / (x_max - x_min);
  t.scale_y_ = height / (y_max - y_min);
  t.y_up_ = true;
  return t;
}

Vec2 Transform::apply(Vec2 w) const {
  const float px = left_ + (w.x - x0_) * scale_x_;
  const float py = y_up_ ? top_ + (y0_ - w.y) * scale_y_ : top_ + (w.y - y0_) * scale_y_;
  return Vec2{px, py};
}

namespace {

void check_size(int width, int height) {
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    throw std::invalid_argument("Canvas: size " + std::to_string(width) + " x " + std::to_string(height) +
                                " is outside 1..16384 pixels");
}

}  // namespace

Canvas::Canvas(int width, int height, Color background)
    : width_(width), height_(height), channels_(4), pixels_(nullptr) {
  check_size(width, height);
  owned_.resize(size_bytes());
  pixels_ = owned_.data();
  clear(background);
}

Canvas::Canvas(std::uint8_t* pixels, int width, int height, int channels)
    : width_(width), height_(height), channels_(channels), pixels_(pixels) {}

Canvas Canvas::over(std::uint8_t* pixels, int width, int height, int channels) {
  check_size(width, height);
  if (channels != 3 && channels != 4)
    throw std::invalid_argument("Canvas::over: " + std::to_string(channels) + " channels; 3 (RGB) or 4 (RGBA) are drawn");
  if (pixels == nullptr) throw std::invalid_argument("Canvas::over: the pixel buffer is null");
  return Canvas(pixels, width, height, channels);
}

Canvas::Canvas(const Canvas& other)
    : width_(other.width_),
      height_(other.height_),
      channels_(other.channels_),
      owned_(other.pixels_, other.pixels_ + other.size_bytes()),
      pixels_(owned_.data()),
      transform_(other.transform_) {}

Canvas& Canvas::operator=(const Canvas& other) {
  if (this != &other) *this = Canvas(other);
  return *this;
}

// A moved vector keeps its heap block, so pixels_ stays valid for an owning canvas; a canvas over a
// caller's buffer keeps pointing at it.
Canvas::Canvas(Canvas&& other) noexcept
    : width_(other.width_),
      height_(other.height_),
      channels_(other.channels_),
      owned_(std::move(other.owned_)),
      pixels_(other.pixels_),
      transform_(other.transform_) {}

Canvas& Canvas::operator=(Canvas&& other) noexcept {
  width_ = other.width_;
  height_ = other.height_;
  channels_ = other.channels_;
  owned_ = std::move(other.owned_);
  pixels_ = other.pixels_;
  transform_ = other.transform_;
  return *this;
}

Color Canvas::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_)
    throw std::out_of_range("Canvas::pixel(" + std::to_string(x) + ", " + std::to_string(y) + ") outside " +
                            std::to_string(width_) + " x " + std::to_string(height_));
  const std::uint8_t* p = at(x, y);
  return Color{p[0], p[1], p[2], channels_ == 4 ? p[3] : std::uint8_t{255}};
}

std::uint64_t Canvas::checksum() const {
  core::Fnv1a f;
  for (int shift = 0; shift < 32; shift += 8) f.add_byte(static_cast<std::uint8_t>(width_ >> shift));
  for (int shift = 0; shift < 32; shift += 8) f.add_byte(static_cast<std::uint8_t>(height_ >> shift));
  f.add(pixels_, size_bytes());
  return f.h;
}

void Canvas::clear(Color color) {
  // One row pixel by pixel, then the rest of the rows copied from it (env pictures clear every frame).
  const std::uint8_t rgba[4] = {color.r, color.g, color.b, color.a};
  const std::size_t row = static_cast<std::size_t>(width_) * static_cast<std::size_t>(channels_);
  for (std::size_t i = 0; i < row; i += static_cast<std::size_t>(channels_))
    for (int c = 0; c < channels_; ++c) pixels_[i + static_cast<std::size_t>(c)] = rgba[c];
  for (int y = 1; y < height_; ++y) std::copy(pixels_, pixels_ + row, pixels_ + static_cast<std::size_t>(y) * row);
}

void Canvas::put(int x, int y, Color c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || c.a == 0) return;
  std::uint8_t* p = at(x, y);
  if (c.a == 255) {
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
    if (channels_ == 4) p[3] = 255;
    return;
  }
  // Integer "source over", rounded: the same bytes on every machine.
  const int a = c.a, ia = 255 - a;
  p[0] = static_cast<std::uint8_t>((c.r * a + p[0] * ia + 127) / 255);
  p[1] = static_cast<std::uint8_t>((c.g * a + p[1] * ia + 127) / 255);
  p[2] = static_cast<std::uint8_t>((c.b * a + p[2] * ia + 127) / 255);
  if (channels_ == 4) p[3] = static_cast<std::uint8_t>(a + (p[3] * ia + 127) / 255);
}

void Canvas::span(int y, int x_begin, int x_end, Color color) {
  if (y < 0 || y >= height_) return;
  x_begin = std::max(x_begin, 0);
  x_end = std::min(x_end, width_);
  if (x_begin >= x_end || color.a == 0) return;
  if (color.a != 255) {
    for (int x = x_begin; x < x_end; ++x) put(x, y, color);
    return;
  }
  // Opaque: the same bytes as put(), written in one pass (filled polygons are mostly spans).
  std::uint8_t* p = at(x_begin, y);
  const int n = x_end - x_begin;
  if (channels_ == 3) {
    for (int i = 0; i < n; ++i, p += 3) {
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  } else {
    for (int i = 0; i < n; ++i, p += 4) {
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
      p[3] = 255;
    }
  }
}

void Canvas::blit(const Canvas& source, int x, int y) {
  for (int sy = 0; sy < source.height_; ++sy) {
    const int ty = y + sy;
    if (ty < 0 || ty >= height_) continue;
    const int sx_begin = std::max(0, -x), sx_end = std::min(source.width_, width_ - x);
    if (sx_begin >= sx_end) continue;
    const std::uint8_t* from = source.at(sx_begin, sy);
    std::uint8_t* to = at(x + sx_begin, ty);
    if (source.channels_ == channels_) {
      std::copy(from, from + static_cast<std::ptrdiff_t>(sx_end - sx_begin) * channels_, to);
      continue;
    }
    for (int i = 0; i < sx_end - sx_begin; ++i, from += source.channels_, to += channels_) {
      std::copy(from, from + 3, to);
      if (channels_ == 4) to[3] = source.channels_ == 4 ? from[3] : std::uint8_t{255};
    }
  }
}

void Canvas::fill_rect(int x, int y, int w, int h, Color color) {
  const int y_end = std::min(y + h, height_);
  for (int row = std::max(y, 0); row < y_end; ++row) span(row, x, x + w, color);
}

void Canvas::outline_rect(int x, int y, int w, int h, Color color) {
  if (w <= 0 || h <= 0) return;
  fill_rect(x, y, w, 1, color);
  fill_rect(x, y + h - 1, w, 1, color);
  fill_rect(x, y + 1, 1, h - 2, color);
  fill_rect(x + w - 1, y + 1, 1, h - 2, color);
}

void Canvas::thin_line_px(Vec2 a, Vec2 b, Color color) {
  if (!std::isfinite(a.x) || !std::isfinite(a.y) || !std::isfinite(b.x) || !std::isfinite(b.y)) return;
  // One pixel per column (shallow lines) or per row (steep ones): the pixel holding the line's point
  // at that column's (row's) centre, so there are no gaps and nothing is painted twice.
  const bool steep = std::fabs(b.y - a.y) > std::fabs(b.x - a.x);
  const float a_major = steep ? a.y : a.x, a_minor = steep ? a.x : a.y;
  const float b_major = steep ? b.y : b.x, b_minor = steep ? b.x : b.y;
  const float lo = std::min(a_major, b_major), hi = std::max(a_major, b_major);
  const float extent = static_cast<float>(steep ? height_ : width_);
  const int first = static_cast<int>(std::floor(std::max(lo, -1.0f)));
  const int last = static_cast<int>(std::floor(std::min(hi, extent)));
  const float slope = hi > lo ? (b_minor - a_minor) / (b_major - a_major) : 0.0f;
  for (int m = first; m <= last; ++m) {
    const float centre = std::clamp(static_cast<float>(m) + 0.5f, lo, hi);
    const float minor = a_minor + (centre - a_major) * slope;
    const int n = static_cast<int>(std::floor(minor));
    if (steep)
      put(n, m, color);
    else
      put(m, n, color);
  }
}

void Canvas::fill_polygon_px(const std::vector<Vec2>& px, Color color) {
  if (px.size() < 3) return;
  float y_min = px[0].y, y_max = px[0].y;
  for (const Vec2& p : px) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) return;
    y_min = std::min(y_min, p.y);
    y_max = std::max(y_max, p.y);
  }
  const int row_begin = std::max(0, static_cast<int>(std::floor(y_min)));
  const int row_end = std::min(height_, static_cast<int>(std::ceil(y_max)) + 1);
  std::vector<float> xs;
  for (int y = row_begin; y < row_end; ++y) {
    const float yc = static_cast<float>(y) + 0.5f;
    xs.clear();
    for (std::size_t i = 0; i < px.size(); ++i) {
      const Vec2& p0 = px[i];
      const Vec2& p1 = px[(i + 1) % px.size()];
      if ((p0.y <= yc) == (p1.y <= yc)) continue;  // the edge does not cross this row's centre line
      xs.push_back(p0.x + (yc - p0.y) * (p1.x - p0.x) / (p1.y - p0.y));
    }
    std::sort(xs.begin(), xs.end());
    for (std::size_t i = 0; i + 1 < xs.size(); i += 2) {
      // Pixels whose centre x + 0.5 lies in [xs[i], xs[i + 1]).
      const float lo = std::max(xs[i], -1.0f), hi = std::min(xs[i + 1], static_cast<float>(width_) + 1.0f);
      span(y, static_cast<int>(std::ceil(lo - 0.5f)), static_cast<int>(std::ceil(hi - 0.5f)), color);
    }
  }
}

void Canvas::line(Vec2 a, Vec2 b, Color color, float width) {
  const Vec2 pa = transform_.apply(a), pb = transform_.apply(b);
  if (width <= 1.5f) {
    thin_line_px(pa, pb, color);
    return;
  }
  const float dx = pb.x - pa.x, dy = pb.y - pa.y;
  const float length = std::sqrt(dx * dx + dy * dy);
  if (!(length > 0.0f)) {
    fill_rect(static_cast<int>(std::floor(pa.x - width / 2.0f + 0.5f)),
              static_cast<int>(std::floor(pa.y - width / 2.0f + 0.5f)), static_cast<int>(width),
              static_cast<int>(width), color);
    return;
  }
  const float nx = -dy / length * width / 2.0f, ny = dx / length * width / 2.0f;
  fill_polygon_px({{pa.x + nx, pa.y + ny}, {pb.x + nx, pb.y + ny}, {pb.x - nx, pb.y - ny}, {pa.x - nx, pa.y - ny}},
                  color);
}

void Canvas::polyline(const std::vector<Vec2>& points, Color color, float width, bool closed) {
  if (points.empty()) return;
  if (points.size() == 1) {
    line(points[0], points[0], color, width);
    return;
  }
  const std::size_t segments = closed ? points.size() : points.size() - 1;
  for (std::size_t i = 0; i < segments; ++i) line(points[i], points[(i + 1) % points.size()], color, width);
}

void Canvas::fill_polygon(const std::vector<Vec2>& points, Color color) {
  std::vector<Vec2> px;
  px.reserve(points.size());
  for (const Vec2& p : points) px.push_back(transform_.apply(p));
  fill_polygon_px(px, color);
}

namespace {

// Pixel columns [begin, end) of row `y` whose centres lie within `r` of `c` (empty: begin >= end).
void circle_span(Vec2 c, float r, int y, int& begin, int& end) {
  const float dy = static_cast<float>(y) + 0.5f - c.y;
  const float d2 = r * r - dy * dy;
  if (d2 < 0.0f) {
    begin = end = 0;
    return;
  }
  const float half = std::sqrt(d2);
  begin = static_cast<int>(std::ceil(c.x - half - 0.5f));
  end = static_cast<int>(std::floor(c.x + half - 0.5f)) + 1;
}

}  // namespace

void Canvas::fill_circle(Vec2 centre, float radius, Color color) {
  const Vec2 c = transform_.apply(centre);
  const float r = std::fabs(radius * transform_.scale_x());
  if (!std::isfinite(c.x) || !std::isfinite(c.y) || !std::isfinite(r)) return;
  bool painted = false;
  const int row_begin = std::max(0, static_cast<int>(std::floor(c.y - r)));
  const int row_end = std::min(height_, static_cast<int>(std::ceil(c.y + r)) + 1);
  for (int y = row_begin; y < row_end; ++y) {
    int begin = 0, end = 0;
    circle_span(c, r, y, begin, end);
    if (begin < end) {
      span(y, begin, end, color);
      painted = true;
    }
  }
  if (!painted) put(static_cast<int>(std::floor(c.x)), static_cast<int>(std::floor(c.y)), color);
}

void Canvas::outline_circle(Vec2 centre, float radius, Color color, float width) {
  const Vec2 c = transform_.apply(centre);
  const float r = std::fabs(radius * transform_.scale_x());
  if (!std::isfinite(c.x) || !std::isfinite(c.y) || !std::isfinite(r)) return;
  const float half_width = std::max(width, 1.0f) / 2.0f;
  const float r_out = r + half_width, r_in = std::max(0.0f, r - half_width);
  const int row_begin = std::max(0, static_cast<int>(std::floor(c.y - r_out)));
  const int row_end = std::min(height_, static_cast<int>(std::ceil(c.y + r_out)) + 1);
  for (int y = row_begin; y < row_end; ++y) {
    int ob = 0, oe = 0, ib = 0, ie = 0;
    circle_span(c, r_out, y, ob, oe);
    circle_span(c, r_in, y, ib, ie);
    if (ib >= ie) {
      span(y, ob, oe, color);
    } else {
      span(y, ob, ib, color);
      span(y, ie, oe, color);
    }
  }
}

void Canvas::text(int x, int y, std::string_view str, Color color, int scale) {
  scale = std::max(scale, 1);
  int cx = x, cy = y;
  for (char ch : str) {
    if (ch == '\n') {
      cx = x;
      cy += font::kLineHeight * scale;
      continue;
    }
    const auto& rows = font::glyph(ch);
    for (int row = 0; row < font::kGlyphHeight; ++row)
      for (int col = 0; col < font::kGlyphWidth; ++col)
        if (rows[static_cast<std::size_t>(row)] & (1u << (font::kGlyphWidth - 1 - col)))
          fill_rect(cx + col * scale, cy + row * scale, scale, scale, color);
    cx += font::kAdvance * scale;
  }
}

int Canvas::text_width(std::string_view str, int scale) {
  scale = std::max(scale, 1);
  int widest = 0, current = 0;
  for (char ch : str) {
    if (ch == '\n') {
      current = 0;
      continue;
    }
    ++current;
    widest = std::max(widest, current);
  }
  return widest == 0 ? 0 : (widest * font::kAdvance - 1) * scale;
}

int Canvas::text_height(std::string_view str, int scale) {
  scale = std::max(scale, 1);
  if (str.empty()) return 0;
  const int lines = 1 + static_cast<int>(std::count(str.begin(), str.end(), '\n'));
  return ((lines - 1) * font::kLineHeight + font::kGlyphHeight) * scale;
}

}  // namespace apiary::draw
