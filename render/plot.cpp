#include "render/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "render/text.h"

namespace apiary::render {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  // The trainer writes plain numbers and bare column names; quoted fields (RFC 4180) are read too.
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cell);
      cell.clear();
    } else if (c != '\r') {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

// 1, 2 or 5 times a power of ten, near range / target.
double nice_step(double range, int target) {
  const double raw = range / std::max(target, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * power;
}

std::string tick_label(double v, double step) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e6 && step >= 1e5) {
    std::snprintf(buf, sizeof buf, "%gM", v / 1e6);
  } else if (a >= 1e3 && step >= 100) {
    std::snprintf(buf, sizeof buf, "%gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%g", std::fabs(v) < step * 1e-6 ? 0.0 : v);
  }
  return buf;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // Nonempty and padded: equal ends are spread by one unit (or 5% of the value).
  void settle(bool from_zero) {
    if (!(lo <= hi)) {
      lo = 0.0;
      hi = 1.0;
    }
    if (from_zero && lo > 0.0) lo = 0.0;
    if (hi - lo <= 0.0) {
      const double pad = std::max(1.0, std::fabs(hi) * 0.05);
      lo -= pad;
      hi += pad;
    }
  }
};

const Color kAxis{60, 60, 60, 255};
const Color kGrid{228, 228, 228, 255};
const Color kLabel{40, 40, 40, 255};
constexpr int kTitleSize = 13, kLabelSize = 12, kTickSize = 11;  // text heights, pixels (render/text.h)

// A polyline `width` pixels wide in pixel coordinates, anti-aliased: each pixel takes the colour with the
// share of it the stroke covers (1 inside, falling to 0 across its edge pixel), the largest over the
// segments, so joints are blended once.
void smooth_polyline(Canvas& canvas, const std::vector<Vec2>& points, Color color, float width) {
  const float half = width / 2.0f;
  std::vector<float> coverage(static_cast<std::size_t>(canvas.width()) * canvas.height(), 0.0f);
  int bx0 = canvas.width(), bx1 = -1, by0 = canvas.height(), by1 = -1;
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    const Vec2 a = points[i], b = points[i + 1];
    if (!std::isfinite(a.x + a.y + b.x + b.y)) continue;
    const float dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy;
    const int x0 = std::max(0, static_cast<int>(std::floor(std::min(a.x, b.x) - half - 1.0f)));
    const int x1 = std::min(canvas.width() - 1, static_cast<int>(std::ceil(std::max(a.x, b.x) + half + 1.0f)));
    const int y0 = std::max(0, static_cast<int>(std::floor(std::min(a.y, b.y) - half - 1.0f)));
    const int y1 = std::min(canvas.height() - 1, static_cast<int>(std::ceil(std::max(a.y, b.y) + half + 1.0f)));
    bx0 = std::min(bx0, x0);
    bx1 = std::max(bx1, x1);
    by0 = std::min(by0, y0);
    by1 = std::max(by1, y1);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        // The distance from the pixel's centre to the segment.
        const float px = static_cast<float>(x) + 0.5f - a.x, py = static_cast<float>(y) + 0.5f - a.y;
        const float t = length2 > 0.0f ? std::clamp((px * dx + py * dy) / length2, 0.0f, 1.0f) : 0.0f;
        const float ex = px - t * dx, ey = py - t * dy;
        float& c = coverage[static_cast<std::size_t>(y) * canvas.width() + x];
        c = std::max(c, std::clamp(half + 0.5f - std::sqrt(ex * ex + ey * ey), 0.0f, 1.0f));
      }
  }
  for (int y = by0; y <= by1; ++y)
    for (int x = bx0; x <= bx1; ++x) {
      const float c = coverage[static_cast<std::size_t>(y) * canvas.width() + x];
      if (c <= 0.0f) continue;
      Color shade = color;
      shade.a = static_cast<std::uint8_t>(std::lround(c * static_cast<float>(color.a)));
      canvas.put(x, y, shade);
    }
}

// One panel: x is the step or wall-clock column of every curve.
void draw_panel(Canvas& canvas, int left, int top, int width, int height, const std::vector<RunCurve>& curves,
                bool wall_clock, const std::string& title, const std::string& x_label, const std::string& y_label) {
  const int margin_left = 64, margin_right = 16, margin_top = 26, margin_bottom = 42;
  const int plot_x = left + margin_left, plot_y = top + margin_top;
  const int plot_w = width - margin_left - margin_right, plot_h = height - margin_top - margin_bottom;
  Range xr, yr;
  for (const RunCurve& c : curves) {
    const auto& xs = wall_clock ? c.wall_seconds : c.step;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      xr.add(xs[i]);
      const double s = i < c.spread.size() && std::isfinite(c.spread[i]) ? c.spread[i] : 0.0;
      yr.add(c.value[i] - s);
      yr.add(c.value[i] + s);
    }
  }
  xr.settle(true);
  yr.settle(false);
  const double y_pad = (yr.hi - yr.lo) * 0.05;
  yr.lo -= y_pad;
  yr.hi += y_pad;
  const double x_step = nice_step(xr.hi - xr.lo, 6), y_step = nice_step(yr.hi - yr.lo, 5);

  canvas.set_transform(Transform{});
  draw_text(canvas, plot_x, top + 4, title, kLabel, kTitleSize);
  canvas.fill_rect(plot_x, plot_y, plot_w, plot_h, colors::kWhite);
  const Transform to_px = Transform::fit(static_cast<float>(xr.lo), static_cast<float>(yr.lo),
                                         static_cast<float>(xr.hi), static_cast<float>(yr.hi),
                                         static_cast<float>(plot_x), static_cast<float>(plot_y),
                                         static_cast<float>(plot_w), static_cast<float>(plot_h));
  // Grid and tick labels.
  for (double v = std::ceil(xr.lo / x_step) * x_step; v <= xr.hi + x_step * 1e-9; v += x_step) {
    const int px = static_cast<int>(std::floor(to_px.apply({static_cast<float>(v), 0.0f}).x));
    canvas.fill_rect(px, plot_y, 1, plot_h, kGrid);
    canvas.fill_rect(px, plot_y + plot_h, 1, 4, kAxis);
    const std::string label = tick_label(v, x_step);
    draw_text(canvas, px - text_width(label, kTickSize) / 2, plot_y + plot_h + 6, label, kLabel, kTickSize);
  }
  for (double v = std::ceil(yr.lo / y_step) * y_step; v <= yr.hi + y_step * 1e-9; v += y_step) {
    const int py = static_cast<int>(std::floor(to_px.apply({0.0f, static_cast<float>(v)}).y));
    canvas.fill_rect(plot_x, py, plot_w, 1, kGrid);
    canvas.fill_rect(plot_x - 4, py, 4, 1, kAxis);
    const std::string label = tick_label(v, y_step);
    draw_text(canvas, plot_x - 8 - text_width(label, kTickSize), py - text_height(kTickSize) / 2, label, kLabel,
              kTickSize);
  }
  draw_text(canvas, plot_x + (plot_w - text_width(x_label, kLabelSize)) / 2, plot_y + plot_h + 22, x_label, kLabel,
            kLabelSize);
  // The y label turned a quarter, reading upwards along the left edge.
  draw_text(canvas, left + 4, plot_y + (plot_h + text_width(y_label, kLabelSize)) / 2 - text_width(y_label, kLabelSize),
            y_label, kLabel, kLabelSize, /*vertical=*/true);

  // Bands first, then lines and points on top.
  canvas.set_transform(to_px);
  for (std::size_t k = 0; k < curves.size(); ++k) {
    const RunCurve& c = curves[k];
    const auto& xs = wall_clock ? c.wall_seconds : c.step;
    if (c.spread.size() != c.value.size() || xs.size() < 2) continue;
    std::vector<Vec2> band;
    for (std::size_t i = 0; i < xs.size(); ++i)
      band.push_back({static_cast<float>(xs[i]), static_cast<float>(c.value[i] + c.spread[i])});
    for (std::size_t i = xs.size(); i-- > 0;)
      band.push_back({static_cast<float>(xs[i]), static_cast<float>(c.value[i] - c.spread[i])});
    Color tint = curve_color(k);
    tint.a = 48;
    canvas.fill_polygon(band, tint);
  }
  for (std::size_t k = 0; k < curves.size(); ++k) {
    const RunCurve& c = curves[k];
    const auto& xs = wall_clock ? c.wall_seconds : c.step;
    std::vector<Vec2> line;
    for (std::size_t i = 0; i < xs.size(); ++i) line.push_back({static_cast<float>(xs[i]), static_cast<float>(c.value[i])});
    std::vector<Vec2> px;
    for (const Vec2& p : line) px.push_back(to_px.apply(p));
    smooth_polyline(canvas, px, curve_color(k), 2.0f);
    for (const Vec2& p : line) canvas.fill_circle(p, 2.5f / to_px.scale_x(), curve_color(k));
  }
  canvas.set_transform(Transform{});
  canvas.outline_rect(plot_x, plot_y, plot_w, plot_h, kAxis);
}

}  // namespace

Color curve_color(std::size_t i) {
  static const Color palette[8] = {{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255},
                                   {214, 39, 40, 255},  {148, 103, 189, 255}, {140, 86, 75, 255},
                                   {227, 119, 194, 255}, {127, 127, 127, 255}};
  return palette[i % 8];
}

RunCurve read_run_curve(const std::string& path, const std::string& metric) {
  fs::path file = path;
  RunCurve curve;
  if (fs::is_directory(file)) {
    file /= "metrics.csv";
    curve.name = fs::path(path).lexically_normal().filename().string();
    if (curve.name.empty()) curve.name = fs::path(path).lexically_normal().parent_path().filename().string();
  } else {
    curve.name = file.parent_path().filename().string();
    if (curve.name.empty()) curve.name = file.stem().string();
  }
  std::ifstream in(file);
  if (!in) throw std::invalid_argument(file.string() + ": cannot read (give a run folder holding metrics.csv, or a CSV file)");
  std::string line;
  if (!std::getline(in, line) || line.empty()) throw std::invalid_argument(file.string() + ": empty, no CSV header");
  const std::vector<std::string> header = split_csv_line(line);
  auto column = [&](const std::string& name) -> std::size_t {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      throw std::invalid_argument(file.string() + ": no column '" + name + "' (the header is: " + line + ")");
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t step_col = column("step"), wall_col = column("wall_seconds"), value_col = column(metric);
  const auto spread_it = metric == "eval_mean_return"
                             ? std::find(header.begin(), header.end(), std::string("eval_std_return"))
                             : header.end();
  const bool has_spread = spread_it != header.end();
  const std::size_t spread_col = has_spread ? static_cast<std::size_t>(spread_it - header.begin()) : 0;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_csv_line(line);
    double step = 0, wall = 0, value = 0, spread = 0;
    if (value_col >= cells.size() || !parse_number(cells[value_col], value)) continue;  // not an eval row
    if (step_col >= cells.size() || !parse_number(cells[step_col], step) || wall_col >= cells.size() ||
        !parse_number(cells[wall_col], wall))
      throw std::invalid_argument(file.string() + ":" + std::to_string(line_number) + ": a " + metric +
                                  " value without a number in 'step' or 'wall_seconds'");
    curve.step.push_back(step);
    curve.wall_seconds.push_back(wall);
    curve.value.push_back(value);
    if (has_spread) curve.spread.push_back(spread_col < cells.size() && parse_number(cells[spread_col], spread) ? spread : 0.0);
  }
  if (curve.value.empty())
    throw std::invalid_argument(file.string() + ": no row has a value in column '" + metric + "'");
  return curve;
}

Canvas plot_curves(const std::vector<RunCurve>& curves, const PlotOptions& options) {
  if (curves.empty()) throw std::invalid_argument("plot: no curves to draw");
  Canvas canvas(options.width, options.height, Color{246, 246, 246, 255});
  // Legend across the top: a swatch and the run's name per curve.
  int x = 16;
  const int legend_y = 12;
  for (std::size_t k = 0; k < curves.size(); ++k) {
    const std::string& name = curves[k].name;
    const int w = 22 + text_width(name, kLabelSize) + 18;
    if (x + w > options.width - 8 && x > 16) break;  // the rest would not fit
    canvas.fill_rect(x, legend_y + 2, 16, 4, curve_color(k));
    draw_text(canvas, x + 22, legend_y - 3, name, kLabel, kLabelSize);
    x += w;
  }
  const int top = 28, half = options.width / 2;
  draw_panel(canvas, 0, top, half, options.height - top, curves, false, options.metric_label + " vs env steps",
             "env steps", options.metric_label);
  draw_panel(canvas, half, top, options.width - half, options.height - top, curves, true,
             options.metric_label + " vs wall-clock", "wall-clock seconds", options.metric_label);
  return canvas;
}

}  // namespace apiary::render
