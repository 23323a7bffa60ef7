// Text for people (render/text.h): DejaVu Sans through SDL2_ttf, anti-aliased, turned for y-axis labels,
// and the plots that use it (rotated axis labels, anti-aliased curves).
#include <gtest/gtest.h>

#include <string>

#include "render/plot.h"
#include "render/text.h"
#include "tests/render/test_util.h"

namespace apiary::render {
namespace {

using testing::stats;

bool ink(Color c) { return c.r < 250; }  // anything drawn on white
bool solid(Color c) { return c.r == 0 && c.g == 0 && c.b == 0; }
bool blended(Color c) { return c.r > 0 && c.r < 250; }

TEST(Text, TrueTypeTextIsAntiAliased) {
  ASSERT_TRUE(truetype()) << "DejaVu Sans (Debian's fonts-dejavu-core) through SDL2_ttf";
  EXPECT_NE(font_file().find("DejaVuSans.ttf"), std::string::npos);
  Canvas c(200, 40, colors::kWhite);
  draw_text(c, 4, 4, "Apiary 1234", colors::kBlack, 20);
  testing::dump(c, "text");
  const auto all = stats(c, ink);
  EXPECT_GT(stats(c, solid).count, 50) << "glyph cores";
  EXPECT_GT(stats(c, blended).count, 50) << "anti-aliased edges";
  // It covers about the width and height the font says it does.
  EXPECT_NEAR(all.max_x - all.min_x + 1, text_width("Apiary 1234", 20), 4);
  EXPECT_LE(all.max_y - all.min_y + 1, text_height(20));
  EXPECT_GE(all.min_x, 4);
  EXPECT_GE(all.min_y, 4);
  // Larger sizes are larger.
  EXPECT_GT(text_width("Apiary", 24), text_width("Apiary", 12) + 20);
}

TEST(Text, VerticalTextReadsUpwardsFromItsCorner) {
  Canvas flat(200, 200, colors::kWhite), turned(200, 200, colors::kWhite);
  draw_text(flat, 10, 10, "episode return", colors::kBlack, 16);
  draw_text(turned, 10, 10, "episode return", colors::kBlack, 16, /*vertical=*/true);
  testing::dump(turned, "text_vertical");
  const auto f = stats(flat, ink), t = stats(turned, ink);
  EXPECT_GT(f.max_x - f.min_x, 3 * (f.max_y - f.min_y));
  EXPECT_GT(t.max_y - t.min_y, 3 * (t.max_x - t.min_x)) << "tall, not wide";
  EXPECT_EQ(f.count, t.count) << "the same pixels, turned";
  EXPECT_NEAR(t.max_y - t.min_y, f.max_x - f.min_x, 1);
  // Anticlockwise: the first letter (the horizontal text's left end) is at the bottom.
  const auto first_flat = stats(flat, ink, 0, 0, f.min_x + 8, 200);
  const auto first_turned = stats(turned, ink, 0, t.max_y - 7, 200, 200);
  EXPECT_EQ(first_flat.count, first_turned.count);
}

TEST(Text, PlotsLabelTheYAxisWithTurnedTextAndDrawSmoothCurves) {
  RunCurve curve;
  curve.name = "run";
  for (int i = 0; i <= 10; ++i) {
    curve.step.push_back(1000.0 * i);
    curve.wall_seconds.push_back(0.5 * i);
    curve.value.push_back(40.0 * i + (i % 3) * 17.0);
  }
  const Canvas c = plot_curves({curve});
  // The y label of the left panel: dark text in the left margin, much taller than wide.
  const auto label = stats(c, [](Color p) { return p.r < 120 && p.g < 120 && p.b < 120; }, 0, 60, 28, 420);
  EXPECT_GT(label.count, 40);
  EXPECT_GT(label.max_y - label.min_y, 4 * (label.max_x - label.min_x + 1));
  // The curve: solid pixels of its colour with blended ones along its edges.
  const Color colour = curve_color(0);
  const auto core = stats(c, testing::is(colour), 64, 28, 550, 440);
  const auto edge = stats(c, [&](Color p) {
    return !(p == colour) && std::abs(p.r - 246) + std::abs(p.g - 246) + std::abs(p.b - 246) > 20 &&
           p.b > p.r + 20 && p.b > 150;  // a blue between the curve's and the white plot area
  }, 64, 28, 550, 440);
  EXPECT_GT(core.count, 300);
  EXPECT_GT(edge.count, 200) << "anti-aliased edge pixels";
}

}  // namespace
}  // namespace apiary::render
