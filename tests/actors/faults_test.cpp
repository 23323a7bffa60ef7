// Faults of a multi-process run, as docs/distributed.md promises them, with the `apiary` program:
//  - Ctrl-C (SIGINT to the learner's process group, as a terminal sends it) or SIGTERM to `apiary train`
//    with two actors: it exits 0 as an in-process run does, having written checkpoints/latest.pt (the
//    config has no periodic checkpoints, so that file can only be the shutdown's), its actors exited
//    on their own (each printed its summary) and no actor process of the run is left.
//  - SIGKILL to the learner: no actor process of the run outlives it (PR_SET_PDEATHSIG).
//  - `apiary learner --bind tcp://127.0.0.1:PORT` with an actor started by hand: the learner is stopped
//    with SIGTERM, the actor waits (alive) until `apiary learner --resume` comes back on the same port,
//    rejoins, and the resumed run learns from it up to total_steps; the actor then stops on SIGTERM.
//  - One-process runs (no actors): SIGTERM, then `train --resume`, continues the counters; a run folder
//    is locked while a process writes it (a second `--resume` and an export into it are refused
//    naming the pid; a lock left by a SIGKILLed run does not block); two runs of one name started at
//    the same moment get two folders; a full disk (a 3 MB tmpfs, where the test may mount one) stops
//    the run with the file and the reason, leaves no half-written checkpoint, and the earlier
//    checkpoint still loads.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/cli.h"
#include "tests/common/ports.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Polls `done` every 20 ms until it holds or `seconds` pass; returns its last value.
bool wait_for(const std::function<bool()>& done, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!done()) {
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A process that is there and not a zombie.
bool alive(pid_t pid) {
  const std::string stat = apiary::testing::read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Live `apiary actor` processes connected to `endpoint` (from every process's command line), wherever
// they were reparented to.
std::vector<pid_t> actors_of(const std::string& endpoint) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string raw = apiary::testing::read_text(e.path() / "cmdline");
    std::vector<std::string> args;
    std::string arg;
    for (char c : raw) {
      if (c == '\0') {
        args.push_back(arg);
        arg.clear();
      } else {
        arg += c;
      }
    }
    bool is_actor = false, connected = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      is_actor = is_actor || args[i] == "actor";
      connected = connected || (args[i] == "--connect" && i + 1 < args.size() && args[i + 1] == endpoint);
    }
    const auto pid = static_cast<pid_t>(std::stoi(name));
    if (is_actor && connected && alive(pid)) out.push_back(pid);
  }
  return out;
}

// A child running `apiary ARGS...` with stdout and stderr to `out`, in a process group of its own (the
// test signals the group as a terminal would and kills what is left if an assertion fails).
class Child {
 public:
  Child(const std::vector<std::string>& args, const fs::path& out) : out_(out) {
    const std::string program = std::string(APIARY_BINARY_DIR) + "/apiary";
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(program.c_str(), argv.data());
      ::_exit(127);
    }
    if (pid_ > 0) ::setpgid(pid_, pid_);
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() {
    if (!exited_ && pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }
  bool wait_exit(double seconds) {
    return wait_for([&] { return exited(); }, seconds);
  }
  // 0..255 for an exit, -signal for a kill, -1000 while running.
  int code() const {
    if (!exited_) return -1000;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
  }
  std::string output() const { return apiary::testing::read_text(out_); }

 private:
  fs::path out_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "apiary-faults-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
};

// A PPO CartPole-v1 run that takes minutes, so that it is still running when the test signals it; no
// periodic checkpoints and no evaluation before the end.
std::string cartpole_config(const fs::path& out_dir, std::int64_t total_steps, int actors) {
  std::ostringstream os;
  os << "name: f\nout_dir: " << out_dir.string() << "\ntotal_steps: " << total_steps << R"(
algo: ppo
seed: 3
threads: 1
checkpoint_interval_steps: 0
env: {id: CartPole-v1, num_envs: 8}
policy: {hidden_sizes: [32, 32], activation: tanh}
ppo: {rollout_steps: 32, num_minibatches: 1, update_epochs: 2}
eval: {interval_steps: 0, episodes: 4, num_envs: 4}
actors: {count: )" << actors
     << ", restart_backoff_seconds: 0.2}\n";
  return os.str();
}

// The learner's endpoint, from its "listening on ENDPOINT (session ...)" line.
std::string listening_endpoint(const std::string& output) {
  std::smatch m;
  static const std::regex re("listening on (\\S+) \\(session");
  return std::regex_search(output, m, re) ? m[1].str() : "";
}

// The data rows of metrics.csv: the value of its first column ("step") in each.
std::vector<double> metric_steps(const fs::path& csv) {
  std::vector<double> steps;
  std::istringstream in(apiary::testing::read_text(csv));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line))
    if (!line.empty()) steps.push_back(std::atof(line.c_str()));
  return steps;
}

// The number after " KEY" (e.g. " steps: 1536" or " transport_chunks 6") in a summary; -1 when absent.
double summary_value(const std::string& text, const std::string& key) {
  std::smatch m;
  const std::regex re("(^|\\s)" + key + "(-?[0-9.e+]+)");
  return std::regex_search(text, m, re) ? std::atof(m[2].str().c_str()) : -1;
}

// Starts `apiary train` with two actors and waits until both run and updates happen.
struct TrainRun {
  explicit TrainRun(const TempDir& dir)
      : config(dir.path / "c.yaml"), run_dir(dir.path / "runs" / "f"), out(dir.path / "out.txt") {
    std::ofstream(config) << cartpole_config(dir.path / "runs", 100000000, 2);
    learner.emplace(std::vector<std::string>{"train", config.string(), "--quiet"}, out);
  }
  // Both actors joined (so past their start-up) and metrics rows written (chunks flowing, updates
  // done); fills `endpoint` and `pids`.
  ::testing::AssertionResult wait_running() {
    const bool ok = wait_for(
        [&] {
          if (learner->exited()) return true;
          if (endpoint.empty()) endpoint = listening_endpoint(learner->output());
          if (endpoint.empty()) return false;
          pids = actors_of(endpoint);
          const std::string text = learner->output();
          return pids.size() == 2 && text.find("actor 0 joined") != std::string::npos &&
                 text.find("actor 1 joined") != std::string::npos &&
                 metric_steps(run_dir / "metrics.csv").size() >= 3;
        },
        60);
    if (!ok || learner->exited())
      return ::testing::AssertionFailure() << "the run did not get going (" << pids.size() << " actors)\n"
                                           << learner->output();
    return ::testing::AssertionSuccess();
  }
  fs::path config, run_dir, out;
  std::optional<Child> learner;
  std::string endpoint;
  std::vector<pid_t> pids;
};

// SIGINT or SIGTERM: the learner stops its actors, writes its last checkpoint and exits 0.
void stop_cleanly(int sig, bool to_group) {
  TempDir dir;
  TrainRun run(dir);
  ASSERT_TRUE(run.wait_running());
  const fs::path latest = run.run_dir / "checkpoints" / "latest.pt";
  ASSERT_FALSE(fs::exists(latest)) << "no periodic checkpoints in this config";

  ASSERT_EQ(::kill(to_group ? -run.learner->pid() : run.learner->pid(), sig), 0);
  // The actors get SIGTERM and 3 s before SIGKILL; exiting takes less on a loaded machine too.
  ASSERT_TRUE(run.learner->wait_exit(30)) << "the learner did not exit\n" << run.learner->output();
  const std::string text = run.learner->output();
  EXPECT_EQ(run.learner->code(), 0) << text;
  EXPECT_NE(text.find("stopped early: checkpoint written to"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(latest)) << text;
  const double steps = summary_value(text, "steps: ");
  EXPECT_GT(steps, 0) << text;
  EXPECT_LT(steps, 100000000) << text;
  EXPECT_NE(apiary::testing::read_text(run.run_dir / "train.log").find("end step " + std::to_string(static_cast<long long>(steps))),
            std::string::npos);

  // Every actor of the run is gone: none connected to its endpoint, none of the pids seen.
  EXPECT_TRUE(actors_of(run.endpoint).empty()) << run.endpoint;
  for (pid_t p : run.pids) EXPECT_FALSE(alive(p)) << "actor pid " << p << " outlived the learner";
  // ... and they stopped on the learner's SIGTERM, not its SIGKILL: each printed its summary.
  for (int id = 0; id < 2; ++id) {
    const std::string log = apiary::testing::read_text(run.run_dir / ("actor-" + std::to_string(id) + ".log"));
    EXPECT_NE(log.find("actor_id: " + std::to_string(id) + " chunks_sent: "), std::string::npos) << log;
  }
}

TEST(FaultsTest, CtrlCStopsTheActorsAndWritesTheLastCheckpoint) { stop_cleanly(SIGINT, /*to_group=*/true); }

TEST(FaultsTest, SigtermStopsTheActorsAndWritesTheLastCheckpoint) { stop_cleanly(SIGTERM, /*to_group=*/false); }

TEST(FaultsTest, ActorsDieWithAKilledLearner) {
  TempDir dir;
  TrainRun run(dir);
  ASSERT_TRUE(run.wait_running());
  ASSERT_EQ(::kill(run.learner->pid(), SIGKILL), 0);
  ASSERT_TRUE(run.learner->wait_exit(10));
  EXPECT_EQ(run.learner->code(), -SIGKILL);
  // An actor killed by PR_SET_PDEATHSIG loses its command line before it is a zombie: wait for both.
  const auto gone = [&] {
    for (pid_t p : run.pids)
      if (alive(p)) return false;
    return actors_of(run.endpoint).empty();
  };
  EXPECT_TRUE(wait_for(gone, 5)) << actors_of(run.endpoint).size() << " actors of " << run.endpoint
                                 << " outlived their learner";
  for (pid_t p : run.pids) {
    EXPECT_FALSE(alive(p)) << "actor pid " << p << " outlived the learner";
    if (alive(p)) ::kill(p, SIGKILL);
  }
}

TEST(FaultsTest, AnActorWaitsForARestartedLearnerAndRejoins) {
  TempDir dir;
  const int port = apiary::testing::free_port_triple();
  ASSERT_GT(port, 0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  const std::int64_t total_steps = 40000;
  const fs::path config = dir.path / "c.yaml", run_dir = dir.path / "runs" / "f";
  std::ofstream(config) << cartpole_config(dir.path / "runs", total_steps, 0);

  std::optional<Child> learner;
  learner.emplace(std::vector<std::string>{"learner", config.string(), "--bind", endpoint, "--quiet"},
                  dir.path / "learner1.txt");
  ASSERT_TRUE(wait_for([&] { return learner->exited() || !listening_endpoint(learner->output()).empty(); }, 60))
      << learner->output();
  ASSERT_FALSE(learner->exited()) << learner->output();
  Child actor({"actor", "--connect", endpoint}, dir.path / "actor.txt");

  // Some progress, well short of total_steps, then SIGTERM: the learner checkpoints and exits 0.
  ASSERT_TRUE(wait_for([&] { return learner->exited() || metric_steps(run_dir / "metrics.csv").size() >= 2; }, 60))
      << learner->output() << actor.output();
  ASSERT_FALSE(learner->exited()) << learner->output();
  ASSERT_EQ(::kill(learner->pid(), SIGTERM), 0);
  ASSERT_TRUE(learner->wait_exit(30)) << learner->output();
  const std::string first = learner->output();
  ASSERT_EQ(learner->code(), 0) << first;
  ASSERT_NE(first.find("stopped early"), std::string::npos) << "the first session ran to the end\n" << first;
  const auto checkpoint_step = static_cast<std::int64_t>(summary_value(first, "steps: "));
  ASSERT_GT(checkpoint_step, 0) << first;
  ASSERT_LT(checkpoint_step, total_steps / 2) << first;
  EXPECT_NE(first.find("actor 0 joined"), std::string::npos) << first;

  // The actor waits for its learner: still alive a while later (sending blocks, nothing crashes).
  wait_for([&] { return actor.exited(); }, 1.5);
  ASSERT_FALSE(actor.exited()) << "the actor exited without its learner (code " << actor.code() << ")\n"
                               << actor.output();

  // The learner comes back on the same endpoint from its checkpoint; the actor rejoins and the run
  // reaches total_steps with its chunks (it is the only actor).
  learner.emplace(std::vector<std::string>{"learner", "--resume", run_dir.string(), "--bind", endpoint, "--quiet"},
                  dir.path / "learner2.txt");
  ASSERT_TRUE(learner->wait_exit(90)) << "the resumed run did not finish\n" << learner->output() << actor.output();
  const std::string second = learner->output();
  EXPECT_EQ(learner->code(), 0) << second;
  EXPECT_EQ(second.find("stopped early"), std::string::npos) << second;
  EXPECT_GE(summary_value(second, "steps: "), static_cast<double>(total_steps)) << second;
  EXPECT_GT(summary_value(second, "transport_chunks "), 0) << second;
  // It resumed from the step the first session ended at (the last checkpoint is the final state).
  EXPECT_NE(apiary::testing::read_text(run_dir / "train.log").find("resume at step " + std::to_string(checkpoint_step)),
            std::string::npos)
      << apiary::testing::read_text(run_dir / "train.log");
  // Metrics continue: the first session's rows up to the checkpoint, then rows past it.
  const auto steps = metric_steps(run_dir / "metrics.csv");
  ASSERT_FALSE(steps.empty());
  EXPECT_LE(steps.front(), static_cast<double>(checkpoint_step));
  EXPECT_GT(steps.back(), static_cast<double>(checkpoint_step));
  EXPECT_TRUE(fs::exists(run_dir / "checkpoints" / "latest.pt"));

  // The actor outlives this learner as well, and stops on SIGTERM with its summary.
  ASSERT_FALSE(actor.exited()) << actor.output();
  ASSERT_EQ(::kill(actor.pid(), SIGTERM), 0);
  ASSERT_TRUE(actor.wait_exit(10)) << "the actor did not stop on SIGTERM\n" << actor.output();
  EXPECT_EQ(actor.code(), 0) << actor.output();
  EXPECT_NE(actor.output().find("chunks_sent: "), std::string::npos) << actor.output();
}

// A one-process run (no actor processes) of `cartpole_config`, checkpointing every `checkpoint_steps`.
struct SoloRun {
  SoloRun(const TempDir& dir, std::int64_t checkpoint_steps, const fs::path& out_dir)
      : config(dir.path / "solo.yaml"), run_dir(out_dir / "f"), out(dir.path / "solo.txt") {
    std::string text = cartpole_config(out_dir, 100000000, 0);
    const std::string no_checkpoints = "checkpoint_interval_steps: 0";
    text.replace(text.find(no_checkpoints), no_checkpoints.size(),
                 "checkpoint_interval_steps: " + std::to_string(checkpoint_steps));
    std::ofstream(config) << text;
    learner.emplace(std::vector<std::string>{"train", config.string(), "--quiet"}, out);
  }
  // Metrics rows written (updates done), and latest.pt there when `checkpoint` is asked for.
  ::testing::AssertionResult wait_running(bool checkpoint) {
    const bool ok = wait_for(
        [&] {
          return learner->exited() || (metric_steps(run_dir / "metrics.csv").size() >= 3 &&
                                       (!checkpoint || fs::exists(run_dir / "checkpoints" / "latest.pt")));
        },
        60);
    if (!ok || learner->exited())
      return ::testing::AssertionFailure() << "the run did not get going\n" << learner->output();
    return ::testing::AssertionSuccess();
  }
  fs::path config, run_dir, out;
  std::optional<Child> learner;
};

// SIGTERM to a one-process run, then `train --resume`: the second session starts at the step the first
// ended at and carries its counters on (steps, metrics rows, the log).
TEST(FaultsTest, SigtermThenResumeContinuesTheCounters) {
  TempDir dir;
  SoloRun run(dir, 0, dir.path / "runs");
  ASSERT_TRUE(run.wait_running(false));
  ASSERT_EQ(::kill(run.learner->pid(), SIGTERM), 0);
  ASSERT_TRUE(run.learner->wait_exit(30)) << run.learner->output();
  const std::string first = run.learner->output();
  ASSERT_EQ(run.learner->code(), 0) << first;
  ASSERT_NE(first.find("stopped early: checkpoint written to"), std::string::npos) << first;
  const auto stopped_at = static_cast<std::int64_t>(summary_value(first, "steps: "));
  ASSERT_GT(stopped_at, 0) << first;

  const apiary::testing::CmdResult second =
      apiary::testing::run_apiary("train --resume " + run.run_dir.string() + " --quiet --session-steps 2048");
  ASSERT_EQ(second.status, 0) << second.output;
  const auto resumed_to = static_cast<std::int64_t>(summary_value(second.output, "steps: "));
  EXPECT_GE(resumed_to, stopped_at + 2048) << second.output;
  EXPECT_LT(resumed_to, stopped_at + 2048 + 8 * 32) << "one update of 8 lanes x 32 steps past the session\n"
                                                   << second.output;
  const std::string log = apiary::testing::read_text(run.run_dir / "train.log");
  EXPECT_NE(log.find("resume at step " + std::to_string(stopped_at)), std::string::npos) << log;
  const auto steps = metric_steps(run.run_dir / "metrics.csv");
  ASSERT_GE(steps.size(), 4u);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_LT(steps[i - 1], steps[i]) << "row " << i;
  EXPECT_LE(steps.front(), static_cast<double>(stopped_at));
  EXPECT_GT(steps.back(), static_cast<double>(stopped_at));
}

// A run folder has one writer. While a run trains, `train --resume` of its folder and an export into
// it are refused with status 2 naming the pid; once the run is SIGKILLed (no clean exit), its lock is
// gone with it and the resume goes ahead.
TEST(FaultsTest, ARunFolderHasOneWriterAndADeadOnesLockDoesNotBlock) {
  TempDir dir;
  SoloRun run(dir, 1024, dir.path / "runs");
  ASSERT_TRUE(run.wait_running(true));
  const std::string pid = std::to_string(run.learner->pid());

  const apiary::testing::CmdResult resume =
      apiary::testing::run_apiary("train --resume " + run.run_dir.string() + " --quiet --session-steps 256");
  EXPECT_EQ(resume.status, 2) << resume.output;
  EXPECT_TRUE(resume.has("is in use by pid " + pid)) << resume.output;
  const apiary::testing::CmdResult learner = apiary::testing::run_apiary(
      "learner --resume " + run.run_dir.string() + " --bind tcp://127.0.0.1:1 --quiet");
  EXPECT_EQ(learner.status, 2) << learner.output;
  EXPECT_TRUE(learner.has("is in use by pid " + pid)) << learner.output;
  const fs::path exported = run.run_dir / "checkpoints" / "mine.pt";
  const apiary::testing::CmdResult into = apiary::testing::run_apiary(
      "export " + (run.run_dir / "checkpoints" / "latest.pt").string() + " " + exported.string());
  EXPECT_EQ(into.status, 2) << into.output;
  EXPECT_TRUE(into.has("which pid " + pid + " is writing")) << into.output;
  EXPECT_FALSE(fs::exists(exported));
  // Reading the running run's checkpoint is fine: it is replaced by rename, never half-written.
  const apiary::testing::CmdResult out = apiary::testing::run_apiary(
      "export " + (run.run_dir / "checkpoints" / "latest.pt").string() + " " + (dir.path / "mine.pt").string());
  EXPECT_EQ(out.status, 0) << out.output;
  ASSERT_FALSE(run.learner->exited()) << "the first run was disturbed\n" << run.learner->output();

  ASSERT_EQ(::kill(run.learner->pid(), SIGKILL), 0);
  ASSERT_TRUE(run.learner->wait_exit(10));
  const apiary::testing::CmdResult after =
      apiary::testing::run_apiary("train --resume " + run.run_dir.string() + " --quiet --session-steps 256");
  EXPECT_EQ(after.status, 0) << "a dead run's lock blocked the resume\n" << after.output;
}

// Two runs of one name started at the same moment each get a folder of their own (f and f_2), with
// their own config, metrics and checkpoint.
TEST(FaultsTest, TwoRunsOfOneNameAtOnceGetTwoFolders) {
  TempDir dir;
  const fs::path config = dir.path / "c.yaml";
  std::ofstream(config) << cartpole_config(dir.path / "runs", 2048, 0);
  std::vector<std::unique_ptr<Child>> runs;
  for (int i = 0; i < 3; ++i)
    runs.push_back(std::make_unique<Child>(std::vector<std::string>{"train", config.string(), "--quiet"},
                                           dir.path / ("out" + std::to_string(i) + ".txt")));
  std::set<std::string> folders;
  for (auto& r : runs) {
    ASSERT_TRUE(r->wait_exit(120)) << r->output();
    EXPECT_EQ(r->code(), 0) << r->output();
    const std::string text = r->output();
    const auto at = text.find("run_dir: ");
    ASSERT_NE(at, std::string::npos) << text;
    folders.insert(text.substr(at + 9, text.find_first_of(" \n", at + 9) - at - 9));
  }
  EXPECT_EQ(folders.size(), 3u) << "runs shared a folder";
  for (const auto& f : folders) {
    EXPECT_TRUE(fs::exists(fs::path(f) / "checkpoints" / "latest.pt")) << f;
    EXPECT_GE(metric_steps(fs::path(f) / "metrics.csv").size(), 1u) << f;
  }
}

// A full disk: a 3 MB tmpfs holds the run folder. Once a checkpoint is there, the test fills the rest;
// the run stops with status 1 naming the file it could not write and why, leaves no half-written
// file, and the earlier checkpoint still loads. Mounting needs CAP_SYS_ADMIN: skipped, loudly, where
// the test may not mount.
TEST(FaultsTest, AFullDiskStopsTheRunAndLosesNoCheckpoint) {
  TempDir dir;
  const fs::path disk = dir.path / "disk";
  fs::create_directories(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=3m") != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); the full-disk case needs root with CAP_SYS_ADMIN";
  struct Unmount {
    fs::path at;
    ~Unmount() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk};
  SoloRun run(dir, 1024, disk / "runs");
  ASSERT_TRUE(run.wait_running(true));
  {  // Fill what is left of the disk.
    std::ofstream filler(disk / "filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (filler.write(block.data(), block.size())) {
    }
  }
  ASSERT_TRUE(run.learner->wait_exit(60)) << "the run went on with a full disk\n" << run.learner->output();
  const std::string text = run.learner->output();
  EXPECT_EQ(run.learner->code(), 1) << text;
  EXPECT_NE(text.find("No space left on device"), std::string::npos) << text;
  fs::remove(disk / "filler");  // room for eval to run (it writes nothing to the run folder)
  for (const auto& e : fs::directory_iterator(run.run_dir / "checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "half-written: " << e.path();
  const apiary::testing::CmdResult eval = apiary::testing::run_apiary(
      "eval " + (run.run_dir / "checkpoints" / "latest.pt").string() + " --episodes 2");
  EXPECT_EQ(eval.status, 0) << eval.output;
  EXPECT_TRUE(eval.has("mean_return: ")) << eval.output;
}

}  // namespace
