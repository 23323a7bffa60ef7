// Refused by the dynamic loader: calls a function that nothing defines.
#include "walk_env.h"

extern "C" int apiary_test_function_that_does_not_exist(int);

namespace plugin_test {
struct Broken : Walk {
  using Walk::Walk;
  static constexpr const char* kId = "PluginBroken-v0";
  static EnvSpec spec(const Params& p) {
    EnvSpec s = Walk::spec(p);
    s.id = kId;
    s.max_episode_steps = apiary_test_function_that_does_not_exist(20);
    return s;
  }
};
}  // namespace plugin_test

APIARY_PLUGIN(registrar) { registrar.add_cpu_env<plugin_test::Broken>(); }
