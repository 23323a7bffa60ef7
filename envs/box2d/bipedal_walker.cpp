#include "envs/box2d/bipedal_walker.h"

#include "envs/box2d/box2d_envs.h"
#include "envs/cpu_vec_env.h"

namespace apiary::envs {

void register_bipedal_walker(Registry& registry) {
  register_cpu_env<box2d::BipedalWalker>(registry);
  register_cpu_env<box2d::BipedalWalkerHardcore>(registry);
}

}  // namespace apiary::envs
