// The classic envs' pictures, as Gymnasium 1.x's render_mode="rgb_array" draws them
// (gymnasium/envs/classic_control/*.py): the same sizes, colours and proportions, from each env's own
// Params and a lane's State. Out of line, so that the AVX2 and CUDA builds of the env headers share
// this one host build.
#include <algorithm>
#include <cmath>
#include <vector>

#include "envs/classic/acrobot.h"
#include "envs/classic/cartpole.h"
#include "envs/classic/mountain_car.h"
#include "envs/classic/pendulum.h"

namespace apiary::envs {

namespace {

constexpr float kPi = 3.14159265358979f;

struct Point {
  float x, y;
};

Point rotate(Point p, float angle) {
  const float c = std::cos(angle), s = std::sin(angle);
  return Point{p.x * c - p.y * s, p.x * s + p.y * c};
}

// Corners `corners` turned by `angle` about the origin and moved to `origin`, as x0, y0, x1, y1, ...
std::vector<float> placed(std::initializer_list<Point> corners, float angle, Point origin) {
  std::vector<float> xy;
  xy.reserve(corners.size() * 2);
  for (Point c : corners) {
    const Point r = rotate(c, angle);
    xy.push_back(origin.x + r.x);
    xy.push_back(origin.y + r.y);
  }
  return xy;
}

// A state element as drawn: a non-finite one (a diverged lane) is drawn at 0, so every state has a
// picture.
float finite(float v) { return std::isfinite(v) ? v : 0.0f; }

}  // namespace

// cartpole.py: 600 x 400, the track 100 px above the bottom, the world 2 * x_threshold wide; the cart
// 50 x 30 px, the pole 10 px wide and 2 * length long. Tags: "cart", "pole", "axle", "track".
void CartPole::describe(const Params& p, const State& s, Scene& scene) {
  const float x_threshold = p.x_threshold;
  const float scale = 600.0f / (2.0f * x_threshold);  // px per metre
  const float px = 1.0f / scale;                       // metres per px
  const float track_y = 0.0f;
  scene.view[0] = -x_threshold;
  scene.view[1] = -100.0f * px;
  scene.view[2] = x_threshold;
  scene.view[3] = (400.0f - 100.0f) * px;
  scene.background = draw::colors::kWhite;
  const float x = finite(s.x), theta = finite(s.theta);
  const float cart_w = 50.0f * px, cart_h = 30.0f * px, axle = cart_h / 4.0f;
  const float pole_w = 10.0f * px, pole_len = 2.0f * p.length;
  scene.polygon("cart",
                {x - cart_w / 2, track_y - cart_h / 2, x - cart_w / 2, track_y + cart_h / 2, x + cart_w / 2,
                 track_y + cart_h / 2, x + cart_w / 2, track_y - cart_h / 2},
                draw::colors::kBlack, draw::colors::kBlack);
  // The pole turns clockwise by theta: theta > 0 leans it to the right, as in Gymnasium.
  const Point pivot{x, track_y + axle};
  const draw::Color pole{202, 152, 101, 255};
  scene.polygon("pole",
                placed({{-pole_w / 2, -pole_w / 2}, {-pole_w / 2, pole_len - pole_w / 2},
                        {pole_w / 2, pole_len - pole_w / 2}, {pole_w / 2, -pole_w / 2}},
                       -theta, pivot),
                pole, pole);
  scene.circle("axle", pivot.x, pivot.y, pole_w / 2, draw::Color{129, 132, 203, 255});
  scene.polyline("track", {-x_threshold, track_y, x_threshold, track_y}, draw::colors::kBlack);
}

// acrobot.py: 500 x 500, the world [-2.2, 2.2]^2 (the links' reach plus 0.2), the goal line at height
// 1; links 0.2 wide in teal, joints in yellow. Tags: "goal", "link" and "joint" (index 0, 1).
void Acrobot::describe(const Params& p, const State& s, Scene& scene) {
  const float l1 = p.link_length_1, l2 = 1.0f;  // Gymnasium draws the second link 1 m long
  const float bound = l1 + l2 + 0.2f;
  scene.view[0] = -bound;
  scene.view[1] = -bound;
  scene.view[2] = bound;
  scene.view[3] = bound;
  scene.background = draw::colors::kWhite;
  const float t1 = finite(s.theta1), t2 = finite(s.theta2);
  scene.polyline("goal", {-bound, 1.0f, bound, 1.0f}, draw::colors::kBlack);
  // theta1 = 0 hangs the first link straight down; theta2 is relative to the first link.
  const Point starts[2] = {{0.0f, 0.0f}, {l1 * std::sin(t1), -l1 * std::cos(t1)}};
  const float angles[2] = {t1 - kPi / 2.0f, t1 + t2 - kPi / 2.0f};
  const float lengths[2] = {l1, l2};
  const draw::Color link{0, 204, 204, 255}, joint{204, 204, 0, 255};
  for (int i = 0; i < 2; ++i) {
    scene.polygon("link", placed({{0.0f, -0.1f}, {0.0f, 0.1f}, {lengths[i], 0.1f}, {lengths[i], -0.1f}}, angles[i], starts[i]),
                  link, link, i);
    scene.circle("joint", starts[i].x, starts[i].y, 0.1f, joint, i);
  }
}

// mountain_car.py and continuous_mountain_car.py: 600 x 400, the track y = sin(3x) * 0.45 + 0.55 over
// [min_position, max_position], a 40 x 20 px car tilted by cos(3x) radians 10 px above it, grey
// wheels, and the yellow goal flag. Tags: "track", "car", "wheel" (index 0, 1), "flag_pole", "flag".
void MountainCarPhysics::describe(const Track& t, const State& s, Scene& scene) {
  const float min_x = t.min_position, max_x = t.max_position;
  const float goal = t.goal_position;
  const float scale = 600.0f / (max_x - min_x);
  const float px = 1.0f / scale;
  const auto height = [](float x) { return std::sin(3.0f * x) * 0.45f + 0.55f; };
  scene.view[0] = min_x;
  scene.view[1] = 0.0f;
  scene.view[2] = max_x;
  scene.view[3] = 400.0f * px;
  scene.background = draw::colors::kWhite;
  std::vector<float> track;
  for (int i = 0; i < 100; ++i) {
    const float x = min_x + (max_x - min_x) * static_cast<float>(i) / 99.0f;
    track.push_back(x);
    track.push_back(height(x));
  }
  scene.polyline("track", std::move(track), draw::colors::kBlack);

  const float pos = std::clamp(finite(s.position), min_x, max_x);
  const float clearance = 10.0f * px, car_w = 40.0f * px, car_h = 20.0f * px;
  const float tilt = std::cos(3.0f * pos);
  const Point base{pos, clearance + height(pos)};
  scene.polygon("car", placed({{-car_w / 2, 0.0f}, {-car_w / 2, car_h}, {car_w / 2, car_h}, {car_w / 2, 0.0f}}, tilt, base),
                draw::colors::kBlack, draw::colors::kBlack);
  int wheel = 0;
  for (Point c : {Point{car_w / 4, 0.0f}, Point{-car_w / 4, 0.0f}}) {
    const Point r = rotate(c, tilt);
    scene.circle("wheel", base.x + r.x, base.y + r.y, car_h / 2.5f, draw::Color{128, 128, 128, 255}, wheel++);
  }
  const float flag_y1 = height(goal), flag_y2 = flag_y1 + 50.0f * px;
  scene.polyline("flag_pole", {goal, flag_y1, goal, flag_y2}, draw::colors::kBlack);
  scene.polygon("flag", {goal, flag_y2, goal, flag_y2 - 10.0f * px, goal + 25.0f * px, flag_y2 - 5.0f * px},
                draw::colors::kYellow, draw::colors::kYellow);
}

void MountainCar::describe(const MountainCarPhysics::Track& t, const State& s, Scene& scene) {
  MountainCarPhysics::describe(t, s, scene);
}

void MountainCarContinuous::describe(const MountainCarPhysics::Track& t, const State& s, Scene& scene) {
  MountainCarPhysics::describe(t, s, scene);
}

// pendulum.py: 500 x 500, the world [-2.2, 2.2]^2, a red rod of length 1 and width 0.2 (theta = 0
// upright, counter-clockwise positive) with rounded ends, and a black axle on top. Tags: "rod",
// "rod_end" (index 0 at the axle, 1 at the tip), "axle"; describe_action adds "torque" and
// "torque_head" below the axle.
void Pendulum::describe(const Params&, const State& s, Scene& scene) {
  const float bound = 2.2f;
  scene.view[0] = -bound;
  scene.view[1] = -bound;
  scene.view[2] = bound;
  scene.view[3] = bound;
  scene.background = draw::colors::kWhite;
  const float theta = finite(s.theta);
  const float rod_length = 1.0f, rod_width = 0.2f;
  const draw::Color rod{204, 77, 77, 255};
  scene.polygon("rod",
                placed({{0.0f, -rod_width / 2}, {0.0f, rod_width / 2}, {rod_length, rod_width / 2},
                        {rod_length, -rod_width / 2}},
                       theta + kPi / 2.0f, {0.0f, 0.0f}),
                rod, rod);
  scene.circle("rod_end", 0.0f, 0.0f, rod_width / 2, rod, 0);
  const Point tip = rotate({rod_length, 0.0f}, theta + kPi / 2.0f);
  scene.circle("rod_end", tip.x, tip.y, rod_width / 2, rod, 1);
  scene.circle("axle", 0.0f, 0.0f, 0.05f, draw::colors::kBlack);
}

// Gymnasium scales an arrow image to |u| / 2 world units across: this arc has that diameter, turning
// counter-clockwise for u > 0, with a head at its end. Nothing for no action or u = 0.
void Pendulum::describe_action(const Params& p, const std::vector<float>& action, Scene& scene) {
  if (action.empty() || !std::isfinite(action[0]) || action[0] == 0.0f) return;
  const float u = std::clamp(action[0], -p.max_torque, p.max_torque);
  const float radius = std::fabs(u) / 4.0f;
  const float sweep = 1.5f * kPi, start = -kPi / 4.0f;
  const float direction = u > 0.0f ? 1.0f : -1.0f;
  Scene arrow;
  std::vector<float> arc;
  for (int i = 0; i <= 32; ++i) {
    const float a = start + direction * sweep * static_cast<float>(i) / 32.0f;
    arc.push_back(radius * std::cos(a));
    arc.push_back(radius * std::sin(a));
  }
  arrow.polyline("torque", std::move(arc), draw::colors::kBlack, 3.0f);
  const float end = start + direction * sweep;
  const Point tip{radius * std::cos(end), radius * std::sin(end)};
  const Point tangent{-std::sin(end) * direction, std::cos(end) * direction};
  const Point normal{std::cos(end), std::sin(end)};
  const float head = std::max(0.06f, radius * 0.45f);
  arrow.polygon("torque_head",
                {tip.x + tangent.x * head, tip.y + tangent.y * head, tip.x + normal.x * head * 0.6f,
                 tip.y + normal.y * head * 0.6f, tip.x + -normal.x * head * 0.6f, tip.y + -normal.y * head * 0.6f},
                draw::colors::kBlack, std::nullopt);
  // Below the axle, which Gymnasium draws last.
  auto axle = std::find_if(scene.shapes.begin(), scene.shapes.end(),
                           [](const SceneShape& shape) { return shape.tag == "axle"; });
  scene.shapes.insert(axle, arrow.shapes.begin(), arrow.shapes.end());
}

}  // namespace apiary::envs
