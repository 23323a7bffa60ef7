// LunarLander's picture as gymnasium/envs/box2d/lunar_lander.py draws it: a white ground under a black
// sky, the lander and its legs in violet with a dark outline, the engines' flames, and the two helipad
// flags (white poles, yellow flags). A leg touching the ground gets a green outline, and an arrow
// shows where the wind blows.
#include <algorithm>
#include <cmath>
#include <string>

#include "envs/box2d/lunar_lander.h"

namespace apiary::envs {

namespace {

float value_or(const Scene& scene, const char* name, float fallback) {
  const auto it = scene.values.find(name);
  return it == scene.values.end() || !std::isfinite(it->second) ? fallback : it->second;
}

}  // namespace

void paint_lunar_lander(Scene& scene) {
  scene.background = draw::colors::kWhite;
  const draw::Color body_fill{128, 102, 230, 255}, body_outline{77, 77, 128, 255};
  const draw::Color flame_fill{255, 140, 50, 255}, flame_outline{255, 220, 110, 255};
  const draw::Color contact{0, 200, 0, 255};
  for (SceneShape& shape : scene.shapes) {
    shape.fill.reset();
    shape.outline.reset();
    if (shape.kind == SceneShape::Kind::kCircle) {
      shape.fill = body_fill;
    } else if (shape.kind == SceneShape::Kind::kPolyline) {
      shape.outline = body_outline;
    } else if (shape.tag == "sky") {
      shape.fill = draw::colors::kBlack;
    } else if (shape.tag == "flame_main" || shape.tag == "flame_side") {
      shape.fill = flame_fill;
      shape.outline = flame_outline;
    } else if (shape.tag == "leg") {
      const std::string key = "leg" + std::to_string(shape.index) + "_contact";
      shape.fill = body_fill;
      shape.outline = value_or(scene, key.c_str(), 0.0f) > 0.5f ? contact : body_outline;
    } else {  // "lander" and anything new
      shape.fill = body_fill;
      shape.outline = body_outline;
    }
  }
  const auto x1 = scene.values.find("helipad_x1"), x2 = scene.values.find("helipad_x2"),
             hy = scene.values.find("helipad_y");
  if (x1 != scene.values.end() && x2 != scene.values.end() && hy != scene.values.end()) {
    int index = 0;
    for (float x : {x1->second, x2->second}) {
      const float y1 = hy->second, top = y1 + 50.0f / 30.0f;
      scene.polyline("flag_pole", {x, y1, x, top}, draw::colors::kWhite, 1.0f, index);
      scene.polygon("flag", {x, top, x, top - 10.0f / 30.0f, x + 25.0f / 30.0f, top - 5.0f / 30.0f}, draw::colors::kYellow,
                    draw::colors::kYellow, index);
      ++index;
    }
  }
  const float wind = value_or(scene, "wind", 0.0f);
  if (std::fabs(wind) > 1e-3f) {
    // An arrow below the top edge, 2 m long at full wind power (|wind| = 20, Gymnasium's maximum).
    const float cx = (scene.view[0] + scene.view[2]) / 2.0f, y = scene.view[3] - 0.6f;
    const float half = std::clamp(wind / 20.0f, -1.0f, 1.0f);
    scene.polyline("wind", {cx - half, y, cx + half, y}, draw::colors::kWhite, 2.0f);
    const float dir = wind > 0.0f ? 1.0f : -1.0f;
    const float tip = cx + half;
    scene.polygon("wind_head", {tip, y, tip - dir * 0.3f, y + 0.15f, tip - dir * 0.3f, y - 0.15f}, draw::colors::kWhite,
                  std::nullopt);
  }
}

}  // namespace apiary::envs
