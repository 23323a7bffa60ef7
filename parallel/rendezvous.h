// Where a rank finds the others: the torchrun environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE,
// RANK, LOCAL_RANK), or SLURM's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID) when RANK and WORLD_SIZE
// are absent, read into one struct. No LibTorch here; process_group.h joins the store it names.
//
// The rules (docs/distributed.md repeats them for users):
//   torchrun    RANK and WORLD_SIZE set (both or neither). MASTER_ADDR and MASTER_PORT are required
//               when WORLD_SIZE > 1. LOCAL_RANK, else SLURM_LOCALID, else 0.
//   SLURM       RANK and WORLD_SIZE unset, SLURM_PROCID and SLURM_NTASKS set, SLURM_NTASKS > 1.
//               rank = SLURM_PROCID, world_size = SLURM_NTASKS, local_rank = SLURM_LOCALID (else 0).
//               Address: MASTER_ADDR, else SLURM_LAUNCH_NODE_IPADDR (the node that runs the batch
//               script, where SLURM's block distribution puts task 0); neither is an error that says
//               to export MASTER_ADDR. Port: MASTER_PORT, else 20000 + SLURM_JOB_ID % 10000 (so that
//               two jobs sharing a node differ), else 29500.
//   none        neither set, or a SLURM job of one task: world_size 1, rank 0, no store.
// Under torchrun with a static rendezvous (--node-rank, --master-addr), torchrun's agent already
// serves the store at MASTER_ADDR:MASTER_PORT and says so with TORCHELASTIC_USE_AGENT_STORE=True:
// rank 0 then connects to it like the others, under the key prefix /worker/attempt_<n>/ (n:
// TORCHELASTIC_RESTART_COUNT), as PyTorch's own env:// initialisation does.
// Every value must be a whole decimal number in range; an error names the variable and its value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace apiary::parallel {

// A rendezvous variable that is missing, malformed or out of range (a usage error: exit status 2).
class RendezvousError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class RendezvousSource {
  kNone,      // no launcher variables: one process
  kTorchrun,  // RANK / WORLD_SIZE (torchrun, launch_local, or set by hand)
  kSlurm,     // SLURM_PROCID / SLURM_NTASKS
};

// "none", "torchrun", "slurm".
const char* rendezvous_source_name(RendezvousSource source);

struct RendezvousInfo {
  RendezvousSource source = RendezvousSource::kNone;
  std::string master_addr;        // host name or address of rank 0's TCPStore (empty: kNone)
  std::uint16_t master_port = 0;  // its port (0: kNone)
  int world_size = 1;             // ranks in the run, >= 1
  int rank = 0;                   // this process, in [0, world_size)
  int local_rank = 0;             // this process among those of its machine (device choice), >= 0
  bool agent_store = false;       // torchrun's agent serves the store: no rank starts one
  int restart_count = 0;          // TORCHELASTIC_RESTART_COUNT (agent_store only)

  bool distributed() const { return world_size > 1; }
  // "MASTER_ADDR:MASTER_PORT" as used, for messages.
  std::string store_address() const;
};

// Reads a variable: its value, or nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (getenv).
EnvLookup process_env();

// Applies the rules above. Throws RendezvousError naming the variable.
RendezvousInfo rendezvous_from_env(const EnvLookup& env = process_env());

}  // namespace apiary::parallel
