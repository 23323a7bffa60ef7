// Helpers of the render tests: pixel statistics over a canvas and an optional dump of what a test drew
// (set APIARY_RENDER_DUMP=DIR to keep every image a test draws, to look at it).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "render/canvas.h"
#include "render/image_io.h"

namespace apiary::render::testing {

// Pixels matching `pred`: how many, and the mean and extent of their coordinates.
struct PixelStats {
  long count = 0;
  double mean_x = 0, mean_y = 0;
  int min_x = 1 << 30, max_x = -1, min_y = 1 << 30, max_y = -1;
};

inline PixelStats stats(const Canvas& c, const std::function<bool(Color)>& pred, int x0 = 0, int y0 = 0, int x1 = -1,
                        int y1 = -1) {
  if (x1 < 0) x1 = c.width();
  if (y1 < 0) y1 = c.height();
  PixelStats s;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      if (pred(c.pixel(x, y))) {
        ++s.count;
        s.mean_x += x;
        s.mean_y += y;
        s.min_x = std::min(s.min_x, x);
        s.max_x = std::max(s.max_x, x);
        s.min_y = std::min(s.min_y, y);
        s.max_y = std::max(s.max_y, y);
      }
  if (s.count > 0) {
    s.mean_x /= static_cast<double>(s.count);
    s.mean_y /= static_cast<double>(s.count);
  }
  return s;
}

inline std::function<bool(Color)> is(Color want) {
  return [want](Color c) { return c.r == want.r && c.g == want.g && c.b == want.b; };
}

inline void dump(const Canvas& c, const std::string& name) {
  const char* dir = std::getenv("APIARY_RENDER_DUMP");
  if (!dir || !*dir) return;
  std::filesystem::create_directories(dir);
  save_png(c, (std::filesystem::path(dir) / (name + ".png")).string());
}

}  // namespace apiary::render::testing
