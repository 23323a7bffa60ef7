// Refused: declares CartPole-v1, which Apiary registers itself.
#include "walk_env.h"

namespace plugin_test {
struct FakeCartPole : Walk {
  using Walk::Walk;
  static constexpr const char* kId = "CartPole-v1";
  static EnvSpec spec(const Params& p) {
    EnvSpec s = Walk::spec(p);
    s.id = kId;
    return s;
  }
};
}  // namespace plugin_test

APIARY_PLUGIN(registrar) { registrar.add_cpu_env<plugin_test::FakeCartPole>(); }
