#include "render/image_io.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <SDL.h>
#include <SDL_image.h>

namespace apiary::render {

namespace {

// IMG_Init once per process: SDL2_image loads its PNG codec on demand.
void init_png_codec() {
  static const bool ok = (IMG_Init(IMG_INIT_PNG) & IMG_INIT_PNG) != 0;
  (void)ok;  // IMG_SavePNG works without libpng (built-in encoder) when this fails
}

std::atomic<unsigned> g_temp_counter{0};

}  // namespace

void save_png(const Canvas& canvas, const std::string& path) {
  init_png_codec();
  // The surface borrows the canvas's bytes (SDL does not write to them when saving).
  SDL_Surface* surface = SDL_CreateRGBSurfaceWithFormatFrom(
      const_cast<std::uint8_t*>(canvas.data()), canvas.width(), canvas.height(), 8 * canvas.channels(),
      canvas.width() * canvas.channels(), canvas.channels() == 4 ? SDL_PIXELFORMAT_RGBA32 : SDL_PIXELFORMAT_RGB24);
  if (!surface) throw std::runtime_error("PNG " + path + ": cannot make an SDL surface: " + SDL_GetError());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_temp_counter++);
  const int rc = IMG_SavePNG(surface, tmp.c_str());
  SDL_FreeSurface(surface);
  if (rc != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("PNG " + path + ": cannot write: " + IMG_GetError());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error("PNG " + path + ": cannot rename the temporary file: " + ec.message());
  }
}

Canvas load_png(const std::string& path) {
  init_png_codec();
  SDL_Surface* loaded = IMG_Load(path.c_str());
  if (!loaded) throw std::runtime_error("image " + path + ": cannot read: " + IMG_GetError());
  SDL_Surface* rgba = SDL_ConvertSurfaceFormat(loaded, SDL_PIXELFORMAT_RGBA32, 0);
  SDL_FreeSurface(loaded);
  if (!rgba) throw std::runtime_error("image " + path + ": cannot convert to RGBA: " + SDL_GetError());
  Canvas canvas(rgba->w, rgba->h);
  SDL_LockSurface(rgba);
  for (int y = 0; y < rgba->h; ++y) {
    const auto* row = static_cast<const std::uint8_t*>(rgba->pixels) + static_cast<std::ptrdiff_t>(y) * rgba->pitch;
    for (int x = 0; x < rgba->w; ++x)
      canvas.put(x, y, Color{row[4 * x], row[4 * x + 1], row[4 * x + 2], 255});
  }
  SDL_UnlockSurface(rgba);
  SDL_FreeSurface(rgba);
  return canvas;
}

}  // namespace apiary::render
