// MinAtar Breakout (minatar/environments/breakout.py). A paddle on the bottom row bounces a ball
// that travels on diagonals; +1 per brick broken; three rows of bricks come back when all are gone;
// the episode ends when the ball reaches the bottom row beside the paddle. No difficulty ramp.
// Channels: 0 paddle, 1 ball, 2 trail (the ball's previous cell), 3 brick.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "envs/minatar/common.h"

namespace apiary::envs::minatar {

class Breakout {
 public:
  static constexpr int kChannels = 4;
  // The registered ids: all six actions, and the minimal action set.
  static constexpr const char* kIdAllActions = "MinAtar/Breakout-v0";
  static constexpr const char* kIdMinimalActions = "MinAtar/Breakout-v1";
  static constexpr int kMinimalActions[] = {kNoop, kLeft, kRight};

  APIARY_HOST_DEVICE explicit Breakout(bool /*ramping: Breakout has no ramp*/ = true) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& rng) {
    ball_y_ = 3;
    const bool from_right = rng.randint(0, 2) == 1;
    ball_x_ = from_right ? 9 : 0;
    dir_ = from_right ? kDownLeft : kDownRight;
    paddle_ = 4;
    fill_bricks();
    strike_ = false;
    last_x_ = ball_x_;
    last_y_ = ball_y_;
    terminal_ = false;
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& /*rng: draws nothing*/) {
    if (terminal_) return 0.0f;
    float reward = 0.0f;
    if (action == kLeft) paddle_ = std::max(0, paddle_ - 1);
    if (action == kRight) paddle_ = std::min(9, paddle_ + 1);

    last_x_ = ball_x_;
    last_y_ = ball_y_;
    int x = ball_x_ + (dir_ == kUpRight || dir_ == kDownRight ? 1 : -1);
    int y = ball_y_ + (dir_ == kUpLeft || dir_ == kUpRight ? -1 : 1);
    bool hit_brick = false;
    if (x < 0 || x > 9) {  // side wall
      x = std::clamp(x, 0, 9);
      dir_ = flip_x(dir_);
    }
    if (y < 0) {  // ceiling
      y = 0;
      dir_ = flip_y(dir_);
    } else if (brick(y, x)) {
      hit_brick = true;
      // One brick per contact: a ball that struck last step passes into the next brick unharmed.
      if (!strike_) {
        reward += 1.0f;
        strike_ = true;
        bricks_[y] &= static_cast<std::uint16_t>(~(1u << x));
        y = last_y_;
        dir_ = flip_y(dir_);
      }
    } else if (y == 9) {
      if (no_bricks()) fill_bricks();
      if (ball_x_ == paddle_) {  // onto the paddle: straight back up
        dir_ = flip_y(dir_);
        y = last_y_;
      } else if (x == paddle_) {  // onto the paddle's corner: back the way it came
        dir_ = flip_xy(dir_);
        y = last_y_;
      } else {
        terminal_ = true;
      }
    }
    if (!hit_brick) strike_ = false;
    ball_x_ = x;
    ball_y_ = y;
    return reward;
  }

  APIARY_HOST_DEVICE bool terminal() const { return terminal_; }

  APIARY_HOST_DEVICE void observe(std::uint8_t* obs) const {
    std::memset(obs, 0, kGrid * kGrid * kChannels);
    set_cell<kChannels>(obs, ball_y_, ball_x_, 1);
    set_cell<kChannels>(obs, 9, paddle_, 0);
    set_cell<kChannels>(obs, last_y_, last_x_, 2);
    for (int r = 0; r < kGrid; ++r)
      for (int c = 0; c < kGrid; ++c)
        if (brick(r, c)) set_cell<kChannels>(obs, r, c, 3);
  }

  APIARY_HOST_DEVICE int paddle() const { return paddle_; }
  APIARY_HOST_DEVICE int ball_x() const { return ball_x_; }
  APIARY_HOST_DEVICE int ball_y() const { return ball_y_; }

 private:
  // The reference's ball_dir values.
  enum Dir : int { kUpLeft = 0, kUpRight = 1, kDownRight = 2, kDownLeft = 3 };
  APIARY_HOST_DEVICE static int flip_x(int d) { return d ^ 1; }       // [1, 0, 3, 2]
  APIARY_HOST_DEVICE static int flip_y(int d) { return 3 - d; }       // [3, 2, 1, 0]
  APIARY_HOST_DEVICE static int flip_xy(int d) { return (d + 2) & 3; }  // [2, 3, 0, 1]

  APIARY_HOST_DEVICE bool brick(int r, int c) const { return (bricks_[r] >> c) & 1u; }
  APIARY_HOST_DEVICE bool no_bricks() const {
    for (std::uint16_t row : bricks_)
      if (row != 0) return false;
    return true;
  }
  APIARY_HOST_DEVICE void fill_bricks() {
    for (int r = 0; r < kGrid; ++r) bricks_[r] = (r >= 1 && r <= 3) ? 0x3FF : 0;
  }

  std::uint16_t bricks_[kGrid] = {};  // bit c of row r: a brick at (r, c)
  int ball_x_ = 0, ball_y_ = 3, last_x_ = 0, last_y_ = 3, dir_ = kDownRight, paddle_ = 4;
  bool strike_ = false, terminal_ = false;
};

}  // namespace apiary::envs::minatar
