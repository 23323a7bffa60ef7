// The SDL2 back end: a window that shows Canvas frames and reports keys. An on-screen window needs a
// display (X11, Wayland or KMS/DRM); where there is none it throws DisplayUnavailable with a message
// that says what to do instead. (SDL 2.26 would otherwise fall back silently to its invisible
// "offscreen" driver, and the user would wait for a window that never appears.) An off-screen window
// uses SDL's "offscreen" driver, or "dummy" where that is missing: no display at all, for servers and
// CI (`apiary play --headless`).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "render/display.h"

struct SDL_Window;

namespace apiary::render {

struct DisplayUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Window final : public Display {
 public:
  enum class Kind : std::uint8_t {
    kOnScreen,   // a real window; SDL_VIDEODRIVER may pick the driver, "offscreen"/"dummy" included
    kOffScreen,  // SDL's offscreen (or dummy) driver, whatever DISPLAY and SDL_VIDEODRIVER say
  };
  // Opens a `width` x `height` window titled `title`. Throws DisplayUnavailable when SDL's video
  // subsystem cannot start, finds no display (kOnScreen), or cannot make the window, naming SDL's reason.
  Window(const std::string& title, int width, int height, Kind kind = Kind::kOnScreen);
  ~Window() override;
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  void show(const Canvas& canvas) override;
  std::vector<InputEvent> poll() override;
  HeldKeys held() const override;
  // On-screen windows pace frames in real time; off-screen ones run as fast as they can.
  bool realtime() const override { return kind_ == Kind::kOnScreen; }
  void wait(int ms) override;

  // The SDL video driver in use ("x11", "wayland", ...).
  std::string driver() const;
  void set_title(const std::string& title);

 private:
  SDL_Window* window_ = nullptr;
  int width_;
  int height_;
  Kind kind_;
  std::vector<InputEvent> pending_;  // events read while waiting
};

}  // namespace apiary::render
