// `apiary bench envs`: environment throughput in lane-steps per second, with actions prepared in
// advance on the env's device so that only stepping is timed. Prints the median of --repeats runs.
// `apiary bench learner`: the cost of one update of an algorithm that offers it (learner/update_bench.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/env_flags.h"
#include "envs/device_memory.h"
#include "envs/random_actions.h"
#include "envs/registry.h"
#include "learner/update_bench.h"

namespace apiary::app {

namespace {

struct BenchEnvFlags {
  EnvFlags env;
  double seconds = 2.0;    // timed seconds per repeat
  std::int32_t repeats = 3;
};

void run_bench_envs(const BenchEnvFlags& flags) {
  auto env = envs::make_env(flags.env.env_id, flags.env.to_config());
  const envs::EnvSpec& spec = env->spec();
  const bool discrete = spec.action_space.is_discrete();
  const std::size_t bytes_per_batch =
      static_cast<std::size_t>(env->num_envs() * spec.action_dim()) * (discrete ? sizeof(std::int32_t) : sizeof(float));

  // A few batches of random actions, cycled through, resident where the env runs.
  constexpr int kBatches = 8;
  envs::RandomActions random(spec, env->num_envs(), flags.env.seed);
  std::vector<std::unique_ptr<envs::DeviceBuffer>> batches;
  std::vector<envs::ActionBatch> views;
  for (int i = 0; i < kBatches; ++i) {
    envs::ActionBatch host = random.next();
    batches.push_back(std::make_unique<envs::DeviceBuffer>(bytes_per_batch, env->device()));
    batches.back()->upload(host.data, bytes_per_batch);
    host.data = batches.back()->data();
    host.device = env->device();
    views.push_back(host);
  }

  env->reset(flags.env.seed);
  // The clock is read every `check_every` batched steps: at most 65536 lane-steps apart, and fewer where a
  // step is slow (CarRacing's 32 lanes take a second for 65536), so that a repeat lasts about --seconds.
  const std::int64_t max_check_every = std::max<std::int64_t>(1, 65536 / env->num_envs());
  std::int64_t check_every = 1;
  std::vector<double> rates;
  for (int r = 0; r <= flags.repeats; ++r) {  // repeat 0 warms up and is not counted
    const double budget = r == 0 ? std::min(0.3, flags.seconds) : flags.seconds;
    std::int64_t steps = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    while (elapsed < budget) {
      for (std::int64_t i = 0; i < check_every; ++i) env->step(views[static_cast<std::size_t>((steps + i) % kBatches)]);
      steps += check_every;
      const double before = elapsed;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed - before < 0.01 && check_every < max_check_every) check_every *= 2;  // reading the clock is cheap
    }
    if (env->device() == envs::Device::kCuda) {
      (void)env->get_states();  // make sure the last kernels finished before the clock stops
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (r == 0) continue;
    const double rate = static_cast<double>(steps) * env->num_envs() / elapsed;
    rates.push_back(rate);
    std::printf("repeat %d: %.4g steps/s (%lld batched steps in %.2f s)\n", r, rate, static_cast<long long>(steps),
                elapsed);
  }
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  std::printf("env: %s num_envs: %d threads: %d device: %s steps_per_second: %.4g\n", spec.id.c_str(),
              env->num_envs(), flags.env.threads, envs::to_string(env->device()).c_str(), median);
}

struct BenchLearnerFlags {
  std::string algo = "ppo";
  learner::UpdateBenchConfig update;
};

void run_bench_learner(const BenchLearnerFlags& flags) {
  const learner::UpdateBenchConfig& c = flags.update;
  learner::UpdateBenchResult r;
  try {
    r = learner::run_update_bench(flags.algo, c);
  } catch (const std::invalid_argument& e) {
    // "--algo: 'x' is not a registered ...", "--algo x: no update benchmark ..."
    const std::string what = e.what();
    if (what.rfind("algo", 0) == 0) throw std::invalid_argument("--" + what);
    throw;
  }
  std::string hidden;
  for (const auto h : c.hidden) hidden += (hidden.empty() ? "" : ",") + std::to_string(h);
  std::string obs = std::to_string(c.obs_dim);
  if (c.encoder != "mlp") {
    obs = c.encoder + " encoder on uint8 (";
    for (std::size_t i = 0; i < c.obs_shape.size(); ++i) obs += (i ? "," : "") + std::to_string(c.obs_shape[i]);
    obs += ")";
  }
  if (c.recurrent != "none")
    hidden += (hidden.empty() ? "" : ", then ") + c.recurrent + " core of " + std::to_string(c.recurrent_hidden) +
              " over sequences of " + std::to_string(c.sequence) + " steps";
  std::printf("network: obs %s, hidden %s, %lld actions (actor and critic), %lld parameters; batch %lld; %s on %s\n",
              obs.c_str(), hidden.empty() ? "none" : hidden.c_str(),
              static_cast<long long>(c.num_actions), static_cast<long long>(r.parameters),
              static_cast<long long>(c.batch), c.precision.c_str(), c.device.c_str());
  std::printf("threads: %d\n", c.threads);
  if (r.fused) {
    std::printf("per update (medians of %d runs): forward+loss+backward (fused step) %.1f us, optimizer %.1f us\n",
                c.repeats, r.forward_us, r.optimizer_us);
  } else {
    std::printf("per update (medians of %d runs): forward+loss %.1f us, backward %.1f us, optimizer %.1f us\n",
                c.repeats, r.forward_us, r.backward_us, r.optimizer_us);
  }
  std::printf("updates_per_second: %.4g samples_per_second: %.4g flops_per_update: %.4g achieved_flops: %.4g\n",
              r.updates_per_second, r.samples_per_second, r.flops_per_update, r.achieved_flops);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto flags = std::make_shared<BenchEnvFlags>();
  auto* cmd = bench->add_subcommand("envs", "Environment throughput (lane-steps per second)");
  flags->env.num_envs = 4096;
  flags->env.add_to(*cmd);
  cmd->add_option("--seconds", flags->seconds, "Timed seconds per repeat")
      ->capture_default_str()
      ->check(in_range(core::Range::open_closed(0, 3600)));
  cmd->add_option("--repeats", flags->repeats, "Timed repeats; the median is reported")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1000)));
  cmd->callback([flags] { run_bench_envs(*flags); });

  auto bench_learner = std::make_shared<BenchLearnerFlags>();
  learner::UpdateBenchConfig* learner_flags = &bench_learner->update;
  auto* lcmd = bench->add_subcommand("learner", "Cost of one learner update: forward, backward and optimizer step "
                                                "of an algorithm's network for a network, batch, precision and device");
  lcmd->add_option("--algo", bench_learner->algo, "The algorithm whose update is timed (ppo)")->capture_default_str();
  auto* hidden = lcmd->add_option("--hidden", learner_flags->hidden,
                                  "Hidden layer widths, e.g. 1024,1024,1024 (with --encoder: none unless given, as "
                                  "CleanRL's Atari agents put the heads on the encoder's features)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 20)));
  lcmd->add_option("--obs-dim", learner_flags->obs_dim, "Observation elements")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 20)));
  lcmd->add_option("--encoder", learner_flags->encoder,
                   "mlp, or a CNN over uint8 images of --obs: minatar, nature (84x84), impala")
      ->capture_default_str()
      ->check(CLI::IsMember({"mlp", "minatar", "nature", "impala"}));
  lcmd->add_option("--obs", learner_flags->obs_shape, "Image shape H,W,C for --encoder, e.g. 84,84,4")
      ->delimiter(',')
      ->expected(3)
      ->check(in_range(core::Range::closed(1, 4096)));
  lcmd->add_option("--recurrent", learner_flags->recurrent,
                   "A recurrent core before the heads: none, lstm or gru (the batch is whole lanes of --sequence steps)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "lstm", "gru"}));
  lcmd->add_option("--recurrent-hidden", learner_flags->recurrent_hidden, "Units of the recurrent core")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 65536)));
  lcmd->add_option("--sequence", learner_flags->sequence, "Steps of each lane's sequence with --recurrent")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 20)));
  lcmd->add_option("--actions", learner_flags->num_actions, "Discrete actions (logits of the actor's head)")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 20)));
  lcmd->add_option("--batch", learner_flags->batch, "Rows of one minibatch")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1 << 24)));
  lcmd->add_option("--precision", learner_flags->precision, "fp32, bf16 or fp16")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  lcmd->add_option("--device", learner_flags->device, "cpu, cuda or cuda:N")->capture_default_str();
  lcmd->add_option("--threads", learner_flags->threads, "LibTorch and OpenBLAS threads, as a run's threads (0: all cores)")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(0, 1024)));
  lcmd->add_option("--seconds", learner_flags->seconds, "Timed seconds per repeat")
      ->capture_default_str()
      ->check(in_range(core::Range::open_closed(0, 3600)));
  lcmd->add_flag("!--autograd", learner_flags->fused,
                 "Time LibTorch's autograd instead of PPO's hand-written step (which fp32 on the CPU uses)");
  lcmd->add_option("--repeats", learner_flags->repeats, "Timed repeats; medians are reported")
      ->capture_default_str()
      ->check(in_range(core::Range::closed(1, 1000)));
  lcmd->callback([bench_learner, learner_flags, hidden] {
    if (learner_flags->encoder != "mlp" && hidden->count() == 0) learner_flags->hidden.clear();
    run_bench_learner(*bench_learner);
  });
}

}  // namespace apiary::app
