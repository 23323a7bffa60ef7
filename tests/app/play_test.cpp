// `apiary play` and `apiary plot` as a user runs them: every registered env played headless end to end
// with its frames recorded, trained checkpoints played (PPO discrete and continuous, DQN), checkpoints
// for another env or another network shape refused, a clear message where there is no display, a real
// window under Xvfb that draws and quits on a key pressed through XTest, and a plot of a metrics file.
#include <gif_lib.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "core/config.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "tests/common/cli.h"
#include "runner/play_policy.h"
#include "learner/train_config.h"
#include "render/image_io.h"
#include "render/painters.h"
#include "render/player.h"
#include "render/plot.h"

#ifdef APIARY_TEST_HAVE_X11
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#endif

namespace fs = std::filesystem;

namespace {

using apiary::testing::CmdResult;
using apiary::testing::parse_pairs;

// Runs `prefix apiary args` through the shell (prefix: environment settings, `timeout`, ...).
CmdResult run(const std::string& args, const std::string& prefix = "") { return apiary::testing::run_apiary(args, prefix); }

bool have_tool(const std::string& name) { return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0; }

class PlayCli : public apiary::testing::ScratchTest {
 protected:
  PlayCli() : ScratchTest("apiary_play_") {}
  // Trains a tiny run (seconds) and returns its best checkpoint.
  std::string train(const std::string& name, const std::string& algo, const std::string& env_id,
                    const std::string& extra = "") {
    const fs::path config = dir_ / (name + ".yaml");
    std::ofstream(config) << "name: " << name << "\nalgo: " << algo << "\nseed: 3\ntotal_steps: 2048\nthreads: 1\n"
                          << "out_dir: " << dir_.string() << "\nenv: {id: " << env_id << ", num_envs: 4}\n"
                          << "eval: {interval_steps: 1024, episodes: 2, num_envs: 2}\n"
                          << (algo == "ppo" ? "ppo: {rollout_steps: 64, update_epochs: 1, num_minibatches: 2}\n"
                                            : "dqn: {learning_starts: 256, buffer_size: 1000}\n")
                          << extra;
    const CmdResult r = run("train " + config.string() + " --quiet");
    EXPECT_EQ(r.status, 0) << r.output;
    return (dir_ / name / "checkpoints" / "best.pt").string();
  }
};

// ---- headless, every env -------------------------------------------------------------------------

TEST_F(PlayCli, HeadlessPlaysEveryRegisteredEnvAndRecordsItsFrames) {
  const auto ids = apiary::envs::Registry::global().ids();
  ASSERT_GE(ids.size(), 5u);
  for (const std::string& id : ids) {
    // MinAtar's -v0 ids are the -v1 games with all six actions: the same picture.
    if (id.rfind("MinAtar/", 0) == 0 && id.size() > 3 && id.compare(id.size() - 3, 3, "-v0") == 0) continue;
    const fs::path frames = dir_ / id;
    // A short time limit keeps every env's episode brief; the episode must end by itself.
    const CmdResult r = run("play --env " + id + " --headless --episodes 1 --record " + frames.string() +
                            " --option max_episode_steps=25 --seed 4");
    ASSERT_EQ(r.status, 0) << id << "\n" << r.output;
    auto s = parse_pairs(r.last_line());
    EXPECT_EQ(s["env"], id);
    EXPECT_EQ(s["episodes"], "1") << r.output;
    EXPECT_EQ(s["quit"], "0");
    const long steps = std::stol(s["steps"]);
    EXPECT_GE(steps, 1);
    EXPECT_LE(steps, 25);
    EXPECT_EQ(std::stol(s["frames_written"]), steps + 1) << id;
    EXPECT_NE(r.output.find("episode 1: return "), std::string::npos) << r.output;
    ASSERT_EQ(std::distance(fs::directory_iterator(frames), fs::directory_iterator()), steps + 1) << id;
    // Every frame is the env's picture plus the HUD; the env moves between the first and last.
    const auto env = apiary::envs::make_env(id, 1);
    const auto size = apiary::render::frame_size(*env, true);
    const apiary::render::Canvas first = apiary::render::load_png((frames / "frame_000000.png").string());
    char last_name[32];
    std::snprintf(last_name, sizeof last_name, "frame_%06ld.png", steps);
    const apiary::render::Canvas last = apiary::render::load_png((frames / last_name).string());
    EXPECT_EQ(first.width(), size.width) << id;
    EXPECT_EQ(first.height(), size.height) << id;
    EXPECT_NE(first.checksum(), last.checksum()) << id;
    // The env drew its own picture (no env of the registry falls back to observation bars), and the
    // first frame holds more than a background: at least two colours in the picture.
    EXPECT_TRUE(env->has_picture()) << id;
    std::map<std::uint32_t, int> colours;
    const auto picture = apiary::render::native_size(*env);
    for (int y = 0; y < picture.height; y += 3)
      for (int x = 0; x < picture.width; x += 3) {
        const auto c = first.pixel(x, y);
        ++colours[(std::uint32_t{c.r} << 16) | (std::uint32_t{c.g} << 8) | c.b];
      }
    // MinAtar's first frame can be the black field and one object (Asterix: the player alone).
    EXPECT_GE(colours.size(), id.rfind("MinAtar/", 0) == 0 ? 2u : 3u) << id;
  }
}

// --record FILE.gif: every frame into one animated GIF at the play speed (CarRacing: 50 fps, so 2
// hundredths a frame), the same frames the PNG folder would hold; a GIF in a missing folder is refused.
TEST_F(PlayCli, RecordsAnAnimatedGifOfEveryFrame) {
  const fs::path gif_path = dir_ / "car.gif";
  const CmdResult r = run("play --env CarRacing-v3 --headless --episodes 1 --record " + gif_path.string() +
                          " --option max_episode_steps=20 --seed 3");
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = parse_pairs(r.last_line());
  const long written = std::stol(s["frames_written"]);
  EXPECT_EQ(written, std::stol(s["steps"]) + 1);
  int code = 0;
  GifFileType* gif = DGifOpenFileName(gif_path.string().c_str(), &code);
  ASSERT_NE(gif, nullptr) << GifErrorString(code);
  ASSERT_EQ(DGifSlurp(gif), GIF_OK);
  const auto env = apiary::envs::make_env("CarRacing-v3", 1);
  const auto size = apiary::render::frame_size(*env, true);
  EXPECT_EQ(gif->SWidth, size.width);
  EXPECT_EQ(gif->SHeight, size.height);
  EXPECT_EQ(gif->ImageCount, written);
  GraphicsControlBlock control{};
  ASSERT_EQ(DGifSavedExtensionToGCB(gif, 0, &control), GIF_OK);
  EXPECT_EQ(control.DelayTime, 2);
  // Frames differ as the car drives (random actions) and the camera zooms in.
  const SavedImage& first = gif->SavedImages[0];
  const SavedImage& last = gif->SavedImages[gif->ImageCount - 1];
  const std::size_t pixels = static_cast<std::size_t>(size.width) * size.height;
  EXPECT_FALSE(std::equal(first.RasterBits, first.RasterBits + pixels, last.RasterBits));
  DGifCloseFile(gif, &code);
  EXPECT_EQ(fs::status(gif_path).permissions() & fs::perms::others_read, fs::perms::others_read) << "readable by all";

  const CmdResult bad = run("play --env CartPole-v1 --headless --episodes 1 --record " +
                            (dir_ / "no_such_folder" / "x.gif").string());
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("no_such_folder"), std::string::npos) << bad.output;
}

TEST_F(PlayCli, BadInputIsRefusedWithAMessage) {
  CmdResult r = run("play --headless");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--env"), std::string::npos) << r.output;
  r = run("play --env NoSuchEnv-v9 --headless");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("NoSuchEnv-v9"), std::string::npos) << r.output;
  r = run("play --env CartPole-v1 --headless --episodes 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--headless"), std::string::npos) << r.output;
  r = run("play --checkpoint " + (dir_ / "missing.pt").string() + " --headless");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("missing.pt"), std::string::npos) << r.output;
  std::ofstream(dir_ / "junk.pt") << "not a checkpoint";
  r = run("play --checkpoint " + (dir_ / "junk.pt").string() + " --headless");
  EXPECT_EQ(r.status, 2);  // a checkpoint of a wrong format is bad input (issue 11)
  EXPECT_NE(r.output.find("junk.pt"), std::string::npos) << r.output;
  r = run("play --env CartPole-v1 --headless --option nope=1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("nope"), std::string::npos) << r.output;
}

// No display and no --headless: a message that says what to do, exit status 1, no crash and no wait
// for a window nobody can see (SDL would otherwise fall back to its invisible offscreen driver).
TEST_F(PlayCli, NoDisplayWithoutHeadlessSaysSo) {
  const CmdResult r = run("play --env CartPole-v1", "env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER timeout 60");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no display available"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--headless"), std::string::npos) << r.output;
}

// ---- checkpoints ------------------------------------------------------------------------------------

TEST_F(PlayCli, PlaysTrainedCheckpointsOfEveryKind) {
  struct Case {
    const char* algo;
    const char* env;
  };
  for (const Case& c : {Case{"ppo", "CartPole-v1"}, Case{"dqn", "CartPole-v1"}, Case{"ppo", "Pendulum-v1"}}) {
    const std::string name = std::string(c.algo) + "_" + c.env;
    const std::string checkpoint = train(name, c.algo, c.env);
    ASSERT_TRUE(fs::exists(checkpoint)) << checkpoint;
    const fs::path frames = dir_ / (name + "_frames");
    // --env may be left out (the checkpoint's) or given as the same id.
    const CmdResult r = run("play --checkpoint " + checkpoint + " --env " + c.env +
                            " --headless --episodes 1 --option max_episode_steps=40 --record " + frames.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(std::string(c.algo) + " checkpoint"), std::string::npos) << r.output;
    auto s = parse_pairs(r.last_line());
    EXPECT_EQ(s["env"], c.env);
    EXPECT_EQ(s["episodes"], "1");
    EXPECT_EQ(std::stol(s["frames_written"]), std::stol(s["steps"]) + 1);
    // The HUD shows the policy's bars (probabilities, Q-values or the mean; random play shows none),
    // the chosen discrete action's bar highlighted.
    char last_name[32];
    std::snprintf(last_name, sizeof last_name, "frame_%06ld.png", std::stol(s["steps"]) - 1);
    const auto frame = apiary::render::load_png((frames / last_name).string());
    const int picture_w = apiary::render::native_size(*apiary::envs::make_env(c.env, 1)).width;
    int bar_back = 0, chosen = 0;
    for (int y = 0; y < frame.height(); ++y)
      for (int x = picture_w; x < frame.width(); ++x) {
        bar_back += frame.pixel(x, y) == apiary::render::Color{62, 66, 80, 255};
        chosen += frame.pixel(x, y) == apiary::render::Color{250, 190, 60, 255};
      }
    EXPECT_GT(bar_back, 200) << name;
    if (std::string(c.env) == "CartPole-v1") {
      EXPECT_GT(chosen, 10) << name;
    }
  }
}

// The zoo's entries play by name and by env id (zoo:NAME, zoo:ENV_ID), as they evaluate; an unknown
// entry is refused naming it.
TEST_F(PlayCli, PlaysZooEntriesByNameAndByEnvId) {
  for (const std::string entry : {"zoo:cartpole_ppo", "zoo:Pendulum-v1"}) {
    const CmdResult r = run("play --checkpoint " + entry + " --headless --episodes 1 --option max_episode_steps=30");
    ASSERT_EQ(r.status, 0) << entry << "\n" << r.output;
    auto s = parse_pairs(r.last_line());
    EXPECT_EQ(s["env"], entry == "zoo:cartpole_ppo" ? "CartPole-v1" : "Pendulum-v1") << r.output;
    EXPECT_EQ(s["steps"], "30") << r.output;
  }
  const CmdResult r = run("play --checkpoint zoo:no_such_entry --headless");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no_such_entry"), std::string::npos) << r.output;
}

TEST_F(PlayCli, PolicyFromACheckpointActsDeterministically) {
  const std::string checkpoint = train("ppo_cartpole", "ppo", "CartPole-v1");
  auto policy = apiary::runner::PlayPolicy::load(checkpoint);
  EXPECT_EQ(policy->env_id(), "CartPole-v1");
  EXPECT_EQ(policy->algo(), "ppo");
  const std::vector<float> obs = {0.01f, -0.2f, 0.05f, 0.3f};
  const auto a = policy->act(obs), b = policy->act(obs);
  ASSERT_EQ(a.scores.size(), 2u);
  EXPECT_NEAR(a.scores[0] + a.scores[1], 1.0f, 1e-5f);
  EXPECT_EQ(a.action, b.action);
  EXPECT_EQ(a.action[0], a.scores[1] > a.scores[0] ? 1.0f : 0.0f);  // the most probable action
  EXPECT_THROW(policy->act({1.0f, 2.0f}), std::invalid_argument);
}

TEST_F(PlayCli, RefusesACheckpointForAnotherEnvNamingBoth) {
  const std::string checkpoint = train("ppo_cartpole", "ppo", "CartPole-v1");
  const CmdResult r = run("play --checkpoint " + checkpoint + " --env Acrobot-v1 --headless");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("CartPole-v1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Acrobot-v1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(checkpoint), std::string::npos) << r.output;
}

// A checkpoint whose weights are not the network its config describes (here: weights of a [64, 64]
// network under a config that says [32]; in practice a custom env whose observation changed since
// training) is refused with the parameter and both shapes, not a crash inside LibTorch.
TEST_F(PlayCli, RefusesACheckpointForAnotherNetworkShapeNamingTheParameter) {
  apiary::learner::TrainConfig config;
  config.env.id = "CartPole-v1";
  config.algo = "ppo";
  config.policy.hidden_sizes = {32};
  const apiary::envs::EnvSpec spec = apiary::envs::env_spec("CartPole-v1");
  apiary::agents::PolicyConfig trained;
  trained.hidden_sizes = {64, 64};
  apiary::agents::ActorCritic net(spec.obs_dim(), spec.action_space, trained);
  torch::serialize::OutputArchive archive, algorithm, model;
  archive.write("apiary.format", torch::tensor({std::int64_t{1}}, torch::kInt64));
  const std::string text = apiary::core::dump_config(config);
  archive.write("apiary.config",
                torch::from_blob(const_cast<char*>(text.data()), {static_cast<std::int64_t>(text.size())}, torch::kUInt8)
                    .clone());
  net->save(model);
  algorithm.write("model", model);
  archive.write("algorithm", algorithm);
  const std::string path = (dir_ / "mismatch.pt").string();
  archive.save_to(path);

  const CmdResult r = run("play --checkpoint " + path + " --headless");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("does not fit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[64, 4]"), std::string::npos) << r.output;   // what the checkpoint holds
  EXPECT_NE(r.output.find("[32, 4]"), std::string::npos) << r.output;   // what the config's network wants
  EXPECT_NE(r.output.find("actor_body"), std::string::npos) << r.output;
  EXPECT_THROW(apiary::runner::PlayPolicy::load(path), std::invalid_argument);
}

// ---- a real window ------------------------------------------------------------------------------

// Starts Xvfb on a free display (Xvfb picks it: -displayfd) and stops it at the end.
class Xvfb {
 public:
  Xvfb() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      // Xvfb ends with the test, however the test ends, and does not hold ctest's output open.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) {
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
      }
      const std::string fd = std::to_string(fds[1]);
      ::execlp("Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string number;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') number += c;
    ::close(fds[0]);
    if (!number.empty()) display_ = ":" + number;
  }
  ~Xvfb() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& display() const { return display_; }

 private:
  pid_t pid_ = -1;
  std::string display_;
};

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

#ifdef APIARY_TEST_HAVE_X11
// Pixels of the pole's colour (202, 152, 101) and the HUD panel's (34, 36, 44) in the window, read
// from the X server (what the window shows, not what the program meant to draw).
int x_errors = 0;  // X errors seen by window_pixels (Xlib's default handler would exit the test)
int count_x_error(Display*, XErrorEvent*) { return ++x_errors, 0; }

std::pair<int, int> window_pixels(const std::string& display, unsigned long window) {
  Display* d = XOpenDisplay(display.c_str());
  if (!d) return {-1, -1};
  XSetErrorHandler(count_x_error);
  x_errors = 0;
  XWindowAttributes attrs;
  if (XGetWindowAttributes(d, window, &attrs) == 0 || x_errors > 0) {  // the window went away
    XCloseDisplay(d);
    return {-1, -1};
  }
  XImage* image = XGetImage(d, window, 0, 0, attrs.width, attrs.height, AllPlanes, ZPixmap);
  int pole = 0, panel = 0;
  if (image) {
    for (int y = 0; y < attrs.height; ++y)
      for (int x = 0; x < attrs.width; ++x) {
        const unsigned long p = XGetPixel(image, x, y);
        const int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
        pole += r == 202 && g == 152 && b == 101;
        panel += r == 34 && g == 36 && b == 44;
      }
    XDestroyImage(image);
  }
  XCloseDisplay(d);
  return {pole, panel};
}
#endif

TEST_F(PlayCli, OpensARealWindowUnderXvfbAndQuitsOnQ) {
  if (!have_tool("Xvfb") || !have_tool("xdotool"))
    GTEST_SKIP() << "SKIPPED: this test needs Xvfb and xdotool (Debian packages xvfb and xdotool; `make deps` "
                    "installs them)";
  Xvfb xvfb;
  ASSERT_FALSE(xvfb.display().empty()) << "Xvfb did not start";
  const std::string env = "env -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER DISPLAY=" + xvfb.display() + " ";
  const fs::path log = dir_ / "play.log";
  // The window plays until it is told to quit (no --episodes limit), in the background.
  const std::string cmd = env + "timeout 120 " + std::string(APIARY_BINARY_DIR) +
                          "/apiary play --env CartPole-v1 --fps 30 > " + log.string() + " 2>&1; echo $? > " +
                          (dir_ / "status").string();
  std::thread player([cmd] { (void)std::system(cmd.c_str()); });
  // The window appears (xdotool waits for it, up to 30 s).
  const std::string window = capture(env + "timeout 30 xdotool search --sync --onlyvisible --name 'Apiary: CartPole-v1'");
  const bool found = !window.empty() && window.find_first_not_of("0123456789\n") == std::string::npos;
  if (found) {
    const std::string id = window.substr(0, window.find('\n'));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // some frames
#ifdef APIARY_TEST_HAVE_X11
    const auto [pole, panel] = window_pixels(xvfb.display(), std::stoul(id));
    EXPECT_GT(pole, 500) << "the pole is not on the window";
    EXPECT_GT(panel, 10000) << "the HUD is not on the window";
#endif
    // q through XTest into the focused window, as a person's key press would come.
    EXPECT_EQ(std::system((env + "xdotool windowfocus --sync " + id + " key --delay 50 q").c_str()), 0);
  }
  player.join();
  const std::string output = capture("cat " + log.string());
  ASSERT_TRUE(found) << "no window appeared: " << window << "\n" << output;
  EXPECT_EQ(capture("cat " + (dir_ / "status").string()), "0") << output;
  auto s = parse_pairs(output.substr(output.rfind('\n') + 1));
  EXPECT_EQ(s["quit"], "1") << output;
  EXPECT_GT(std::stol(s["steps"]), 5) << output;  // it played before q
}

// ---- plot -------------------------------------------------------------------------------------------

TEST_F(PlayCli, PlotDrawsALineFromAMetricsFile) {
  const fs::path run_dir = dir_ / "tiny_run";
  fs::create_directories(run_dir);
  std::ofstream(run_dir / "metrics.csv") << "step,wall_seconds,eval_mean_return,eval_std_return,mean_return\n"
                                            "0,0,10,1,\n512,0.5,,,20\n1024,1.0,120,5,\n2048,2.0,300,8,\n"
                                            "4096,4.0,480,3,\n";
  const fs::path out = dir_ / "curve.png";
  CmdResult r = run("plot " + run_dir.string() + " -o " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = parse_pairs(r.last_line());
  EXPECT_EQ(s["runs"], "1");
  EXPECT_EQ(s["points"], "4");
  const auto image = apiary::render::load_png(out.string());
  EXPECT_EQ(image.width(), 1100);
  EXPECT_EQ(image.height(), 440);
  // The curve's colour draws a line across the steps panel, rising to the right.
  const auto colour = apiary::render::curve_color(0);
  int first_x = -1, last_x = -1;
  double first_y = 0, last_y = 0;
  for (int x = 0; x < 550; ++x) {
    int n = 0;
    double sum = 0;
    for (int y = 30; y < 440; ++y)
      if (image.pixel(x, y) == colour) {
        ++n;
        sum += y;
      }
    if (n == 0) continue;
    if (first_x < 0) {
      first_x = x;
      first_y = sum / n;
    }
    last_x = x;
    last_y = sum / n;
  }
  EXPECT_GT(last_x - first_x, 300);
  EXPECT_LT(last_y, first_y - 200);
  // Two runs on one figure; a run without metrics is refused naming it.
  r = run("plot " + run_dir.string() + " " + run_dir.string() + " -o " + out.string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_pairs(r.last_line())["runs"], "2");
  r = run("plot " + (dir_ / "empty_run").string() + " -o " + out.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("empty_run"), std::string::npos) << r.output;
  r = run("plot " + run_dir.string() + " -o " + (dir_ / "no" / "such" / "dir.png").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
}

}  // namespace
