#include "actors/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace apiary::actors {

namespace {

std::string replace_id(std::string s, std::int32_t id) {
  for (std::size_t at = s.find("{id}"); at != std::string::npos; at = s.find("{id}", at))
    s.replace(at, 4, std::to_string(id));
  return s;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (options_.program.empty()) options_.program = self_executable();
  if (options_.count < 1) throw std::invalid_argument("actors.count must be >= 1 for a supervisor");
  children_.resize(static_cast<std::size_t>(options_.count));
}

Supervisor::~Supervisor() { stop(); }

void Supervisor::note(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void Supervisor::start() {
  for (std::int32_t id = 0; id < options_.count; ++id) {
    children_[static_cast<std::size_t>(id)].backoff = options_.backoff_seconds;
    spawn(id);
  }
}

void Supervisor::spawn(std::int32_t id) {
  std::vector<std::string> args{options_.program};
  for (const auto& a : options_.args) args.push_back(replace_id(a, id));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = options_.log_path.empty() ? "" : replace_id(options_.log_path, id);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the learner died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    if (!log_path.empty()) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so the group exists before stop() can signal it
  Child& c = children_[static_cast<std::size_t>(id)];
  c.pid = pid;
  c.started = std::chrono::steady_clock::now();
  note("actor " + std::to_string(id) + " started (pid " + std::to_string(pid) + ")");
}

void Supervisor::poll() {
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    const auto id = static_cast<std::int32_t>(i);
    if (c.pid > 0) {
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r != c.pid) continue;
      ::kill(-c.pid, SIGKILL);  // anything the actor left in its group
      const double lived = std::chrono::duration<double>(now - c.started).count();
      if (lived >= options_.healthy_seconds) c.backoff = options_.backoff_seconds;
      c.pid = 0;
      c.restart_at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(c.backoff));
      note("actor " + std::to_string(id) + " " + describe_status(status) + " after " + std::to_string(lived) +
           " s; restarting in " + std::to_string(c.backoff) + " s");
      c.backoff = std::min(options_.max_backoff_seconds, std::max(c.backoff * 2, 0.05));
    } else if (!stopping_ && now >= c.restart_at) {
      ++restarts_;
      spawn(id);
    }
  }
}

void Supervisor::stop(std::chrono::milliseconds grace) {
  if (stopping_) return;
  stopping_ = true;
  for (const Child& c : children_)
    if (c.pid > 0) ::kill(-c.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (Child& c : children_) {
    while (c.pid > 0) {
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == c.pid || (r < 0 && errno == ECHILD)) {
        ::kill(-c.pid, SIGKILL);
        c.pid = 0;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-c.pid, SIGKILL);
        ::waitpid(c.pid, &status, 0);
        c.pid = 0;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
}

std::vector<pid_t> Supervisor::pids() const {
  std::vector<pid_t> out;
  for (const Child& c : children_) out.push_back(c.pid);
  return out;
}

}  // namespace apiary::actors
