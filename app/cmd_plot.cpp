// `apiary plot RUN_DIR... -o curve.png`: learning curves (evaluation return against env steps and
// against wall-clock seconds) of one or more runs, from their metrics.csv, on one figure.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "render/image_io.h"
#include "render/plot.h"

namespace apiary::app {

namespace {

namespace fs = std::filesystem;

struct PlotFlags {
  std::vector<std::string> runs;
  std::string output;
  std::string metric = "eval_mean_return";
  int width = 1100;
  int height = 440;
};

void run_plot(const PlotFlags& flags) {
  if (flags.width < 320 || flags.height < 200 || flags.width > 8192 || flags.height > 8192)
    throw UsageError("--width and --height must be within 320..8192 and 200..8192 pixels");
  const fs::path out = flags.output;
  const fs::path folder = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(folder)) throw UsageError("-o " + flags.output + ": the folder " + folder.string() + " does not exist");
  std::vector<render::RunCurve> curves;
  std::size_t points = 0;
  for (const std::string& run : flags.runs) {
    curves.push_back(render::read_run_curve(run, flags.metric));  // std::invalid_argument names the file
    points += curves.back().value.size();
  }
  render::PlotOptions options;
  options.width = flags.width;
  options.height = flags.height;
  options.metric_label = flags.metric == "eval_mean_return" ? "eval return" : flags.metric;
  const render::Canvas canvas = render::plot_curves(curves, options);
  render::save_png(canvas, flags.output);
  for (const auto& c : curves)
    std::printf("%s: %zu points, last %s %.3f at step %.0f (%.1f s)\n", c.name.c_str(), c.value.size(),
                flags.metric.c_str(), c.value.back(), c.step.back(), c.wall_seconds.back());
  std::printf("runs: %zu points: %zu output: %s width: %d height: %d\n", curves.size(), points, flags.output.c_str(),
              canvas.width(), canvas.height());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto flags = std::make_shared<PlotFlags>();
  auto* cmd = app.add_subcommand("plot", "Plot learning curves of runs (metrics.csv) into a PNG");
  cmd->add_option("runs", flags->runs, "Run folders (runs/<name>) or metrics CSV files")->required();
  cmd->add_option("-o,--output", flags->output, "PNG file to write")->required();
  cmd->add_option("--metric", flags->metric, "Column to plot")->capture_default_str();
  cmd->add_option("--width", flags->width, "Figure width in pixels")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(320, 8192)));
  cmd->add_option("--height", flags->height, "Figure height in pixels")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(200, 8192)));
  cmd->callback([flags] { run_plot(*flags); });
}

}  // namespace apiary::app
