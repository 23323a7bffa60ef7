// Refused when walk_plugin is loaded: declares a new id, then PluginWalk-v0 again. Neither may end up
// registered (all or nothing).
#include "walk_env.h"

namespace plugin_test {
struct OtherWalk : Walk {
  using Walk::Walk;
  static constexpr const char* kId = "PluginOtherWalk-v0";
  static EnvSpec spec(const Params& p) {
    EnvSpec s = Walk::spec(p);
    s.id = kId;
    return s;
  }
};
}  // namespace plugin_test

APIARY_PLUGIN(registrar) {
  registrar.add_cpu_env<plugin_test::OtherWalk>();
  registrar.add_cpu_env<plugin_test::Walk>();
}
