#include "render/text.h"

#include <SDL.h>
#include <SDL_ttf.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

namespace apiary::render {

namespace {

// SDL2_ttf is not thread-safe: every use goes through this lock.
struct Fonts {
  std::mutex mutex;
  bool tried = false, ok = false;
  std::map<int, TTF_Font*> by_size;

  bool init() {
    if (tried) return ok;
    tried = true;
#ifdef APIARY_FONT_FILE
    ok = TTF_WasInit() != 0 || TTF_Init() == 0;
    if (ok) {
      TTF_Font* probe = TTF_OpenFont(APIARY_FONT_FILE, 12);
      ok = probe != nullptr;
      if (probe) TTF_CloseFont(probe);
    }
#endif
    return ok;
  }

  // The font at `size` pixels, opened once (nullptr when TrueType is unavailable).
  TTF_Font* at(int size) {
    if (!init()) return nullptr;
    size = std::clamp(size, 4, 200);
    auto it = by_size.find(size);
    if (it != by_size.end()) return it->second;
#ifdef APIARY_FONT_FILE
    TTF_Font* font = TTF_OpenFont(APIARY_FONT_FILE, size);
    if (font != nullptr) TTF_SetFontHinting(font, TTF_HINTING_LIGHT);
    by_size[size] = font;
    return font;
#else
    return nullptr;
#endif
  }
};

Fonts& fonts() {
  static Fonts f;
  return f;
}

// The bitmap fallback's scale for a font of `size` pixels (its glyphs are 7 tall in a 9 line).
int bitmap_scale(int size) { return std::max(1, static_cast<int>(std::lround(size / 9.0))); }

}  // namespace

bool truetype() {
  Fonts& f = fonts();
  const std::lock_guard<std::mutex> lock(f.mutex);
  return f.init();
}

std::string font_file() {
#ifdef APIARY_FONT_FILE
  return truetype() ? APIARY_FONT_FILE : "";
#else
  return "";
#endif
}

void draw_text(Canvas& canvas, int x, int y, std::string_view text, Color color, int size, bool vertical) {
  if (text.empty()) return;
  Fonts& f = fonts();
  SDL_Surface* rendered = nullptr;
  {
    const std::lock_guard<std::mutex> lock(f.mutex);
    if (TTF_Font* font = f.at(size)) {
      const std::string s(text);
      const SDL_Color white{255, 255, 255, 255};
      SDL_Surface* blended = TTF_RenderUTF8_Blended(font, s.c_str(), white);
      if (blended != nullptr) {
        rendered = SDL_ConvertSurfaceFormat(blended, SDL_PIXELFORMAT_RGBA32, 0);
        SDL_FreeSurface(blended);
      }
    }
  }
  if (rendered == nullptr) {  // the bitmap fallback (no rotation: it stacks letters when vertical)
    const int scale = bitmap_scale(size);
    if (!vertical) {
      canvas.text(x, y, text, color, scale);
    } else {
      int row = y + Canvas::text_width(text, scale);
      for (const char c : text) {
        row -= 6 * scale;
        canvas.text(x, row, std::string_view(&c, 1), color, scale);
      }
    }
    return;
  }
  // The glyphs' coverage is the rendered alpha: blend `color` by it.
  const auto* pixels = static_cast<const std::uint8_t*>(rendered->pixels);
  const int w = rendered->w, h = rendered->h;
  for (int row = 0; row < h; ++row)
    for (int col = 0; col < w; ++col) {
      const std::uint8_t alpha = pixels[static_cast<std::size_t>(row) * rendered->pitch + col * 4 + 3];
      if (alpha == 0) continue;
      const Color c{color.r, color.g, color.b, static_cast<std::uint8_t>(alpha * color.a / 255)};
      if (vertical)
        canvas.put(x + row, y + (w - 1 - col), c);  // a quarter anticlockwise: reads upwards
      else
        canvas.put(x + col, y + row, c);
    }
  SDL_FreeSurface(rendered);
}

int text_width(std::string_view text, int size) {
  Fonts& f = fonts();
  {
    const std::lock_guard<std::mutex> lock(f.mutex);
    if (TTF_Font* font = f.at(size)) {
      int w = 0, h = 0;
      if (TTF_SizeUTF8(font, std::string(text).c_str(), &w, &h) == 0) return w;
    }
  }
  return Canvas::text_width(text, bitmap_scale(size));
}

int text_height(int size) {
  Fonts& f = fonts();
  {
    const std::lock_guard<std::mutex> lock(f.mutex);
    if (TTF_Font* font = f.at(size)) return TTF_FontHeight(font);
  }
  return 7 * bitmap_scale(size);
}

}  // namespace apiary::render
