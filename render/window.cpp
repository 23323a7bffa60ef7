#include "render/window.h"

#include <algorithm>
#include <cstdlib>

#include <SDL.h>

namespace apiary::render {

namespace {

std::string no_display_message(const std::string& what, const char* sdl_error) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  std::string where = "DISPLAY is ";
  where += display && *display ? std::string("'") + display + "'" : std::string("not set");
  if (wayland && *wayland) where += std::string(", WAYLAND_DISPLAY is '") + wayland + "'";
  return "no display available: " + what + " (SDL: " + sdl_error + "; " + where +
         "). Use --headless to render off-screen (with --record DIR to keep the frames), or run under a "
         "display, e.g. xvfb-run";
}

bool translate(const SDL_KeyboardEvent& key, InputEvent& out) {
  out = InputEvent{};
  const SDL_Keycode sym = key.keysym.sym;
  switch (sym) {
    case SDLK_SPACE: out.key = Key::kSpace; return true;
    case SDLK_n: out.key = Key::kN; return true;
    case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: out.key = Key::kPlus; return true;
    case SDLK_MINUS: case SDLK_KP_MINUS: out.key = Key::kMinus; return true;
    case SDLK_r: out.key = Key::kR; return true;
    case SDLK_h: out.key = Key::kH; return true;
    case SDLK_q: out.key = Key::kQ; return true;
    case SDLK_ESCAPE: out.key = Key::kEscape; return true;
    default: break;
  }
  if (sym >= SDLK_0 && sym <= SDLK_9) {
    out.key = Key::kDigit;
    out.digit = static_cast<int>(sym - SDLK_0);
    return true;
  }
  if (sym >= SDLK_KP_1 && sym <= SDLK_KP_9) {
    out.key = Key::kDigit;
    out.digit = 1 + static_cast<int>(sym - SDLK_KP_1);
    return true;
  }
  if (sym == SDLK_KP_0) {
    out.key = Key::kDigit;
    out.digit = 0;
    return true;
  }
  return false;
}

}  // namespace

namespace {

bool is_invisible_driver(const char* name) {
  const std::string n = name ? name : "";
  return n == "offscreen" || n == "dummy" || n == "evdev";
}

}  // namespace

Window::Window(const std::string& title, int width, int height, Kind kind)
    : width_(width), height_(height), kind_(kind) {
  if (kind == Kind::kOffScreen) {
    // Override any SDL_VIDEODRIVER: off-screen means no display, even where one exists.
    SDL_SetHintWithPriority(SDL_HINT_VIDEODRIVER, "offscreen", SDL_HINT_OVERRIDE);
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
      SDL_SetHintWithPriority(SDL_HINT_VIDEODRIVER, "dummy", SDL_HINT_OVERRIDE);
      if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
        throw DisplayUnavailable(std::string("SDL has neither its offscreen nor its dummy video driver: ") +
                                 SDL_GetError());
    }
  } else {
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
      throw DisplayUnavailable(no_display_message("cannot start SDL's video subsystem", SDL_GetError()));
    // Without a display SDL falls back to an invisible driver; that is only wanted when asked for.
    const char* chosen = SDL_GetCurrentVideoDriver();
    const char* asked = std::getenv("SDL_VIDEODRIVER");
    if (is_invisible_driver(chosen) && !(asked && *asked)) {
      const std::string name = chosen ? chosen : "";
      SDL_QuitSubSystem(SDL_INIT_VIDEO);
      throw DisplayUnavailable(
          no_display_message("SDL found no X11, Wayland or KMS/DRM display", ("only its invisible '" + name + "' driver").c_str()));
    }
  }
  window_ = SDL_CreateWindow(title.c_str(), SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, width, height,
                             kind == Kind::kOnScreen ? SDL_WINDOW_SHOWN : SDL_WINDOW_HIDDEN);
  if (!window_) {
    const std::string error = SDL_GetError();
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    throw DisplayUnavailable(no_display_message("cannot open a window", error.c_str()));
  }
}

Window::~Window() {
  if (window_) SDL_DestroyWindow(window_);
  SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

std::string Window::driver() const {
  const char* name = SDL_GetCurrentVideoDriver();
  return name ? name : "";
}

void Window::set_title(const std::string& title) { SDL_SetWindowTitle(window_, title.c_str()); }

void Window::show(const Canvas& canvas) {
  // The window surface is SDL's own buffer for the window; it can change after a resize or expose,
  // so it is fetched for every frame.
  SDL_Surface* target = SDL_GetWindowSurface(window_);
  if (!target) throw std::runtime_error(std::string("window: no surface to draw on: ") + SDL_GetError());
  SDL_Surface* frame = SDL_CreateRGBSurfaceWithFormatFrom(
      const_cast<std::uint8_t*>(canvas.data()), canvas.width(), canvas.height(), 8 * canvas.channels(),
      canvas.width() * canvas.channels(), canvas.channels() == 4 ? SDL_PIXELFORMAT_RGBA32 : SDL_PIXELFORMAT_RGB24);
  if (!frame) throw std::runtime_error(std::string("window: cannot wrap the frame: ") + SDL_GetError());
  SDL_SetSurfaceBlendMode(frame, SDL_BLENDMODE_NONE);
  SDL_BlitSurface(frame, nullptr, target, nullptr);
  SDL_FreeSurface(frame);
  SDL_UpdateWindowSurface(window_);
}

std::vector<InputEvent> Window::poll() {
  std::vector<InputEvent> events;
  events.swap(pending_);
  SDL_Event e;
  while (SDL_PollEvent(&e)) {
    if (e.type == SDL_QUIT || (e.type == SDL_WINDOWEVENT && e.window.event == SDL_WINDOWEVENT_CLOSE)) {
      InputEvent quit;
      quit.type = InputEvent::Type::kQuit;
      events.push_back(quit);
    } else if (e.type == SDL_KEYDOWN) {
      InputEvent key;
      // Auto-repeat steps and speed changes, nothing else (a held space would flicker pause).
      if (translate(e.key, key) && (!e.key.repeat || key.key == Key::kN || key.key == Key::kPlus ||
                                    key.key == Key::kMinus))
        events.push_back(key);
    }
  }
  return events;
}

HeldKeys Window::held() const {
  const Uint8* state = SDL_GetKeyboardState(nullptr);
  HeldKeys keys;
  keys.left = state[SDL_SCANCODE_LEFT] != 0;
  keys.right = state[SDL_SCANCODE_RIGHT] != 0;
  keys.up = state[SDL_SCANCODE_UP] != 0;
  keys.down = state[SDL_SCANCODE_DOWN] != 0;
  keys.fire = state[SDL_SCANCODE_SPACE] != 0;
  return keys;
}

void Window::wait(int ms) {
  // Short sleeps with the event queue drained between them, so the window stays responsive.
  const Uint32 end = SDL_GetTicks() + static_cast<Uint32>(ms > 0 ? ms : 0);
  while (true) {
    auto events = poll();
    pending_.insert(pending_.end(), events.begin(), events.end());
    if (!pending_.empty()) return;
    const Uint32 now = SDL_GetTicks();
    if (static_cast<Sint32>(end - now) <= 0) return;
    SDL_Delay(std::min<Uint32>(5, end - now));
  }
}

}  // namespace apiary::render
