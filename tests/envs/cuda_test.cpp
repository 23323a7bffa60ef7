// CPU and CUDA back ends run the same __host__ __device__ physics; with FMA contraction off on both,
// their trajectories agree lane for lane, bit for bit, also with lanes held (set_active_lanes: the CUDA
// back end reads a device copy of the mask) and single lanes reset (reset_lanes). Skips itself, saying
// so, where no GPU exists.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"

namespace apiary::envs {
namespace {

class CpuCudaAgreement : public ::testing::TestWithParam<std::string> {};

TEST_P(CpuCudaAgreement, TrajectoriesMatchLaneForLane) {
  if (!built_with_cuda()) GTEST_SKIP() << "SKIPPED: this build has no CUDA back end (APIARY_CUDA=OFF or no nvcc)";
  if (cuda_device_count() == 0) GTEST_SKIP() << "SKIPPED: no CUDA device on this machine; CPU/GPU agreement not checked";
  const std::string id = GetParam();
  constexpr std::int32_t kLanes = 1000;
  auto cpu = make_env(id, kLanes, Device::kCpu);
  auto gpu = make_env(id, kLanes, Device::kCuda);
  RandomActions random(cpu->spec(), kLanes, 3);
  cpu->reset(3);
  gpu->reset(3);
  HostBatch a, b;
  std::vector<std::uint8_t> mask(kLanes);
  for (int t = 0; t < 600; ++t) {
    const ActionBatch actions = random.next();  // host actions: the CUDA env stages them on the device
    const bool hold = t % 7 == 3;
    for (std::int32_t lane = 0; lane < kLanes; ++lane) mask[lane] = (lane + t) % 5 != 0;  // every fifth lane held
    cpu->set_active_lanes(hold ? mask.data() : nullptr);
    gpu->set_active_lanes(hold ? mask.data() : nullptr);
    cpu->step(actions);
    gpu->step(actions);
    cpu->set_active_lanes(nullptr);
    gpu->set_active_lanes(nullptr);
    if (t % 11 == 5) {
      for (std::int32_t lane = 0; lane < kLanes; ++lane) mask[lane] = (lane * 7 + t) % 13 == 0;
      cpu->reset_lanes(mask.data());
      gpu->reset_lanes(mask.data());
    }
    cpu->copy_to_host(a);
    gpu->copy_to_host(b);
    ASSERT_EQ(a.obs, b.obs) << id << " step " << t;
    ASSERT_EQ(a.obs_u8, b.obs_u8) << id << " step " << t;  // the image envs (MinAtar)
    ASSERT_EQ(a.reward, b.reward) << id << " step " << t;
    ASSERT_EQ(a.terminated, b.terminated) << id << " step " << t;
    ASSERT_EQ(a.truncated, b.truncated) << id << " step " << t;
    ASSERT_EQ(a.elapsed, b.elapsed) << id << " step " << t;
  }
  EXPECT_EQ(cpu->get_states(), gpu->get_states());
}

INSTANTIATE_TEST_SUITE_P(Classic, CpuCudaAgreement,
                         ::testing::Values("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                           "Pendulum-v1"),
                         testing::EnvIdName());
// MinAtar: the GPU runs minatar_hd.h, the CPU the thread-pool env; both must give the same bytes.
INSTANTIATE_TEST_SUITE_P(MinAtar, CpuCudaAgreement,
                         ::testing::Values("MinAtar/Asterix-v0", "MinAtar/Breakout-v1", "MinAtar/Freeway-v1",
                                           "MinAtar/Seaquest-v0", "MinAtar/SpaceInvaders-v1"),
                         testing::EnvIdName());

// observe_velocity: false gathers the kept elements on the host (envs/observation_select.h): on the
// GPU it is refused, naming the option and the device, rather than reading device memory.
TEST(CudaObserveVelocity, IsRefusedNamingTheOptionAndTheDevice) {
  if (!built_with_cuda()) GTEST_SKIP() << "SKIPPED: this build has no CUDA back end (APIARY_CUDA=OFF or no nvcc)";
  if (cuda_device_count() == 0) GTEST_SKIP() << "SKIPPED: no CUDA device on this machine";
  try {
    make_env("CartPole-v1", 4, Device::kCuda, {{"observe_velocity", 0.0}});
    FAIL() << "observe_velocity: false was accepted on cuda";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("observe_velocity"), std::string::npos) << m;
    EXPECT_NE(m.find("cuda"), std::string::npos) << m;
  }
  EXPECT_EQ(make_env("CartPole-v1", 4, Device::kCuda, {{"observe_velocity", 1.0}})->spec().obs_dim(), 4);
}

}  // namespace
}  // namespace apiary::envs
