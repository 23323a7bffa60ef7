#include "render/gif.h"

#include <fcntl.h>
#include <gif_lib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace apiary::render {

namespace {

std::runtime_error gif_error(const std::string& path, const char* what, int code) {
  const char* reason = GifErrorString(code);
  return std::runtime_error("GIF " + path + ": " + what + " failed" + (reason ? std::string(": ") + reason : ""));
}

// Indexes a frame by its own colours when it has at most 256; false (and nothing promised) otherwise.
bool exact_palette(const std::uint8_t* pixels, std::size_t n, int channels, GifByteType* indices, GifColorType* palette,
                   std::unordered_map<std::uint32_t, GifByteType>& lookup) {
  lookup.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = pixels + i * static_cast<std::size_t>(channels);
    const std::uint32_t key = (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
    auto it = lookup.find(key);
    if (it == lookup.end()) {
      if (lookup.size() == 256) return false;
      const auto index = static_cast<GifByteType>(lookup.size());
      palette[index] = GifColorType{p[0], p[1], p[2]};
      it = lookup.emplace(key, index).first;
    }
    indices[i] = it->second;
  }
  return true;
}

}  // namespace

struct GifRecorder::Impl {
  std::string path, temp;
  int width = 0, height = 0, delay = 2, frames = 0;
  GifFileType* gif = nullptr;
  // One frame's planes and palette indices (giflib's quantiser reads planes).
  std::vector<GifByteType> r, g, b, indices;
  std::unordered_map<std::uint32_t, GifByteType> lookup;

  void abandon() {
    if (gif != nullptr) {
      int code = 0;
      EGifCloseFile(gif, &code);
      gif = nullptr;
      std::remove(temp.c_str());
    }
  }
};

GifRecorder::GifRecorder(const std::string& path, int width, int height, double fps) : impl_(std::make_unique<Impl>()) {
  if (width < 1 || width > 65535 || height < 1 || height > 65535)
    throw std::invalid_argument("GIF " + path + ": frames of " + std::to_string(width) + " x " +
                                std::to_string(height) + " pixels (1 to 65535 each way)");
  if (!(fps > 0.0 && fps <= 100.0))
    throw std::invalid_argument("GIF " + path + ": " + std::to_string(fps) + " frames a second (more than 0, at most 100)");
  Impl& m = *impl_;
  m.path = path;
  m.temp = path + ".partial";
  m.width = width;
  m.height = height;
  m.delay = std::max(1, static_cast<int>(std::lround(100.0 / fps)));
  // Opened here rather than by EGifOpenFileName, which makes files only their owner can read.
  const int fd = ::open(m.temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) throw std::runtime_error("GIF " + path + ": cannot create " + m.temp + ": " + std::strerror(errno));
  int code = 0;
  m.gif = EGifOpenFileHandle(fd, &code);
  if (m.gif == nullptr) {
    ::close(fd);
    std::remove(m.temp.c_str());
    throw gif_error(path, "opening", code);
  }
  EGifSetGifVersion(m.gif, true);  // GIF89a: delays and the looping extension
  if (EGifPutScreenDesc(m.gif, width, height, 8, 0, nullptr) == GIF_ERROR) {
    code = m.gif->Error;
    m.abandon();
    throw gif_error(path, "writing the header", code);
  }
  // NETSCAPE2.0: loop for ever.
  const GifByteType app[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
  const GifByteType loop[] = {1, 0, 0};
  if (EGifPutExtensionLeader(m.gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
      EGifPutExtensionBlock(m.gif, sizeof(app), app) == GIF_ERROR ||
      EGifPutExtensionBlock(m.gif, sizeof(loop), loop) == GIF_ERROR || EGifPutExtensionTrailer(m.gif) == GIF_ERROR) {
    code = m.gif->Error;
    m.abandon();
    throw gif_error(path, "writing the loop extension", code);
  }
}

GifRecorder::~GifRecorder() { impl_->abandon(); }

int GifRecorder::frames() const { return impl_->frames; }

void GifRecorder::add(const std::uint8_t* pixels, int width, int height, int channels) {
  Impl& m = *impl_;
  if (m.gif == nullptr) throw std::logic_error("GIF " + m.path + ": add() after close()");
  if (width != m.width || height != m.height || (channels != 3 && channels != 4) || pixels == nullptr)
    throw std::invalid_argument("GIF " + m.path + ": a frame of " + std::to_string(width) + " x " +
                                std::to_string(height) + " x " + std::to_string(channels) + " where the file is " +
                                std::to_string(m.width) + " x " + std::to_string(m.height) + " RGB(A)");
  const std::size_t n = static_cast<std::size_t>(width) * height;
  m.r.resize(n);
  m.g.resize(n);
  m.b.resize(n);
  m.indices.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    m.r[i] = pixels[i * channels];
    m.g[i] = pixels[i * channels + 1];
    m.b[i] = pixels[i * channels + 2];
  }
  // The frame's own colours where there are at most 256 (env pictures: exact); else giflib's median-cut
  // quantiser (5 bits a channel).
  GifColorType palette[256] = {};
  if (!exact_palette(pixels, n, channels, m.indices.data(), palette, m.lookup)) {
    int colours = 256;
    if (GifQuantizeBuffer(static_cast<unsigned>(width), static_cast<unsigned>(height), &colours, m.r.data(),
                          m.g.data(), m.b.data(), m.indices.data(), palette) == GIF_ERROR)
      throw std::runtime_error("GIF " + m.path + ": quantising frame " + std::to_string(m.frames) + " failed");
  }
  ColorMapObject* map = GifMakeMapObject(256, palette);
  if (map == nullptr) throw std::runtime_error("GIF " + m.path + ": out of memory for a palette");
  GraphicsControlBlock control{};
  control.DisposalMode = DISPOSE_DO_NOT;
  control.DelayTime = m.delay;
  control.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType control_bytes[4];
  EGifGCBToExtension(&control, control_bytes);
  bool ok = EGifPutExtension(m.gif, GRAPHICS_EXT_FUNC_CODE, sizeof(control_bytes), control_bytes) != GIF_ERROR &&
            EGifPutImageDesc(m.gif, 0, 0, width, height, false, map) != GIF_ERROR;
  for (int y = 0; ok && y < height; ++y)
    ok = EGifPutLine(m.gif, m.indices.data() + static_cast<std::size_t>(y) * width, width) != GIF_ERROR;
  GifFreeMapObject(map);
  if (!ok) throw gif_error(m.path, ("writing frame " + std::to_string(m.frames)).c_str(), m.gif->Error);
  ++m.frames;
}

void GifRecorder::close() {
  Impl& m = *impl_;
  if (m.gif == nullptr) return;
  int code = 0;
  const int result = EGifCloseFile(m.gif, &code);
  m.gif = nullptr;
  if (result == GIF_ERROR) {
    std::remove(m.temp.c_str());
    throw gif_error(m.path, "closing", code);
  }
  if (std::rename(m.temp.c_str(), m.path.c_str()) != 0) {
    std::remove(m.temp.c_str());
    throw std::runtime_error("GIF " + m.path + ": cannot rename " + m.temp + " over it");
  }
}

}  // namespace apiary::render
