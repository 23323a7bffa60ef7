#include "envs/box2d/box2d_envs.h"

namespace apiary::envs {

void register_box2d(Registry& registry) {
  register_lunar_lander(registry);
  register_bipedal_walker(registry);
  register_car_racing(registry);
}

}  // namespace apiary::envs
