// runner::resolve_world_size: an unset learner.world_size (0) is the launcher's, as torchrun and SLURM
// users expect; without a launcher it is pipeline_stages (one stage per rank) or 1; a set value is
// kept for train() to compare; a launcher's world size that the stages do not divide is refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runner/train.h"

namespace apiary::runner {
namespace {

// Sets the rendezvous variables for the test's lifetime and clears them after.
class Launcher {
 public:
  Launcher(const char* world_size, bool slurm) {
    clear();
    if (slurm) {
      ::setenv("SLURM_PROCID", "0", 1);
      ::setenv("SLURM_NTASKS", world_size, 1);
    } else {
      ::setenv("RANK", "0", 1);
      ::setenv("WORLD_SIZE", world_size, 1);
    }
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", "29500", 1);
  }
  ~Launcher() { clear(); }
  static void clear() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                             "MASTER_ADDR", "MASTER_PORT"})
      ::unsetenv(name);
  }
};

// The world size a config with these learner keys resolves to.
int resolved(int world_size, int stages, std::vector<std::string> stage_devices = {}) {
  TrainConfig config;
  config.learner.world_size = world_size;
  config.learner.pipeline_stages = stages;
  config.learner.stage_devices = std::move(stage_devices);
  resolve_world_size(config, "c.yaml");
  return config.learner.world_size;
}

TEST(ResolveWorldSize, UnsetTakesTheLaunchersOrTheStagesOrOne) {
  Launcher::clear();
  ASSERT_EQ(TrainConfig{}.learner.world_size, 0) << "unset by default";
  EXPECT_EQ(resolved(0, 1), 1);
  EXPECT_EQ(resolved(0, 2), 2) << "one stage per rank";
  EXPECT_EQ(resolved(0, 2, {"cpu", "cpu"}), 1) << "stage_devices: every stage in one rank";
  {
    Launcher torchrun("4", /*slurm=*/false);
    EXPECT_EQ(resolved(0, 1), 4);
    EXPECT_EQ(resolved(0, 2), 4) << "2 replicas of 2 stages";
    EXPECT_EQ(resolved(1, 1), 1) << "a set value is kept (train() refuses it against WORLD_SIZE=4)";
    try {
      resolved(0, 3);
      FAIL() << "3 stages over 4 ranks";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("c.yaml: learner.pipeline_stages 3 does not divide the launcher's "
                                           "WORLD_SIZE=4"),
                std::string::npos)
          << e.what();
    }
  }
  {
    Launcher slurm("3", /*slurm=*/true);
    EXPECT_EQ(resolved(0, 1), 3);
  }
}

}  // namespace
}  // namespace apiary::runner
