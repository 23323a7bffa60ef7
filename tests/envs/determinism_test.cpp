// Determinism is a tested contract (STYLE.md): a fixed-seed rollout of every env hashes to a golden
// value, the same for 1 and 2 threads, and the same for the baseline and the AVX2 builds of the CPU
// back end. A change to any env's physics, reset, random streams or auto-reset shows here.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>

#include "core/fnv1a.h"
#include "envs/classic/classic.h"
#include "envs/cpu_system.h"
#include "envs/cpu_vec_env.h"
#include "envs/minatar/minatar_hd.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"

namespace apiary::envs {
namespace {

constexpr std::int32_t kLanes = 512;     // two blocks of the CPU back end, so two threads share them
constexpr std::int64_t kSteps = 10000;   // batched steps
constexpr std::uint64_t kSeed = 20261126;

using apiary::core::Fnv1a;

// Hash of every observation (float or uint8), reward, flag, and final observation of finished lanes.
std::uint64_t rollout_hash(VecEnv& env, std::uint64_t seed, std::int64_t steps = kSteps) {
  RandomActions random(env.spec(), env.num_envs(), seed);
  env.reset(seed);
  HostBatch host;
  Fnv1a hash;
  env.copy_to_host(host);
  hash.add(host.obs);
  hash.add(host.obs_u8);
  const std::int64_t dim = env.spec().obs_dim();
  const bool bytes = env.spec().observation_space.is_uint8();
  for (std::int64_t t = 0; t < steps; ++t) {
    env.step(random.next());
    env.copy_to_host(host);
    hash.add(host.obs);
    hash.add(host.obs_u8);
    hash.add(host.reward);
    hash.add(host.terminated);
    hash.add(host.truncated);
    for (std::int32_t lane = 0; lane < env.num_envs(); ++lane)
      if (host.terminated[lane] || host.truncated[lane]) {
        if (bytes)
          hash.add(&host.final_obs_u8[static_cast<std::size_t>(lane * dim)], static_cast<std::size_t>(dim));
        else
          hash.add(&host.final_obs[static_cast<std::size_t>(lane * dim)], static_cast<std::size_t>(dim) * sizeof(float));
        hash.add(&host.final_length[lane], sizeof(std::int32_t));
      }
  }
  return hash.h;
}

std::uint64_t registry_hash(const std::string& id, std::int32_t threads, std::int32_t lanes = kLanes,
                            std::int64_t steps = kSteps) {
  VecEnvConfig config;
  config.num_envs = lanes;
  config.threads = threads;
  auto env = make_env(id, config);
  return rollout_hash(*env, kSeed, steps);
}

// Golden values, recorded from this implementation on 2026-11-26 (x86-64, gcc 12, baseline and AVX2
// builds alike). They change only when an env's behaviour changes on purpose: then record the new value
// and say why in the commit.
const std::map<std::string, std::uint64_t> kGolden = {
    {"CartPole-v1", 0xe323d9c8e0a22a7full},
    {"Acrobot-v1", 0xfbc8334d1e625badull},  // 2026-12-07: sin for cos(x - pi/2), the angle-sum rule
    {"MountainCar-v0", 0x1b17592448530d18ull},
    {"MountainCarContinuous-v0", 0xb87975e8c5974925ull},
    {"Pendulum-v1", 0x20ae1758fdc12512ull},
};

class Determinism : public ::testing::TestWithParam<std::string> {};

TEST_P(Determinism, GoldenHashForOneAndTwoThreads) {
  const std::string id = GetParam();
  const std::uint64_t one = registry_hash(id, 1);
  const std::uint64_t two = registry_hash(id, 2);
  EXPECT_EQ(one, two) << id << ": 1 and 2 threads differ";
  EXPECT_EQ(one, kGolden.at(id)) << id << ": rollout hash 0x" << std::hex << one << " differs from the golden value";
}

TEST_P(Determinism, SeedChangesTheRollout) {
  const std::string id = GetParam();
  auto env = make_env(id, 64);
  RandomActions random(env->spec(), 64, 1);
  env->reset(1);
  HostBatch a, b;
  env->copy_to_host(a);
  env->reset(2);
  env->copy_to_host(b);
  EXPECT_NE(a.obs, b.obs) << id << ": different seeds gave the same reset";
  env->reset(1);
  env->copy_to_host(b);
  EXPECT_EQ(a.obs, b.obs) << id << ": the same seed gave a different reset";
}

template <class Env>
std::uint64_t baseline_hash() {
  VecEnvConfig config;
  config.num_envs = kLanes;
  config.threads = 2;
  auto env = make_thrust_env<Env, CpuSystemT<0>>(config);
  return rollout_hash(*env, kSeed);
}

// The registry runs the AVX2 build where the CPU has it; the baseline build must give the same bits.
TEST(Determinism, BaselineAndWideBuildsAgree) {
  EXPECT_EQ(baseline_hash<CartPole>(), registry_hash("CartPole-v1", 2));
  EXPECT_EQ(baseline_hash<Acrobot>(), registry_hash("Acrobot-v1", 2));
  EXPECT_EQ(baseline_hash<MountainCar>(), registry_hash("MountainCar-v0", 2));
  EXPECT_EQ(baseline_hash<MountainCarContinuous>(), registry_hash("MountainCarContinuous-v0", 2));
  EXPECT_EQ(baseline_hash<Pendulum>(), registry_hash("Pendulum-v1", 2));
}

// MinAtar (uint8 images): 64 lanes, 2000 steps, recorded from this implementation on 2026-12-06
// (x86-64, gcc 12). The golden values hold the games' rules, sticky actions and ramping on Apiary's
// own random streams (the reference's streams are checked by the parity tests, minatar_test.cpp).
const std::map<std::string, std::uint64_t> kMinAtarGolden = {
    {"MinAtar/Asterix-v0", 0x9e5cf7a6c6f1aafeull},
    {"MinAtar/Breakout-v0", 0x1651a1b4a819e4a2ull},
    {"MinAtar/Freeway-v0", 0x85f0a6bba57eac22ull},
    {"MinAtar/Seaquest-v0", 0x7c8b58e5304afd59ull},
    {"MinAtar/SpaceInvaders-v0", 0x01c17adcdc28f6caull},
};

TEST(Determinism, MinAtarGoldenHashForOneAndTwoThreads) {
  for (const auto& [id, golden] : kMinAtarGolden) {
    const std::uint64_t one = registry_hash(id, 1, 64, 2000);
    EXPECT_EQ(one, registry_hash(id, 2, 64, 2000)) << id << ": 1 and 2 threads differ";
    EXPECT_EQ(one, golden) << id << ": rollout hash 0x" << std::hex << one << " differs from the golden value";
  }
}

// MinAtar's __host__ __device__ form (minatar_hd.h: what the registry steps on the CPU and on CUDA) on
// Thrust's CPU system gives the thread-pool env's bits (minatar_envs.h, one object per lane), id for
// id, on one thread and on two (300 lanes: two blocks), and a snapshot taken mid-run replays the same
// steps. CpuCudaAgreement (cuda_test.cpp) compares the GPU against the CPU the same way.
template <class Env>
std::uint64_t minatar_hd_hash(std::int32_t threads, std::int32_t lanes, std::int64_t steps) {
  VecEnvConfig config;
  config.num_envs = lanes;
  config.threads = threads;
  auto env = make_thrust_env<Env, CpuSystemT<0>>(config);
  EXPECT_TRUE(env->spec().observation_space.is_uint8());
  EXPECT_EQ(env->state_dim(), 0) << Env::kId << ": a game object has no float state";
  EXPECT_TRUE(env->get_states().empty());
  return rollout_hash(*env, kSeed, steps);
}

TEST(Determinism, MinAtarHostDeviceFormMatchesTheCpuEnvForEveryId) {
  int ids = 0;
  minatar::for_each_id([&](auto tag) {
    using Tag = decltype(tag);
    using Env = minatar::MinAtarHd<typename Tag::Game, Tag::kMinimalActionSet>;
    VecEnvConfig config;
    config.num_envs = 300;
    config.threads = 2;
    const auto pool = make_cpu_env<minatar::MinAtarEnv<typename Tag::Game, Tag::kMinimalActionSet>>(config);
    const std::uint64_t cpu = rollout_hash(*pool, kSeed, 800);
    EXPECT_EQ(registry_hash(Env::kId, 2, 300, 800), cpu) << Env::kId << ": the registry's env and the thread pool's differ";
    EXPECT_EQ(minatar_hd_hash<Env>(1, 300, 800), cpu) << Env::kId << ": Thrust (1 thread) and the CPU env differ";
    EXPECT_EQ(minatar_hd_hash<Env>(2, 300, 800), cpu) << Env::kId << ": Thrust (2 threads) and the CPU env differ";
    ++ids;
  });
  EXPECT_EQ(ids, 10);
}

TEST(Determinism, MinAtarHostDeviceSnapshotReplaysTheSameSteps) {
  using Env = minatar::MinAtarHd<minatar::Seaquest, true>;  // the richest state: lists of objects
  VecEnvConfig config;
  config.num_envs = 300;
  config.threads = 2;
  auto env = make_thrust_env<Env, CpuSystemT<0>>(config);
  RandomActions random(env->spec(), env->num_envs(), 5);
  env->reset(5);
  for (int t = 0; t < 700; ++t) env->step(random.next());
  const std::vector<std::uint8_t> snapshot = env->save_snapshot();
  std::vector<ActionBatch> later;
  std::vector<std::vector<std::int32_t>> storage;
  HostBatch first, again;
  std::vector<HostBatch> seen;
  for (int t = 0; t < 300; ++t) {
    const ActionBatch a = random.next();
    storage.emplace_back(static_cast<const std::int32_t*>(a.data), static_cast<const std::int32_t*>(a.data) + a.rows);
    env->step(ActionBatch::discrete(storage.back().data(), a.rows));
    env->copy_to_host(first);
    seen.push_back(first);
  }
  env->load_snapshot(snapshot);
  for (int t = 0; t < 300; ++t) {
    env->step(ActionBatch::discrete(storage[t].data(), env->num_envs()));
    env->copy_to_host(again);
    ASSERT_EQ(again.obs_u8, seen[t].obs_u8) << "step " << t << " after the snapshot";
    ASSERT_EQ(again.reward, seen[t].reward) << "step " << t;
    ASSERT_EQ(again.terminated, seen[t].terminated) << "step " << t;
  }
  EXPECT_TRUE(again.obs.empty()) << "a uint8 env fills obs_u8 only";
  EXPECT_THROW(env->set_states(std::vector<float>(300, 0.0f)), std::logic_error);
}

INSTANTIATE_TEST_SUITE_P(Classic, Determinism,
                         ::testing::Values("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                           "Pendulum-v1"),
                         testing::EnvIdName());

}  // namespace
}  // namespace apiary::envs
