// A well-formed test plugin: PluginWalk-v0 (CPU) and PluginDrift-v0 (__host__ __device__).
#include "walk_env.h"

APIARY_PLUGIN(registrar) {
  registrar.add_cpu_env<plugin_test::Walk>();
  registrar.add_hd_env<plugin_test::Drift>();
}
