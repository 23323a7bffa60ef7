// MinAtar Asterix (minatar/environments/asterix.py). The player moves in four directions; enemies and
// gold enter from the sides, one per row 1..8; +1 per gold picked up; touching an enemy ends the
// episode. With ramping, every 100 steps spawns come faster and, every other time, moves too.
// Channels: 0 player, 1 enemy, 2 trail (the cell behind an enemy or gold), 3 gold.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "envs/minatar/common.h"

namespace apiary::envs::minatar {

class Asterix {
 public:
  static constexpr int kChannels = 4;
  // The registered ids: all six actions, and the minimal action set.
  static constexpr const char* kIdAllActions = "MinAtar/Asterix-v0";
  static constexpr const char* kIdMinimalActions = "MinAtar/Asterix-v1";
  static constexpr int kMinimalActions[] = {kNoop, kLeft, kUp, kRight, kDown};

  APIARY_HOST_DEVICE explicit Asterix(bool ramping = true) : ramping_(ramping) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& /*rng: draws nothing*/) {
    player_x_ = 5;
    player_y_ = 5;
    for (Entity& e : slots_) e.alive = false;
    spawn_speed_ = kInitSpawnSpeed;
    spawn_timer_ = spawn_speed_;
    move_speed_ = kInitMoveInterval;
    move_timer_ = move_speed_;
    ramp_timer_ = kRampInterval;
    ramp_index_ = 0;
    terminal_ = false;
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& rng) {
    if (terminal_) return 0.0f;
    float reward = 0.0f;
    if (spawn_timer_ == 0) {
      spawn(rng);
      spawn_timer_ = spawn_speed_;
    }
    if (action == kLeft) player_x_ = std::max(0, player_x_ - 1);
    if (action == kRight) player_x_ = std::min(9, player_x_ + 1);
    if (action == kUp) player_y_ = std::max(1, player_y_ - 1);
    if (action == kDown) player_y_ = std::min(8, player_y_ + 1);

    for (int i = 0; i < kSlots; ++i) touch(i, reward);  // the player moved onto something
    if (move_timer_ == 0) {
      move_timer_ = move_speed_;
      for (int i = 0; i < kSlots; ++i) {
        Entity& e = slots_[i];
        if (!e.alive) continue;
        e.x += e.right ? 1 : -1;
        if (e.x < 0 || e.x > 9)
          e.alive = false;
        else
          touch(i, reward);  // something moved onto the player
      }
    }
    --spawn_timer_;
    --move_timer_;

    if (ramping_ && (spawn_speed_ > 1 || move_speed_ > 1)) {
      if (ramp_timer_ >= 0) {
        --ramp_timer_;
      } else {
        if (move_speed_ > 1 && ramp_index_ % 2 == 1) --move_speed_;
        if (spawn_speed_ > 1) --spawn_speed_;
        ++ramp_index_;
        ramp_timer_ = kRampInterval;
      }
    }
    return reward;
  }

  APIARY_HOST_DEVICE bool terminal() const { return terminal_; }
  APIARY_HOST_DEVICE int difficulty_ramp() const { return ramp_index_; }

  APIARY_HOST_DEVICE void observe(std::uint8_t* obs) const {
    std::memset(obs, 0, kGrid * kGrid * kChannels);
    set_cell<kChannels>(obs, player_y_, player_x_, 0);
    for (int i = 0; i < kSlots; ++i) {
      const Entity& e = slots_[i];
      if (!e.alive) continue;
      set_cell<kChannels>(obs, i + 1, e.x, e.gold ? 3 : 1);
      const int back = e.right ? e.x - 1 : e.x + 1;
      if (back >= 0 && back <= 9) set_cell<kChannels>(obs, i + 1, back, 2);
    }
  }

 private:
  static constexpr int kSlots = 8;  // slot i is row i + 1
  static constexpr int kRampInterval = 100;
  static constexpr int kInitSpawnSpeed = 10;
  static constexpr int kInitMoveInterval = 5;

  struct Entity {
    int x = 0;
    bool right = false;  // moving right (entered from the left)
    bool gold = false;
    bool alive = false;
  };

  // Direction and kind are drawn first; nothing spawns when every row is taken.
  template <class R>
  APIARY_HOST_DEVICE void spawn(R& rng) {
    const bool right = rng.rand() < 0.5;
    const bool gold = rng.rand() < 1.0 / 3.0;
    int free[kSlots];
    int n = 0;
    for (int i = 0; i < kSlots; ++i)
      if (!slots_[i].alive) free[n++] = i;
    if (n == 0) return;
    const int slot = free[rng.randint(0, n)];
    slots_[slot] = Entity{right ? 0 : 9, right, gold, true};
  }

  // Slot i on the player's cell: gold is collected, an enemy ends the episode.
  APIARY_HOST_DEVICE void touch(int i, float& reward) {
    Entity& e = slots_[i];
    if (!e.alive || e.x != player_x_ || i + 1 != player_y_) return;
    if (e.gold) {
      e.alive = false;
      reward += 1.0f;
    } else {
      terminal_ = true;
    }
  }

  bool ramping_;
  Entity slots_[kSlots];
  int player_x_ = 5, player_y_ = 5;
  int spawn_speed_ = kInitSpawnSpeed, spawn_timer_ = kInitSpawnSpeed;
  int move_speed_ = kInitMoveInterval, move_timer_ = kInitMoveInterval;
  int ramp_timer_ = kRampInterval, ramp_index_ = 0;
  bool terminal_ = false;
};

}  // namespace apiary::envs::minatar
