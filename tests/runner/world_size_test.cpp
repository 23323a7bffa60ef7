// runner::resolve_world_size: an unset learner.world_size (0) is the launcher's, as torchrun and SLURM
// users expect; without a launcher it is pipeline_stages (one stage per rank) or 1; a set value is
// kept for train() to compare; a launcher's world size that the stages do not divide is refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

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

TEST(ResolveWorldSize, UnsetTakesTheLaunchersOrTheStagesOrOne) {
  Launcher::clear();
  TrainConfig config;
  ASSERT_EQ(config.learner.world_size, 0) << "unset by default";
  resolve_world_size(config, "c.yaml");
  EXPECT_EQ(config.learner.world_size, 1);
  config = TrainConfig{};
  config.learner.pipeline_stages = 2;
  resolve_world_size(config, "c.yaml");
  EXPECT_EQ(config.learner.world_size, 2) << "one stage per rank";
  config = TrainConfig{};
  config.learner.pipeline_stages = 2;
  config.learner.stage_devices = {"cpu", "cpu"};
  resolve_world_size(config, "c.yaml");
  EXPECT_EQ(config.learner.world_size, 1) << "stage_devices: every stage in one rank";
  {
    Launcher torchrun("4", /*slurm=*/false);
    config = TrainConfig{};
    resolve_world_size(config, "c.yaml");
    EXPECT_EQ(config.learner.world_size, 4);
    config = TrainConfig{};
    config.learner.pipeline_stages = 2;
    resolve_world_size(config, "c.yaml");
    EXPECT_EQ(config.learner.world_size, 4) << "2 replicas of 2 stages";
    config = TrainConfig{};
    config.learner.world_size = 1;
    resolve_world_size(config, "c.yaml");
    EXPECT_EQ(config.learner.world_size, 1) << "a set value is kept (train() refuses it against WORLD_SIZE=4)";
    config = TrainConfig{};
    config.learner.pipeline_stages = 3;
    try {
      resolve_world_size(config, "c.yaml");
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
    config = TrainConfig{};
    resolve_world_size(config, "c.yaml");
    EXPECT_EQ(config.learner.world_size, 3);
  }
}

}  // namespace
}  // namespace apiary::runner
