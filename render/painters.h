// A lane's picture as `apiary play` shows it. The env draws itself: render/ only takes the Scene it
// describes beside its physics (envs/scene.h: the classic envs, Box2D, MinAtar and plugins alike) and
// draws it with envs::draw_scene, in the env's own colours at the env's own size (Gymnasium's
// render_mode="rgb_array"). An env without a picture is shown as its observation, one bar per element,
// so that every env can be played.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "envs/scene.h"
#include "envs/spaces.h"
#include "envs/vec_env.h"
#include "render/canvas.h"

namespace apiary::render {

// What paint() reads about one lane: a snapshot, so that painting never touches the env.
struct PaintInput {
  std::string env_id;
  std::optional<envs::Scene> scene;  // the lane's picture (describe(), then describe_action())
  std::vector<float> obs;            // the lane's observation (the bars of an env without a picture)
  envs::Space observation_space;     // bounds for the observation bars
};

using Size = envs::PictureSize;

// The pixel size `env`'s picture is drawn at: its own (Gymnasium's window); the bars of an env without
// a picture take 600 x 400.
Size native_size(const envs::VecEnv& env);

// Draws `in` over the whole canvas (any size: the picture's world is fitted to it).
void paint(const PaintInput& in, Canvas& canvas);

// The snapshot of lane `lane` of `env` that paint() reads, with the look of the lane's last action
// where the env draws one (`last_action`, may be empty: Pendulum's torque arrow). Only const accessors
// of the env are used. Throws std::out_of_range for a bad lane.
PaintInput capture(const envs::VecEnv& env, std::int32_t lane, const std::vector<float>& last_action = {});

// The observation, one horizontal bar per element, against its bounds.
void paint_observation_bars(const PaintInput& in, Canvas& canvas);

}  // namespace apiary::render
