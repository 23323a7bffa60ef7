// Registration of the ten MinAtar ids on the CPU: Thrust's CPU system steps the games' __host__
// __device__ form (envs/minatar/minatar_hd.h) in blocks of lanes, about 20 % faster than the thread
// pool's per-lane env objects (minatar_envs.h, bench/RESULTS.md); the two are held to the same bits
// by tests (tests/envs/determinism_test.cpp).
#include "envs/minatar/minatar.h"

#include "envs/cpu_system.h"
#include "envs/minatar/minatar_hd.h"
#include "envs/registry.h"
#include "envs/thrust_registration.h"

namespace apiary::envs {

void register_minatar(Registry& registry) {
  minatar::for_each_id([&](auto id) {
    using Id = decltype(id);
    register_thrust_env<minatar::MinAtarHd<typename Id::Game, Id::kMinimalActionSet>, CpuSystem>(registry);
  });
}

namespace minatar {

namespace {
template <class Game>
std::string letters_of(const std::string& id) {
  static constexpr char kLetters[] = "nlurdf";  // ActionIndex order
  if (id == Game::kIdAllActions) return kLetters;
  if (id != Game::kIdMinimalActions) return "";
  std::string out;
  for (const int a : Game::kMinimalActions) out += kLetters[a];
  return out;
}
}  // namespace

std::string action_letters(const std::string& env_id) {
  for (const std::string& letters : {letters_of<Asterix>(env_id), letters_of<Breakout>(env_id), letters_of<Freeway>(env_id),
                                     letters_of<Seaquest>(env_id), letters_of<SpaceInvaders>(env_id)})
    if (!letters.empty()) return letters;
  return "";
}

}  // namespace minatar

}  // namespace apiary::envs
