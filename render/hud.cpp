#include "render/hud.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "render/text.h"

namespace apiary::render {

std::string to_string(ScoreKind kind) {
  switch (kind) {
    case ScoreKind::kNone: return "none";
    case ScoreKind::kProbabilities: return "probabilities";
    case ScoreKind::kQValues: return "q_values";
    case ScoreKind::kActionMean: return "action_mean";
  }
  return "none";
}

namespace {

const Color kPanel{34, 36, 44, 255};
const Color kText{232, 232, 232, 255};
const Color kDim{150, 154, 166, 255};
const Color kBarBack{62, 66, 80, 255};
const Color kBar{96, 140, 230, 255};
const Color kChosen{250, 190, 60, 255};
const Color kAlert{240, 90, 80, 255};
constexpr int kSize = 12;       // the panel's text, pixels
constexpr int kTitleSize = 20;  // the env id

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string action_text(const HudInfo& info) {
  if (info.action.empty()) return "-";
  if (info.discrete) {
    const int a = static_cast<int>(std::lround(info.action[0]));
    std::string text = std::to_string(a);
    if (a >= 0 && static_cast<std::size_t>(a) < info.action_names.size() && info.action_names[static_cast<std::size_t>(a)] != text)
      text += " " + info.action_names[static_cast<std::size_t>(a)];
    return text;
  }
  std::string text;
  for (std::size_t i = 0; i < info.action.size(); ++i)
    text += (i ? " " : "") + format("%+.2f", static_cast<double>(info.action[i]));
  return text;
}

}  // namespace

void draw_hud(Canvas& canvas, int x, int y, int w, int h, const HudInfo& info) {
  canvas.set_transform(Transform{});
  canvas.fill_rect(x, y, w, h, kPanel);
  const int left = x + 12;
  int line = y + 12;
  auto text = [&](const std::string& s, Color c, int size = kSize) {
    draw_text(canvas, left, line, s, c, size);
    line += text_height(size) + 1;
  };
  // The env id in large type where it fits the panel (BipedalWalkerHardcore-v3 does not).
  text(info.env_id, kText, text_width(info.env_id, kTitleSize) <= w - 24 ? kTitleSize : kSize);
  line += 4;
  text("episode " + std::to_string(info.episode) + (info.episodes > 0 ? " / " + std::to_string(info.episodes) : ""),
       kText);
  text("step    " + std::to_string(info.step), kText);
  text("return  " + format("%.2f", info.episode_return), kText);
  text("agent   " + (info.human ? std::string("HUMAN") : info.agent), info.human ? kChosen : kText);
  text("action  " + action_text(info), kText);
  if (info.memory_norm >= 0.0) text("memory  |h| " + format("%.2f", info.memory_norm), kText);
  line += 6;

  if (info.kind != ScoreKind::kNone && !info.scores.empty()) {
    const char* title = info.kind == ScoreKind::kProbabilities ? "policy probabilities"
                        : info.kind == ScoreKind::kQValues     ? "Q-values"
                                                               : "policy mean";
    text(title, kDim);
    const int n = static_cast<int>(info.scores.size());
    const int row = std::clamp((y + h - 110 - line) / std::max(n, 1), 9, 18);
    const int row_text = std::min(kSize, row);
    const int text_top = (row - text_height(row_text)) / 2;
    const int label_w = 48, value_w = 48;
    const int bar_x = left + label_w, bar_w = std::max(20, w - 24 - label_w - value_w);
    // Q-values: bars from 20% (the smallest value of this step) to full (the largest).
    float q_lo = info.scores[0], q_hi = info.scores[0];
    for (float s : info.scores) {
      q_lo = std::min(q_lo, s);
      q_hi = std::max(q_hi, s);
    }
    int chosen = -1;
    if (info.discrete && !info.action.empty()) chosen = static_cast<int>(std::lround(info.action[0]));
    for (int i = 0; i < n && line + row <= y + h - 100; ++i) {
      const float s = info.scores[static_cast<std::size_t>(i)];
      const std::string name = static_cast<std::size_t>(i) < info.action_names.size()
                                   ? info.action_names[static_cast<std::size_t>(i)]
                                   : std::to_string(i);
      draw_text(canvas, left, line + text_top, name.substr(0, 7), kText, row_text);
      const int bar_h = std::max(5, row - 4);
      const int bar_y = line + (row - bar_h) / 2;
      canvas.fill_rect(bar_x, bar_y, bar_w, bar_h, kBarBack);
      const Color colour = i == chosen ? kChosen : kBar;
      if (info.kind == ScoreKind::kActionMean) {
        // Centred on the middle of the action's range; the bar runs to the mean (clipped to the range).
        const float lo = static_cast<std::size_t>(i) < info.action_low.size() ? info.action_low[static_cast<std::size_t>(i)] : -1.0f;
        const float hi = static_cast<std::size_t>(i) < info.action_high.size() ? info.action_high[static_cast<std::size_t>(i)] : 1.0f;
        const float t = hi > lo && std::isfinite(s) ? std::clamp(2.0f * (s - lo) / (hi - lo) - 1.0f, -1.0f, 1.0f) : 0.0f;
        const int mid = bar_x + bar_w / 2;
        const int len = static_cast<int>(std::lround(t * static_cast<float>(bar_w / 2)));
        if (len >= 0)
          canvas.fill_rect(mid, bar_y, len, bar_h, colour);
        else
          canvas.fill_rect(mid + len, bar_y, -len, bar_h, colour);
        canvas.fill_rect(mid, bar_y - 1, 1, bar_h + 2, kText);
      } else {
        float t = 0.0f;
        if (info.kind == ScoreKind::kProbabilities) t = std::clamp(s, 0.0f, 1.0f);
        else t = q_hi > q_lo ? 0.2f + 0.8f * (s - q_lo) / (q_hi - q_lo) : 1.0f;  // the lowest Q still shows
        if (!std::isfinite(t)) t = 0.0f;
        canvas.fill_rect(bar_x, bar_y, static_cast<int>(std::lround(t * static_cast<float>(bar_w))), bar_h, colour);
      }
      draw_text(canvas, bar_x + bar_w + 6, line + text_top, format(std::fabs(s) >= 100.0f ? "%.0f" : "%.2f", s), kText,
                row_text);
      line += row;
    }
  }

  // Speed, pause and the keys, at the bottom of the panel.
  int bottom = y + h - 12 - 4 * 12;
  const std::string speed = info.fps > 0 ? format("%.0f fps", info.fps) : std::string("max speed");
  draw_text(canvas, left, bottom, speed, kText, kSize);
  if (info.paused) draw_text(canvas, left + 90, bottom, "PAUSED", kAlert, kSize);
  bottom += 14;
  draw_text(canvas, left, bottom, "space pause  n step  +/- speed", kDim, kSize - 1);
  bottom += 12;
  draw_text(canvas, left, bottom, "r reset  h human  q quit", kDim, kSize - 1);
  bottom += 12;
  if (info.human && !info.human_help.empty()) draw_text(canvas, left, bottom, info.human_help, kChosen, kSize - 1);
}

}  // namespace apiary::render
