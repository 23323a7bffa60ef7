#include "render/painters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace apiary::render {

Size native_size(const envs::VecEnv& env) { return env.has_picture() ? env.picture_size() : Size{}; }

void paint(const PaintInput& in, Canvas& canvas) {
  if (in.scene) {
    envs::draw_scene(*in.scene, canvas);
    return;
  }
  canvas.set_transform(Transform{});
  paint_observation_bars(in, canvas);
}

PaintInput capture(const envs::VecEnv& env, std::int32_t lane, const std::vector<float>& last_action) {
  if (lane < 0 || lane >= env.num_envs())
    throw std::out_of_range("capture: lane " + std::to_string(lane) + " outside 0.." +
                            std::to_string(env.num_envs() - 1));
  PaintInput in;
  in.env_id = env.spec().id;
  in.observation_space = env.spec().observation_space;
  envs::Scene scene;
  if (env.describe(lane, scene)) {
    if (!last_action.empty()) env.describe_action(last_action, scene);
    in.scene = std::move(scene);
  }
  envs::HostBatch host;
  env.copy_to_host(host);
  in.obs = envs::observation_row(host, lane, env.spec().obs_dim());
  return in;
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
