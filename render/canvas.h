// render/ draws on draw/'s canvas (draw/canvas.h), the one envs/ draw their pictures on; these names
// keep render/'s code and its callers short.
#pragma once

#include "draw/canvas.h"

namespace apiary::render {

using draw::Canvas;
using draw::Color;
using draw::Transform;
using draw::Vec2;
namespace colors = draw::colors;

}  // namespace apiary::render
