// Starts and watches actor processes for the learner (Sample Factory's runner, as processes). Each
// actor is this same program (`apiary actor ...`), started with fork/exec into its own process group
// (so a terminal's Ctrl-C reaches the learner alone, which then stops the actors in order) and with
// PR_SET_PDEATHSIG, so that an actor never outlives its learner, however the learner ends.
// An actor that exits is started again after a back-off that doubles while it keeps dying quickly.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace apiary::actors {

struct SupervisorOptions {
  std::string program;                 // executable to start (default: /proc/self/exe)
  std::vector<std::string> args;       // argv[1..]; "{id}" in an argument becomes the actor id
  std::int32_t count = 1;              // actors 0 .. count-1
  double backoff_seconds = 0.5;        // first restart delay
  double max_backoff_seconds = 10.0;   // cap on the delay
  double healthy_seconds = 30.0;       // an actor that lived this long restarts after backoff_seconds again
  std::string log_path;                // "{id}" is replaced; empty: inherit stdout and stderr
  std::function<void(const std::string&)> log;  // one line per start, exit and restart
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();  // stop()
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void start();  // starts every actor
  // Reaps actors that exited and starts those whose back-off has passed; call it often.
  void poll();
  // SIGTERM to every actor's process group, then SIGKILL after `grace`; reaps them all.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

  std::vector<pid_t> pids() const;        // running actors (0 for one waiting to restart)
  std::int64_t restarts() const { return restarts_; }

 private:
  struct Child {
    pid_t pid = 0;
    std::chrono::steady_clock::time_point started, restart_at;
    double backoff = 0;
  };
  void spawn(std::int32_t id);
  void note(const std::string& line) const;

  SupervisorOptions options_;
  std::vector<Child> children_;
  std::int64_t restarts_ = 0;
  bool stopping_ = false;
};

// The absolute path of the running program (/proc/self/exe).
std::string self_executable();

}  // namespace apiary::actors
