// MinAtar Space Invaders (minatar/environments/space_invaders.py). A cannon on the bottom row shoots
// at a 4 x 6 block of aliens that sweeps sideways and steps down at the edges; +1 per alien hit; the
// alien nearest the cannon shoots every 10 steps; an alien or alien bullet on the cannon ends the
// episode. Fewer aliens move faster; with ramping, each cleared wave makes the next one faster (down
// to one move every 6 steps). No draws at all. Channels: 0 cannon, 1 alien, 2 alien moving left,
// 3 alien moving right, 4 cannon bullet, 5 alien bullet.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "envs/minatar/common.h"

namespace apiary::envs::minatar {

class SpaceInvaders {
 public:
  static constexpr int kChannels = 6;
  // The registered ids: all six actions, and the minimal action set.
  static constexpr const char* kIdAllActions = "MinAtar/SpaceInvaders-v0";
  static constexpr const char* kIdMinimalActions = "MinAtar/SpaceInvaders-v1";
  static constexpr int kMinimalActions[] = {kNoop, kLeft, kRight, kFire};

  APIARY_HOST_DEVICE explicit SpaceInvaders(bool ramping = true) : ramping_(ramping) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& /*rng: draws nothing*/) {
    pos_ = 5;
    for (int r = 0; r < kGrid; ++r) friendly_[r] = enemy_[r] = aliens_[r] = 0;
    spawn_wave();
    alien_dir_ = -1;
    move_interval_ = kEnemyMoveInterval;
    alien_move_timer_ = move_interval_;
    alien_shot_timer_ = kEnemyShotInterval;
    ramp_index_ = 0;
    shot_timer_ = 0;
    terminal_ = false;
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& /*rng: draws nothing*/) {
    if (terminal_) return 0.0f;
    float reward = 0.0f;
    const Row cannon = bit(pos_);
    if (action == kFire && shot_timer_ == 0) {
      friendly_[9] |= cannon;
      shot_timer_ = kShotCoolDown;
    } else if (action == kLeft) {
      pos_ = std::max(0, pos_ - 1);
    } else if (action == kRight) {
      pos_ = std::min(9, pos_ + 1);
    }
    const Row player = bit(pos_);

    // Cannon bullets rise a row and alien bullets fall one; those leaving the grid are gone.
    for (int r = 0; r < 9; ++r) friendly_[r] = friendly_[r + 1];
    friendly_[9] = 0;
    for (int r = 9; r > 0; --r) enemy_[r] = enemy_[r - 1];
    enemy_[0] = 0;
    if (enemy_[9] & player) terminal_ = true;

    if (aliens_[9] & player) terminal_ = true;
    if (alien_move_timer_ == 0) {
      alien_move_timer_ = std::min(alien_count(), move_interval_);
      const Row columns = occupied_columns();
      if (((columns & bit(0)) && alien_dir_ < 0) || ((columns & bit(9)) && alien_dir_ > 0)) {
        alien_dir_ = -alien_dir_;
        if (aliens_[9]) terminal_ = true;
        // np.roll by one row: the bottom row comes back on top (the episode has ended then).
        const Row bottom = aliens_[9];
        for (int r = 9; r > 0; --r) aliens_[r] = aliens_[r - 1];
        aliens_[0] = bottom;
      } else {
        for (Row& row : aliens_) row = alien_dir_ > 0 ? rotate_right(row) : rotate_left(row);
      }
      if (aliens_[9] & player) terminal_ = true;
    }
    if (alien_shot_timer_ == 0) {
      alien_shot_timer_ = kEnemyShotInterval;
      shoot_from_nearest_alien();
    }

    int killed = 0;
    for (int r = 0; r < kGrid; ++r) {
      const Row hit = aliens_[r] & friendly_[r];
      killed += popcount(hit);
      aliens_[r] &= static_cast<Row>(~hit);
      friendly_[r] &= static_cast<Row>(~hit);
    }
    reward += static_cast<float>(killed);

    if (shot_timer_ > 0) --shot_timer_;
    --alien_move_timer_;
    --alien_shot_timer_;
    if (alien_count() == 0) {
      if (move_interval_ > 6 && ramping_) {
        --move_interval_;
        ++ramp_index_;
      }
      spawn_wave();
    }
    return reward;
  }

  APIARY_HOST_DEVICE bool terminal() const { return terminal_; }
  APIARY_HOST_DEVICE int difficulty_ramp() const { return ramp_index_; }

  APIARY_HOST_DEVICE void observe(std::uint8_t* obs) const {
    std::memset(obs, 0, kGrid * kGrid * kChannels);
    set_cell<kChannels>(obs, 9, pos_, 0);
    const int direction_channel = alien_dir_ < 0 ? 2 : 3;
    for (int r = 0; r < kGrid; ++r)
      for (int c = 0; c < kGrid; ++c) {
        if (aliens_[r] & bit(c)) {
          set_cell<kChannels>(obs, r, c, 1);
          set_cell<kChannels>(obs, r, c, direction_channel);
        }
        if (friendly_[r] & bit(c)) set_cell<kChannels>(obs, r, c, 4);
        if (enemy_[r] & bit(c)) set_cell<kChannels>(obs, r, c, 5);
      }
  }

 private:
  using Row = std::uint16_t;  // bit c: column c
  static constexpr int kShotCoolDown = 5;
  static constexpr int kEnemyMoveInterval = 12;
  static constexpr int kEnemyShotInterval = 10;

  APIARY_HOST_DEVICE static Row bit(int c) { return static_cast<Row>(1u << c); }
  APIARY_HOST_DEVICE static int popcount(Row row) { return popcount16(row); }
  // np.roll along the columns by +1 / -1: the edge column wraps (the edge check keeps it empty).
  APIARY_HOST_DEVICE static Row rotate_right(Row row) { return static_cast<Row>(((row << 1) | (row >> 9)) & 0x3FF); }
  APIARY_HOST_DEVICE static Row rotate_left(Row row) { return static_cast<Row>((row >> 1) | ((row & 1u) << 9)); }

  APIARY_HOST_DEVICE void spawn_wave() {
    for (int r = 0; r < 4; ++r) aliens_[r] = 0x0FC;  // rows 0..3, columns 2..7
  }
  APIARY_HOST_DEVICE int alien_count() const {
    int n = 0;
    for (Row row : aliens_) n += popcount(row);
    return n;
  }
  APIARY_HOST_DEVICE Row occupied_columns() const {
    Row columns = 0;
    for (Row row : aliens_) columns |= row;
    return columns;
  }

  // The lowest alien of the nearest column to the cannon that has one (the left one of two at the
  // same distance) drops a bullet in its own cell. There is always an alien here: a wave cleared in
  // the previous step was replaced at its end.
  APIARY_HOST_DEVICE void shoot_from_nearest_alien() {
    const Row columns = occupied_columns();
    for (int d = 0; d < kGrid; ++d)
      for (int c : {pos_ - d, pos_ + d}) {
        if (c < 0 || c > 9 || !(columns & bit(c))) continue;
        for (int r = 9; r >= 0; --r)
          if (aliens_[r] & bit(c)) {
            enemy_[r] |= bit(c);
            return;
          }
      }
  }

  bool ramping_;
  Row aliens_[kGrid] = {}, friendly_[kGrid] = {}, enemy_[kGrid] = {};
  int pos_ = 5, alien_dir_ = -1, move_interval_ = kEnemyMoveInterval;
  int alien_move_timer_ = kEnemyMoveInterval, alien_shot_timer_ = kEnemyShotInterval;
  int ramp_index_ = 0, shot_timer_ = 0;
  bool terminal_ = false;
};

}  // namespace apiary::envs::minatar
