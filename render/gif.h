// Animated GIF files of what `apiary play` shows (`--record FILE.gif`), through giflib (Debian's
// libgif-dev): each frame gets its own palette (its exact colours where it has at most 256, as env
// pictures do; giflib's median-cut quantiser otherwise), a frame delay, and the file loops forever. The file is written to a
// temporary name beside the target and renamed over it by close(), so a reader never sees half a file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace apiary::render {

class GifRecorder {
 public:
  // Starts `path` (its folder must exist) for frames of width x height pixels shown `fps` times a
  // second (GIF delays are in hundredths of a second: 50 fps is 2, at least 1). Throws
  // std::invalid_argument for sizes outside 1..65535 or fps outside (0, 100], std::runtime_error
  // naming the path and giflib's reason when the file cannot be written.
  GifRecorder(const std::string& path, int width, int height, double fps);
  ~GifRecorder();  // abandons an unclosed file: the temporary goes, `path` is untouched
  GifRecorder(const GifRecorder&) = delete;
  GifRecorder& operator=(const GifRecorder&) = delete;

  // Appends a frame: `pixels` rows from the top, `channels` 3 (RGB) or 4 (RGBA, alpha ignored) bytes a
  // pixel, width x height of them. Throws std::invalid_argument for another size or channel count.
  void add(const std::uint8_t* pixels, int width, int height, int channels);
  int frames() const;
  // Finishes the file and renames it to `path`. Throws std::runtime_error naming the path.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apiary::render
