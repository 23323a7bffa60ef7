// The ranks of a run as one c10d process group (LibTorch's Gloo back end over a TCPStore), and the
// collectives a data-parallel learner needs: the gradient average, the weight-hash check, the config
// check at join time, statistics gathered to rank 0, send/recv for pipeline stages (pipeline.h), and
// counters of the time and bytes they take (the profiler's "communication" line).
//
// Typical use in a data-parallel learner (every rank runs the same code):
//
//   JoinOptions join;
//   join.fingerprint = dumped_config;               // every rank must have been started alike
//   auto group = ProcessGroup::join(info, join);    // info: launch_local's, or rendezvous_from_env()
//   group.broadcast(flat_params, /*root=*/0);       // every replica starts from rank 0's weights
//   for (update = 1; ...; ++update) {
//     loss.backward();                              // on this rank's share of the minibatch
//     group.average_gradients(flat_grads);          // one all-reduce: sum, then divide by world size
//     optimizer.step();                             // identical on every rank
//     if (update % 100 == 0) group.check_weights(flat_params);  // throws WeightMismatch
//   }
//   auto stats = group.gather_to_root({episode_return, episode_length});  // rank 0: one row per rank
//   log(group.stats().to_string());                 // "communication: all-reduce 1.2 s (300) ..."
//
// Tensors may live on the GPU: the Gloo back end works on host memory, so they are copied to the host
// and back (one copy each way per call). Every call on a group is collective over its ranks unless its
// comment says otherwise; call them from one thread, in the same order on every rank.
//
// Faults: a peer that dies makes the pending or next call throw CommError on the others at once (its
// sockets close); a peer that hangs makes it throw after JoinOptions::timeout_seconds. This process
// ignores SIGPIPE from the first join on (a write to a dead peer's socket must be an error, not death).
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/rendezvous.h"

namespace apiary::parallel {

// A rank that was started with another config or world size than rank 0 (a usage error: exit 2).
class ConfigMismatch : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The store could not be reached or a peer died or timed out. The message names the call, this rank,
// the peer or store address where known, and the timeout.
class CommError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The ranks' weights differ (check_weights); the message names the ranks that differ from rank 0.
class WeightMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JoinOptions {
  // Seconds to reach the store, to wait for every rank to join, and for any collective or send/recv
  // to complete (> 0).
  double timeout_seconds = 60.0;
  // What the ranks must agree on, line by line: e.g. the resolved config as YAML. Compared with rank
  // 0's at join time; a difference throws ConfigMismatch on every rank, naming the first differing
  // rank and line. Empty: only the world sizes are compared.
  std::string fingerprint;
};

// Time and bytes spent in communication since join or reset_stats(), on this rank.
struct CommStats {
  double allreduce_seconds = 0;  // average_gradients and broadcast
  std::int64_t allreduce_calls = 0;
  // the time blocked in send (posting it, and PendingSend::wait until it completes) and recv,
  // including the wait for the peer (in a pipeline: the time a stage waits for its neighbours'
  // compute, the pipeline's bubble); a send in flight while this rank computes does not count
  double sendrecv_seconds = 0;
  std::int64_t sendrecv_calls = 0;
  double hash_seconds = 0;  // check_weights: hashing and the exchange
  std::int64_t hash_checks = 0;
  double gather_seconds = 0;  // gather_to_root, gather_flat
  std::int64_t gather_calls = 0;
  // Payload bytes: a tensor handed to an all-reduce or broadcast counts once, a sent or received
  // tensor once, a gather's input once (and, on the root, what it received).
  std::int64_t bytes = 0;

  double seconds() const { return allreduce_seconds + sendrecv_seconds + hash_seconds + gather_seconds; }
  CommStats& operator+=(const CommStats& other);  // two groups' counters (data and pipeline parallelism)
  // "communication 1.52s: all-reduce 1.20s (300) send/recv 0.30s (1200) hash 0.01s (3) gather
  // 0.01s (2) bytes 12.3 MB"
  std::string to_string() const;
};

class ProcessGroup {
 public:
  // Joins the run that `info` names: rank 0 starts the TCPStore at info.master_addr:master_port (or,
  // with info.agent_store, connects to torchrun's like the others), the others connect to it (and
  // retry until the timeout); every rank waits for every other, the world sizes and fingerprints are
  // compared, then the Gloo group connects. A one-rank `info` (world_size 1) joins nothing: every
  // collective is then the identity. Throws CommError naming the store's address and the missing rank
  // when the store cannot be reached or a rank does not join within the timeout, ConfigMismatch as
  // above, std::invalid_argument for a bad option. The store lives in rank 0's process: rank 0 must
  // outlive the other ranks' joins and subgroup() calls.
  static ProcessGroup join(const RendezvousInfo& info, const JoinOptions& options = {});

  ProcessGroup(ProcessGroup&&) noexcept;
  ProcessGroup& operator=(ProcessGroup&&) noexcept;
  ~ProcessGroup();

  int rank() const;        // in this group
  int world_size() const;  // of this group

  // flat <- (sum over ranks of flat) / world_size, in place, with one all-reduce. Any floating dtype;
  // contiguous.
  void average_gradients(const torch::Tensor& flat);
  // The same for gradients that are not one buffer (e.g. every parameter's .grad()): they are copied
  // into one buffer, averaged with one all-reduce and copied back. Undefined tensors are skipped.
  void average_gradients(const std::vector<torch::Tensor>& grads);

  // tensor <- root's tensor on every rank, in place (initial weights). Contiguous.
  void broadcast(const torch::Tensor& tensor, int root = 0);

  // Hashes `flat` (FNV-1a over its bytes, as stored) and compares the hash across ranks (one
  // all-gather of 8 bytes per rank). Returns the hash; throws WeightMismatch naming every rank whose
  // hash differs from rank 0's, with both hashes.
  std::uint64_t check_weights(const torch::Tensor& flat);

  // Every rank's `values` (any number of them, per rank), in rank order, on `root`; an empty vector
  // on the other ranks. For small per-rank statistics (episode returns, counters).
  std::vector<std::vector<double>> gather_to_root(const std::vector<double>& values, int root = 0);

  // The ranks' 1-D `local` tensors (any lengths, one dtype) concatenated in rank order, on `root`
  // (on the host); undefined on the other ranks.
  torch::Tensor gather_flat(const torch::Tensor& local, int root = 0);

  // A send in flight; wait() returns once `tensor` may be reused. Destroying it unwaited waits.
  class PendingSend {
   public:
    PendingSend();
    PendingSend(PendingSend&&) noexcept;
    PendingSend& operator=(PendingSend&&) noexcept;
    ~PendingSend();
    void wait();

   private:
    friend class ProcessGroup;
    struct State;
    std::unique_ptr<State> state_;
  };

  // Point to point, between two ranks of this group only (not collective). `tag` tells apart
  // messages between the same two ranks; a recv must match a send's (peer, tag) and its byte count.
  // recv fills `tensor` (contiguous, allocated with the expected shape and dtype) in place.
  PendingSend send(const torch::Tensor& tensor, int dst, int tag);
  void recv(const torch::Tensor& tensor, int src, int tag);

  void barrier();

  // A group of some of this group's ranks (e.g. the replicas of one pipeline stage), over the same
  // store. Only the listed ranks call it, each with the same list, in the same order relative to
  // their other subgroup calls; a rank's rank in the new group is its index in `ranks`. Throws
  // std::invalid_argument when this rank is not listed or the list repeats or leaves the range.
  ProcessGroup subgroup(const std::vector<int>& ranks);

  const CommStats& stats() const;
  void reset_stats();

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// FNV-1a (64 bit) of a tensor's bytes (copied to the host and made contiguous first), as
// check_weights computes it.
std::uint64_t hash_tensor(const torch::Tensor& tensor);

}  // namespace apiary::parallel
