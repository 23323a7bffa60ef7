// One painter per bundled environment, drawing one lane as Gymnasium 1.x's render_mode="rgb_array"
// draws it (same sizes, colours and proportions; gymnasium/envs/classic_control/*.py and
// box2d/*.py). Painters read a snapshot of the lane (PaintInput) and never touch the env: capture()
// takes that snapshot through VecEnv's read-only accessors (get_states, describe, copy_to_host).
//
// - Classic envs are drawn from their raw physics state (VecEnv::get_states()).
// - Box2D envs are drawn from the Scene their describe() fills (envs/scene.h), by tag:
//   LunarLander: "sky", "lander", "leg", "flame_main", "flame_side" and the values "helipad_x1",
//   "helipad_x2", "helipad_y", "leg0_contact", "leg1_contact", "main_engine", "side_engine", "wind";
//   BipedalWalker: "terrain", "obstacle", "hull", "upper_leg", "lower_leg", "lidar", "flag_pole",
//   "flag" and "ground_contact0", "ground_contact1", "hull_x", "hull_y".
// - Any other env with a Scene is drawn shape by shape in neutral colours; one without either is drawn
//   as its observation, one bar per element, so every env can be played.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envs/params.h"
#include "envs/scene.h"
#include "envs/spaces.h"
#include "envs/vec_env.h"
#include "render/canvas.h"

namespace apiary::render {

// What a painter may read about one lane.
struct PaintInput {
  std::string env_id;
  std::vector<float> state;           // the lane's get_states() row (classic envs)
  std::optional<envs::Scene> scene;   // the lane's describe() output (Box2D and custom envs)
  std::vector<float> obs;             // the lane's observation
  envs::Space observation_space;      // bounds for the observation bars
  std::vector<float> last_action;     // the action of the last step (Pendulum's torque arrow); may be empty
  envs::EnvOptions options;           // the env's parameters by name where they differ from the defaults
};

struct Size {
  int width = 600;
  int height = 400;
};

// The pixel size `env_id` is drawn at: Gymnasium's (500 x 500 for Acrobot and Pendulum, 600 x 400
// for the others and for the observation bars).
Size native_size(const std::string& env_id);

// Which painter draws an env: "cartpole", "acrobot", "mountain_car", "pendulum", "lunar_lander",
// "bipedal_walker", "scene" (a custom env with a Scene) or "observation_bars".
std::string painter_name(const std::string& env_id, bool has_scene);

// Draws `in` over the whole canvas (any size; painters scale their world to it).
void paint(const PaintInput& in, Canvas& canvas);

// The snapshot of lane `lane` of `env` that paint() reads. Only const accessors of the env are used.
PaintInput capture(const envs::VecEnv& env, std::int32_t lane, const std::vector<float>& last_action = {},
                   const envs::EnvOptions& options = {});

// The individual painters, for tests and custom tools (paint() picks one by env id).
void paint_cartpole(const PaintInput& in, Canvas& canvas);
void paint_acrobot(const PaintInput& in, Canvas& canvas);
void paint_mountain_car(const PaintInput& in, Canvas& canvas);  // both MountainCar ids
void paint_pendulum(const PaintInput& in, Canvas& canvas);
void paint_lunar_lander(const envs::Scene& scene, Canvas& canvas);     // both LunarLander ids
void paint_bipedal_walker(const envs::Scene& scene, Canvas& canvas);   // both BipedalWalker ids
void paint_scene(const envs::Scene& scene, Canvas& canvas);            // any Scene, neutral colours
void paint_minatar(const PaintInput& in, Canvas& canvas);  // the MinAtar grid, one colour per channel
void paint_observation_bars(const PaintInput& in, Canvas& canvas);

}  // namespace apiary::render
