// launch_local: W ranks on this machine, the way `torchrun --standalone --nproc-per-node W` starts
// them. No LibTorch here.
//
// The calling process becomes the agent: it picks a free port on 127.0.0.1, starts W copies of this
// program (fork + exec of /proc/self/exe with the same arguments, or LaunchOptions' program and args)
// with MASTER_ADDR=127.0.0.1, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK and LOCAL_WORLD_SIZE set, and
// waits. Each copy reaches the same launch_local call, finds RANK in its environment and runs `fn`
// there. So a program calls launch_local at the point where the ranks' work begins:
//
//   int main(int argc, char** argv) {
//     // ... parse arguments and the config (every rank does this again, with the same arguments)
//     return parallel::launch_local(config.world_size, [&](const RendezvousInfo& info) {
//       auto group = ProcessGroup::join(info, join_options);  // process_group.h
//       return train(config, group);  // 0 on success
//     });
//   }
//
// The same call under torchrun, SLURM or variables set by hand (rendezvous.h) runs `fn` at once in this
// process: the launcher outside has started the other ranks. With world_size 1 and no launcher
// variables it also runs `fn` at once, with a one-rank RendezvousInfo.
//
// Faults: the ranks share one new process group, and each has PR_SET_PDEATHSIG = SIGKILL, so none
// outlives the agent, however the agent ends (the death signal follows the thread that called
// launch_local: call it from a thread that lives as long as the ranks, e.g. the main thread). When a
// rank exits with a status other than 0 or is killed by a signal, the agent sends SIGTERM to every
// other rank, SIGKILL after stop_grace_seconds, reaps them all and throws RankFailure naming the rank
// that failed first and its status. SIGINT and SIGTERM that reach the agent are passed on to the ranks
// (which are not in the terminal's process group), and the agent keeps waiting for them to exit.
//
// One launch per program run: a rank runs the first launch_local it reaches.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parallel/rendezvous.h"

namespace apiary::parallel {

struct LaunchOptions {
  std::string program;                                   // each rank's executable (empty: this program)
  std::optional<std::vector<std::string>> args;          // its arguments after argv[0] (nullopt: this
                                                         // process's own, from /proc/self/cmdline)
  std::vector<std::pair<std::string, std::string>> env;  // extra variables for every rank
  double stop_grace_seconds = 3.0;  // after a failure: SIGTERM to the other ranks, SIGKILL after this
};

// A rank that failed, as the agent saw it; the other ranks have been stopped and reaped.
class RankFailure : public std::runtime_error {
 public:
  RankFailure(int rank, int pid, int exit_code, int signal, int world_size);
  int rank() const { return rank_; }
  int pid() const { return pid_; }
  int exit_code() const { return exit_code_; }  // the rank's exit status; -1 when killed by a signal
  int signal() const { return signal_; }        // the signal that killed it; 0 when it exited
  // What the agent should exit with: 2 when the rank did (a usage or config error), else 1.
  int agent_exit_status() const { return exit_code_ == 2 ? 2 : 1; }

 private:
  int rank_, pid_, exit_code_, signal_;
};

// See above. Returns fn's result in a rank; 0 in the agent once every rank has exited with 0.
// Throws RendezvousError for world_size < 1, for bad launcher variables, or when the environment's
// WORLD_SIZE differs from world_size; RankFailure when a rank fails; std::runtime_error when a rank
// cannot be started.
int launch_local(int world_size, const std::function<int(const RendezvousInfo&)>& fn,
                 const LaunchOptions& options = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released; the caller's
// store binds it next, the same small race as torchrun's). Throws std::runtime_error.
std::uint16_t find_free_port();

}  // namespace apiary::parallel
