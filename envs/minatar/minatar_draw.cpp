#include <algorithm>
#include <cmath>

#include "envs/minatar/minatar_envs.h"

namespace apiary::envs::minatar {

namespace {

// Colour k of n of matplotlib's cubehelix map (Green 2011; gamma 1, start 0, rotations -1.5, hue 1),
// sampled as seaborn's color_palette("cubehelix", n) samples it: n points evenly inside (0, 1).
draw::Color cubehelix(int k, int n) {
  const double lambda = static_cast<double>(k + 1) / static_cast<double>(n + 1);
  const double phi = 2.0 * 3.14159265358979 * (0.5 / 3.0 + -1.5 * lambda);
  const double a = 1.0 * lambda * (1.0 - lambda) / 2.0;
  const double c = std::cos(phi), s = std::sin(phi);
  const auto channel = [](double v) {
    return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
  };
  return draw::Color{channel(lambda + a * (-0.14861 * c + 1.78277 * s)),
                     channel(lambda + a * (-0.29227 * c - 0.90649 * s)), channel(lambda + a * (1.97294 * c)), 255};
}

}  // namespace

// The world is the grid itself: x = column, y = kGrid - row (y up), one unit a cell, so the cells'
// edges fall on whole pixels at 500 x 500.
void describe_grid(const std::uint8_t* grid, int channels, Scene& scene) {
  const float g = static_cast<float>(kGrid);
  scene.view[0] = 0.0f;
  scene.view[1] = 0.0f;
  scene.view[2] = g;
  scene.view[3] = g;
  scene.background = draw::colors::kBlack;
  for (int row = 0; row < kGrid; ++row)
    for (int col = 0; col < kGrid; ++col) {
      int top = -1;
      for (int c = 0; c < channels; ++c)
        if (grid[(row * kGrid + col) * channels + c] != 0) top = c;
      if (top < 0) continue;
      const float x0 = static_cast<float>(col), x1 = x0 + 1.0f;
      const float y1 = g - static_cast<float>(row), y0 = y1 - 1.0f;
      scene.polygon("cell", {x0, y0, x1, y0, x1, y1, x0, y1}, cubehelix(top, channels), std::nullopt,
                    row * kGrid + col);
    }
}

}  // namespace apiary::envs::minatar
