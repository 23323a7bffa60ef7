// Learning curves for `apiary plot`: the evaluation return of one or more runs against env steps and
// against wall-clock seconds, read from each run's metrics.csv (written by runner/run_folder.cpp: columns
// step, wall_seconds, eval_mean_return, eval_std_return, ...) and drawn on a Canvas, several runs on
// one figure, one colour each.
#pragma once

#include <string>
#include <vector>

#include "render/canvas.h"

namespace apiary::render {

// The rows of one run where `metric` has a value (evaluation rows, for eval_mean_return).
struct RunCurve {
  std::string name;                  // the run folder's name (legend)
  std::vector<double> step;          // env steps
  std::vector<double> wall_seconds;  // since the run's start (all sessions of a resumed run)
  std::vector<double> value;         // the metric
  std::vector<double> spread;        // eval_std_return where the metric is eval_mean_return (else empty)
};

// Reads `path`'s metrics: `path` is a run folder (its metrics.csv) or a CSV file. Throws
// std::invalid_argument naming the file when it is missing, is not CSV with a header, lacks the
// `step`, `wall_seconds` or `metric` column, or has no row with a value of `metric`.
RunCurve read_run_curve(const std::string& path, const std::string& metric = "eval_mean_return");

struct PlotOptions {
  int width = 1100;       // pixels, both panels together
  int height = 440;
  std::string metric_label = "eval return";  // the y axis
};

// Two panels side by side, the metric against env steps and against wall-clock seconds, with axes,
// ticks, grid, a legend and a band of +- spread where the curves have one. Throws
// std::invalid_argument when `curves` is empty.
Canvas plot_curves(const std::vector<RunCurve>& curves, const PlotOptions& options = {});

// The colour of the i-th curve (a fixed palette of eight, then repeating).
Color curve_color(std::size_t i);

}  // namespace apiary::render
