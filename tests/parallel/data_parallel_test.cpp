// Data parallelism on a Gloo process group over loopback: two ranks with B rows each make the same
// update as one process with the 2B rows, and stay bitwise equal; the config check at join time, the
// weight-hash check, the small collectives and their counters; an unreachable store, and a peer that
// is killed or hangs.
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "parallel/launch.h"
#include "parallel/process_group.h"
#include "tests/parallel/test_util.h"

namespace apiary::parallel {
namespace {

using namespace testing;

torch::nn::Sequential make_net() {
  return torch::nn::Sequential(torch::nn::Linear(6, 32), torch::nn::Tanh(), torch::nn::Linear(32, 32),
                               torch::nn::Tanh(), torch::nn::Linear(32, 3));
}

// Every parameter of `module` re-seated as a view into one buffer, and its gradient as a view into
// another, the way PPO keeps them: the all-reduce and Adam then work on one tensor each.
struct FlatParams {
  torch::Tensor values, grads;
};
FlatParams flatten(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  std::int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  FlatParams flat{torch::empty({total}), torch::zeros({total})};
  flat.values.mutable_grad() = flat.grads;  // what the optimizer over `values` steps with
  std::int64_t offset = 0;
  for (auto& p : params) {
    const auto n = p.numel();
    flat.values.narrow(0, offset, n).copy_(p.reshape({-1}));
    p.set_data(flat.values.narrow(0, offset, n).view(p.sizes()));
    p.mutable_grad() = flat.grads.narrow(0, offset, n).view(p.sizes());
    offset += n;
  }
  return flat;
}

torch::Tensor cat_params(torch::nn::Module& module) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : module.parameters()) parts.push_back(p.detach().reshape({-1}));
  return torch::cat(parts);
}

torch::Tensor cat_grads(torch::nn::Module& module) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : module.parameters()) parts.push_back(p.grad().reshape({-1}));
  return torch::cat(parts);
}

JoinOptions join_options(std::string fingerprint = "net: 6-32-32-3\n", double timeout = 30.0) {
  JoinOptions options;
  options.timeout_seconds = timeout;
  options.fingerprint = std::move(fingerprint);
  return options;
}

TEST(DataParallel, TwoRanksMakeTheUpdateOfOneProcessWithTheWholeMinibatch) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, join_options());
        EXPECT_EQ(group.rank(), info.rank);
        EXPECT_EQ(group.world_size(), 2);
        torch::manual_seed(7);
        auto net = make_net();
        torch::manual_seed(7);
        auto reference = make_net();  // one process, the whole 2B minibatch
        auto flat = flatten(*net);
        torch::optim::Adam adam(std::vector<torch::Tensor>{flat.values}, torch::optim::AdamOptions(1e-2));
        torch::optim::Adam reference_adam(reference->parameters(), torch::optim::AdamOptions(1e-2));
        group.check_weights(flat.values);  // the same initial weights

        constexpr std::int64_t kRowsPerRank = 16;
        constexpr int kUpdates = 6;
        for (int k = 0; k < kUpdates; ++k) {
          torch::manual_seed(100 + k);
          const auto x = torch::randn({2 * kRowsPerRank, 6});
          const auto y = torch::randn({2 * kRowsPerRank, 3});

          reference_adam.zero_grad();
          torch::mse_loss(reference->forward(x), y).backward();

          flat.grads.zero_();
          const auto mine = [&](const torch::Tensor& t) { return t.narrow(0, info.rank * kRowsPerRank, kRowsPerRank); };
          torch::mse_loss(net->forward(mine(x)), mine(y)).backward();
          const auto local = flat.grads.clone();
          group.average_gradients(flat.grads);

          EXPECT_FALSE(torch::allclose(local, flat.grads)) << "the average differs from this rank's own gradient";
          EXPECT_TRUE(torch::allclose(flat.grads, cat_grads(*reference), 1e-5, 1e-7))
              << "update " << k << ": largest difference "
              << (flat.grads - cat_grads(*reference)).abs().max().item<float>();
          adam.step();
          reference_adam.step();
          EXPECT_TRUE(torch::allclose(flat.values, cat_params(*reference), 1e-5, 1e-6))
              << "update " << k << ": largest difference "
              << (flat.values - cat_params(*reference)).abs().max().item<float>();
        }
        // Bitwise equal on both ranks: the hash check passes and rank 0 sees the same bytes.
        EXPECT_NO_THROW(group.check_weights(flat.values));
        const auto both = group.gather_flat(flat.values);
        if (info.rank == 0) {
          const auto n = flat.values.numel();
          ASSERT_EQ(both.numel(), 2 * n);
          EXPECT_TRUE(torch::equal(both.narrow(0, 0, n), both.narrow(0, n, n)));
        } else {
          EXPECT_FALSE(both.defined());
        }
        const auto& stats = group.stats();
        EXPECT_EQ(stats.allreduce_calls, kUpdates);
        EXPECT_GT(stats.allreduce_seconds, 0.0);
        EXPECT_EQ(stats.hash_checks, 2);
        EXPECT_EQ(stats.gather_calls, 1);
        EXPECT_GE(stats.bytes, kUpdates * flat.grads.numel() * 4);
        EXPECT_NE(stats.to_string().find("all-reduce"), std::string::npos);
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(DataParallel, BroadcastGradientListAndGatherToRoot) {
  const int rc =
      launch_local(2, rank_body([](const RendezvousInfo& info) {
                     auto group = ProcessGroup::join(info, join_options());
                     const int r = info.rank;

                     auto weights = torch::full({5}, static_cast<float>(r + 1));
                     group.broadcast(weights, /*root=*/1);
                     EXPECT_TRUE(torch::equal(weights, torch::full({5}, 2.0f)));

                     std::vector<torch::Tensor> grads{torch::full({2, 2}, static_cast<float>(r)), torch::Tensor(),
                                                      torch::full({3}, static_cast<double>(2 * r), torch::kFloat64)};
                     group.average_gradients(grads);
                     EXPECT_TRUE(torch::equal(grads[0], torch::full({2, 2}, 0.5f)));
                     EXPECT_FALSE(grads[1].defined());
                     EXPECT_TRUE(torch::equal(grads[2], torch::full({3}, 1.0, torch::kFloat64)));

                     std::vector<double> mine;
                     for (int i = 0; i <= r; ++i) mine.push_back(10.0 * r + i);  // rank 0: 1 value, rank 1: 2
                     const auto gathered = group.gather_to_root(mine, /*root=*/1);
                     if (r == 1) {
                       EXPECT_EQ(gathered, (std::vector<std::vector<double>>{{0.0}, {10.0, 11.0}}));
                     } else {
                       EXPECT_TRUE(gathered.empty());
                     }
                     const auto none = group.gather_to_root({}, 0);
                     if (r == 0) {
                       EXPECT_EQ(none, (std::vector<std::vector<double>>{{}, {}}));
                     }

                     EXPECT_THROW(group.broadcast(weights, 2), std::invalid_argument);
                     EXPECT_THROW(group.send(weights, r, 0), std::invalid_argument);
                     group.barrier();
                   }),
                   rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(DataParallel, OneRankGroupIsTheIdentity) {
  if (in_rank()) GTEST_SKIP();
  auto group = ProcessGroup::join(RendezvousInfo{}, join_options());
  auto g = torch::tensor({1.0f, 2.0f});
  group.average_gradients(g);
  EXPECT_TRUE(torch::equal(g, torch::tensor({1.0f, 2.0f})));
  EXPECT_EQ(group.check_weights(g), hash_tensor(g));
  EXPECT_EQ(group.gather_to_root({3.0}), (std::vector<std::vector<double>>{{3.0}}));
  EXPECT_TRUE(torch::equal(group.gather_flat(g), g));
}

TEST(DataParallel, HashIsFnv1aOfTheBytes) {
  if (in_rank()) GTEST_SKIP();
  // FNV-1a 64 of the empty input is the offset basis; of the four bytes of 0.0f, four steps.
  EXPECT_EQ(hash_tensor(torch::empty({0})), 14695981039346656037ull);
  std::uint64_t h = 14695981039346656037ull;
  for (int i = 0; i < 4; ++i) h = (h ^ 0u) * 1099511628211ull;
  EXPECT_EQ(hash_tensor(torch::zeros({1})), h);
  EXPECT_NE(hash_tensor(torch::tensor({1.0f, 2.0f})), hash_tensor(torch::tensor({2.0f, 1.0f})));
  EXPECT_EQ(hash_tensor(torch::tensor({1.0f, 2.0f}).t()), hash_tensor(torch::tensor({1.0f, 2.0f})));
}

TEST(DataParallel, AnotherConfigIsRefusedNamingTheFirstDifferingLine) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        const std::string config = info.rank == 0 ? "env: CartPole-v1\nseed: 1\nppo:\n  epochs: 4\n"
                                                  : "env: CartPole-v1\nseed: 1\nppo:\n  epochs: 8\n";
        try {
          ProcessGroup::join(info, join_options(config));
          ADD_FAILURE() << "rank " << info.rank << " joined a run of another config";
        } catch (const ConfigMismatch& e) {
          EXPECT_STREQ(e.what(),
                       "rank 1 was started with another config than rank 0: line 4 differs: rank 0 has '  epochs: 4', "
                       "rank 1 has '  epochs: 8'");
        }
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(DataParallel, ALongerConfigIsRefusedToo) {
  const int rc =
      launch_local(2, rank_body([](const RendezvousInfo& info) {
                     try {
                       ProcessGroup::join(info, join_options(info.rank == 0 ? "a: 1\n" : "a: 1\nb: 2\n"));
                       ADD_FAILURE() << "joined";
                     } catch (const ConfigMismatch& e) {
                       EXPECT_STREQ(e.what(),
                                    "rank 1 was started with another config than rank 0: line 2 differs: rank 0 has no "
                                    "such line, rank 1 has 'b: 2'");
                     }
                   }),
                   rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(DataParallel, WeightMismatchNamesTheRanks) {
  const int rc = launch_local(2, rank_body([](const RendezvousInfo& info) {
                                auto group = ProcessGroup::join(info, join_options());
                                auto weights = torch::linspace(0, 1, 100);
                                if (info.rank == 1) weights[17] = 0.5f;  // one weight differs on rank 1
                                try {
                                  group.check_weights(weights);
                                  ADD_FAILURE() << "no mismatch found";
                                } catch (const WeightMismatch& e) {
                                  const std::string what = e.what();
                                  EXPECT_NE(what.find("the ranks' weights differ: rank 1 (hash "), std::string::npos)
                                      << what;
                                  EXPECT_NE(what.find("differs from rank 0 (hash "), std::string::npos) << what;
                                }
                              }),
                              rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(DataParallelFaults, UnreachableStoreIsNamedWithinTheTimeout) {
  if (in_rank()) GTEST_SKIP();
  RendezvousInfo info;
  info.source = RendezvousSource::kTorchrun;
  info.master_addr = "127.0.0.1";
  info.master_port = find_free_port();  // nobody listens there
  info.world_size = 2;
  info.rank = 1;
  const auto start = std::chrono::steady_clock::now();
  try {
    ProcessGroup::join(info, join_options("", 2.0));
    FAIL() << "joined a store that does not exist";
  } catch (const CommError& e) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 1 could not reach the rendezvous store at " + info.store_address() +
                        " (MASTER_ADDR, MASTER_PORT) within 2 s: "),
              std::string::npos)
        << what;
    EXPECT_GE(seconds, 1.5);
    EXPECT_LT(seconds, 15.0);
  }
}

TEST(DataParallelFaults, RankZeroAloneGivesUpWithinTheTimeout) {
  if (in_rank()) GTEST_SKIP();
  RendezvousInfo info;
  info.source = RendezvousSource::kTorchrun;
  info.master_addr = "127.0.0.1";
  info.master_port = find_free_port();
  info.world_size = 2;
  info.rank = 0;
  const auto start = std::chrono::steady_clock::now();
  try {
    ProcessGroup::join(info, join_options("", 2.0));
    FAIL() << "joined without rank 1";
  } catch (const CommError& e) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string what = e.what();
    EXPECT_NE(what.find(info.store_address()), std::string::npos) << what;
    EXPECT_NE(what.find("rank 0"), std::string::npos) << what;
    EXPECT_LT(seconds, 15.0);
  }
}

// torchrun with a static rendezvous: its agent serves the store and sets
// TORCHELASTIC_USE_AGENT_STORE=True; both ranks (started by hand here, with the variables torchrun
// sets) connect to it as clients and keep their keys under /worker/attempt_<restart count>/.
TEST(DataParallel, JoinsTheStoreOfTorchrunsAgent) {
  if (in_rank()) {
    const auto info = rendezvous_from_env();
    EXPECT_TRUE(info.agent_store);
    EXPECT_EQ(info.restart_count, 1);
    auto group = ProcessGroup::join(info, join_options());
    auto t = torch::full({3}, static_cast<float>(info.rank + 1));
    group.average_gradients(t);
    EXPECT_TRUE(torch::equal(t, torch::full({3}, 1.5f)));
    return;
  }
  c10d::TCPStoreOptions agent_options;  // the agent's store
  agent_options.port = find_free_port();
  agent_options.isServer = true;
  agent_options.waitWorkers = false;
  agent_options.timeout = std::chrono::seconds(30);
  auto agent_store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", agent_options);
  const std::string port = std::to_string(agent_options.port);
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(spawn_this_test({{"MASTER_ADDR", "127.0.0.1"},
                                     {"MASTER_PORT", port},
                                     {"WORLD_SIZE", "2"},
                                     {"RANK", std::to_string(r)},
                                     {"LOCAL_RANK", std::to_string(r)},
                                     {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                     {"TORCHELASTIC_RESTART_COUNT", "1"}}));
  }
  for (const pid_t pid : ranks) {
    const auto status = wait_child(pid, 120.0);
    ASSERT_TRUE(status.has_value()) << "rank pid " << pid << " did not finish";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
  EXPECT_TRUE(agent_store->check({"/worker/attempt_1/apiary/fingerprint/0", "/worker/attempt_1/apiary/fingerprint/1"}));
}

// Two ranks started by hand with torchrun's variables (no agent to stop them): rank 1 is killed (or
// stops answering) in the middle of the all-reduces; rank 0 must end with a CommError on its own,
// within the timeout, and nothing may remain.
void peer_fault_case(bool hang) {
  constexpr double kTimeout = 4.0;
  if (in_rank()) {
    const auto info = rendezvous_from_env();
    auto group = ProcessGroup::join(info, join_options("", kTimeout));
    auto grads = torch::ones({4096});
    for (int i = 0;; ++i) {
      if (info.rank == 1 && i == 20) ::raise(hang ? SIGSTOP : SIGKILL);
      try {
        group.average_gradients(grads);
      } catch (const CommError& e) {
        write_file(std::string(std::getenv("APIARY_TEST_DIR")) + "/error." + std::to_string(info.rank), e.what());
        std::_Exit(7);
      }
    }
  }
  TempDir dir;
  const std::string port = std::to_string(find_free_port());
  std::vector<pid_t> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(spawn_this_test({{"MASTER_ADDR", "127.0.0.1"},
                                     {"MASTER_PORT", port},
                                     {"WORLD_SIZE", "2"},
                                     {"RANK", std::to_string(r)},
                                     {"APIARY_TEST_DIR", dir.path().string()}}));
  }
  if (hang) {
    // Rank 1 stops itself; rank 0 must give up after the timeout.
    const auto start = std::chrono::steady_clock::now();
    const auto status0 = wait_child(ranks[0], 60.0);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ::kill(ranks[1], SIGKILL);
    wait_child(ranks[1], 10.0);
    ASSERT_TRUE(status0.has_value()) << "rank 0 still waits for a stopped peer after 60 s";
    EXPECT_TRUE(WIFEXITED(*status0) && WEXITSTATUS(*status0) == 7);
    EXPECT_LT(seconds, 30.0);
  } else {
    const auto status1 = wait_child(ranks[1], 60.0);
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(status1.has_value());
    EXPECT_TRUE(WIFSIGNALED(*status1) && WTERMSIG(*status1) == SIGKILL);
    const auto status0 = wait_child(ranks[0], kTimeout + 10.0);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    ASSERT_TRUE(status0.has_value()) << "rank 0 outlived its dead peer by more than the timeout";
    EXPECT_TRUE(WIFEXITED(*status0) && WEXITSTATUS(*status0) == 7);
    EXPECT_LT(seconds, kTimeout + 1.0) << "rank 0 took " << seconds << " s to notice";
  }
  const std::string error = read_file(dir.file("error.0"));
  EXPECT_NE(error.find("all-reduce of 4096 gradients failed on rank 0 of 2"), std::string::npos) << error;
  for (const pid_t pid : ranks) EXPECT_TRUE(process_gone(pid));
}

TEST(DataParallelFaults, KilledPeerEndsTheOtherRankWithinTheTimeout) { peer_fault_case(/*hang=*/false); }

TEST(DataParallelFaults, HungPeerEndsTheOtherRankAfterTheTimeout) { peer_fault_case(/*hang=*/true); }

}  // namespace
}  // namespace apiary::parallel
