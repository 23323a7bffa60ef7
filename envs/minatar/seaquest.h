// MinAtar Seaquest (minatar/environments/seaquest.py). A two-cell submarine shoots enemy fish and
// subs (+1 each; subs shoot back), picks up divers (at most 6) and must surface for oxygen, which
// takes a diver (all six, with a bonus of remaining oxygen / 20, when full). The episode ends on
// contact with an enemy or its bullet, when oxygen runs out, or on surfacing without a diver. With
// ramping, each surfacing spawns enemies faster and, every other time, moves them faster.
// Channels: 0 sub front, 1 sub back, 2 sub bullet, 3 trail (behind enemies and divers), 4 enemy
// bullet, 5 enemy fish, 6 enemy sub, 7 oxygen gauge, 8 diver gauge, 9 diver.
//
// The reference keeps its objects in Python lists, walks them with reversed() while removing from
// them with list.remove(value), which drops the first EQUAL element, not necessarily the one being
// visited; PyList reproduces that. Its quirks are kept: a sub removed in its own turn still fires
// that turn, and surfacing with six divers leaves the count at -1 (so the next surfacing with none
// does not end the episode).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "envs/minatar/common.h"

namespace apiary::envs::minatar {

class Seaquest {
 public:
  static constexpr int kChannels = 10;
  // The registered ids: all six actions, and the minimal action set.
  static constexpr const char* kIdAllActions = "MinAtar/Seaquest-v0";
  static constexpr const char* kIdMinimalActions = "MinAtar/Seaquest-v1";
  static constexpr int kMinimalActions[] = {kNoop, kLeft, kUp, kRight, kDown, kFire};

  APIARY_HOST_DEVICE explicit Seaquest(bool ramping = true) : ramping_(ramping) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& /*rng: draws nothing*/) {
    oxygen_ = kMaxOxygen;
    diver_count_ = 0;
    sub_x_ = 5;
    sub_y_ = 0;
    facing_right_ = false;
    f_bullets_.clear();
    e_bullets_.clear();
    fish_.clear();
    subs_.clear();
    divers_.clear();
    e_spawn_speed_ = kInitSpawnSpeed;
    e_spawn_timer_ = e_spawn_speed_;
    d_spawn_timer_ = kDiverSpawnSpeed;
    move_speed_ = kInitMoveInterval;
    ramp_index_ = 0;
    shot_timer_ = 0;
    surface_ = true;
    terminal_ = false;
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& rng) {
    if (terminal_) return 0.0f;
    int reward = 0;
    if (e_spawn_timer_ == 0) {
      spawn_enemy(rng);
      e_spawn_timer_ = e_spawn_speed_;
    }
    if (d_spawn_timer_ == 0) {
      spawn_diver(rng);
      d_spawn_timer_ = kDiverSpawnSpeed;
    }

    if (action == kFire && shot_timer_ == 0) {
      f_bullets_.append(Bullet{sub_x_, sub_y_, facing_right_});
      shot_timer_ = kShotCoolDown;
    } else if (action == kLeft) {
      sub_x_ = std::max(0, sub_x_ - 1);
      facing_right_ = false;
    } else if (action == kRight) {
      sub_x_ = std::min(9, sub_x_ + 1);
      facing_right_ = true;
    } else if (action == kUp) {
      sub_y_ = std::max(0, sub_y_ - 1);
    } else if (action == kDown) {
      sub_y_ = std::min(8, sub_y_ + 1);
    }

    move_friendly_bullets(reward);
    move_divers();
    move_enemy_subs(reward);
    move_enemy_bullets();
    move_fish(reward);

    if (e_spawn_timer_ > 0) --e_spawn_timer_;
    if (d_spawn_timer_ > 0) --d_spawn_timer_;
    if (shot_timer_ > 0) --shot_timer_;
    if (oxygen_ <= 0) terminal_ = true;
    if (sub_y_ > 0) {
      --oxygen_;
      surface_ = false;
    } else if (!surface_) {
      if (diver_count_ == 0)
        terminal_ = true;
      else
        reward += surface();
    }
    return static_cast<float>(reward);
  }

  APIARY_HOST_DEVICE bool terminal() const { return terminal_; }
  APIARY_HOST_DEVICE int difficulty_ramp() const { return ramp_index_; }

  APIARY_HOST_DEVICE void observe(std::uint8_t* obs) const {
    constexpr int C = kChannels;
    std::memset(obs, 0, kGrid * kGrid * C);
    set_cell<C>(obs, sub_y_, sub_x_, 0);
    int back = facing_right_ ? sub_x_ - 1 : sub_x_ + 1;
    if (back < 0) back += kGrid;  // numpy's index -1 (the sub cannot face right in column 0)
    set_cell<C>(obs, sub_y_, back, 1);
    const int oxygen_cells = floor_div(std::max(0, oxygen_) * 10, kMaxOxygen);
    for (int c = 0; c < oxygen_cells; ++c) set_cell<C>(obs, 9, c, 7);
    for (int c = std::max(0, 9 - diver_count_); c < 9; ++c) set_cell<C>(obs, 9, c, 8);  // [9 - n, 9)
    for (const Bullet& b : f_bullets_) set_cell<C>(obs, b.y, b.x, 2);
    for (const Bullet& b : e_bullets_) set_cell<C>(obs, b.y, b.x, 4);
    auto with_trail = [&](int x, int y, bool right, int channel) {
      set_cell<C>(obs, y, x, channel);
      const int behind = right ? x - 1 : x + 1;
      if (behind >= 0 && behind <= 9) set_cell<C>(obs, y, behind, 3);
    };
    for (const Fish& f : fish_) with_trail(f.x, f.y, f.right, 5);
    for (const Sub& s : subs_) with_trail(s.x, s.y, s.right, 6);
    for (const Diver& d : divers_) with_trail(d.x, d.y, d.right, 9);
  }

 private:
  static constexpr int kMaxOxygen = 200;
  static constexpr int kInitSpawnSpeed = 20;
  static constexpr int kDiverSpawnSpeed = 30;
  static constexpr int kInitMoveInterval = 5;
  static constexpr int kShotCoolDown = 5;
  static constexpr int kEnemyShotInterval = 10;
  static constexpr int kDiverMoveInterval = 5;

  // The reference's lists, field for field ([x, y, lr, ...]); == compares every field, as Python does.
  struct Bullet {
    int x, y;
    bool right;
    APIARY_HOST_DEVICE bool operator==(const Bullet& o) const { return x == o.x && y == o.y && right == o.right; }
  };
  struct Fish {
    int x, y;
    bool right;
    int move_timer;
    APIARY_HOST_DEVICE bool operator==(const Fish& o) const {
      return x == o.x && y == o.y && right == o.right && move_timer == o.move_timer;
    }
  };
  struct Sub {
    int x, y;
    bool right;
    int move_timer, shot_timer;
    APIARY_HOST_DEVICE bool operator==(const Sub& o) const {
      return x == o.x && y == o.y && right == o.right && move_timer == o.move_timer && shot_timer == o.shot_timer;
    }
  };
  using Diver = Fish;  // [x, y, lr, move timer]

  // Capacities. At most one enemy spawns per step and an enemy leaves the grid within 10 moves of
  // at most 6 steps each (61 steps), so fish + subs <= 61. An enemy bullet leaves within 10 steps and
  // a sub fires at most once in 11, so enemy bullets <= 61 + 10
  // (plus, within a step, those fired by subs leaving the grid, dropped in the same step). The sub fires at most every 5 steps
  // and its bullets leave within 10 (<= 3); a diver spawns every 30 steps and leaves within 61 (<= 3).
  static constexpr int kMaxEnemies = 64;
  static constexpr int kMaxEnemyBullets = 96;
  static constexpr int kMaxFriendly = 8;

  APIARY_HOST_DEVICE bool on_sub(int x, int y) const { return x == sub_x_ && y == sub_y_; }

  // Direction, kind and row; nothing spawns in a row holding an enemy heading the other way.
  template <class R>
  APIARY_HOST_DEVICE void spawn_enemy(R& rng) {
    const bool right = rng.rand() < 0.5;
    const bool is_sub = rng.rand() < 1.0 / 3.0;
    const int x = right ? 0 : 9;
    const int y = rng.randint(1, 9);
    for (const Sub& s : subs_)
      if (s.y == y && s.right != right) return;
    for (const Fish& f : fish_)
      if (f.y == y && f.right != right) return;
    if (is_sub)
      subs_.append(Sub{x, y, right, move_speed_, kEnemyShotInterval});
    else
      fish_.append(Fish{x, y, right, move_speed_});
  }

  template <class R>
  APIARY_HOST_DEVICE void spawn_diver(R& rng) {
    const bool right = rng.rand() < 0.5;
    const int x = right ? 0 : 9;
    const int y = rng.randint(1, 9);
    divers_.append(Diver{x, y, right, kDiverMoveInterval});
  }

  // The first sub bullet on (x, y), removed; false when there is none.
  APIARY_HOST_DEVICE bool take_friendly_bullet_at(int x, int y) {
    for (int j = 0; j < f_bullets_.size(); ++j)
      if (f_bullets_[j].x == x && f_bullets_[j].y == y) {
        f_bullets_.erase(j);
        return true;
      }
    return false;
  }

  APIARY_HOST_DEVICE void move_friendly_bullets(int& reward) {
    for (int i = f_bullets_.size() - 1; i >= 0 && i < f_bullets_.size(); --i) {
      Bullet& b = f_bullets_[i];
      b.x += b.right ? 1 : -1;
      const Bullet moved = b;
      if (moved.x < 0 || moved.x > 9) {
        f_bullets_.remove(moved);
        continue;
      }
      bool removed = false;
      for (int j = 0; j < fish_.size(); ++j)
        if (fish_[j].x == moved.x && fish_[j].y == moved.y) {
          fish_.erase(j);  // the first fish there (remove() of it finds this one)
          f_bullets_.remove(moved);
          ++reward;
          removed = true;
          break;
        }
      if (removed) continue;
      for (int j = 0; j < subs_.size(); ++j)
        if (subs_[j].x == moved.x && subs_[j].y == moved.y) {
          subs_.erase(j);
          f_bullets_.remove(moved);
          ++reward;
          break;
        }
    }
  }

  APIARY_HOST_DEVICE void move_divers() {
    for (int i = divers_.size() - 1; i >= 0 && i < divers_.size(); --i) {
      Diver& d = divers_[i];
      if (on_sub(d.x, d.y) && diver_count_ < 6) {
        divers_.remove(Diver(d));
        ++diver_count_;
      } else if (d.move_timer == 0) {
        d.move_timer = kDiverMoveInterval;
        d.x += d.right ? 1 : -1;
        if (d.x < 0 || d.x > 9) {
          divers_.remove(Diver(d));
        } else if (on_sub(d.x, d.y) && diver_count_ < 6) {
          divers_.remove(Diver(d));
          ++diver_count_;
        }
      } else {
        --d.move_timer;
      }
    }
  }

  // A sub removed in its turn still counts down its shot and may fire; `at` follows the visited
  // object in the list (or is -1 once it left it) so that this lands where the reference's does.
  APIARY_HOST_DEVICE void move_enemy_subs(int& reward) {
    for (int i = subs_.size() - 1; i >= 0 && i < subs_.size(); --i) {
      Sub s = subs_[i];
      int at = i;
      auto remove_visited = [&] {
        subs_[at] = s;
        const int j = subs_.remove(s);  // j <= at: the visited sub is equal to s
        at = j == at ? -1 : at - 1;
      };
      if (on_sub(s.x, s.y)) terminal_ = true;
      if (s.move_timer == 0) {
        s.move_timer = move_speed_;
        s.x += s.right ? 1 : -1;
        if (s.x < 0 || s.x > 9) {
          remove_visited();
        } else if (on_sub(s.x, s.y)) {
          terminal_ = true;
        } else if (friendly_bullet_at(s.x, s.y)) {
          remove_visited();
          take_friendly_bullet_at(s.x, s.y);
          ++reward;
        }
      } else {
        --s.move_timer;
      }
      if (s.shot_timer == 0) {
        s.shot_timer = kEnemyShotInterval;
        e_bullets_.append(Bullet{s.x, s.y, s.right});
      } else {
        --s.shot_timer;
      }
      if (at >= 0) subs_[at] = s;
    }
  }

  APIARY_HOST_DEVICE void move_enemy_bullets() {
    for (int i = e_bullets_.size() - 1; i >= 0 && i < e_bullets_.size(); --i) {
      Bullet& b = e_bullets_[i];
      if (on_sub(b.x, b.y)) terminal_ = true;
      b.x += b.right ? 1 : -1;
      if (b.x < 0 || b.x > 9)
        e_bullets_.remove(Bullet(b));
      else if (on_sub(b.x, b.y))
        terminal_ = true;
    }
  }

  APIARY_HOST_DEVICE void move_fish(int& reward) {
    for (int i = fish_.size() - 1; i >= 0 && i < fish_.size(); --i) {
      Fish& f = fish_[i];
      if (on_sub(f.x, f.y)) terminal_ = true;
      if (f.move_timer == 0) {
        f.move_timer = move_speed_;
        f.x += f.right ? 1 : -1;
        if (f.x < 0 || f.x > 9) {
          fish_.remove(Fish(f));
        } else if (on_sub(f.x, f.y)) {
          terminal_ = true;
        } else if (friendly_bullet_at(f.x, f.y)) {
          const Fish moved = f;
          fish_.remove(moved);
          take_friendly_bullet_at(moved.x, moved.y);
          ++reward;
        }
      } else {
        --f.move_timer;
      }
    }
  }

  APIARY_HOST_DEVICE bool friendly_bullet_at(int x, int y) const {
    for (const Bullet& b : f_bullets_)
      if (b.x == x && b.y == y) return true;
    return false;
  }

  // Surfacing with at least one diver: oxygen refilled, a diver (or, with six, all and a bonus) gone.
  APIARY_HOST_DEVICE int surface() {
    surface_ = true;
    int reward = 0;
    if (diver_count_ == 6) {
      diver_count_ = 0;
      reward = floor_div(oxygen_ * 10, kMaxOxygen);
    }
    oxygen_ = kMaxOxygen;
    --diver_count_;  // also after six: the reference leaves -1
    if (ramping_ && (e_spawn_speed_ > 1 || move_speed_ > 2)) {
      if (move_speed_ > 2 && ramp_index_ % 2 == 1) --move_speed_;
      if (e_spawn_speed_ > 1) --e_spawn_speed_;
      ++ramp_index_;
    }
    return reward;
  }

  bool ramping_;
  PyList<Bullet, kMaxFriendly> f_bullets_;
  PyList<Bullet, kMaxEnemyBullets> e_bullets_;
  PyList<Fish, kMaxEnemies> fish_;
  PyList<Sub, kMaxEnemies> subs_;
  PyList<Diver, kMaxFriendly> divers_;
  int oxygen_ = kMaxOxygen, diver_count_ = 0, sub_x_ = 5, sub_y_ = 0;
  bool facing_right_ = false;
  int e_spawn_speed_ = kInitSpawnSpeed, e_spawn_timer_ = kInitSpawnSpeed, d_spawn_timer_ = kDiverSpawnSpeed;
  int move_speed_ = kInitMoveInterval, ramp_index_ = 0, shot_timer_ = 0;
  bool surface_ = true, terminal_ = false;
};

}  // namespace apiary::envs::minatar
