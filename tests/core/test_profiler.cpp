// Profiler: scoped timers accumulate into their category; fractions and the report.
#include "core/profiler.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST(Profiler, ScopedTimersAccumulatePerCategory) {
  Profiler prof;
  for (int i = 0; i < 3; ++i) {
    ScopedTimer t(prof, ProfileCategory::kEnv);
    sleep_ms(10);
  }
  {
    auto t = prof.scope(ProfileCategory::kLearning);
    sleep_ms(20);
  }
  const ProfileReport r = prof.report();
  const auto& env = r[ProfileCategory::kEnv];
  const auto& learn = r[ProfileCategory::kLearning];
  EXPECT_EQ(env.count, 3);
  EXPECT_GE(env.seconds, 0.030);
  EXPECT_LT(env.seconds, 0.5);
  EXPECT_EQ(learn.count, 1);
  EXPECT_GE(learn.seconds, 0.020);
  EXPECT_LT(learn.seconds, 0.5);
  EXPECT_EQ(r[ProfileCategory::kInference].seconds, 0);
  EXPECT_NEAR(r.total_seconds, env.seconds + learn.seconds, 1e-9);
  EXPECT_NEAR(env.fraction + learn.fraction, 1.0, 1e-9);
  EXPECT_GT(env.fraction, 0.3);
  EXPECT_GE(r.wall_seconds, r.total_seconds - 1e-3);
  EXPECT_CONTAINS(r.to_string(), "env ");
  EXPECT_CONTAINS(r.to_string(), "learning ");
  EXPECT_EQ(r.to_string().find("transport"), std::string::npos);
}

TEST(Profiler, AddResetAndThreads) {
  Profiler prof;
  prof.add(ProfileCategory::kTransport, 1.5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) prof.add(ProfileCategory::kOther, 0.001);
    });
  }
  for (auto& t : threads) t.join();
  ProfileReport r = prof.report();
  EXPECT_NEAR(r[ProfileCategory::kTransport].seconds, 1.5, 1e-6);
  EXPECT_NEAR(r[ProfileCategory::kOther].seconds, 4.0, 1e-6);
  EXPECT_EQ(r[ProfileCategory::kOther].count, 4000);
  EXPECT_NEAR(r[ProfileCategory::kTransport].fraction, 1.5 / 5.5, 1e-6);
  prof.reset();
  r = prof.report();
  EXPECT_EQ(r.total_seconds, 0);
  EXPECT_EQ(r[ProfileCategory::kTransport].fraction, 0);
  EXPECT_STREQ(profile_category_name(ProfileCategory::kInference), "inference");
}

}  // namespace
}  // namespace apiary::core
