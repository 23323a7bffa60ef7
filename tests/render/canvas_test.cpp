// The drawing surface: exact coverage of its shapes, blending, transforms, the bitmap font, and PNG
// round trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "render/canvas.h"
#include "draw/font.h"
#include "render/image_io.h"
#include "tests/render/test_util.h"

namespace apiary::render {
namespace {

using testing::is;
using testing::stats;

TEST(Canvas, StartsFilledWithTheBackground) {
  Canvas c(7, 5, Color{10, 20, 30, 255});
  EXPECT_EQ(c.width(), 7);
  EXPECT_EQ(c.height(), 5);
  EXPECT_EQ(c.size_bytes(), 7u * 5u * 4u);
  EXPECT_EQ(c.channels(), 4);
  EXPECT_EQ(c.pixel(6, 4), (Color{10, 20, 30, 255}));
  EXPECT_THROW(c.pixel(7, 0), std::out_of_range);
  EXPECT_THROW(Canvas(0, 5), std::invalid_argument);
}

TEST(Canvas, FillPolygonCoversExactlyThePixelsWhoseCentresAreInside) {
  Canvas c(40, 30, colors::kWhite);
  // Pixel coordinates (identity transform): the square [10, 20) x [5, 10) holds 10 x 5 pixel centres.
  c.fill_polygon({{10, 5}, {20, 5}, {20, 10}, {10, 10}}, colors::kBlack);
  const auto s = stats(c, is(colors::kBlack));
  EXPECT_EQ(s.count, 50);
  EXPECT_EQ(s.min_x, 10);
  EXPECT_EQ(s.max_x, 19);
  EXPECT_EQ(s.min_y, 5);
  EXPECT_EQ(s.max_y, 9);
  // A triangle: half of a 20 x 20 square, within a row of rounding.
  Canvas t(40, 40, colors::kWhite);
  t.fill_polygon({{0, 0}, {20, 0}, {0, 20}}, colors::kBlack);
  const auto ts = stats(t, is(colors::kBlack));
  EXPECT_NEAR(ts.count, 200, 20);
  EXPECT_EQ(t.pixel(1, 1), colors::kBlack);
  EXPECT_EQ(t.pixel(18, 18), colors::kWhite);
}

TEST(Canvas, ConcavePolygonLeavesItsNotchEmpty) {
  Canvas c(30, 30, colors::kWhite);
  // A "U": the notch [10, 20) x [0, 20) stays white.
  c.fill_polygon({{0, 0}, {10, 0}, {10, 20}, {20, 20}, {20, 0}, {30, 0}, {30, 30}, {0, 30}}, colors::kBlack);
  EXPECT_EQ(c.pixel(15, 10), colors::kWhite);
  EXPECT_EQ(c.pixel(5, 10), colors::kBlack);
  EXPECT_EQ(c.pixel(25, 10), colors::kBlack);
  EXPECT_EQ(c.pixel(15, 25), colors::kBlack);
}

TEST(Canvas, ThinLinesHaveNoGapsAndThickLinesHaveTheirWidth) {
  Canvas c(100, 100, colors::kWhite);
  c.line({5.5f, 5.5f}, {90.5f, 60.5f}, colors::kBlack);
  // Every column between the ends holds at least one pixel of the line.
  for (int x = 6; x < 90; ++x) EXPECT_GT(stats(c, is(colors::kBlack), x, 0, x + 1, 100).count, 0) << "column " << x;
  Canvas t(100, 100, colors::kWhite);
  t.line({10, 50}, {90, 50}, colors::kBlack, 6.0f);
  const auto s = stats(t, is(colors::kBlack));
  EXPECT_EQ(s.max_y - s.min_y + 1, 6);
  EXPECT_EQ(s.count, 80 * 6);
}

TEST(Canvas, CirclesHaveTheirArea) {
  Canvas c(100, 100, colors::kWhite);
  c.fill_circle({50, 50}, 20, colors::kBlack);
  const auto s = stats(c, is(colors::kBlack));
  EXPECT_NEAR(s.count, 3.14159 * 400, 30);
  EXPECT_NEAR(s.mean_x, 49.5, 0.2);  // pixel centres: pixel x covers [x, x + 1)
  EXPECT_NEAR(s.mean_y, 49.5, 0.2);
  Canvas ring(100, 100, colors::kWhite);
  ring.outline_circle({50, 50}, 20, colors::kBlack, 2.0f);
  EXPECT_EQ(ring.pixel(50, 50), colors::kWhite);
  EXPECT_NEAR(stats(ring, is(colors::kBlack)).count, 3.14159 * (21 * 21 - 19 * 19), 30);
  // A tiny circle still shows.
  Canvas dot(10, 10, colors::kWhite);
  dot.fill_circle({5.2f, 5.2f}, 0.1f, colors::kBlack);
  EXPECT_EQ(stats(dot, is(colors::kBlack)).count, 1);
}

TEST(Canvas, AlphaBlendsOverWhatIsThere) {
  Canvas c(2, 1, colors::kWhite);
  c.put(0, 0, Color{0, 0, 0, 128});
  EXPECT_EQ(c.pixel(0, 0), (Color{127, 127, 127, 255}));
  c.put(1, 0, Color{0, 0, 0, 0});
  EXPECT_EQ(c.pixel(1, 0), colors::kWhite);
}

TEST(Transform, MapsTheWorldRectangleOntoThePixelsWithYUp) {
  const Transform t = Transform::fit(-2.4f, -0.8f, 2.4f, 2.4f, 0, 0, 600, 400);
  EXPECT_FLOAT_EQ(t.scale_x(), 125.0f);
  EXPECT_FLOAT_EQ(t.apply({0, 0}).x, 300.0f);
  EXPECT_FLOAT_EQ(t.apply({0, 0}).y, 300.0f);  // y = 0 is 100 px above the bottom
  EXPECT_FLOAT_EQ(t.apply({-2.4f, 2.4f}).x, 0.0f);
  EXPECT_FLOAT_EQ(t.apply({-2.4f, 2.4f}).y, 0.0f);
  EXPECT_THROW(Transform::fit(1, 0, 1, 1, 0, 0, 10, 10), std::invalid_argument);
  // Shapes go through the canvas's transform.
  Canvas c(600, 400, colors::kWhite);
  c.set_transform(t);
  c.fill_circle({1.0f, 1.0f}, 0.08f, colors::kBlack);  // 10 px radius around (425, 175)
  const auto s = stats(c, is(colors::kBlack));
  EXPECT_NEAR(s.mean_x, 424.5, 0.5);
  EXPECT_NEAR(s.mean_y, 174.5, 0.5);
}

TEST(Font, EveryPrintableCharacterHasItsOwnGlyph) {
  std::set<std::array<std::uint8_t, draw::font::kGlyphHeight>> seen;
  for (int code = 33; code <= 126; ++code) {
    const auto& g = draw::font::glyph(static_cast<char>(code));
    bool any = false;
    for (auto row : g) {
      EXPECT_EQ(row & ~0x1Fu, 0u) << "glyph " << static_cast<char>(code) << " is wider than 5 pixels";
      any = any || row != 0;
    }
    EXPECT_TRUE(any) << "glyph " << static_cast<char>(code) << " is empty";
    EXPECT_TRUE(seen.insert(g).second) << "glyph " << static_cast<char>(code) << " repeats another";
  }
  EXPECT_EQ(draw::font::glyph('\x01'), draw::font::glyph('?'));
}

TEST(Font, TextDrawsTheGlyphsPixelsAtTheirScale) {
  Canvas c(40, 20, colors::kWhite);
  c.text(2, 3, "H", colors::kBlack, 2);
  // 'H': columns 0 and 4 are full height, row 3 is full width.
  for (int row = 0; row < 7; ++row) {
    EXPECT_EQ(c.pixel(2, 3 + 2 * row), colors::kBlack);
    EXPECT_EQ(c.pixel(2 + 2 * 4 + 1, 3 + 2 * row + 1), colors::kBlack);
  }
  for (int col = 0; col < 5; ++col) EXPECT_EQ(c.pixel(2 + 2 * col, 3 + 2 * 3), colors::kBlack);
  EXPECT_EQ(c.pixel(2 + 2 * 2, 3), colors::kWhite);
  EXPECT_EQ(stats(c, is(colors::kBlack)).count, (7 + 7 + 3) * 4);
  EXPECT_EQ(Canvas::text_width("ab", 1), 11);
  EXPECT_EQ(Canvas::text_height("a\nb", 2), (9 + 7) * 2);
}

TEST(Canvas, ChecksumSeesOnePixel) {
  Canvas a(30, 20, colors::kWhite), b(30, 20, colors::kWhite);
  EXPECT_EQ(a.checksum(), b.checksum());
  b.put(29, 19, Color{255, 255, 254, 255});
  EXPECT_NE(a.checksum(), b.checksum());
  EXPECT_NE(Canvas(20, 30).checksum(), Canvas(30, 20).checksum());
}

// Drawing into a caller's RGB buffer (a frame of a pixel batch) paints the same colours as the RGBA
// canvas, blends the same way, writes nothing outside the buffer, and refuses what it cannot draw on.
TEST(Canvas, OverACallersRgbBufferPaintsWhatAnRgbaCanvasPaints) {
  const auto scene = [](Canvas& c) {
    c.clear(Color{20, 30, 40, 255});
    c.set_transform(Transform::fit(-1.0f, -1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 37.0f, 23.0f));
    c.fill_polygon({{-0.8f, -0.6f}, {0.7f, -0.2f}, {0.1f, 0.9f}}, Color{200, 10, 90, 255});
    c.outline_circle({0.2f, 0.1f}, 0.5f, colors::kYellow, 2.0f);
    c.line({-1.0f, 0.8f}, {1.0f, -0.9f}, Color{0, 0, 255, 128}, 3.0f);  // blended
    c.set_transform(Transform{});
    c.text(2, 2, "Hi", colors::kWhite);
  };
  Canvas rgba(37, 23);
  scene(rgba);
  std::vector<std::uint8_t> buffer(37 * 23 * 3 + 16, 0xAB);
  Canvas rgb = Canvas::over(buffer.data(), 37, 23, 3);
  EXPECT_EQ(rgb.channels(), 3);
  EXPECT_EQ(rgb.size_bytes(), 37u * 23u * 3u);
  scene(rgb);
  for (int y = 0; y < 23; ++y)
    for (int x = 0; x < 37; ++x) ASSERT_EQ(rgb.pixel(x, y), rgba.pixel(x, y)) << x << ", " << y;
  for (std::size_t i = 37 * 23 * 3; i < buffer.size(); ++i) EXPECT_EQ(buffer[i], 0xAB);
  EXPECT_EQ(buffer[0], 20);  // drawn in place, row by row from the top
  // A copy owns its pixels; blitting an RGB canvas onto an RGBA one gives opaque pixels.
  Canvas copy = rgb;
  copy.clear(colors::kBlack);
  EXPECT_EQ(buffer[0], 20);
  Canvas onto(40, 30, colors::kWhite);
  onto.blit(rgb, 1, 2);
  EXPECT_EQ(onto.pixel(1, 2), (Color{20, 30, 40, 255}));
  EXPECT_THROW(Canvas::over(buffer.data(), 37, 23, 2), std::invalid_argument);
  EXPECT_THROW(Canvas::over(nullptr, 37, 23, 3), std::invalid_argument);
  EXPECT_THROW(Canvas::over(buffer.data(), 0, 23, 3), std::invalid_argument);
}

TEST(ImageIo, PngRoundTripKeepsEveryPixel) {
  Canvas c(64, 48, colors::kWhite);
  c.fill_polygon({{3, 3}, {60, 10}, {30, 45}}, Color{12, 200, 99, 255});
  c.text(4, 30, "Apiary 0.1", colors::kBlack);
  const auto dir = std::filesystem::temp_directory_path() / ("apiary_png_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "frame.png").string();
  save_png(c, path);
  const Canvas back = load_png(path);
  EXPECT_EQ(back.width(), 64);
  EXPECT_EQ(back.height(), 48);
  EXPECT_EQ(back.checksum(), c.checksum());
  // Nothing but the file is left in the folder (the temporary name was renamed).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  EXPECT_THROW(save_png(c, (dir / "missing" / "x.png").string()), std::runtime_error);
  EXPECT_THROW(load_png((dir / "nothing.png").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace apiary::render
