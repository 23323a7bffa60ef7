// BipedalWalker's picture as gymnasium/envs/box2d/bipedal_walker.py draws it: a pale blue sky, green
// ground whose surface edges alternate two greens, white obstacles (Hardcore), the violet hull, the
// legs (the far one, index 0, lighter), red lidar rays and the red start flag. A lower leg touching the
// ground gets a green outline.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "envs/box2d/bipedal_walker.h"

namespace apiary::envs::box2d {

void paint_bipedal_walker(Scene& scene) {
  scene.background = draw::Color{215, 215, 255, 255};
  const draw::Color ground{102, 153, 76, 255};
  const draw::Color edge[2] = {{76, 255, 76, 255}, {76, 204, 76, 255}};
  const draw::Color hull_fill{127, 51, 229, 255}, hull_outline{76, 76, 127, 255};
  const draw::Color leg_fill[2] = {{178, 101, 152, 255}, {128, 51, 102, 255}};
  const draw::Color leg_outline[2] = {{127, 76, 101, 255}, {77, 26, 51, 255}};
  const draw::Color lidar{255, 0, 0, 255}, flag{230, 51, 0, 255}, contact{0, 200, 0, 255};
  const auto contact_of = [&](int index) {
    const auto it = scene.values.find("ground_contact" + std::to_string(index));
    return it != scene.values.end() && std::isfinite(it->second) && it->second > 0.5f;
  };
  std::vector<SceneShape> painted;
  painted.reserve(scene.shapes.size() * 2);
  for (SceneShape& shape : scene.shapes) {
    shape.fill.reset();
    shape.outline.reset();
    const int side = shape.index == 0 ? 0 : 1;
    const bool polygon = shape.kind == SceneShape::Kind::kPolygon;
    if (shape.tag == "terrain" && polygon) {
      // The ground, then its surface: every edge of the chunk that is neither vertical nor on its flat
      // bottom, in the chunk's green.
      shape.fill = ground;
      const std::vector<float> xy = shape.xy;
      const std::size_t n = xy.size() / 2;
      float bottom = n == 0 ? 0.0f : xy[1];
      for (std::size_t i = 0; i < n; ++i) bottom = std::min(bottom, xy[2 * i + 1]);
      const int index = shape.index;
      painted.push_back(std::move(shape));
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t j = (i + 1) % n;
        const float ax = xy[2 * i], ay = xy[2 * i + 1], bx = xy[2 * j], by = xy[2 * j + 1];
        const bool vertical = std::fabs(ax - bx) < 1e-6f;
        const bool on_bottom = ay <= bottom + 1e-6f && by <= bottom + 1e-6f;
        if (vertical || on_bottom) continue;
        SceneShape surface;
        surface.kind = SceneShape::Kind::kPolyline;
        surface.tag = "surface";
        surface.index = index;
        surface.xy = {ax, ay, bx, by};
        surface.outline = edge[index % 2 == 0 ? 0 : 1];
        painted.push_back(std::move(surface));
      }
      continue;
    }
    if (shape.tag == "terrain") {
      shape.outline = edge[shape.index % 2 == 0 ? 0 : 1];
    } else if (shape.tag == "obstacle") {
      shape.fill = draw::colors::kWhite;
      shape.outline = draw::Color{153, 153, 153, 255};
    } else if (shape.tag == "hull") {
      shape.fill = hull_fill;
      shape.outline = hull_outline;
    } else if (shape.tag == "upper_leg") {
      shape.fill = leg_fill[side];
      shape.outline = leg_outline[side];
    } else if (shape.tag == "lower_leg") {
      shape.fill = leg_fill[side];
      shape.outline = contact_of(shape.index) ? contact : leg_outline[side];
    } else if (shape.tag == "lidar") {
      shape.outline = lidar;
    } else if (shape.tag == "flag_pole") {
      shape.outline = draw::colors::kBlack;
    } else if (shape.tag == "flag") {
      shape.fill = flag;
      shape.outline = draw::colors::kBlack;
    } else if (polygon) {
      shape.fill = draw::colors::kLightGrey;
      shape.outline = draw::colors::kGrey;
    } else if (shape.kind == SceneShape::Kind::kPolyline) {
      shape.outline = draw::colors::kGrey;
    } else {
      shape.fill = draw::colors::kLightGrey;
    }
    painted.push_back(std::move(shape));
  }
  scene.shapes = std::move(painted);
}

}  // namespace apiary::envs::box2d
