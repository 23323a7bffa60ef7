// The built-in bitmap font: 5 x 7 pixel glyphs for printable ASCII (32..126), drawn for Apiary (there
// is no SDL2_ttf in the stack, and no font file to ship). Each glyph cell is 6 x 9 pixels: the glyph,
// one column of spacing on the right and two rows of spacing below.
#pragma once

#include <array>
#include <cstdint>

namespace apiary::draw::font {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kAdvance = 6;     // pixels from one character's left edge to the next's
inline constexpr int kLineHeight = 9;  // pixels from one line's top to the next's

// Seven rows, top first; bit 4 of a row is the leftmost column. Characters outside 32..126 give '?'.
const std::array<std::uint8_t, kGlyphHeight>& glyph(char c);

}  // namespace apiary::draw::font
