// The five MinAtar games (Asterix, Breakout, Freeway, Seaquest, SpaceInvaders) as plain C++ objects
// (envs/minatar/*.h, one class per game) and the reference's Environment wrapper with sticky actions.
// Each game has
//   static constexpr int kChannels;                 // observation (10, 10, kChannels)
//   static constexpr int kMinimalActions[];         // the reference's minimal_action_set()
//   explicit Game(bool difficulty_ramping = true);
//   template <class R> void reset(R& rng);          // the reference's reset(), same draws
//   template <class R> float act(int action, R&);   // act(a), a in 0..5 (ActionIndex); the reward
//   bool terminal() const;
//   void observe(std::uint8_t* out) const;          // state(): 0/1 bytes, channels-last
// with R a random source (envs/minatar/common.h). The Apiary envs over them are in minatar_envs.h.
#pragma once

#include <cstdint>
#include <string>

#include "envs/minatar/asterix.h"
#include "envs/minatar/breakout.h"
#include "envs/minatar/common.h"
#include "envs/minatar/freeway.h"
#include "envs/minatar/seaquest.h"
#include "envs/minatar/space_invaders.h"

namespace apiary::envs {
class Registry;
// Registers MinAtar/<Game>-v0 (all 6 actions) and MinAtar/<Game>-v1 (the minimal action set) for the
// five games on the CPU: Thrust's CPU system over minatar_hd.h (envs/minatar/minatar.cpp).
void register_minatar(Registry& registry);
// Adds the CUDA back end to those ids (envs/minatar/minatar_cuda.cu, builds with CUDA only).
void register_minatar_cuda(Registry& registry);
}  // namespace apiary::envs

namespace apiary::envs::minatar {

// The action letters of a MinAtar id's action space, in its order: "nlurdf" (no-op, left, up, right,
// down, fire) for -v0, the minimal set for -v1 ("nlr" for Breakout-v1); "" for any other id.
std::string action_letters(const std::string& env_id);

// The reference's Environment (minatar/environment.py): before every act it draws rand() — also
// when the probability is 0 — and repeats the previous action when the draw is below
// sticky_action_prob. As there, the previous action is NOT reset by reset(): it starts at 0 (no-op)
// when the object is made and carries over from one episode to the next (the Apiary env below
// resets it per episode; see minatar_envs.h).
template <class Game>
class Environment {
 public:
  APIARY_HOST_DEVICE Environment() : Environment(0.1, true) {}
  APIARY_HOST_DEVICE explicit Environment(double sticky_action_prob, bool difficulty_ramping = true)
      : game_(difficulty_ramping), sticky_action_prob_(sticky_action_prob) {}

  template <class R>
  APIARY_HOST_DEVICE void reset(R& rng) {
    game_.reset(rng);
  }

  template <class R>
  APIARY_HOST_DEVICE float act(int action, R& rng) {
    if (rng.rand() < sticky_action_prob_) action = last_action_;
    last_action_ = action;
    return game_.act(action, rng);
  }

  APIARY_HOST_DEVICE bool terminal() const { return game_.terminal(); }
  APIARY_HOST_DEVICE void observe(std::uint8_t* out) const { game_.observe(out); }

  APIARY_HOST_DEVICE int last_action() const { return last_action_; }
  APIARY_HOST_DEVICE void set_last_action(int action) { last_action_ = action; }
  APIARY_HOST_DEVICE const Game& game() const { return game_; }

 private:
  Game game_;
  double sticky_action_prob_;
  int last_action_ = kNoop;
};

}  // namespace apiary::envs::minatar
