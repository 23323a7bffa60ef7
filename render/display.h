// Where the player's frames go and where its keys come from: an SDL2 window (render/window.h), or
// nothing at all for headless runs. Tests drive the player with a scripted Display of their own.
#pragma once

#include <cstdint>
#include <vector>

#include "render/canvas.h"

namespace apiary::render {

// The keys `apiary play` reacts to (README, "Watching a policy").
enum class Key : std::uint8_t {
  kSpace,   // pause / resume
  kN,       // one step (pauses)
  kPlus,    // faster ('+', '=' or keypad '+')
  kMinus,   // slower ('-' or keypad '-')
  kR,       // reset: a new episode
  kH,       // human control on / off
  kQ,       // quit
  kEscape,  // quit
  kDigit,   // 0..9: a discrete action in human control (InputEvent::digit)
  kOther,
};

struct InputEvent {
  enum class Type : std::uint8_t { kKeyDown, kQuit };  // kQuit: the window was closed
  Type type = Type::kKeyDown;
  Key key = Key::kOther;
  int digit = -1;  // Key::kDigit: 0..9
};

// Keys held down now (human control reads them every step).
struct HeldKeys {
  bool left = false, right = false, up = false, down = false;
  bool fire = false;  // space: MinAtar's fire under human control (else space pauses)
};

class Display {
 public:
  virtual ~Display() = default;
  // Shows one frame (the canvas has the size the display was made for).
  virtual void show(const Canvas& canvas) = 0;
  // Events since the last call, oldest first.
  virtual std::vector<InputEvent> poll() = 0;
  virtual HeldKeys held() const = 0;
  // Whether frames are paced in real time (a window) or produced as fast as possible (headless).
  virtual bool realtime() const = 0;
  // Sleeps about `ms` milliseconds (a window keeps its events flowing meanwhile).
  virtual void wait(int ms) = 0;
};

// A display that shows nothing and never has input: `--headless`.
class HeadlessDisplay final : public Display {
 public:
  void show(const Canvas&) override {}
  std::vector<InputEvent> poll() override { return {}; }
  HeldKeys held() const override { return {}; }
  bool realtime() const override { return false; }
  void wait(int) override {}
};

}  // namespace apiary::render
