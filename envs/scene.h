// An env's picture of one lane, described in its own world coordinates: every shape, tagged by what it
// is, with the colours it is drawn in, and named scalars such as an engine's throttle. Each env fills
// it beside its physics (a CPU env's `describe(Scene&) const`, a __host__ __device__ env's static
// `describe(const Params&, const State&, Scene&)`) from its own constants, and draw_scene() draws it on
// a canvas of any size (draw/canvas.h): `apiary play`'s window (render/), and the batched pictures of
// VecEnv::render_lanes (an [N, H, W, 3] uint8 batch).
//
// Tags, indices and values are the env's contract with tests and tools (each env header lists its
// own); the drawing reads only the geometry and the colours. A shape without colours is drawn in
// neutral ones (light grey, outlined in black), so an env that describes only its geometry (a plugin's)
// is drawn too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "draw/canvas.h"

namespace apiary::envs {

struct SceneShape {
  enum class Kind : std::uint8_t {
    kPolygon,   // closed, xy holds its corners
    kPolyline,  // open, xy holds its points (lidar rays: 2 points)
    kCircle,    // xy holds the centre, radius the radius
  };
  Kind kind = Kind::kPolygon;
  std::string tag;        // what it is: "terrain", "lander", "leg", "hull", "lidar", ... (per env header)
  int index = 0;          // which one of its tag (leg 0 or 1, lidar ray 0..9)
  std::vector<float> xy;  // x0, y0, x1, y1, ... in world units (metres), y up
  float radius = 0.0f;
  // How it is drawn; neither set: the neutral colours. A polyline is drawn in `outline`.
  std::optional<draw::Color> fill;     // the inside of a polygon or circle
  std::optional<draw::Color> outline;  // the edge of a polygon or circle, the line of a polyline
  float width = 1.0f;                  // of the outline or line, in pixels (1: the thinnest gapless line)
};

struct Scene {
  std::string env_id;
  // The world rectangle the picture shows, over the whole canvas: x_min, y_min, x_max, y_max in world
  // units (at the native size, Gymnasium's window: 600 x 400 for most envs). Scrolling envs move it with
  // the agent. A degenerate view shows Gymnasium's Box2D world, 20 x 13.33 m.
  float view[4] = {0.0f, 0.0f, 1.0f, 1.0f};
  draw::Color background = draw::colors::kWhite;
  std::vector<SceneShape> shapes;       // back to front
  std::map<std::string, float> values;  // named scalars (per env header), e.g. "main_engine" in [0, 1]

  void clear() {
    shapes.clear();
    values.clear();
    background = draw::colors::kWhite;
  }
  SceneShape& add(SceneShape::Kind kind, std::string tag, int index = 0) {
    SceneShape shape;
    shape.kind = kind;
    shape.tag = std::move(tag);
    shape.index = index;
    shapes.push_back(std::move(shape));
    return shapes.back();
  }
  // A polygon (corners x0, y0, x1, y1, ...) filled with `fill` and outlined in `outline`, the way
  // Gymnasium draws a body (filled_polygon, then aapolygon); std::nullopt leaves either out.
  SceneShape& polygon(std::string tag, std::vector<float> xy, std::optional<draw::Color> fill,
                      std::optional<draw::Color> outline, int index = 0) {
    SceneShape& s = add(SceneShape::Kind::kPolygon, std::move(tag), index);
    s.xy = std::move(xy);
    s.fill = fill;
    s.outline = outline;
    return s;
  }
  SceneShape& polyline(std::string tag, std::vector<float> xy, draw::Color color, float width = 1.0f, int index = 0) {
    SceneShape& s = add(SceneShape::Kind::kPolyline, std::move(tag), index);
    s.xy = std::move(xy);
    s.outline = color;
    s.width = width;
    return s;
  }
  SceneShape& circle(std::string tag, float x, float y, float radius, draw::Color fill, int index = 0) {
    SceneShape& s = add(SceneShape::Kind::kCircle, std::move(tag), index);
    s.xy = {x, y};
    s.radius = radius;
    s.fill = fill;
    return s;
  }
};

// Draws `scene` over the whole canvas: its background, then its shapes back to front through the
// transform of its view onto the canvas (a picture of another size than the native one is the same
// world, stretched to fit). Leaves the canvas's transform as the identity.
void draw_scene(const Scene& scene, draw::Canvas& canvas);

// The size an env's picture is drawn at natively, in pixels (Gymnasium's window): an env says it with
// `static constexpr PictureSize kPictureSize`, 600 x 400 when it does not.
struct PictureSize {
  int width = 600;
  int height = 400;
};
template <class Env, class = void>
struct EnvPictureSize {
  static constexpr PictureSize value{};
};
template <class Env>
struct EnvPictureSize<Env, std::void_t<decltype(Env::kPictureSize)>> {
  static constexpr PictureSize value = Env::kPictureSize;
};

}  // namespace apiary::envs
