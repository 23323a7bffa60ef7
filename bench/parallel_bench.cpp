// Data and model parallelism on c10d (issue 12, bench/RESULTS.md), 2 ranks on this machine started by
// launch_local, Gloo on loopback, one LibTorch thread per rank:
//   - all-reduce time of the flat gradient of PPO's actor-critic for LunarLander-v3 (8 observations,
//     4 actions) with hidden layers 64x64 and 3x1024 (ProcessGroup::average_gradients, one call);
//   - a training step (forward, backward, Adam) of a 3x1024 MLP (8 -> 1024 -> 1024 -> 1024 -> 4, tanh)
//     on 512 rows as a 2-stage GPipe pipeline with 1 and 4 micro-batches, against the unsplit network
//     in one process (1 and 2 threads), and each stage's parameter plus optimizer bytes.
// Figures are medians over the timed repeats (after warm-up).
//   bench_parallel [--allreduce-iters N] [--steps N]
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "envs/spaces.h"
#include "parallel/launch.h"
#include "parallel/pipeline.h"
#include "parallel/process_group.h"

using namespace apiary;
using namespace apiary::parallel;

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int allreduce_iters = 200;  // timed all-reduces per network
  int steps = 20;             // timed training steps per configuration
};

constexpr std::int64_t kBatch = 512;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double max_rss_mib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // kB on Linux
}

std::int64_t actor_critic_parameters(std::vector<std::int64_t> hidden) {
  agents::PolicyConfig config;
  config.hidden_sizes = std::move(hidden);
  agents::ActorCritic net(8, envs::Space::discrete(4), config);
  std::int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  return n;
}

torch::nn::Sequential make_mlp_3x1024() {
  return torch::nn::Sequential(torch::nn::Linear(8, 1024), torch::nn::Tanh(), torch::nn::Linear(1024, 1024),
                               torch::nn::Tanh(), torch::nn::Linear(1024, 1024), torch::nn::Tanh(),
                               torch::nn::Linear(1024, 4));
}

torch::Tensor make_input() { return torch::randn({kBatch, 8}); }
torch::Tensor make_target() { return torch::randn({kBatch, 4}); }

// One rank: everything measured with both ranks. Rank 0 writes its report to `out`.
int run_rank(const RendezvousInfo& info, const Args& args, const std::string& out_path) {
  torch::set_num_threads(1);
  auto group = ProcessGroup::join(info, JoinOptions{});
  std::ostringstream out;
  out.precision(17);  // the agent parses these numbers back

  // All-reduce of flat gradients.
  for (const auto& [name, hidden] : std::vector<std::pair<std::string, std::vector<std::int64_t>>>{
           {"64x64", {64, 64}}, {"3x1024", {1024, 1024, 1024}}}) {
    const std::int64_t n = actor_critic_parameters(hidden);
    auto grads = torch::randn({n});
    for (int i = 0; i < 5; ++i) group.average_gradients(grads);
    std::vector<double> times;
    for (int i = 0; i < args.allreduce_iters; ++i) {
      group.barrier();
      const auto start = Clock::now();
      group.average_gradients(grads);
      times.push_back(seconds_since(start));
    }
    const double t = median(times);
    if (info.rank == 0) {
      out << "allreduce " << name << " " << n << " " << t << " " << (4.0 * static_cast<double>(n) / t) << "\n";
    }
  }

  // The 2-stage pipeline.
  torch::manual_seed(0);
  auto full = make_mlp_3x1024();
  const auto plan = plan_stages(full, 2);
  auto stage = make_stage(full, plan, info.rank);
  full = nullptr;
  torch::optim::Adam adam(stage->parameters(), torch::optim::AdamOptions(3e-4));
  torch::manual_seed(1);
  const auto x = make_input(), y = make_target();
  const auto loss_fn = [&](const torch::Tensor& output, std::int64_t begin, std::int64_t end) {
    return torch::mse_loss(output, y.slice(0, begin, end));
  };
  for (const int micro : {1, 4}) {
    PipelineStage pipe(group, stage, micro);
    std::vector<double> times;
    for (int i = 0; i < args.steps + 3; ++i) {
      group.barrier();
      const auto start = Clock::now();
      adam.zero_grad();
      pipe.step(kBatch, x, loss_fn);
      adam.step();
      group.barrier();  // the step ends when both stages have stepped
      if (i >= 3) times.push_back(seconds_since(start));
    }
    if (info.rank == 0) out << "pipeline " << micro << " " << median(times) << "\n";
  }
  const auto memory = group.gather_to_root({static_cast<double>(parameter_bytes(*stage)),
                                            static_cast<double>(optimizer_state_bytes(adam)), max_rss_mib(),
                                            static_cast<double>(plan.parameters[info.rank])});
  if (info.rank == 0) {
    for (int r = 0; r < 2; ++r) {
      out << "stage " << r << " " << memory[r][3] << " " << memory[r][0] << " " << memory[r][1] << " " << memory[r][2]
          << "\n";
    }
    out << "comm " << group.stats().to_string() << "\n";
    std::ofstream(out_path) << out.str();
  }
  return 0;
}

struct Unsplit {
  double step_seconds = 0;
  std::int64_t param_bytes = 0, optimizer_bytes = 0;
};

Unsplit run_unsplit(int threads, const Args& args) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  auto net = make_mlp_3x1024();
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(3e-4));
  torch::manual_seed(1);
  const auto x = make_input(), y = make_target();
  std::vector<double> times;
  for (int i = 0; i < args.steps + 3; ++i) {
    const auto start = Clock::now();
    adam.zero_grad();
    torch::mse_loss(net->forward(x), y).backward();
    adam.step();
    if (i >= 3) times.push_back(seconds_since(start));
  }
  return {median(times), parameter_bytes(*net), optimizer_state_bytes(adam)};
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--allreduce-iters" && i + 1 < argc) {
      args.allreduce_iters = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--steps" && i + 1 < argc) {
      args.steps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "bench_parallel: unknown argument '%s'\nusage: bench_parallel [--allreduce-iters N] [--steps N]\n",
                   a.c_str());
      return 2;
    }
  }
  const bool in_rank = rendezvous_from_env().source != RendezvousSource::kNone;
  const char* out_env = std::getenv("APIARY_BENCH_OUT");
  std::string out_path = out_env != nullptr ? out_env : "";
  if (!in_rank) {
    out_path =
        (std::filesystem::temp_directory_path() / ("apiary_bench_parallel." + std::to_string(::getpid()))).string();
  }
  try {
    LaunchOptions options;
    options.env = {{"APIARY_BENCH_OUT", out_path}};
    const int rc = launch_local(
        2, [&](const RendezvousInfo& info) { return run_rank(info, args, out_path); }, options);
    if (in_rank) return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_parallel: %s\n", e.what());
    return 1;
  }

  std::ifstream in(out_path);
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(out_path);
  const auto one = run_unsplit(1, args);
  const auto two = run_unsplit(2, args);

  std::istringstream lines(report);
  std::string kind;
  double pipe1 = 0, pipe4 = 0, ar_small = 0, ar_large = 0;
  std::printf("2 ranks, Gloo on 127.0.0.1, 1 LibTorch thread per rank (medians)\n");
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    f >> kind;
    if (kind == "allreduce") {
      std::string name;
      double n = 0, t = 0, bps = 0;
      f >> name >> n >> t >> bps;
      std::printf("all-reduce  %-7s %9.0f floats (%6.2f MB): %8.3f ms  (%.2f GB/s of payload)\n", name.c_str(), n,
                  4 * n / 1e6, t * 1e3, bps / 1e9);
      (name == "64x64" ? ar_small : ar_large) = t;
    } else if (kind == "pipeline") {
      int micro = 0;
      double t = 0;
      f >> micro >> t;
      std::printf("pipeline    3x1024, 2 stages, %d micro-batch%s of %lld rows: %8.2f ms per step\n", micro,
                  micro == 1 ? "" : "es", static_cast<long long>(kBatch / micro), t * 1e3);
      (micro == 1 ? pipe1 : pipe4) = t;
    } else if (kind == "stage") {
      int stage = 0;
      double params = 0, pbytes = 0, obytes = 0, rss = 0;
      f >> stage >> params >> pbytes >> obytes >> rss;
      std::printf(
          "stage %d     %8.0f parameters: parameters %6.2f MB + Adam state %6.2f MB = %6.2f MB (process max RSS %.0f "
          "MiB)\n",
          stage, params, pbytes / 1e6, obytes / 1e6, (pbytes + obytes) / 1e6, rss);
    } else if (kind == "comm") {
      std::printf("rank 0     %s\n", line.substr(5).c_str());
    }
  }
  std::printf(
      "unsplit     3x1024, 1 process: %8.2f ms per step (1 thread), %8.2f ms (2 threads); parameters %6.2f MB + Adam "
      "state %6.2f MB = %6.2f MB\n",
      one.step_seconds * 1e3, two.step_seconds * 1e3, one.param_bytes / 1e6, one.optimizer_bytes / 1e6,
      (one.param_bytes + one.optimizer_bytes) / 1e6);
  std::printf(
      "allreduce_64x64_ms: %.4f allreduce_3x1024_ms: %.3f pipeline_m1_ms: %.2f pipeline_m4_ms: %.2f "
      "unsplit_1thread_ms: %.2f unsplit_2threads_ms: %.2f\n",
      ar_small * 1e3, ar_large * 1e3, pipe1 * 1e3, pipe4 * 1e3, one.step_seconds * 1e3, two.step_seconds * 1e3);
  return 0;
}
