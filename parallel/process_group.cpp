// The Gloo back end's header is guarded by USE_C10D_GLOO, which parallel/CMakeLists.txt defines
// for this file's target only.
#include "parallel/process_group.h"

#include <arpa/inet.h>
#include <c10/util/Exception.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "core/fnv1a.h"

namespace apiary::parallel {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string format_seconds(double seconds, const char* format = "%.2fs") {
  char text[32];
  std::snprintf(text, sizeof(text), format, seconds);
  return text;
}

std::string format_bytes(std::int64_t bytes) {
  char text[32];
  if (bytes >= 1000000000) {
    std::snprintf(text, sizeof(text), "%.2f GB", static_cast<double>(bytes) / 1e9);
  } else if (bytes >= 1000000) {
    std::snprintf(text, sizeof(text), "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else if (bytes >= 1000) {
    std::snprintf(text, sizeof(text), "%.1f kB", static_cast<double>(bytes) / 1e3);
  } else {
    std::snprintf(text, sizeof(text), "%lld B", static_cast<long long>(bytes));
  }
  return text;
}

// The first line of an exception's text, without LibTorch's backtrace.
std::string short_what(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error != nullptr ? c10_error->what_without_backtrace() : e.what();
  const auto newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  return text;
}

std::vector<std::uint8_t> to_bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string from_bytes(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "line 3 differs: rank 0 has 'a: 1', rank 1 has 'a: 2'" (1-based lines).
std::string first_difference(const std::string& reference, const std::string& other, int other_rank) {
  const auto a = split_lines(reference), b = split_lines(other);
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const bool in_a = i < a.size(), in_b = i < b.size();
    if (in_a && in_b && a[i] == b[i]) continue;
    return "line " + std::to_string(i + 1) + " differs: rank 0 has " + (in_a ? "'" + a[i] + "'" : "no such line") +
           ", rank " + std::to_string(other_rank) + " has " + (in_b ? "'" + b[i] + "'" : "no such line");
  }
  return "the texts differ in line endings";
}

// The address of this machine's interface that routes to `host` (a UDP socket connected to it sends
// nothing; the kernel picks the source address), or "" when `host` does not resolve or is not
// reachable. Gloo listens there, so that the other ranks, which reach this machine the same way, can
// connect: the machine's host name may resolve to 127.0.1.1 (Debian's /etc/hosts).
std::string local_address_towards(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string result;
  for (addrinfo* a = found; a != nullptr && result.empty(); a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    char text[INET6_ADDRSTRLEN] = {0};
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      const void* addr = local.ss_family == AF_INET
                             ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                             : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (::inet_ntop(local.ss_family, addr, text, sizeof(text)) != nullptr) result = text;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return result;
}

// A host tensor with the same contents (the tensor itself when it is already on the host).
torch::Tensor to_host(const torch::Tensor& t) { return t.device().is_cpu() ? t : t.to(torch::kCPU); }

void require_contiguous(const torch::Tensor& t, const char* who) {
  if (!t.defined()) throw std::invalid_argument(std::string(who) + ": the tensor is undefined");
  if (!t.is_contiguous()) throw std::invalid_argument(std::string(who) + ": the tensor must be contiguous");
}

std::int64_t nbytes(const torch::Tensor& t) { return t.numel() * static_cast<std::int64_t>(t.element_size()); }

}  // namespace

CommStats& CommStats::operator+=(const CommStats& other) {
  allreduce_seconds += other.allreduce_seconds;
  allreduce_calls += other.allreduce_calls;
  sendrecv_seconds += other.sendrecv_seconds;
  sendrecv_calls += other.sendrecv_calls;
  hash_seconds += other.hash_seconds;
  hash_checks += other.hash_checks;
  gather_seconds += other.gather_seconds;
  gather_calls += other.gather_calls;
  bytes += other.bytes;
  return *this;
}

std::string CommStats::to_string() const {
  return "communication " + format_seconds(seconds()) + ": all-reduce " + format_seconds(allreduce_seconds) + " (" +
         std::to_string(allreduce_calls) + ") send/recv " + format_seconds(sendrecv_seconds) + " (" +
         std::to_string(sendrecv_calls) + ") hash " + format_seconds(hash_seconds) + " (" +
         std::to_string(hash_checks) + ") gather " + format_seconds(gather_seconds) + " (" +
         std::to_string(gather_calls) + ") bytes " + format_bytes(bytes);
}

std::uint64_t hash_tensor(const torch::Tensor& tensor) {
  const auto host = to_host(tensor).contiguous();
  const auto* p = static_cast<const std::uint8_t*>(host.data_ptr());
  const std::size_t n = static_cast<std::size_t>(nbytes(host));
  return core::fnv1a(p, n);
}

struct ProcessGroup::Impl {
  RendezvousInfo info;
  int rank = 0, world_size = 1;
  std::chrono::milliseconds timeout{60000};
  c10::intrusive_ptr<c10d::Store> store;            // null for a one-rank group
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;  // null for a one-rank group
  std::shared_ptr<::gloo::transport::Device> device;
  std::map<std::string, int> subgroups_made;  // per member list: how many were made (store prefixes)
  CommStats stats;

  std::string where() const { return "rank " + std::to_string(rank) + " of " + std::to_string(world_size); }

  // Runs `op`, turning any exception into a CommError naming the call, this rank and the timeout.
  template <typename Op>
  void guarded(const std::string& what, Op&& op) {
    try {
      op();
    } catch (const std::exception& e) {
      // With two ranks the peer is known: name it (the launcher's message names how it ended).
      const std::string peer =
          world_size == 2 ? "rank " + std::to_string(1 - rank) : std::string("a peer");
      throw CommError(what + " failed on " + where() + " (" + peer + " died, or did not answer within " +
                      format_seconds(static_cast<double>(timeout.count()) / 1000.0, "%g s") + "): " + short_what(e));
    }
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(timeout); }

  void allgather(const torch::Tensor& input, std::vector<torch::Tensor>& outputs) {
    outputs.clear();
    for (int r = 0; r < world_size; ++r) outputs.push_back(torch::empty_like(input));
    std::vector<std::vector<at::Tensor>> out{outputs};
    std::vector<at::Tensor> in{input};
    wait(gloo->allgather(out, in));
    outputs = out[0];
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::ProcessGroup(ProcessGroup&&) noexcept = default;
ProcessGroup& ProcessGroup::operator=(ProcessGroup&&) noexcept = default;
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->rank; }
int ProcessGroup::world_size() const { return impl_->world_size; }
const CommStats& ProcessGroup::stats() const { return impl_->stats; }
void ProcessGroup::reset_stats() { impl_->stats = CommStats{}; }

namespace {

// The rendezvous store at MASTER_ADDR:MASTER_PORT (rank 0 serves it unless torchrun's agent does),
// under the workers' prefix with an agent store; every later call waits at most `timeout`.
c10::intrusive_ptr<c10d::Store> open_store(const RendezvousInfo& info, std::chrono::milliseconds timeout,
                                           const std::string& timeout_text) {
  const std::string address = info.store_address();
  c10::intrusive_ptr<c10d::Store> store;
  c10d::TCPStoreOptions store_options;
  store_options.port = info.master_port;
  store_options.isServer = info.rank == 0 && !info.agent_store;
  store_options.numWorkers = static_cast<std::size_t>(info.world_size);
  store_options.waitWorkers = false;  // the exchange below waits for every rank and names a missing one
  store_options.timeout = timeout;
  // c10d retries a refused connection for the timeout, but gives up at once on other errors (no
  // route yet, a name that does not resolve yet) and a little before its timeout: the other ranks keep
  // trying until the whole timeout has passed, as torchrun's agents do.
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    try {
      store = c10::make_intrusive<c10d::TCPStore>(info.master_addr, store_options);
      break;
    } catch (const std::exception& e) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (store_options.isServer) {
        throw CommError("rank 0 could not open the rendezvous store at " + address +
                        " (MASTER_ADDR, MASTER_PORT): " + short_what(e));
      }
      if (left.count() < 100) {
        throw CommError("rank " + std::to_string(info.rank) + " could not reach the rendezvous store at " + address +
                        " (MASTER_ADDR, MASTER_PORT) within " + timeout_text + ": " + short_what(e));
      }
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(250)));
      store_options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    }
  }
  store->setTimeout(timeout);  // for every later store call (Gloo's rendezvous)
  if (info.agent_store) {
    // torchrun's agent keeps its own keys in the store; the workers' live under this prefix.
    store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(info.restart_count), store);
  }
  return store;
}

// World sizes, then fingerprints, of every rank against rank 0's; throws ConfigMismatch with the same
// message on every rank where they differ, CommError where a rank does not join in time.
void compare_ranks(c10d::Store& store, const RendezvousInfo& info, const JoinOptions& options,
                   std::chrono::milliseconds timeout, const std::string& timeout_text) {
  const std::string address = info.store_address();
  // Every rank compares each rank's with rank 0's, so that every rank refuses a mismatch alike.
  const auto key = [](const char* what, int r) { return std::string("apiary/") + what + "/" + std::to_string(r); };
  try {
    store.set(key("world_size", info.rank), to_bytes(std::to_string(info.world_size)));
    store.set(key("fingerprint", info.rank), to_bytes(options.fingerprint));
  } catch (const std::exception& e) {
    throw CommError("rank " + std::to_string(info.rank) + " lost the rendezvous store at " + address + ": " +
                    short_what(e));
  }
  const auto fetch = [&](const char* what, int r) {
    try {
      store.wait({key(what, r)}, timeout);
      return from_bytes(store.get(key(what, r)));
    } catch (const std::exception& e) {
      throw CommError("rank " + std::to_string(info.rank) + " waited " + timeout_text + " for rank " +
                      std::to_string(r) + " to join at " + address + ": " + short_what(e));
    }
  };
  std::string refusal;  // why this run cannot go on; the same text on every rank
  const std::string world0 = fetch("world_size", 0);
  for (int r = 0; r < info.world_size && refusal.empty(); ++r) {
    const std::string world_r = r == 0 ? world0 : fetch("world_size", r);
    if (world_r != world0) {
      refusal = "rank " + std::to_string(r) + " was started with world size " + world_r + ", rank 0 with " + world0;
    }
  }
  if (refusal.empty()) {
    const std::string fingerprint0 = fetch("fingerprint", 0);
    for (int r = 1; r < info.world_size && refusal.empty(); ++r) {
      const std::string fingerprint_r = fetch("fingerprint", r);
      if (fingerprint_r != fingerprint0) {
        refusal = "rank " + std::to_string(r) +
                  " was started with another config than rank 0: " + first_difference(fingerprint0, fingerprint_r, r);
      }
    }
  }
  if (!refusal.empty()) {
    // Rank 0 serves the store: it leaves only once every rank has read what it compared (or the
    // timeout passed), so that they all refuse with this message rather than with a lost store.
    try {
      store.set(key("checked", info.rank), to_bytes("1"));
      if (info.rank == 0) {
        std::vector<std::string> keys;
        for (int r = 1; r < info.world_size; ++r) keys.push_back(key("checked", r));
        store.wait(keys, timeout);
      }
    } catch (const std::exception&) {
      // the refusal below says what matters
    }
    throw ConfigMismatch(refusal);
  }
}

}  // namespace

ProcessGroup ProcessGroup::join(const RendezvousInfo& info, const JoinOptions& options) {
  if (!(options.timeout_seconds > 0) || !std::isfinite(options.timeout_seconds)) {
    throw std::invalid_argument("ProcessGroup::join: timeout_seconds must be > 0, got " +
                                std::to_string(options.timeout_seconds));
  }
  if (info.world_size < 1 || info.rank < 0 || info.rank >= info.world_size) {
    throw std::invalid_argument("ProcessGroup::join: rank " + std::to_string(info.rank) + " is not in [0, world_size " +
                                std::to_string(info.world_size) + ")");
  }
  auto impl = std::make_unique<Impl>();
  impl->info = info;
  impl->rank = info.rank;
  impl->world_size = info.world_size;
  impl->timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000.0));
  if (info.world_size == 1) return ProcessGroup(std::move(impl));

  // A write to the socket of a peer that died must fail with EPIPE, not end this process.
  struct sigaction old_pipe {};
  if (::sigaction(SIGPIPE, nullptr, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);

  const std::string address = info.store_address();
  const std::string timeout_text = format_seconds(options.timeout_seconds, "%g s");
  impl->store = open_store(info, impl->timeout, timeout_text);
  compare_ranks(*impl->store, info, options, impl->timeout, timeout_text);

  // The Gloo transport: GLOO_SOCKET_IFNAME as in PyTorch, else the interface that routes to the
  // store's host (loopback for a loopback store), else the address of this machine's host name.
  try {
    const std::string towards_store = local_address_towards(info.master_addr, info.master_port);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
      impl->device = c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    } else if (!towards_store.empty()) {
      impl->device = c10d::ProcessGroupGloo::createDeviceForHostname(towards_store);
    } else {
      impl->device = c10d::ProcessGroupGloo::createDefaultDevice();
    }
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(impl->timeout);
    gloo_options->devices.push_back(impl->device);
    gloo_options->threads = 2;
    impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo/", impl->store), info.rank, info.world_size, gloo_options);
  } catch (const std::exception& e) {
    throw CommError("rank " + std::to_string(info.rank) + " could not connect the Gloo group of " +
                    std::to_string(info.world_size) + " ranks (store " + address + ", timeout " + timeout_text +
                    "): " + short_what(e));
  }
  return ProcessGroup(std::move(impl));
}

void ProcessGroup::average_gradients(const torch::Tensor& flat) {
  require_contiguous(flat, "average_gradients");
  auto& impl = *impl_;
  if (impl.world_size == 1) return;
  const auto start = Clock::now();
  impl.guarded("all-reduce of " + std::to_string(flat.numel()) + " gradients", [&] {
    torch::NoGradGuard no_grad;
    auto host = to_host(flat);
    std::vector<at::Tensor> tensors{host};
    impl.wait(impl.gloo->allreduce(tensors));
    host.div_(impl.world_size);
    if (!host.is_same(flat)) flat.copy_(host);
  });
  impl.stats.allreduce_seconds += seconds_since(start);
  impl.stats.allreduce_calls += 1;
  impl.stats.bytes += nbytes(flat);
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& grads) {
  std::vector<torch::Tensor> defined;
  for (const auto& g : grads) {
    if (g.defined()) defined.push_back(g);
  }
  if (defined.empty() || impl_->world_size == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_views;
  for (const auto& g : defined) flat_views.push_back(g.reshape({-1}).to(torch::kCPU));
  auto flat = torch::cat(flat_views);
  average_gradients(flat);
  std::int64_t offset = 0;
  for (auto& g : defined) {
    const std::int64_t n = g.numel();
    g.copy_(flat.narrow(0, offset, n).view(g.sizes()));
    offset += n;
  }
}

void ProcessGroup::broadcast(const torch::Tensor& tensor, int root) {
  require_contiguous(tensor, "broadcast");
  auto& impl = *impl_;
  if (root < 0 || root >= impl.world_size) {
    throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank of this group");
  }
  if (impl.world_size == 1) return;
  const auto start = Clock::now();
  impl.guarded("broadcast from rank " + std::to_string(root), [&] {
    torch::NoGradGuard no_grad;
    auto host = to_host(tensor);
    std::vector<at::Tensor> tensors{host};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    impl.wait(impl.gloo->broadcast(tensors, options));
    if (!host.is_same(tensor)) tensor.copy_(host);
  });
  impl.stats.allreduce_seconds += seconds_since(start);
  impl.stats.allreduce_calls += 1;
  impl.stats.bytes += nbytes(tensor);
}

std::uint64_t ProcessGroup::check_weights(const torch::Tensor& flat) {
  auto& impl = *impl_;
  const auto start = Clock::now();
  const std::uint64_t hash = hash_tensor(flat);
  std::vector<std::uint64_t> hashes(static_cast<std::size_t>(impl.world_size), hash);
  if (impl.world_size > 1) {
    impl.guarded("weight-hash check", [&] {
      auto mine = torch::empty({1}, torch::kInt64);
      std::memcpy(mine.data_ptr(), &hash, sizeof(hash));
      std::vector<torch::Tensor> all;
      impl.allgather(mine, all);
      for (int r = 0; r < impl.world_size; ++r) std::memcpy(&hashes[r], all[r].data_ptr(), sizeof(hash));
    });
  }
  impl.stats.hash_seconds += seconds_since(start);
  impl.stats.hash_checks += 1;
  impl.stats.bytes += 8;

  std::string differing;
  int count = 0;
  char text[64];
  for (int r = 1; r < impl.world_size; ++r) {
    if (hashes[r] == hashes[0]) continue;
    std::snprintf(text, sizeof(text), "rank %d (hash %016llx)", r, static_cast<unsigned long long>(hashes[r]));
    differing += (count++ > 0 ? ", " : "") + std::string(text);
  }
  if (count > 0) {
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hashes[0]));
    throw WeightMismatch("the ranks' weights differ: " + differing + (count == 1 ? " differs" : " differ") +
                         " from rank 0 (hash " + text + "), checked on rank " + std::to_string(impl.rank));
  }
  return hash;
}

torch::Tensor ProcessGroup::gather_flat(const torch::Tensor& local, int root) {
  auto& impl = *impl_;
  if (!local.defined() || local.dim() != 1) {
    throw std::invalid_argument("gather_flat: the local tensor must be 1-D");
  }
  if (root < 0 || root >= impl.world_size) {
    throw std::invalid_argument("gather_flat: root " + std::to_string(root) + " is not a rank of this group");
  }
  const auto host = to_host(local).contiguous();
  if (impl.world_size == 1) return host.clone();
  const auto start = Clock::now();
  torch::Tensor result;
  impl.guarded("gather to rank " + std::to_string(root), [&] {
    // The lengths first (everyone learns the longest), then one gather of tensors padded to it.
    std::vector<torch::Tensor> lengths;
    impl.allgather(torch::full({1}, host.numel(), torch::kInt64), lengths);
    std::int64_t longest = 0;
    for (const auto& n : lengths) longest = std::max(longest, n.item<std::int64_t>());
    auto padded = torch::zeros({longest}, host.options());
    padded.narrow(0, 0, host.numel()).copy_(host);
    std::vector<std::vector<at::Tensor>> outputs;
    if (impl.rank == root) {
      outputs.emplace_back();
      for (int r = 0; r < impl.world_size; ++r) outputs[0].push_back(torch::empty({longest}, host.options()));
    }
    std::vector<at::Tensor> inputs{padded};
    c10d::GatherOptions options;
    options.rootRank = root;
    impl.wait(impl.gloo->gather(outputs, inputs, options));
    if (impl.rank == root) {
      std::vector<torch::Tensor> parts;
      for (int r = 0; r < impl.world_size; ++r) {
        parts.push_back(outputs[0][r].narrow(0, 0, lengths[r].item<std::int64_t>()));
      }
      result = torch::cat(parts);
    }
  });
  impl.stats.gather_seconds += seconds_since(start);
  impl.stats.gather_calls += 1;
  impl.stats.bytes += nbytes(host) + (result.defined() ? nbytes(result) : 0);
  return result;
}

std::vector<std::vector<double>> ProcessGroup::gather_to_root(const std::vector<double>& values, int root) {
  auto& impl = *impl_;
  if (impl.world_size == 1) return {values};
  // The lengths travel as a header of one element, so the root can cut the concatenation.
  std::vector<double> framed{static_cast<double>(values.size())};
  framed.insert(framed.end(), values.begin(), values.end());
  const auto mine = torch::from_blob(framed.data(), {static_cast<std::int64_t>(framed.size())}, torch::kFloat64);
  const auto all = gather_flat(mine, root);
  if (!all.defined()) return {};
  std::vector<std::vector<double>> per_rank;
  const double* p = all.data_ptr<double>();
  std::int64_t offset = 0;
  for (int r = 0; r < impl.world_size; ++r) {
    const auto n = static_cast<std::int64_t>(p[offset]);
    per_rank.emplace_back(p + offset + 1, p + offset + 1 + n);
    offset += 1 + n;
  }
  return per_rank;
}

struct ProcessGroup::PendingSend::State {
  Impl* impl = nullptr;
  c10::intrusive_ptr<c10d::Work> work;
  torch::Tensor buffer;  // kept alive until the send completes
  int dst = 0;
};

ProcessGroup::PendingSend::PendingSend() = default;
ProcessGroup::PendingSend::PendingSend(PendingSend&&) noexcept = default;
ProcessGroup::PendingSend& ProcessGroup::PendingSend::operator=(PendingSend&& other) noexcept {
  if (this != &other) {
    try {
      wait();
    } catch (...) {
    }
    state_ = std::move(other.state_);
  }
  return *this;
}
ProcessGroup::PendingSend::~PendingSend() {
  try {
    wait();
  } catch (...) {
    // a destructor must not throw; the next call on the group reports the broken peer
  }
}

void ProcessGroup::PendingSend::wait() {
  if (!state_) return;
  auto state = std::move(state_);
  Impl& impl = *state->impl;
  const auto start = Clock::now();  // only the time this rank is blocked counts (sends overlap compute)
  impl.guarded("send to rank " + std::to_string(state->dst), [&] { impl.wait(state->work); });
  impl.stats.sendrecv_seconds += seconds_since(start);
}

ProcessGroup::PendingSend ProcessGroup::send(const torch::Tensor& tensor, int dst, int tag) {
  require_contiguous(tensor, "send");
  auto& impl = *impl_;
  if (dst < 0 || dst >= impl.world_size || dst == impl.rank) {
    throw std::invalid_argument("send: rank " + std::to_string(dst) + " is not another rank of this group");
  }
  PendingSend pending;
  pending.state_ = std::make_unique<PendingSend::State>();
  auto& state = *pending.state_;
  state.impl = &impl;
  state.dst = dst;
  const auto start = Clock::now();
  state.buffer = to_host(tensor.detach());
  impl.guarded("send to rank " + std::to_string(dst), [&] {
    std::vector<at::Tensor> tensors{state.buffer};
    state.work = impl.gloo->send(tensors, dst, tag);
  });
  impl.stats.sendrecv_seconds += seconds_since(start);  // posting it; wait() adds the time blocked
  impl.stats.sendrecv_calls += 1;
  impl.stats.bytes += nbytes(tensor);
  return pending;
}

void ProcessGroup::recv(const torch::Tensor& tensor, int src, int tag) {
  require_contiguous(tensor, "recv");
  auto& impl = *impl_;
  if (src < 0 || src >= impl.world_size || src == impl.rank) {
    throw std::invalid_argument("recv: rank " + std::to_string(src) + " is not another rank of this group");
  }
  const auto start = Clock::now();
  impl.guarded("recv from rank " + std::to_string(src), [&] {
    torch::NoGradGuard no_grad;
    auto host = tensor.device().is_cpu() ? tensor : torch::empty(tensor.sizes(), tensor.options().device(torch::kCPU));
    std::vector<at::Tensor> tensors{host};
    impl.wait(impl.gloo->recv(tensors, src, tag));
    if (!host.is_same(tensor)) tensor.copy_(host);
  });
  impl.stats.sendrecv_seconds += seconds_since(start);
  impl.stats.sendrecv_calls += 1;
  impl.stats.bytes += nbytes(tensor);
}

void ProcessGroup::barrier() {
  auto& impl = *impl_;
  if (impl.world_size == 1) return;
  impl.guarded("barrier", [&] { impl.wait(impl.gloo->barrier()); });
}

ProcessGroup ProcessGroup::subgroup(const std::vector<int>& ranks) {
  auto& impl = *impl_;
  std::set<int> seen;
  int index = -1;
  std::string name;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const int r = ranks[i];
    if (r < 0 || r >= impl.world_size || !seen.insert(r).second) {
      throw std::invalid_argument("subgroup: rank " + std::to_string(r) + " is out of range or repeated");
    }
    if (r == impl.rank) index = static_cast<int>(i);
    name += (i > 0 ? "," : "") + std::to_string(r);
  }
  if (index < 0) {
    throw std::invalid_argument("subgroup: rank " + std::to_string(impl.rank) + " calls it but is not in [" + name +
                                "]");
  }
  auto sub = std::make_unique<Impl>();
  sub->info = impl.info;
  sub->rank = index;
  sub->world_size = static_cast<int>(ranks.size());
  sub->timeout = impl.timeout;
  if (ranks.size() == 1) return ProcessGroup(std::move(sub));
  const int generation = impl.subgroups_made[name]++;
  sub->store = impl.store;
  sub->device = impl.device;
  impl.guarded("subgroup [" + name + "]", [&] {
    auto options = c10d::ProcessGroupGloo::Options::create(impl.timeout);
    options->devices.push_back(impl.device);
    options->threads = 2;
    const std::string prefix = "apiary/sub/" + name + "/" + std::to_string(generation) + "/";
    sub->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>(prefix, impl.store),
                                                            sub->rank, sub->world_size, options);
  });
  return ProcessGroup(std::move(sub));
}

}  // namespace apiary::parallel
