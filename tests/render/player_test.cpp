// The play loop driven by a scripted display: keys (quit, pause, single step, speed, reset, human
// control), an agent's decisions and the HUD's bars, episode summaries, recorded frames, and an env
// without a painter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <sstream>

#include "envs/registry.h"
#include "render/image_io.h"
#include "render/player.h"
#include "tests/render/test_util.h"

namespace apiary::render {
namespace {

namespace fs = std::filesystem;
using testing::is;
using testing::stats;

// A display whose events come from a script: one list of events per poll() call.
class ScriptedDisplay final : public Display {
 public:
  std::deque<std::vector<InputEvent>> script;
  HeldKeys keys;
  int shows = 0;
  int polls = 0;
  void show(const Canvas&) override { ++shows; }
  std::vector<InputEvent> poll() override {
    ++polls;
    if (script.empty()) return {};
    auto events = script.front();
    script.pop_front();
    return events;
  }
  HeldKeys held() const override { return keys; }
  bool realtime() const override { return false; }
  void wait(int) override {}
};

InputEvent key(Key k) {
  InputEvent e;
  e.key = k;
  return e;
}

PlayerOptions options(std::int32_t episodes, std::int64_t max_steps = 0) {
  PlayerOptions o;
  o.episodes = episodes;
  o.max_steps = max_steps;
  o.seed = 5;
  return o;
}

TEST(Player, QuitsOnQWithoutStepping) {
  for (Key k : {Key::kQ, Key::kEscape}) {
    auto env = envs::make_env("CartPole-v1", 1);
    ScriptedDisplay display;
    display.script = {{key(k)}};
    std::ostringstream log;
    Player player(*env, display, {}, options(3), log);
    const PlayResult r = player.run();
    EXPECT_TRUE(r.quit);
    EXPECT_EQ(r.steps, 0);
    EXPECT_EQ(r.episodes, 0);
    EXPECT_EQ(r.frames, 1);  // the first frame, before any key
    EXPECT_EQ(display.shows, 1);
  }
  // Closing the window quits too.
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  InputEvent close;
  close.type = InputEvent::Type::kQuit;
  display.script = {{}, {}, {close}};
  std::ostringstream log;
  const PlayResult r = Player(*env, display, {}, options(3), log).run();
  EXPECT_TRUE(r.quit);
  EXPECT_EQ(r.steps, 2);
}

TEST(Player, SpacePausesAndNStepsOnce) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  display.script = {{key(Key::kSpace)}, {}, {}, {}, {key(Key::kN)}, {}, {}, {key(Key::kN)}, {}, {key(Key::kQ)}};
  std::ostringstream log;
  Player player(*env, display, {}, options(3), log);
  const PlayResult r = player.run();
  EXPECT_EQ(r.steps, 2);  // only the two single steps moved the env
  EXPECT_TRUE(r.quit);
  // Space again resumes.
  auto env2 = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay d2;
  d2.script = {{key(Key::kSpace)}, {}, {key(Key::kSpace)}, {}, {}, {key(Key::kQ)}};
  const PlayResult r2 = Player(*env2, d2, {}, options(3), log).run();
  EXPECT_EQ(r2.steps, 3);
}

TEST(Player, PlusAndMinusChangeTheSpeed) {
  auto env = envs::make_env("Acrobot-v1", 1);
  ScriptedDisplay display;
  display.script = {{key(Key::kPlus), key(Key::kPlus)}, {key(Key::kMinus)}};
  std::ostringstream log;
  Player player(*env, display, {}, options(0, 3), log);
  EXPECT_DOUBLE_EQ(player.fps(), 15.0);  // Acrobot's own rate
  player.run();
  EXPECT_DOUBLE_EQ(player.fps(), 30.0);
}

TEST(Player, HumanControlPushesTheCartWithTheArrowKeys) {
  for (bool right : {true, false}) {
    auto env = envs::make_env("CartPole-v1", 1);
    ScriptedDisplay display;
    display.script = {{key(Key::kH)}};
    display.keys.right = right;
    display.keys.left = !right;
    std::ostringstream log;
    Player player(*env, display, {}, options(0, 6), log);
    const PlayResult r = player.run();
    EXPECT_EQ(r.steps, 6);
    const float x_dot = env->get_states()[1];
    // Six pushes of 10 N on 1.1 kg for 0.02 s each: about 1 m/s, in the arrow's direction.
    if (right)
      EXPECT_GT(x_dot, 0.8f);
    else
      EXPECT_LT(x_dot, -0.8f);
    EXPECT_NE(log.str().find("human control on"), std::string::npos);
  }
}

TEST(Player, ResetStartsANewEpisodeWithoutCountingTheOldOne) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  display.script = {{}, {}, {}, {key(Key::kR)}, {key(Key::kQ)}};
  std::ostringstream log;
  Player player(*env, display, {}, options(5), log);
  const PlayResult r = player.run();
  EXPECT_EQ(r.episodes, 0);
  EXPECT_NE(log.str().find("episode 1: reset at step 3"), std::string::npos) << log.str();
  EXPECT_EQ(env->buffers().elapsed[0], 1);  // one step into the new episode
}

TEST(Player, PlaysEpisodesToTheEndAndSummarisesEach) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  std::ostringstream log;
  Player player(*env, display, {}, options(3), log);
  const PlayResult r = player.run();
  ASSERT_EQ(r.episodes, 3);
  ASSERT_EQ(r.summaries.size(), 3u);
  std::int64_t steps = 0;
  double total = 0;
  for (const auto& s : r.summaries) {
    steps += s.length;
    total += s.episode_return;
    EXPECT_DOUBLE_EQ(s.episode_return, static_cast<double>(s.length));  // CartPole pays 1 a step
    EXPECT_TRUE(s.terminated || s.truncated);
  }
  EXPECT_EQ(r.steps, steps);
  EXPECT_DOUBLE_EQ(r.mean_return, total / 3);
  EXPECT_EQ(r.frames, steps + 1);
  EXPECT_FALSE(r.quit);
  for (int e = 1; e <= 3; ++e)
    EXPECT_NE(log.str().find("episode " + std::to_string(e) + ": return "), std::string::npos) << log.str();
  // Random actions are reproducible from the seed.
  auto env2 = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay d2;
  std::ostringstream log2;
  const PlayResult r2 = Player(*env2, d2, {}, options(3), log2).run();
  EXPECT_EQ(r2.steps, r.steps);
}

// A recurrent policy's agent is told which observations begin an episode (it clears its memory
// there), and the HUD shows the norm of its memory when it reports one.
TEST(Player, TellsTheAgentWhereEpisodesBeginAndShowsItsMemory) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  std::ostringstream log;
  std::vector<bool> starts;
  Agent agent = [&starts](const std::vector<float>&, bool episode_start) {
    starts.push_back(episode_start);
    return AgentDecision{{1.0f}, {0.25f, 0.75f}, ScoreKind::kProbabilities, 2.5};
  };
  Player player(*env, display, agent, options(2), log);
  const PlayResult r = player.run();
  ASSERT_EQ(r.episodes, 2);
  ASSERT_EQ(static_cast<std::int64_t>(starts.size()), r.steps);
  const std::size_t second = static_cast<std::size_t>(r.summaries[0].length);
  for (std::size_t k = 0; k < starts.size(); ++k) EXPECT_EQ(starts[k], k == 0 || k == second) << k;
  // The same step without a memory to show: the HUD differs only there.
  auto env2 = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display2;
  Agent plain = [](const std::vector<float>&, bool) {
    return AgentDecision{{1.0f}, {0.25f, 0.75f}, ScoreKind::kProbabilities};
  };
  Player without(*env2, display2, plain, options(2), log);
  without.run();
  const Canvas& a = player.frame();
  const Canvas& b = without.frame();
  ASSERT_EQ(a.width(), b.width());
  int differ_left = 0, differ_hud = 0;
  for (int y = 0; y < a.height(); ++y)
    for (int x = 0; x < a.width(); ++x)
      if (!(a.pixel(x, y) == b.pixel(x, y))) ++(x < 600 ? differ_left : differ_hud);
  EXPECT_EQ(differ_left, 0);
  EXPECT_GT(differ_hud, 50) << "the memory line";
}

TEST(Player, ActsWithTheAgentAndShowsItsProbabilities) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  std::ostringstream log;
  int calls = 0;
  Agent agent = [&calls](const std::vector<float>& obs, bool /*episode_start*/) {
    ++calls;
    EXPECT_EQ(obs.size(), 4u);
    return AgentDecision{{1.0f}, {0.25f, 0.75f}, ScoreKind::kProbabilities};
  };
  Player player(*env, display, agent, options(0, 4), log);
  const PlayResult r = player.run();
  EXPECT_EQ(calls, 4);
  EXPECT_GT(env->get_states()[1], 0.5f);  // always pushed right
  // The HUD panel (right of the 600 px picture) shows the bars, the chosen action's highlighted.
  const Canvas& frame = player.frame();
  EXPECT_EQ(frame.width(), 600 + kHudWidth);
  const auto chosen = stats(frame, is(Color{250, 190, 60, 255}), 600, 0, frame.width(), frame.height());
  const auto other = stats(frame, is(Color{96, 140, 230, 255}), 600, 0, frame.width(), frame.height());
  EXPECT_GT(chosen.count, 0);
  EXPECT_GT(other.count, 0);
  // 0.75 of the bar against 0.25, on the same scale.
  EXPECT_NEAR(static_cast<double>(chosen.max_x - chosen.min_x + 1) / (other.max_x - other.min_x + 1), 3.0, 0.15);
  EXPECT_LT(other.mean_y, chosen.mean_y);  // "left" is listed first
  // An agent that answers the wrong number of action values is an error, not a crash.
  auto env2 = envs::make_env("CartPole-v1", 1);
  Agent bad = [](const std::vector<float>&, bool) { return AgentDecision{{1.0f, 0.0f}, {}, ScoreKind::kNone}; };
  Player broken(*env2, display, bad, options(1), log);
  EXPECT_THROW(broken.run(), std::runtime_error);
}

TEST(Player, RecordsEveryFrameAsPng) {
  const fs::path dir = fs::temp_directory_path() / ("apiary_player_" + std::to_string(::getpid())) / "frames";
  fs::remove_all(dir.parent_path());
  auto env = envs::make_env("Pendulum-v1", 1, envs::Device::kCpu, {{"max_episode_steps", 7}});
  ScriptedDisplay display;
  PlayerOptions o = options(1);
  o.record_dir = dir.string();  // made by the player
  std::ostringstream log;
  Player player(*env, display, {}, o, log);
  const PlayResult r = player.run();
  EXPECT_EQ(r.steps, 7);
  EXPECT_EQ(r.frames_written, 8);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 8);
  const Canvas last = load_png((dir / "frame_000007.png").string());
  EXPECT_EQ(last.width(), 500 + kHudWidth);
  EXPECT_EQ(last.height(), 500);
  EXPECT_EQ(last.checksum(), player.frame().checksum());
  fs::remove_all(dir.parent_path());
  // A record folder that cannot be made is refused before anything runs.
  PlayerOptions bad = options(1);
  bad.record_dir = "/proc/apiary_cannot_make_this";
  EXPECT_THROW(Player(*env, display, {}, bad, log), std::invalid_argument);
}

TEST(Player, HeadlessNeedsAnEnd) {
  auto env = envs::make_env("CartPole-v1", 1);
  ScriptedDisplay display;
  std::ostringstream log;
  EXPECT_THROW(Player(*env, display, {}, options(0), log), std::invalid_argument);
  auto two = envs::make_env("CartPole-v1", 2);
  EXPECT_THROW(Player(*two, display, {}, options(1), log), std::invalid_argument);
}

// An env with no painter and no Scene: its observation is drawn as bars, and it plays like any other.
class CounterEnv final : public envs::VecEnv {
 public:
  CounterEnv() : VecEnv(make_spec(), 1, envs::Device::kCpu, 1) {
    buffers_.obs = obs_;
    buffers_.final_obs = final_obs_;
    buffers_.reward = &reward_;
    buffers_.terminated = &terminated_;
    buffers_.truncated = &truncated_;
    buffers_.elapsed = &elapsed_;
    buffers_.episode_return = &return_;
    buffers_.final_return = &final_return_;
    buffers_.final_length = &final_length_;
  }
  static envs::EnvSpec make_spec() {
    envs::EnvSpec s;
    s.id = "Counter-v0";
    s.observation_space = envs::Space::box({0.0f, -1.0f, -1.0f}, {10.0f, 1.0f, 1.0f});
    s.action_space = envs::Space::discrete(2);
    s.max_episode_steps = 10;
    return s;
  }
  void set_threads(std::int32_t) override {}
  void reset(std::uint64_t) override {
    elapsed_ = 0;
    return_ = 0;
    observe();
  }
  void step(const envs::ActionBatch& actions) override {
    const int a = static_cast<const std::int32_t*>(actions.data)[0];
    ++elapsed_;
    reward_ = static_cast<float>(a);
    return_ += reward_;
    truncated_ = elapsed_ >= 10;
    terminated_ = 0;
    observe();
    if (truncated_) {
      std::copy(obs_, obs_ + 3, final_obs_);
      final_return_ = return_;
      final_length_ = elapsed_;
      reset(0);
    }
  }
  void copy_to_host(envs::HostBatch& out) const override {
    out.obs.assign(obs_, obs_ + 3);
    out.final_obs.assign(final_obs_, final_obs_ + 3);
    out.reward = {reward_};
    out.terminated = {terminated_};
    out.truncated = {truncated_};
    out.elapsed = {elapsed_};
    out.episode_return = {return_};
    out.final_return = {final_return_};
    out.final_length = {final_length_};
  }
  std::int32_t state_dim() const override { return 0; }
  std::vector<float> get_states() const override { return {}; }
  void set_states(const std::vector<float>&) override {}
  std::vector<std::uint8_t> save_snapshot() const override { return {}; }
  void load_snapshot(const std::vector<std::uint8_t>&) override {}

 private:
  void observe() {
    obs_[0] = static_cast<float>(elapsed_);
    obs_[1] = 1.0f;
    obs_[2] = -1.0f;
  }
  float obs_[3] = {}, final_obs_[3] = {};
  float reward_ = 0, return_ = 0, final_return_ = 0;
  std::uint8_t terminated_ = 0, truncated_ = 0;
  std::int32_t elapsed_ = 0, final_length_ = 0;
};

TEST(Player, PlaysAnEnvWithoutAPainterAsObservationBars) {
  CounterEnv env;
  ScriptedDisplay display;
  std::ostringstream log;
  Player player(env, display, {}, options(2), log);
  const PlayResult r = player.run();
  EXPECT_EQ(r.episodes, 2);
  EXPECT_EQ(r.steps, 20);
  const Canvas& frame = player.frame();
  EXPECT_EQ(frame.width(), 600 + kHudWidth);
  // Element 1 is at its high bound (a half-width bar to the right), element 2 at its low bound.
  const Color bar{70, 110, 200, 255};
  const auto row1 = stats(frame, is(bar), 0, 68, 600, 96), row2 = stats(frame, is(bar), 0, 96, 600, 124);
  EXPECT_GT(row1.count, 100);
  EXPECT_GT(row2.count, 100);
  EXPECT_GT(row1.mean_x, 300);
  EXPECT_LT(row2.mean_x, 300);
}

}  // namespace
}  // namespace apiary::render
