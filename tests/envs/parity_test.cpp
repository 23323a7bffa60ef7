// One-step parity with Gymnasium 1.4 on every row of tests/data/reference/classic/*.csv: next state,
// observation, reward and terminated, both through the env's own functions and through the batched
// back end (every row a lane, stepped at once). Apiary computes in float32 and Gymnasium in float64,
// so values agree to rtol 1e-5 (plus atol 1e-6 for values near zero), and `terminated` must match
// except where the reference state lies within that tolerance of the threshold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "envs/classic/acrobot.h"
#include "envs/classic/cartpole.h"
#include "envs/classic/mountain_car.h"
#include "envs/classic/pendulum.h"
#include "envs/registry.h"
#include "tests/envs/reference.h"

namespace apiary::envs {
namespace {

// The repository stands alone: the reference data the parity tests read lives inside it, and no file
// of the project points at a folder beside the repository.
TEST(ReferenceData, LivesInsideTheRepository) {
  namespace fs = std::filesystem;
  const fs::path source = fs::weakly_canonical(APIARY_SOURCE_DIR);
  const fs::path reference = fs::weakly_canonical(APIARY_DEFAULT_REFERENCE_DIR);
  const auto [end, _] = std::mismatch(source.begin(), source.end(), reference.begin(), reference.end());
  EXPECT_TRUE(end == source.end()) << reference << " is outside the repository " << source;
  for (const char* file : {"README.md", "box2d_envs.md", "classic/CartPole-v1.csv", "classic/Acrobot-v1.csv",
                           "classic/MountainCar-v0.csv", "classic/MountainCarContinuous-v0.csv",
                           "classic/Pendulum-v1.csv"})
    EXPECT_TRUE(fs::is_regular_file(reference / file)) << (reference / file) << " is missing";

  // No source, script, config or document refers to the folder beside the repository. The needle is
  // built in two parts so that this file does not find itself.
  const std::string needle = std::string("../") + "shared";
  std::vector<std::string> offenders;
  for (auto it = fs::recursive_directory_iterator(source); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name == ".git" || name == "runs" || name == "Testing")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->file_size() > (4u << 20)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find(needle) != std::string::npos) offenders.push_back(it->path().string());
  }
  EXPECT_TRUE(offenders.empty()) << "files that refer to " << needle << ": " << ::testing::PrintToString(offenders);
}

constexpr double kRtol = 1e-5;
constexpr double kAtol = 1e-6;

bool close(double actual, double expected) { return std::fabs(actual - expected) <= kRtol * std::fabs(expected) + kAtol; }

// How far a reference next state is from flipping `terminated`, in the units of the compared values.
struct CartPoleTraits {
  static void canonical(std::vector<double>&) {}
  using Env = CartPole;
  static constexpr const char* kFile = "CartPole-v1.csv";
  static double margin(const std::vector<double>& s) {
    const CartPole::Params p;
    return std::min(std::fabs(std::fabs(s[0]) - p.x_threshold), std::fabs(std::fabs(s[2]) - p.theta_threshold_radians));
  }
};
struct AcrobotTraits {
  static void canonical(std::vector<double>&) {}
  using Env = Acrobot;
  static constexpr const char* kFile = "Acrobot-v1.csv";
  static double margin(const std::vector<double>& s) { return std::fabs(-std::cos(s[0]) - std::cos(s[1] + s[0]) - 1.0); }
};
struct MountainCarTraits {
  static void canonical(std::vector<double>&) {}
  using Env = MountainCar;
  static constexpr const char* kFile = "MountainCar-v0.csv";
  static double margin(const std::vector<double>& s) { return std::min(std::fabs(s[0] - 0.5), std::fabs(s[1])); }
};
struct MountainCarContinuousTraits {
  static void canonical(std::vector<double>&) {}
  using Env = MountainCarContinuous;
  static constexpr const char* kFile = "MountainCarContinuous-v0.csv";
  static double margin(const std::vector<double>& s) { return std::min(std::fabs(s[0] - 0.45), std::fabs(s[1])); }
};
struct PendulumTraits {
  using Env = Pendulum;
  static constexpr const char* kFile = "Pendulum-v1.csv";
  static double margin(const std::vector<double>&) { return 1e300; }
  // Apiary keeps theta in [-pi, pi) (see pendulum.h); Gymnasium's theta maps there modulo 2 pi.
  static void canonical(std::vector<double>& s) { s[0] = std::remainder(s[0], 2.0 * M_PI); if (s[0] >= M_PI) s[0] -= 2.0 * M_PI; }
};

template <class Traits>
class ClassicParity : public ::testing::Test {
 protected:
  using Env = typename Traits::Env;
  using State = typename Env::State;
  using Action = typename Env::Action;

  void SetUp() override {
    table_ = testing::read_table(testing::reference_dir() + "/classic/" + Traits::kFile);
    s_ = table_.columns_with_prefix("s");
    next_s_ = table_.columns_with_prefix("next_s");
    obs_ = table_.columns_with_prefix("obs");
    action_ = table_.column("action");
    reward_ = table_.column("reward");
    terminated_ = table_.column("terminated");
    ASSERT_EQ(static_cast<int>(s_.size()), Env::kStateDim);
    ASSERT_EQ(static_cast<int>(obs_.size()), Env::kObsDim);
    ASSERT_GT(table_.rows.size(), 100u);
  }

  std::vector<double> cols(const std::vector<double>& row, const std::vector<int>& idx) const {
    std::vector<double> out;
    for (int i : idx) out.push_back(row[static_cast<std::size_t>(i)]);
    if (idx == s_ || idx == next_s_) Traits::canonical(out);
    return out;
  }
  State state_of(const std::vector<double>& row) const {
    const std::vector<double> values = cols(row, s_);
    float f[Env::kStateDim];
    for (int i = 0; i < Env::kStateDim; ++i) f[i] = static_cast<float>(values[static_cast<std::size_t>(i)]);
    State state;
    std::memcpy(&state, f, sizeof(state));
    return state;
  }
  Action action_of(const std::vector<double>& row) const {
    return static_cast<Action>(row[static_cast<std::size_t>(action_)]);
  }
  // terminated must match, except within tolerance of the threshold.
  void expect_terminated(bool actual, const std::vector<double>& row, std::size_t r) const {
    const bool expected = row[static_cast<std::size_t>(terminated_)] != 0.0;
    if (actual == expected) return;
    const auto next = cols(row, next_s_);
    EXPECT_LT(Traits::margin(next), 1e-4) << "row " << r << ": terminated " << actual << " vs " << expected
                                          << " away from the threshold";
  }

  testing::Table table_;
  std::vector<int> s_, next_s_, obs_;
  int action_ = 0, reward_ = 0, terminated_ = 0;
};

using ClassicEnvs = ::testing::Types<CartPoleTraits, AcrobotTraits, MountainCarTraits, MountainCarContinuousTraits,
                                     PendulumTraits>;
class EnvNames {
 public:
  template <class T>
  static std::string GetName(int) {
    std::string id = T::Env::kId;
    for (auto& c : id) if (c == '-') c = '_';
    return id;
  }
};
TYPED_TEST_SUITE(ClassicParity, ClassicEnvs, EnvNames);

// The env's functions on one lane, row by row.
TYPED_TEST(ClassicParity, EnvFunctionsMatchGymnasium) {
  using Env = typename TestFixture::Env;
  const typename Env::Params params;
  int checked = 0;
  for (std::size_t r = 0; r < this->table_.rows.size(); ++r) {
    const auto& row = this->table_.rows[r];
    auto state = this->state_of(row);
    const auto action = this->action_of(row);
    LaneRng rng{0, 0, 0};
    const StepOut out = Env::step(params, state, &action, rng);
    float next[Env::kStateDim];
    std::memcpy(next, &state, sizeof(state));
    const auto expected_next = this->cols(row, this->next_s_);
    for (int i = 0; i < Env::kStateDim; ++i)
      EXPECT_TRUE(close(next[i], expected_next[static_cast<std::size_t>(i)]))
          << "row " << r << " next_s" << i << ": " << next[i] << " vs " << expected_next[static_cast<std::size_t>(i)];
    float obs[Env::kObsDim];
    Env::observe(params, state, obs);
    const auto expected_obs = this->cols(row, this->obs_);
    for (int i = 0; i < Env::kObsDim; ++i)
      EXPECT_TRUE(close(obs[i], expected_obs[static_cast<std::size_t>(i)]))
          << "row " << r << " obs" << i << ": " << obs[i] << " vs " << expected_obs[static_cast<std::size_t>(i)];
    EXPECT_TRUE(close(out.reward, row[static_cast<std::size_t>(this->reward_)]))
        << "row " << r << " reward " << out.reward << " vs " << row[static_cast<std::size_t>(this->reward_)];
    this->expect_terminated(out.terminated, row, r);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(this->table_.rows.size()));
}

// The batched CPU back end: every row is a lane, all stepped at once.
TYPED_TEST(ClassicParity, BatchedBackendMatchesGymnasium) {
  using Env = typename TestFixture::Env;
  using Action = typename TestFixture::Action;
  const auto& rows = this->table_.rows;
  const auto n = static_cast<std::int32_t>(rows.size());
  auto env = make_env(Env::kId, n);
  env->reset(7);
  std::vector<float> states;
  std::vector<Action> actions;
  for (const auto& row : rows) {
    for (double v : this->cols(row, this->s_)) states.push_back(static_cast<float>(v));
    actions.push_back(this->action_of(row));
  }
  env->set_states(states);
  ActionBatch batch{actions.data(), Env::kDiscrete ? DType::kInt32 : DType::kFloat32, n, 1, Device::kCpu};
  env->step(batch);
  HostBatch host;
  env->copy_to_host(host);
  const auto next_states = env->get_states();
  int done_lanes = 0;
  for (std::int32_t lane = 0; lane < n; ++lane) {
    const auto& row = rows[static_cast<std::size_t>(lane)];
    const bool done = host.terminated[lane] || host.truncated[lane];
    done_lanes += done;
    // A finished lane was reset in the same step: its last observation is in final_obs.
    const float* obs = (done ? host.final_obs.data() : host.obs.data()) + lane * Env::kObsDim;
    const auto expected_obs = this->cols(row, this->obs_);
    for (int i = 0; i < Env::kObsDim; ++i)
      EXPECT_TRUE(close(obs[i], expected_obs[static_cast<std::size_t>(i)])) << "lane " << lane << " obs" << i;
    EXPECT_TRUE(close(host.reward[lane], row[static_cast<std::size_t>(this->reward_)])) << "lane " << lane;
    this->expect_terminated(host.terminated[lane] != 0, row, static_cast<std::size_t>(lane));
    EXPECT_EQ(host.truncated[lane], 0) << "one step cannot reach a time limit";
    if (!done) {
      const auto expected_next = this->cols(row, this->next_s_);
      for (int i = 0; i < Env::kStateDim; ++i)
        EXPECT_TRUE(close(next_states[static_cast<std::size_t>(lane * Env::kStateDim + i)],
                          expected_next[static_cast<std::size_t>(i)]))
            << "lane " << lane << " next_s" << i;
    }
  }
  // The reference holds terminating rows for every env that can terminate, and they were reset.
  if (std::string(Env::kId) != "Pendulum-v1") {
    EXPECT_GT(done_lanes, 0);
  }
}

}  // namespace
}  // namespace apiary::envs
