#include "parallel/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace apiary::parallel {
namespace {

std::string failure_message(int rank, int pid, int exit_code, int signal, int world_size) {
  std::string text = "rank " + std::to_string(rank) + " (pid " + std::to_string(pid) + ") ";
  if (signal != 0) {
    text += "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  } else {
    text += "exited with status " + std::to_string(exit_code);
  }
  if (world_size > 1) {
    text +=
        "; the other " + std::to_string(world_size - 1) + (world_size == 2 ? " rank was" : " ranks were") + " stopped";
  }
  return text;
}

std::string self_executable() {
  std::string path(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= path.size()) {
    throw std::runtime_error(std::string("launch_local: cannot read /proc/self/exe: ") + std::strerror(errno));
  }
  path.resize(static_cast<std::size_t>(n));
  return path;
}

// argv[1..] of this process.
std::vector<std::string> self_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  if (!in) throw std::runtime_error("launch_local: cannot read /proc/self/cmdline");
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::size_t begin = 0;
  while (begin < all.size()) {
    const std::size_t end = all.find('\0', begin);
    args.push_back(all.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());  // argv[0]
  return args;
}

bool is_launch_variable(const std::string& entry) {
  static const char* const kNames[] = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE",
                                       "RANK",        "LOCAL_RANK",  "LOCAL_WORLD_SIZE"};
  for (const char* name : kNames) {
    const std::size_t n = std::strlen(name);
    if (entry.compare(0, n, name) == 0 && entry.size() > n && entry[n] == '=') return true;
  }
  return false;
}

// Signals that reach the agent while it waits, to pass on to the ranks.
std::atomic<int> g_pending_signal{0};
extern "C" void remember_signal(int signo) { g_pending_signal.store(signo); }

// Installs remember_signal for SIGINT and SIGTERM; restores the previous handlers when destroyed.
class ForwardSignals {
 public:
  ForwardSignals() {
    g_pending_signal.store(0);
    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  ~ForwardSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  ForwardSignals(const ForwardSignals&) = delete;
  ForwardSignals& operator=(const ForwardSignals&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

struct Rank {
  pid_t pid = -1;
  bool running = false;
};

// Stops every rank still running: SIGTERM to the group, SIGKILL after `grace` seconds, reaping all.
void stop_ranks(std::vector<Rank>& ranks, pid_t group, double grace) {
  if (group <= 0) return;  // none started (kill(-0) would signal the agent's own group)
  auto any_running = [&] {
    for (auto& r : ranks) {
      if (!r.running) continue;
      int status = 0;
      const pid_t done = ::waitpid(r.pid, &status, WNOHANG);
      if (done == r.pid || (done < 0 && errno == ECHILD)) r.running = false;
    }
    for (const auto& r : ranks) {
      if (r.running) return true;
    }
    return false;
  };
  if (!any_running()) return;
  ::kill(-group, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while (any_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!any_running()) return;
  ::kill(-group, SIGKILL);
  for (auto& r : ranks) {
    if (!r.running) continue;
    int status = 0;
    while (::waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.running = false;
  }
}

int run_agent(int world_size, const LaunchOptions& options) {
  const std::string program = options.program.empty() ? self_executable() : options.program;
  const std::vector<std::string> args = options.args ? *options.args : self_arguments();
  const std::uint16_t port = find_free_port();

  // Everything exec needs is built before fork: between fork and exec the child may only call
  // async-signal-safe functions (this process may have threads).
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!is_launch_variable(*e)) base_env.emplace_back(*e);
  }
  for (const auto& [name, value] : options.env) base_env.push_back(name + "=" + value);
  base_env.push_back("MASTER_ADDR=127.0.0.1");
  base_env.push_back("MASTER_PORT=" + std::to_string(port));
  base_env.push_back("WORLD_SIZE=" + std::to_string(world_size));
  base_env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(world_size));

  std::vector<std::string> arg_strings{program};
  arg_strings.insert(arg_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  ForwardSignals forward;
  const pid_t agent = ::getpid();
  pid_t group = 0;  // the ranks' process group: the first rank's pid
  std::vector<Rank> ranks(static_cast<std::size_t>(world_size));
  for (int r = 0; r < world_size; ++r) {
    std::vector<std::string> env_strings = base_env;
    env_strings.push_back("RANK=" + std::to_string(r));
    env_strings.push_back("LOCAL_RANK=" + std::to_string(r));
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
      const int err = errno;
      stop_ranks(ranks, group, 0.0);
      throw std::runtime_error("launch_local: cannot start rank " + std::to_string(r) +
                               ": fork: " + std::strerror(err));
    }
    if (pid == 0) {
      ::setpgid(0, group);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != agent) ::_exit(127);  // the agent died before prctl took effect
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::setpgid(pid, group == 0 ? pid : group);  // also here, so the group exists before we signal it
    if (group == 0) group = pid;
    ranks[static_cast<std::size_t>(r)] = Rank{pid, true};
  }

  int running = world_size;
  while (running > 0) {
    if (const int signo = g_pending_signal.exchange(0); signo != 0) ::kill(-group, signo);
    bool reaped = false;
    for (int r = 0; r < world_size; ++r) {
      auto& rank = ranks[static_cast<std::size_t>(r)];
      if (!rank.running) continue;
      int status = 0;
      const pid_t done = ::waitpid(rank.pid, &status, WNOHANG);
      if (done != rank.pid) continue;
      rank.running = false;
      --running;
      reaped = true;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok) {
        stop_ranks(ranks, group, options.stop_grace_seconds);
        throw RankFailure(r, rank.pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                          WIFSIGNALED(status) ? WTERMSIG(status) : 0, world_size);
      }
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

}  // namespace

RankFailure::RankFailure(int rank, int pid, int exit_code, int signal, int world_size)
    : std::runtime_error(failure_message(rank, pid, exit_code, signal, world_size)),
      rank_(rank),
      pid_(pid),
      exit_code_(exit_code),
      signal_(signal) {}

std::uint16_t find_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("find_free_port: socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("find_free_port: no free port on 127.0.0.1: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

int launch_local(int world_size, const std::function<int(const RendezvousInfo&)>& fn, const LaunchOptions& options) {
  if (world_size < 1) {
    throw RendezvousError("launch_local: world_size must be >= 1, got " + std::to_string(world_size));
  }
  const RendezvousInfo info = rendezvous_from_env();
  if (info.source != RendezvousSource::kNone) {
    if (info.world_size != world_size) {
      throw RendezvousError("world size " + std::to_string(world_size) + " differs from the launcher's (" +
                            (info.source == RendezvousSource::kSlurm ? "SLURM_NTASKS=" : "WORLD_SIZE=") +
                            std::to_string(info.world_size) + ")");
    }
    return fn(info);
  }
  if (world_size == 1) return fn(info);
  return run_agent(world_size, options);
}

}  // namespace apiary::parallel
