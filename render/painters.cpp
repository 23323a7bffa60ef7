#include "render/painters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace apiary::render {

namespace {

constexpr float kPi = 3.14159265358979f;

Vec2 rotate(Vec2 p, float angle) {
  const float c = std::cos(angle), s = std::sin(angle);
  return Vec2{p.x * c - p.y * s, p.x * s + p.y * c};
}

Vec2 add(Vec2 a, Vec2 b) { return Vec2{a.x + b.x, a.y + b.y}; }

// The option `name` where the user set it, the env's default otherwise.
float option(const envs::EnvOptions& options, const char* name, float fallback) {
  const auto it = options.find(name);
  return it == options.end() ? fallback : static_cast<float>(it->second);
}

// State element i, NaN-safe: painters must draw something for any state (0 where missing).
float state_at(const PaintInput& in, std::size_t i) {
  if (i >= in.state.size() || !std::isfinite(in.state[i])) return 0.0f;
  return in.state[i];
}

std::vector<Vec2> points_of(const envs::SceneShape& shape) {
  std::vector<Vec2> out;
  out.reserve(shape.xy.size() / 2);
  for (std::size_t i = 0; i + 1 < shape.xy.size(); i += 2) out.push_back(Vec2{shape.xy[i], shape.xy[i + 1]});
  return out;
}

float value_or(const envs::Scene& scene, const char* name, float fallback) {
  const auto it = scene.values.find(name);
  return it == scene.values.end() || !std::isfinite(it->second) ? fallback : it->second;
}

// The scene's own viewport (world rectangle) over the whole canvas; a degenerate view falls back to
// Gymnasium's 20 x 13.333 m.
Transform scene_transform(const envs::Scene& scene, const Canvas& canvas) {
  float x0 = scene.view[0], y0 = scene.view[1], x1 = scene.view[2], y1 = scene.view[3];
  if (!(x1 > x0) || !(y1 > y0) || !std::isfinite(x0 + y0 + x1 + y1)) {
    x0 = 0.0f;
    y0 = 0.0f;
    x1 = 20.0f;
    y1 = 40.0f / 3.0f;
  }
  return Transform::fit(x0, y0, x1, y1, 0.0f, 0.0f, static_cast<float>(canvas.width()),
                        static_cast<float>(canvas.height()));
}

// A filled polygon with an outline, the way Gymnasium draws bodies (filled_polygon + aapolygon).
void body(Canvas& canvas, const std::vector<Vec2>& points, Color fill, Color outline) {
  canvas.fill_polygon(points, fill);
  canvas.outline_polygon(points, outline);
}

}  // namespace

// ---- dispatch ----------------------------------------------------------------------------------------

std::string painter_name(const std::string& id, bool has_scene) {
  if (id == "CartPole-v1") return "cartpole";
  if (id == "Acrobot-v1") return "acrobot";
  if (id == "MountainCar-v0" || id == "MountainCarContinuous-v0") return "mountain_car";
  if (id == "Pendulum-v1") return "pendulum";
  if (has_scene && (id == "LunarLander-v3" || id == "LunarLanderContinuous-v3")) return "lunar_lander";
  if (has_scene && (id == "BipedalWalker-v3" || id == "BipedalWalkerHardcore-v3")) return "bipedal_walker";
  if (id.rfind("MinAtar/", 0) == 0) return "minatar";
  if (has_scene) return "scene";
  return "observation_bars";
}

Size native_size(const std::string& id) {
  if (id.rfind("MinAtar/", 0) == 0) return Size{500, 500};  // 10 x 10 cells of 50 px
  if (id == "Acrobot-v1" || id == "Pendulum-v1") return Size{500, 500};
  return Size{600, 400};
}

void paint(const PaintInput& in, Canvas& canvas) {
  const std::string name = painter_name(in.env_id, in.scene.has_value());
  canvas.set_transform(Transform{});
  if (name == "cartpole") {
    paint_cartpole(in, canvas);
  } else if (name == "acrobot") {
    paint_acrobot(in, canvas);
  } else if (name == "mountain_car") {
    paint_mountain_car(in, canvas);
  } else if (name == "pendulum") {
    paint_pendulum(in, canvas);
  } else if (name == "lunar_lander") {
    paint_lunar_lander(*in.scene, canvas);
  } else if (name == "bipedal_walker") {
    paint_bipedal_walker(*in.scene, canvas);
  } else if (name == "scene") {
    paint_scene(*in.scene, canvas);
  } else if (name == "minatar") {
    paint_minatar(in, canvas);
  } else {
    paint_observation_bars(in, canvas);
  }
  canvas.set_transform(Transform{});
}

PaintInput capture(const envs::VecEnv& env, std::int32_t lane, const std::vector<float>& last_action,
                   const envs::EnvOptions& options) {
  if (lane < 0 || lane >= env.num_envs())
    throw std::out_of_range("capture: lane " + std::to_string(lane) + " outside 0.." +
                            std::to_string(env.num_envs() - 1));
  PaintInput in;
  in.env_id = env.spec().id;
  in.observation_space = env.spec().observation_space;
  in.last_action = last_action;
  in.options = options;
  envs::Scene scene;
  if (env.describe(lane, scene)) {
    in.scene = std::move(scene);
  } else {
    const std::int32_t dim = env.state_dim();
    const std::vector<float> states = env.get_states();
    const std::size_t begin = static_cast<std::size_t>(lane) * static_cast<std::size_t>(dim);
    if (dim > 0 && begin + static_cast<std::size_t>(dim) <= states.size())
      in.state.assign(states.begin() + static_cast<std::ptrdiff_t>(begin),
                      states.begin() + static_cast<std::ptrdiff_t>(begin + static_cast<std::size_t>(dim)));
  }
  envs::HostBatch host;
  env.copy_to_host(host);
  in.obs = envs::observation_row(host, lane, env.spec().obs_dim());
  return in;
}

// ---- classic control ---------------------------------------------------------------------------------

// gymnasium/envs/classic_control/cartpole.py: 600 x 400, the track 100 px above the bottom, the
// world 2 * x_threshold wide; cart 50 x 30 px, pole 10 px wide and 2 * length long.
void paint_cartpole(const PaintInput& in, Canvas& canvas) {
  const float x_threshold = option(in.options, "x_threshold", 2.4f);
  const float length = option(in.options, "length", 0.5f);
  const float world_width = 2.0f * x_threshold;
  const float scale = static_cast<float>(canvas.width()) / world_width;  // px per metre
  const float px = 1.0f / scale;                                          // metres per px
  const float track_y = 0.0f;
  canvas.clear(colors::kWhite);
  canvas.set_transform(Transform::fit(-x_threshold, -100.0f * px, x_threshold,
                                      (static_cast<float>(canvas.height()) - 100.0f) * px, 0.0f, 0.0f,
                                      static_cast<float>(canvas.width()), static_cast<float>(canvas.height())));
  const float x = state_at(in, 0), theta = state_at(in, 2);
  const float cart_w = 50.0f * px, cart_h = 30.0f * px, axle = cart_h / 4.0f;
  const float pole_w = 10.0f * px, pole_len = 2.0f * length;
  const std::vector<Vec2> cart = {{x - cart_w / 2, track_y - cart_h / 2},
                                  {x - cart_w / 2, track_y + cart_h / 2},
                                  {x + cart_w / 2, track_y + cart_h / 2},
                                  {x + cart_w / 2, track_y - cart_h / 2}};
  body(canvas, cart, colors::kBlack, colors::kBlack);
  // The pole turns clockwise by theta: theta > 0 leans it to the right, as in Gymnasium.
  const Vec2 pivot{x, track_y + axle};
  std::vector<Vec2> pole;
  for (Vec2 c : {Vec2{-pole_w / 2, -pole_w / 2}, Vec2{-pole_w / 2, pole_len - pole_w / 2},
                 Vec2{pole_w / 2, pole_len - pole_w / 2}, Vec2{pole_w / 2, -pole_w / 2}})
    pole.push_back(add(pivot, rotate(c, -theta)));
  const Color pole_colour{202, 152, 101, 255};
  body(canvas, pole, pole_colour, pole_colour);
  const Color axle_colour{129, 132, 203, 255};
  canvas.fill_circle(pivot, pole_w / 2, axle_colour);
  canvas.line({-x_threshold, track_y}, {x_threshold, track_y}, colors::kBlack);
}

// gymnasium/envs/classic_control/acrobot.py: 500 x 500, the world [-2.2, 2.2]^2 (the links' reach plus
// 0.2), the goal line at height 1; links 0.2 wide in teal, joints in yellow.
void paint_acrobot(const PaintInput& in, Canvas& canvas) {
  const float l1 = option(in.options, "link_length_1", 1.0f), l2 = 1.0f;
  const float bound = l1 + l2 + 0.2f;
  canvas.clear(colors::kWhite);
  canvas.set_transform(Transform::fit(-bound, -bound, bound, bound, 0.0f, 0.0f, static_cast<float>(canvas.width()),
                                      static_cast<float>(canvas.height())));
  const float t1 = state_at(in, 0), t2 = state_at(in, 1);
  canvas.line({-bound, 1.0f}, {bound, 1.0f}, colors::kBlack);
  // theta1 = 0 hangs the first link straight down; theta2 is relative to the first link.
  const Vec2 p0{0.0f, 0.0f};
  const Vec2 p1{l1 * std::sin(t1), -l1 * std::cos(t1)};
  const Vec2 starts[2] = {p0, p1};
  const float angles[2] = {t1 - kPi / 2.0f, t1 + t2 - kPi / 2.0f};
  const float lengths[2] = {l1, l2};
  const Color link_colour{0, 204, 204, 255}, joint_colour{204, 204, 0, 255};
  for (int i = 0; i < 2; ++i) {
    std::vector<Vec2> link;
    for (Vec2 c : {Vec2{0.0f, -0.1f}, Vec2{0.0f, 0.1f}, Vec2{lengths[i], 0.1f}, Vec2{lengths[i], -0.1f}})
      link.push_back(add(starts[i], rotate(c, angles[i])));
    body(canvas, link, link_colour, link_colour);
    canvas.fill_circle(starts[i], 0.1f, joint_colour);
  }
}

// gymnasium/envs/classic_control/mountain_car.py (and continuous_mountain_car.py): 600 x 400, the track
// y = sin(3x) * 0.45 + 0.55 over [min_position, max_position], a 40 x 20 px car tilted by cos(3x)
// radians 10 px above it, grey wheels, and the yellow goal flag.
void paint_mountain_car(const PaintInput& in, Canvas& canvas) {
  const float min_x = -1.2f, max_x = 0.6f;
  const float goal = option(in.options, "goal_position", in.env_id == "MountainCarContinuous-v0" ? 0.45f : 0.5f);
  const float scale = static_cast<float>(canvas.width()) / (max_x - min_x);
  const float px = 1.0f / scale;
  auto height = [](float x) { return std::sin(3.0f * x) * 0.45f + 0.55f; };
  canvas.clear(colors::kWhite);
  canvas.set_transform(Transform::fit(min_x, 0.0f, max_x, static_cast<float>(canvas.height()) * px, 0.0f, 0.0f,
                                      static_cast<float>(canvas.width()), static_cast<float>(canvas.height())));
  std::vector<Vec2> track;
  for (int i = 0; i < 100; ++i) {
    const float x = min_x + (max_x - min_x) * static_cast<float>(i) / 99.0f;
    track.push_back(Vec2{x, height(x)});
  }
  canvas.polyline(track, colors::kBlack);

  const float pos = std::clamp(state_at(in, 0), min_x, max_x);
  const float clearance = 10.0f * px, car_w = 40.0f * px, car_h = 20.0f * px;
  const float tilt = std::cos(3.0f * pos);
  const Vec2 base{pos, clearance + height(pos)};
  std::vector<Vec2> car;
  for (Vec2 c : {Vec2{-car_w / 2, 0.0f}, Vec2{-car_w / 2, car_h}, Vec2{car_w / 2, car_h}, Vec2{car_w / 2, 0.0f}})
    car.push_back(add(base, rotate(c, tilt)));
  body(canvas, car, colors::kBlack, colors::kBlack);
  const Color wheel{128, 128, 128, 255};
  for (Vec2 c : {Vec2{car_w / 4, 0.0f}, Vec2{-car_w / 4, 0.0f}}) {
    const Vec2 centre = add(base, rotate(c, tilt));
    canvas.fill_circle(centre, car_h / 2.5f, wheel);
  }
  const float flag_y1 = height(goal), flag_y2 = flag_y1 + 50.0f * px;
  canvas.line({goal, flag_y1}, {goal, flag_y2}, colors::kBlack);
  body(canvas, {{goal, flag_y2}, {goal, flag_y2 - 10.0f * px}, {goal + 25.0f * px, flag_y2 - 5.0f * px}},
       colors::kYellow, colors::kYellow);
}

// gymnasium/envs/classic_control/pendulum.py: 500 x 500, the world [-2.2, 2.2]^2, a red rod of length 1
// and width 0.2 (theta = 0 upright, counter-clockwise positive), rounded ends, a black axle, and an arrow
// for the last torque (counter-clockwise for u > 0), sized by |u|.
void paint_pendulum(const PaintInput& in, Canvas& canvas) {
  const float bound = 2.2f;
  canvas.clear(colors::kWhite);
  canvas.set_transform(Transform::fit(-bound, -bound, bound, bound, 0.0f, 0.0f, static_cast<float>(canvas.width()),
                                      static_cast<float>(canvas.height())));
  const float theta = state_at(in, 0);
  const float rod_length = 1.0f, rod_width = 0.2f;
  const Color rod_colour{204, 77, 77, 255};
  std::vector<Vec2> rod;
  for (Vec2 c : {Vec2{0.0f, -rod_width / 2}, Vec2{0.0f, rod_width / 2}, Vec2{rod_length, rod_width / 2},
                 Vec2{rod_length, -rod_width / 2}})
    rod.push_back(rotate(c, theta + kPi / 2.0f));
  body(canvas, rod, rod_colour, rod_colour);
  canvas.fill_circle({0.0f, 0.0f}, rod_width / 2, rod_colour);
  canvas.fill_circle(rotate({rod_length, 0.0f}, theta + kPi / 2.0f), rod_width / 2, rod_colour);

  if (!in.last_action.empty() && std::isfinite(in.last_action[0]) && in.last_action[0] != 0.0f) {
    const float max_torque = option(in.options, "max_torque", 2.0f);
    const float u = std::clamp(in.last_action[0], -max_torque, max_torque);
    // Gymnasium scales an arrow image to |u| / 2 world units across; this arc has that diameter.
    const float radius = std::fabs(u) / 4.0f;
    const float sweep = 1.5f * kPi, start = -kPi / 4.0f;
    const float direction = u > 0.0f ? 1.0f : -1.0f;  // counter-clockwise for u > 0
    std::vector<Vec2> arc;
    for (int i = 0; i <= 32; ++i) {
      const float a = start + direction * sweep * static_cast<float>(i) / 32.0f;
      arc.push_back(Vec2{radius * std::cos(a), radius * std::sin(a)});
    }
    canvas.polyline(arc, colors::kBlack, 3.0f);
    const float end = start + direction * sweep;
    const Vec2 tip{radius * std::cos(end), radius * std::sin(end)};
    const Vec2 tangent{-std::sin(end) * direction, std::cos(end) * direction};
    const Vec2 normal{std::cos(end), std::sin(end)};
    const float head = std::max(0.06f, radius * 0.45f);
    canvas.fill_polygon({add(tip, {tangent.x * head, tangent.y * head}),
                         add(tip, {normal.x * head * 0.6f, normal.y * head * 0.6f}),
                         add(tip, {-normal.x * head * 0.6f, -normal.y * head * 0.6f})},
                        colors::kBlack);
  }
  canvas.fill_circle({0.0f, 0.0f}, 0.05f, colors::kBlack);
}

// ---- Box2D ---------------------------------------------------------------------------------------------

// gymnasium/envs/box2d/lunar_lander.py: a white ground under a black sky, the lander and its legs in
// violet with a dark outline, the engines' flames, and the two helipad flags (white poles, yellow flags).
// A leg touching the ground gets a green outline, and a wind arrow shows where the wind blows.
void paint_lunar_lander(const envs::Scene& scene, Canvas& canvas) {
  canvas.clear(colors::kWhite);
  canvas.set_transform(scene_transform(scene, canvas));
  const Color body_fill{128, 102, 230, 255}, body_outline{77, 77, 128, 255};
  const Color flame_fill{255, 140, 50, 255}, flame_outline{255, 220, 110, 255};
  const Color contact{0, 200, 0, 255};
  for (const envs::SceneShape& shape : scene.shapes) {
    const std::vector<Vec2> pts = points_of(shape);
    if (shape.kind == envs::SceneShape::Kind::kCircle) {
      if (!pts.empty()) canvas.fill_circle(pts[0], shape.radius, body_fill);
      continue;
    }
    if (shape.kind == envs::SceneShape::Kind::kPolyline) {
      canvas.polyline(pts, body_outline);
      continue;
    }
    if (shape.tag == "sky") {
      canvas.fill_polygon(pts, colors::kBlack);
    } else if (shape.tag == "flame_main" || shape.tag == "flame_side") {
      body(canvas, pts, flame_fill, flame_outline);
    } else if (shape.tag == "leg") {
      const std::string key = "leg" + std::to_string(shape.index) + "_contact";
      body(canvas, pts, body_fill, value_or(scene, key.c_str(), 0.0f) > 0.5f ? contact : body_outline);
    } else {
      body(canvas, pts, body_fill, body_outline);  // "lander" and anything new
    }
  }
  const auto x1 = scene.values.find("helipad_x1"), x2 = scene.values.find("helipad_x2"),
             hy = scene.values.find("helipad_y");
  if (x1 != scene.values.end() && x2 != scene.values.end() && hy != scene.values.end()) {
    for (float x : {x1->second, x2->second}) {
      const float y1 = hy->second, top = y1 + 50.0f / 30.0f;
      canvas.line({x, y1}, {x, top}, colors::kWhite);
      body(canvas, {{x, top}, {x, top - 10.0f / 30.0f}, {x + 25.0f / 30.0f, top - 5.0f / 30.0f}}, colors::kYellow,
           colors::kYellow);
    }
  }
  const float wind = value_or(scene, "wind", 0.0f);
  if (std::fabs(wind) > 1e-3f) {
    // An arrow below the top edge, 2 m long at full wind power (|wind| = 20, Gymnasium's maximum).
    const float cx = (scene.view[0] + scene.view[2]) / 2.0f, y = scene.view[3] - 0.6f;
    const float half = std::clamp(wind / 20.0f, -1.0f, 1.0f);
    const Vec2 tail{cx - half, y}, tip{cx + half, y};
    canvas.line(tail, tip, colors::kWhite, 2.0f);
    const float dir = wind > 0.0f ? 1.0f : -1.0f;
    canvas.fill_polygon({tip, {tip.x - dir * 0.3f, y + 0.15f}, {tip.x - dir * 0.3f, y - 0.15f}}, colors::kWhite);
  }
}

// gymnasium/envs/box2d/bipedal_walker.py: a pale blue sky, green ground whose surface edges alternate
// two greens, white obstacles (Hardcore), the violet hull, the legs (the far one, index 0, lighter),
// red lidar rays and the red start flag. A lower leg touching the ground gets a green outline.
void paint_bipedal_walker(const envs::Scene& scene, Canvas& canvas) {
  canvas.clear(Color{215, 215, 255, 255});
  canvas.set_transform(scene_transform(scene, canvas));
  const Color ground{102, 153, 76, 255};
  const Color edge[2] = {{76, 255, 76, 255}, {76, 204, 76, 255}};
  const Color hull_fill{127, 51, 229, 255}, hull_outline{76, 76, 127, 255};
  const Color leg_fill[2] = {{178, 101, 152, 255}, {128, 51, 102, 255}};
  const Color leg_outline[2] = {{127, 76, 101, 255}, {77, 26, 51, 255}};
  const Color lidar{255, 0, 0, 255}, flag{230, 51, 0, 255}, contact{0, 200, 0, 255};
  for (const envs::SceneShape& shape : scene.shapes) {
    const std::vector<Vec2> pts = points_of(shape);
    const int side = shape.index == 0 ? 0 : 1;
    if (shape.tag == "terrain") {
      if (shape.kind == envs::SceneShape::Kind::kPolygon) {
        canvas.fill_polygon(pts, ground);
        // The surface: every edge of the chunk that is neither vertical nor on its flat bottom.
        float bottom = pts.empty() ? 0.0f : pts[0].y;
        for (const Vec2& p : pts) bottom = std::min(bottom, p.y);
        for (std::size_t i = 0; i < pts.size(); ++i) {
          const Vec2 a = pts[i], b = pts[(i + 1) % pts.size()];
          const bool vertical = std::fabs(a.x - b.x) < 1e-6f;
          const bool on_bottom = a.y <= bottom + 1e-6f && b.y <= bottom + 1e-6f;
          if (!vertical && !on_bottom) canvas.line(a, b, edge[shape.index % 2 == 0 ? 0 : 1]);
        }
      } else {
        canvas.polyline(pts, edge[shape.index % 2 == 0 ? 0 : 1]);
      }
    } else if (shape.tag == "obstacle") {
      body(canvas, pts, colors::kWhite, Color{153, 153, 153, 255});
    } else if (shape.tag == "hull") {
      body(canvas, pts, hull_fill, hull_outline);
    } else if (shape.tag == "upper_leg") {
      body(canvas, pts, leg_fill[side], leg_outline[side]);
    } else if (shape.tag == "lower_leg") {
      const std::string key = "ground_contact" + std::to_string(shape.index);
      body(canvas, pts, leg_fill[side], value_or(scene, key.c_str(), 0.0f) > 0.5f ? contact : leg_outline[side]);
    } else if (shape.tag == "lidar") {
      canvas.polyline(pts, lidar);
    } else if (shape.tag == "flag_pole") {
      canvas.polyline(pts, colors::kBlack);
    } else if (shape.tag == "flag") {
      body(canvas, pts, flag, colors::kBlack);
    } else if (shape.kind == envs::SceneShape::Kind::kPolygon) {
      body(canvas, pts, colors::kLightGrey, colors::kGrey);
    } else if (shape.kind == envs::SceneShape::Kind::kPolyline) {
      canvas.polyline(pts, colors::kGrey);
    } else if (!pts.empty()) {
      canvas.fill_circle(pts[0], shape.radius, colors::kLightGrey);
    }
  }
}

void paint_scene(const envs::Scene& scene, Canvas& canvas) {
  canvas.clear(colors::kWhite);
  canvas.set_transform(scene_transform(scene, canvas));
  for (const envs::SceneShape& shape : scene.shapes) {
    const std::vector<Vec2> pts = points_of(shape);
    switch (shape.kind) {
      case envs::SceneShape::Kind::kPolygon:
        body(canvas, pts, colors::kLightGrey, colors::kBlack);
        break;
      case envs::SceneShape::Kind::kPolyline:
        canvas.polyline(pts, colors::kBlack);
        break;
      case envs::SceneShape::Kind::kCircle:
        if (!pts.empty()) {
          canvas.fill_circle(pts[0], shape.radius, colors::kLightGrey);
          canvas.outline_circle(pts[0], shape.radius, colors::kBlack);
        }
        break;
    }
  }
}

// ---- MinAtar -------------------------------------------------------------------------------------------

namespace {

// Colour k of n of matplotlib's cubehelix map (Green 2011; gamma 1, start 0, rotations -1.5, hue 1),
// sampled as seaborn's color_palette("cubehelix", n) samples it: n points evenly inside (0, 1).
Color cubehelix(int k, int n) {
  const double lambda = static_cast<double>(k + 1) / static_cast<double>(n + 1);
  const double phi = 2.0 * 3.14159265358979 * (0.5 / 3.0 + -1.5 * lambda);
  const double a = 1.0 * lambda * (1.0 - lambda) / 2.0;
  const double c = std::cos(phi), s = std::sin(phi);
  const auto channel = [](double v) {
    return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
  };
  return Color{channel(lambda + a * (-0.14861 * c + 1.78277 * s)), channel(lambda + a * (-0.29227 * c - 0.90649 * s)),
               channel(lambda + a * (1.97294 * c)), 255};
}

}  // namespace

// The grid as MinAtar's own GUI draws it: one cell a square, black where no channel is set, else the
// colour of the highest channel set there, channel k of C coloured as seaborn's cubehelix palette of C.
void paint_minatar(const PaintInput& in, Canvas& canvas) {
  canvas.clear(colors::kBlack);
  canvas.set_transform(Transform{});
  const auto& shape = in.observation_space.shape;
  if (shape.size() != 3 || in.obs.size() != static_cast<std::size_t>(shape[0] * shape[1] * shape[2])) return;
  const int rows = static_cast<int>(shape[0]), cols = static_cast<int>(shape[1]), channels = static_cast<int>(shape[2]);
  const int cell = std::max(1, std::min(canvas.width() / cols, canvas.height() / rows));
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      int top = -1;
      for (int c = 0; c < channels; ++c)
        if (in.obs[static_cast<std::size_t>((y * cols + x) * channels + c)] > 0.5f) top = c;
      if (top >= 0) canvas.fill_rect(x * cell, y * cell, cell, cell, cubehelix(top, channels));
    }
}

// ---- any other env ---------------------------------------------------------------------------------

// One horizontal bar per observation element. Elements with finite bounds are drawn against them (the
// box's ends are low and high) from the value 0 where the range holds it, else from the low bound (a
// range of [2, 5] shows 3 as a third of the box, not as a bar left of the middle); unbounded ones are
// squashed by v / (1 + |v|) and drawn from the middle, which is 0.
void paint_observation_bars(const PaintInput& in, Canvas& canvas) {
  canvas.clear(colors::kWhite);
  canvas.set_transform(Transform{});
  const int w = canvas.width(), h = canvas.height();
  canvas.text(10, 10, in.env_id + ": observation", colors::kBlack, 2);
  const int n = static_cast<int>(in.obs.size());
  if (n == 0) return;
  const int top = 40, row = std::max(10, std::min(28, (h - top - 10) / n));
  const int label_w = 80, value_w = 80;
  const int bar_left = label_w, bar_width = std::max(20, w - label_w - value_w - 10);
  const auto& space = in.observation_space;
  const Color bar_colour{70, 110, 200, 255};
  for (int i = 0; i < n; ++i) {
    const int y = top + i * row;
    if (y + row > h) break;
    const float v = in.obs[static_cast<std::size_t>(i)];
    float t = 0.5f, origin = 0.5f;  // the value and the bar's origin, 0 (left end) .. 1 (right end)
    const bool bounded = static_cast<std::size_t>(i) < space.low.size() && static_cast<std::size_t>(i) < space.high.size() &&
                         std::isfinite(space.low[static_cast<std::size_t>(i)]) &&
                         std::isfinite(space.high[static_cast<std::size_t>(i)]) &&
                         space.high[static_cast<std::size_t>(i)] > space.low[static_cast<std::size_t>(i)];
    if (bounded) {
      const float lo = space.low[static_cast<std::size_t>(i)], hi = space.high[static_cast<std::size_t>(i)];
      origin = lo <= 0.0f && 0.0f <= hi ? (0.0f - lo) / (hi - lo) : 0.0f;
      t = std::isfinite(v) ? (v - lo) / (hi - lo) : origin;
    } else if (std::isfinite(v)) {
      t = 0.5f + 0.5f * v / (1.0f + std::fabs(v));
    }
    t = std::clamp(t, 0.0f, 1.0f);
    char label[32];
    std::snprintf(label, sizeof label, "obs[%d]", i);
    canvas.text(10, y + (row - 7) / 2, label, colors::kBlack);
    const int bar_h = std::max(4, row - 6);
    canvas.outline_rect(bar_left, y + 3, bar_width, bar_h, colors::kLightGrey);
    const int x0 = bar_left + static_cast<int>(std::lround(origin * static_cast<float>(bar_width)));
    const int x1 = bar_left + static_cast<int>(std::lround(t * static_cast<float>(bar_width)));
    if (x1 != x0) canvas.fill_rect(std::min(x0, x1), y + 3, std::abs(x1 - x0), bar_h, bar_colour);
    canvas.fill_rect(x0, y + 1, 1, bar_h + 4, colors::kBlack);
    char value[32];
    std::snprintf(value, sizeof value, "%.3g", static_cast<double>(v));
    canvas.text(bar_left + bar_width + 8, y + (row - 7) / 2, value, colors::kBlack);
  }
}

}  // namespace apiary::render
