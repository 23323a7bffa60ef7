// Placeholder until BipedalWalker lands: registers nothing.
#include "envs/box2d/box2d_envs.h"

namespace apiary::envs {
void register_bipedal_walker(Registry& registry) { (void)registry; }
}  // namespace apiary::envs
