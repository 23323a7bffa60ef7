// The animated GIF recorder (render/gif.h): frames read back by giflib's own decoder are the frames
// written, with their delay and the looping extension; bad sizes and paths are refused by name, and an
// abandoned recording leaves nothing behind.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "render/gif.h"

namespace apiary::render {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("apiary_gif_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A width x height RGB frame: four coloured quadrants shifted by `shift` columns.
std::vector<std::uint8_t> quadrants(int width, int height, int shift) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  const std::uint8_t colours[4][3] = {{255, 0, 0}, {0, 200, 0}, {0, 0, 255}, {102, 204, 102}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const int q = (((x + shift) % width) >= width / 2 ? 1 : 0) + (y >= height / 2 ? 2 : 0);
      for (int c = 0; c < 3; ++c) rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c] = colours[q][c];
    }
  return rgb;
}

TEST(Gif, FramesReadBackAsWrittenWithTheirDelayAndLooping) {
  TempDir dir;
  const std::string path = (dir.path / "play.gif").string();
  const int w = 40, h = 30;
  std::vector<std::vector<std::uint8_t>> written;
  {
    GifRecorder gif(path, w, h, 50.0);
    for (int f = 0; f < 3; ++f) {
      written.push_back(quadrants(w, h, 7 * f));
      gif.add(written.back().data(), w, h, 3);
    }
    // An RGBA frame gives the same picture (alpha ignored).
    std::vector<std::uint8_t> rgba;
    for (std::size_t i = 0; i < written[0].size(); i += 3)
      rgba.insert(rgba.end(), {written[0][i], written[0][i + 1], written[0][i + 2], 17});
    gif.add(rgba.data(), w, h, 4);
    written.push_back(written[0]);
    EXPECT_EQ(gif.frames(), 4);
    EXPECT_FALSE(fs::exists(path)) << "nothing at the path before close()";
    gif.close();
  }
  ASSERT_TRUE(fs::exists(path));
  int code = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &code);
  ASSERT_NE(gif, nullptr) << GifErrorString(code);
  ASSERT_EQ(DGifSlurp(gif), GIF_OK);
  EXPECT_EQ(gif->SWidth, w);
  EXPECT_EQ(gif->SHeight, h);
  ASSERT_EQ(gif->ImageCount, 4);
  bool loops = false;
  for (int f = 0; f < gif->ImageCount; ++f) {
    const SavedImage& image = gif->SavedImages[f];
    GraphicsControlBlock control{};
    ASSERT_EQ(DGifSavedExtensionToGCB(gif, f, &control), GIF_OK);
    EXPECT_EQ(control.DelayTime, 2) << "50 fps is 2 hundredths a frame";
    const ColorMapObject* map = image.ImageDesc.ColorMap ? image.ImageDesc.ColorMap : gif->SColorMap;
    ASSERT_NE(map, nullptr);
    for (int i = 0; i < w * h; ++i) {
      const GifColorType c = map->Colors[image.RasterBits[i]];
      const std::uint8_t* expected = written[static_cast<std::size_t>(f)].data() + static_cast<std::size_t>(i) * 3;
      ASSERT_EQ(int(c.Red), int(expected[0])) << "frame " << f << " pixel " << i;
      ASSERT_EQ(int(c.Green), int(expected[1]));
      ASSERT_EQ(int(c.Blue), int(expected[2]));
    }
    for (int e = 0; e < image.ExtensionBlockCount; ++e) {
      const ExtensionBlock& block = image.ExtensionBlocks[e];
      if (block.Function == APPLICATION_EXT_FUNC_CODE && block.ByteCount == 11 &&
          std::string(reinterpret_cast<const char*>(block.Bytes), 11) == "NETSCAPE2.0")
        loops = true;
    }
  }
  EXPECT_TRUE(loops) << "the NETSCAPE2.0 looping extension";
  DGifCloseFile(gif, &code);
}

TEST(Gif, AFrameOfMoreThan256ColoursIsQuantisedClosely) {
  TempDir dir;
  const std::string path = (dir.path / "gradient.gif").string();
  const int w = 64, h = 64;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = rgb.data() + (static_cast<std::size_t>(y) * w + x) * 3;
      p[0] = static_cast<std::uint8_t>(4 * x);
      p[1] = static_cast<std::uint8_t>(4 * y);
      p[2] = 128;
    }
  {
    GifRecorder gif(path, w, h, 30.0);
    gif.add(rgb.data(), w, h, 3);
    gif.close();
  }
  int code = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &code);
  ASSERT_NE(gif, nullptr);
  ASSERT_EQ(DGifSlurp(gif), GIF_OK);
  ASSERT_EQ(gif->ImageCount, 1);
  const SavedImage& image = gif->SavedImages[0];
  const ColorMapObject* map = image.ImageDesc.ColorMap ? image.ImageDesc.ColorMap : gif->SColorMap;
  int worst = 0;
  double total = 0.0;
  for (int i = 0; i < w * h; ++i) {
    const GifColorType c = map->Colors[image.RasterBits[i]];
    const int e[3] = {std::abs(int(c.Red) - int(rgb[3 * i])), std::abs(int(c.Green) - int(rgb[3 * i + 1])),
                      std::abs(int(c.Blue) - int(rgb[3 * i + 2]))};
    worst = std::max({worst, e[0], e[1], e[2]});
    total += e[0] + e[1] + e[2];
  }
  // 4096 colours in 256 cells of 16 x 16 levels: about 8 off on average, at most a cell's width.
  EXPECT_LE(total / (3.0 * w * h), 10.0);
  EXPECT_LE(worst, 40);
  EXPECT_GT(worst, 0) << "this frame needs the quantiser";
  DGifCloseFile(gif, &code);
}

TEST(Gif, BadSizesPathsAndFramesAreRefusedNamingThePath) {
  TempDir dir;
  const std::string path = (dir.path / "bad.gif").string();
  EXPECT_THROW(GifRecorder(path, 0, 10, 50.0), std::invalid_argument);
  EXPECT_THROW(GifRecorder(path, 10, 10, 0.0), std::invalid_argument);
  EXPECT_THROW(GifRecorder(path, 10, 10, 500.0), std::invalid_argument);
  try {
    GifRecorder gif((dir.path / "no_such_folder" / "x.gif").string(), 10, 10, 50.0);
    FAIL() << "an unwritable path";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_folder"), std::string::npos) << e.what();
  }
  GifRecorder gif(path, 10, 10, 50.0);
  const std::vector<std::uint8_t> small(9 * 10 * 3, 0);
  EXPECT_THROW(gif.add(small.data(), 9, 10, 3), std::invalid_argument);
  EXPECT_THROW(gif.add(small.data(), 10, 9, 2), std::invalid_argument);
}

TEST(Gif, AnAbandonedRecordingLeavesNothing) {
  TempDir dir;
  const std::string path = (dir.path / "abandoned.gif").string();
  {
    GifRecorder gif(path, 8, 8, 25.0);
    const std::vector<std::uint8_t> frame = quadrants(8, 8, 0);
    gif.add(frame.data(), 8, 8, 3);
  }
  EXPECT_TRUE(fs::is_empty(dir.path)) << "neither the file nor its temporary";
}

}  // namespace
}  // namespace apiary::render
