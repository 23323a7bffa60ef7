// The off-screen back end: a Canvas to and from PNG files through SDL2_image. No display or video
// driver is involved (the pixels go from memory into an SDL surface and out to the file), so it works
// on servers and in CI.
#pragma once

#include <string>

#include "render/canvas.h"

namespace apiary::render {

// Writes `canvas` as an RGBA PNG at `path`, atomically: a temporary file in the same folder is
// renamed over `path`, so a reader never sees half a frame. The folder must exist. Throws
// std::runtime_error naming the path and SDL's reason.
void save_png(const Canvas& canvas, const std::string& path);

// Reads any image SDL2_image can read into a Canvas (alpha is dropped: Apiary draws opaque images).
// Throws std::runtime_error naming the path.
Canvas load_png(const std::string& path);

}  // namespace apiary::render
