// What a painter needs to draw one lane of an env whose state is more than a handful of floats (the
// Box2D envs): every shape in world coordinates, tagged by what it is, and named scalars such as an
// engine's throttle. Envs fill it on request (VecEnv::describe); painters (render/) read it and never
// touch the env. Classic envs need none of this: their painters read VecEnv::get_states().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
};

struct Scene {
  std::string env_id;
  // The world rectangle shown in the env's native viewport (Gymnasium's 600 x 400 window):
  // x_min, y_min, x_max, y_max in world units. Scrolling envs move it with the agent.
  float view[4] = {0.0f, 0.0f, 1.0f, 1.0f};
  std::vector<SceneShape> shapes;       // back to front
  std::map<std::string, float> values;  // named scalars (per env header), e.g. "main_engine" in [0, 1]

  void clear() {
    shapes.clear();
    values.clear();
  }
  SceneShape& add(SceneShape::Kind kind, std::string tag, int index = 0) {
    shapes.push_back(SceneShape{kind, std::move(tag), index, {}, 0.0f});
    return shapes.back();
  }
};

}  // namespace apiary::envs
