#include "envs/scene.h"

#include <cmath>

namespace apiary::envs {

namespace {

std::vector<draw::Vec2> points_of(const SceneShape& shape) {
  std::vector<draw::Vec2> out;
  out.reserve(shape.xy.size() / 2);
  for (std::size_t i = 0; i + 1 < shape.xy.size(); i += 2) out.push_back(draw::Vec2{shape.xy[i], shape.xy[i + 1]});
  return out;
}

draw::Transform view_transform(const Scene& scene, const draw::Canvas& canvas) {
  float x0 = scene.view[0], y0 = scene.view[1], x1 = scene.view[2], y1 = scene.view[3];
  if (!(x1 > x0) || !(y1 > y0) || !std::isfinite(x0 + y0 + x1 + y1)) {
    x0 = 0.0f;
    y0 = 0.0f;
    x1 = 20.0f;
    y1 = 40.0f / 3.0f;
  }
  return draw::Transform::fit(x0, y0, x1, y1, 0.0f, 0.0f, static_cast<float>(canvas.width()),
                              static_cast<float>(canvas.height()));
}

}  // namespace

void draw_scene(const Scene& scene, draw::Canvas& canvas) {
  canvas.set_transform(draw::Transform{});
  canvas.clear(scene.background);
  canvas.set_transform(view_transform(scene, canvas));
  for (const SceneShape& shape : scene.shapes) {
    const std::vector<draw::Vec2> pts = points_of(shape);
    const bool neutral = !shape.fill && !shape.outline;
    const std::optional<draw::Color> fill = neutral ? std::optional<draw::Color>(draw::colors::kLightGrey) : shape.fill;
    const std::optional<draw::Color> outline =
        neutral ? std::optional<draw::Color>(draw::colors::kBlack) : shape.outline;
    switch (shape.kind) {
      case SceneShape::Kind::kPolygon:
        if (fill) canvas.fill_polygon(pts, *fill);
        if (outline) canvas.outline_polygon(pts, *outline, shape.width);
        break;
      case SceneShape::Kind::kPolyline:
        canvas.polyline(pts, outline ? *outline : *fill, shape.width);
        break;
      case SceneShape::Kind::kCircle:
        if (pts.empty()) break;
        if (fill) canvas.fill_circle(pts[0], shape.radius, *fill);
        if (outline) canvas.outline_circle(pts[0], shape.radius, *outline, shape.width);
        break;
    }
  }
  canvas.set_transform(draw::Transform{});
}

}  // namespace apiary::envs
