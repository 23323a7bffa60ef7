// Hand-built Scenes in the shape the Box2D envs' physics describe() (envs/scene.h), before the env's
// paint function colours them,
// with Gymnasium's geometry (lunar_lander.py and bipedal_walker.py, SCALE = 30 px per metre): the
// painters' tests draw these at fixed, known positions.
#pragma once

#include <cmath>
#include <vector>

#include "envs/scene.h"

namespace apiary::render::testing {

inline void add_polygon(envs::Scene& scene, const char* tag, int index, const std::vector<float>& xy) {
  scene.add(envs::SceneShape::Kind::kPolygon, tag, index).xy = xy;
}
inline void add_polyline(envs::Scene& scene, const char* tag, int index, const std::vector<float>& xy) {
  scene.add(envs::SceneShape::Kind::kPolyline, tag, index).xy = xy;
}

// An axis-aligned box of half-sizes (hw, hh) centred at (cx, cy).
inline std::vector<float> box(float cx, float cy, float hw, float hh) {
  return {cx - hw, cy - hh, cx + hw, cy - hh, cx + hw, cy + hh, cx - hw, cy + hh};
}

constexpr float kScale = 30.0f;
constexpr float kW = 600.0f / kScale, kH = 400.0f / kScale;

// A lander at (x, y) above a flat helipad between x = 8 and 12 at height H / 4, with hills either side;
// the main engine firing when `main_flame`.
inline envs::Scene lunar_lander_scene(float x, float y, bool main_flame, bool left_leg_contact) {
  envs::Scene s;
  s.env_id = "LunarLander-v3";
  s.view[0] = 0.0f;
  s.view[1] = 0.0f;
  s.view[2] = kW;
  s.view[3] = kH;
  const float helipad_y = kH / 4.0f;
  const float heights[11] = {4.6f, 3.9f, 2.8f, 3.0f, helipad_y, helipad_y, helipad_y, 2.7f, 3.6f, 4.2f, 5.0f};
  for (int i = 0; i < 10; ++i) {
    const float x0 = 2.0f * static_cast<float>(i), x1 = x0 + 2.0f;
    add_polygon(s, "sky", i, {x0, heights[i], x1, heights[i + 1], x1, kH, x0, kH});
  }
  if (main_flame)
    add_polygon(s, "flame_main", 0, {x - 6 / kScale, y - 10 / kScale, x + 6 / kScale, y - 10 / kScale, x, y - 40 / kScale});
  // Gymnasium's LANDER_POLY, in metres around (x, y).
  const float poly[12] = {-14, 17, -17, 0, -17, -10, 17, -10, 17, 0, 14, 17};
  std::vector<float> lander;
  for (int i = 0; i < 12; i += 2) {
    lander.push_back(x + poly[i] / kScale);
    lander.push_back(y + poly[i + 1] / kScale);
  }
  add_polygon(s, "lander", 0, lander);
  add_polygon(s, "leg", 0, box(x - 20 / kScale, y - 14 / kScale, 2 / kScale, 8 / kScale));
  add_polygon(s, "leg", 1, box(x + 20 / kScale, y - 14 / kScale, 2 / kScale, 8 / kScale));
  s.values["helipad_x1"] = 8.0f;
  s.values["helipad_x2"] = 12.0f;
  s.values["helipad_y"] = helipad_y;
  s.values["leg0_contact"] = left_leg_contact ? 1.0f : 0.0f;
  s.values["leg1_contact"] = 0.0f;
  s.values["main_engine"] = main_flame ? 1.0f : 0.0f;
  s.values["side_engine"] = 0.0f;
  s.values["wind"] = 0.0f;
  return s;
}

// A walker whose hull is at (hull_x, hull_y), the view scrolled to start at `scroll`; gently rolling
// terrain from x = 0 to 40, the start flag at x = 3 * TERRAIN_STEP, one obstacle (a stump) at x = 12.
inline envs::Scene bipedal_walker_scene(float hull_x, float hull_y, float scroll) {
  envs::Scene s;
  s.env_id = "BipedalWalker-v3";
  s.view[0] = scroll;
  s.view[1] = 0.0f;
  s.view[2] = scroll + kW;
  s.view[3] = kH;
  const float step = 14.0f / kScale, ground = kH / 4.0f;
  auto height = [&](int i) { return ground + 0.25f * std::sin(0.35f * static_cast<float>(i)); };
  for (int i = 0; i < 90; ++i) {
    const float x0 = step * static_cast<float>(i), x1 = x0 + step;
    add_polygon(s, "terrain", i, {x0, height(i), x1, height(i + 1), x1, 0.0f, x0, 0.0f});
  }
  add_polygon(s, "obstacle", 0, box(12.0f, height(26) + 0.4f, 0.4f, 0.4f));
  const float flag_x = 3.0f * step, flag_y = height(3);
  add_polyline(s, "flag_pole", 0, {flag_x, flag_y, flag_x, flag_y + 50 / kScale});
  add_polygon(s, "flag", 0,
              {flag_x, flag_y + 50 / kScale, flag_x, flag_y + 40 / kScale, flag_x + 25 / kScale, flag_y + 45 / kScale});
  for (int i = 0; i < 10; ++i) {
    const float a = 1.5f * static_cast<float>(i) / 10.0f;
    add_polyline(s, "lidar", i, {hull_x, hull_y, hull_x + 5.0f * std::sin(a), hull_y - 5.0f * std::cos(a)});
  }
  // Legs as boxes below the hull: the far leg (0) a little behind, the near leg (1) a little ahead.
  for (int i = 0; i < 2; ++i) {
    const float dx = i == 0 ? -0.15f : 0.15f;
    add_polygon(s, "upper_leg", i, box(hull_x + dx, hull_y - 0.85f, 4 / kScale, 17 / kScale));
    add_polygon(s, "lower_leg", i, box(hull_x + dx, hull_y - 1.85f, 3.2f / kScale, 17 / kScale));
  }
  const float hull[10] = {-30, 9, 6, 9, 34, 1, 34, -8, -30, -8};
  std::vector<float> hull_xy;
  for (int i = 0; i < 10; i += 2) {
    hull_xy.push_back(hull_x + hull[i] / kScale);
    hull_xy.push_back(hull_y + hull[i + 1] / kScale);
  }
  add_polygon(s, "hull", 0, hull_xy);
  s.values["ground_contact0"] = 1.0f;
  s.values["ground_contact1"] = 0.0f;
  s.values["hull_x"] = hull_x;
  s.values["hull_y"] = hull_y;
  return s;
}

}  // namespace apiary::render::testing
