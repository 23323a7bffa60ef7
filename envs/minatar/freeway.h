// MinAtar Freeway (minatar/environments/freeway.py). A chicken crosses eight lanes of cars from the
// bottom row to the top; +1 per crossing, after which the car speeds are drawn anew; a car sends the
// chicken back to the bottom. The chicken moves at most once every 3 frames. The episode ends after
// 2500 frames (terminal on the 2501st step; a terminal state, not a truncation, as in the reference).
// No difficulty ramp. Channels: 0 chicken, 1 car, 2..6 trail of a car moving every 1..5 frames.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "envs/minatar/common.h"

namespace apiary::envs::minatar {

class Freeway {
 public:
  static constexpr int kChannels = 7;
  // The registered ids: all six actions, and the minimal action set.
  static constexpr const char* kIdAllActions = "MinAtar/Freeway-v0";
  static constexpr const char* kIdMinimalActions = "MinAtar/Freeway-v1";
  static constexpr int kMinimalActions[] = {kNoop, kUp, kDown};
  static constexpr int kTimeLimit = 2500;

  APIARY_HOST_DEVICE explicit Freeway(bool /*ramping: Freeway has no ramp*/ = true) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& rng) {
    randomize_cars(rng, true);
    pos_ = 9;
    move_timer_ = kPlayerSpeed;
    terminate_timer_ = kTimeLimit;
    terminal_ = false;
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& rng) {
    if (terminal_) return 0.0f;
    float reward = 0.0f;
    if (action == kUp && move_timer_ == 0) {
      move_timer_ = kPlayerSpeed;
      pos_ = std::max(0, pos_ - 1);
    } else if (action == kDown && move_timer_ == 0) {
      move_timer_ = kPlayerSpeed;
      pos_ = std::min(9, pos_ + 1);
    }
    if (pos_ == 0) {  // crossed
      reward += 1.0f;
      randomize_cars(rng, false);
      pos_ = 9;
    }
    for (int i = 0; i < kCars; ++i) {
      Car& car = cars_[i];
      const int row = i + 1;
      if (car.x == 4 && row == pos_) pos_ = 9;
      if (car.timer == 0) {
        car.timer = iabs(car.speed);
        car.x += car.speed > 0 ? 1 : -1;
        if (car.x < 0) car.x = 9;
        if (car.x > 9) car.x = 0;
        if (car.x == 4 && row == pos_) pos_ = 9;
      } else {
        --car.timer;
      }
    }
    if (move_timer_ > 0) --move_timer_;
    if (--terminate_timer_ < 0) terminal_ = true;
    return reward;
  }

  APIARY_HOST_DEVICE bool terminal() const { return terminal_; }

  APIARY_HOST_DEVICE void observe(std::uint8_t* obs) const {
    std::memset(obs, 0, kGrid * kGrid * kChannels);
    set_cell<kChannels>(obs, pos_, 4, 0);
    for (int i = 0; i < kCars; ++i) {
      const Car& car = cars_[i];
      set_cell<kChannels>(obs, i + 1, car.x, 1);
      int back = car.speed > 0 ? car.x - 1 : car.x + 1;
      if (back < 0) back = 9;
      if (back > 9) back = 0;
      const int speed = iabs(car.speed);
      if (speed >= 1) set_cell<kChannels>(obs, i + 1, back, 1 + speed);  // speed 0: see randomize_cars
    }
  }

  APIARY_HOST_DEVICE int chicken_row() const { return pos_; }

 private:
  static constexpr int kCars = 8;  // car i drives on row i + 1
  static constexpr int kPlayerSpeed = 3;

  struct Car {
    int x = 0;
    int timer = 0;  // frames until the car moves
    int speed = 1;  // frames per move, signed by direction (> 0: rightwards)
  };

  // Eight speeds in [1, 5], then eight directions: the sign of rand() - 0.5. A draw of exactly 0.5
  // gives speed 0 in the reference (a car moving left every frame, whose trail its state() cannot
  // draw); it is kept so here, without the trail. LaneDraws never draws 0.5.
  template <class R>
  APIARY_HOST_DEVICE void randomize_cars(R& rng, bool initialize) {
    int speeds[kCars];
    for (int& s : speeds) s = rng.randint(1, 6);
    for (int& s : speeds) {
      const double u = rng.rand() - 0.5;
      s *= u > 0 ? 1 : (u < 0 ? -1 : 0);
    }
    for (int i = 0; i < kCars; ++i) {
      if (initialize) cars_[i].x = 0;
      cars_[i].timer = iabs(speeds[i]);
      cars_[i].speed = speeds[i];
    }
  }

  Car cars_[kCars];
  int pos_ = 9, move_timer_ = kPlayerSpeed, terminate_timer_ = kTimeLimit;
  bool terminal_ = false;
};

}  // namespace apiary::envs::minatar
