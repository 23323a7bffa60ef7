// Registration of the ten MinAtar ids (envs/minatar/minatar_envs.h), CPU back end.
#include "envs/minatar/minatar.h"

#include "envs/cpu_vec_env.h"
#include "envs/minatar/minatar_envs.h"
#include "envs/registry.h"

namespace apiary::envs {

void register_minatar(Registry& registry) {
  minatar::for_each_id([&](auto id) {
    using Id = decltype(id);
    register_cpu_env<minatar::MinAtarEnv<typename Id::Game, Id::kMinimalActionSet>>(registry);
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
