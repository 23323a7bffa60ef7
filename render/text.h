// Text for pictures made for people (the heads-up display, `apiary plot`): DejaVu Sans through SDL2_ttf,
// anti-aliased and blended onto a Canvas, horizontal or turned a quarter anticlockwise (a y-axis label
// reads bottom to top). Observations never use it: env pictures keep the dependency-free drawing.
//
// The font is Debian's fonts-dejavu-core, found when the project is configured. Where it or FreeType
// cannot be loaded, text falls back to the canvas's 5 x 7 bitmap font at the nearest scale, so a
// picture is always drawn; `truetype()` says which.
#pragma once

#include <string>
#include <string_view>

#include "render/canvas.h"

namespace apiary::render {

// Whether text is drawn with the TrueType font (false: the bitmap fallback).
bool truetype();
// The font file in use ("" with the fallback).
std::string font_file();

// `text` with its top-left corner at (x, y) in pixels, `size` pixels from ascent to descent; `vertical`
// turns it a quarter anticlockwise about its top-left corner, so it runs upwards from (x, y + width).
void draw_text(Canvas& canvas, int x, int y, std::string_view text, Color color, int size, bool vertical = false);
// The width and height draw_text would cover when horizontal.
int text_width(std::string_view text, int size);
int text_height(int size);

}  // namespace apiary::render
