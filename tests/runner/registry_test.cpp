// The algorithm registry from the outside: an algorithm that exists only in this file (a plain
// REINFORCE, registered from a static initializer) trains, evaluates and plays through the command
// line, with its own config section and metrics, without any edit outside this test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "agents/factory.h"
#include "agents/policy.h"
#include "app/commands.h"
#include "learner/algorithm.h"
#include "learner/archive.h"

namespace apiary::learner {
namespace {

namespace fs = std::filesystem;

struct ReinforceConfig {
  std::int32_t rollout_steps = 64;  // steps per lane per update
  double learning_rate = 1e-2;      // Adam step size
  double gamma = 0.99;              // discount of the returns-to-go
  template <class V>
  void visit(V& v) {
    v.field("rollout_steps", rollout_steps, "steps per lane per update", core::Range::closed(1, 4096));
    v.field("learning_rate", learning_rate, "Adam step size", core::Range::open_closed(0, 1));
    v.field("gamma", gamma, "discount", core::Range::closed(0, 1));
  }
};

// Vanilla policy gradient on returns-to-go within each chunk (no critic, no bootstrap).
class Reinforce final : public Algorithm {
 public:
  explicit Reinforce(const AlgorithmInit& init)
      : config_(init.config.section<ReinforceConfig>("reinforce_test")),
        net_(agents::make_actor_critic(init.spec, to_policy_config(init.config.policy, init.spec))),
        policy_(std::make_shared<agents::ActorCriticPolicy>(net_)),
        optimizer_(net_->parameters(), torch::optim::AdamOptions(config_.learning_rate)) {}

  std::shared_ptr<agents::Policy> policy() override { return policy_; }
  std::int64_t policy_version() const override { return version_; }

  Metrics update(const agents::TrajectoryChunk& chunk, const UpdateContext&) override {
    const std::int64_t steps = chunk.num_steps();
    torch::Tensor returns = torch::zeros_like(chunk.rewards);
    torch::Tensor running = torch::zeros({chunk.num_envs()});
    for (std::int64_t t = steps - 1; t >= 0; --t) {
      const torch::Tensor done = (chunk.terminated[t] + chunk.truncated[t]).clamp_max(1);
      running = chunk.rewards[t] + config_.gamma * running * (1 - done);
      returns[t] = running;
    }
    returns = (returns - returns.mean()) / (returns.std() + 1e-8);
    const auto obs = chunk.obs.slice(0, 0, steps).reshape({steps * chunk.num_envs(), -1});
    const auto eval = net_->evaluate(obs, chunk.actions.reshape({-1}));
    const torch::Tensor pg_loss = -(eval.log_prob * returns.reshape({-1})).mean();
    optimizer_.zero_grad();
    pg_loss.backward();
    optimizer_.step();
    ++version_;
    return {{"pg_loss", pg_loss.item<double>()}};
  }

  void save(torch::serialize::OutputArchive& archive) override {
    write_part(archive, "model", *net_);
    write_scalar(archive, "policy_version", version_);
  }
  void load(torch::serialize::InputArchive& archive) override {
    read_module(archive, "model", *net_);
    version_ = read_i64(archive, "policy_version");
  }

 private:
  ReinforceConfig config_;
  agents::ActorCritic net_;
  std::shared_ptr<agents::ActorCriticPolicy> policy_;
  torch::optim::Adam optimizer_;
  std::int64_t version_ = 0;
};

const bool registered = [] {
  AlgorithmSpec spec;
  spec.name = "reinforce_test";
  spec.doc = "REINFORCE (registered by tests/runner/registry_test.cpp)";
  spec.config = core::AnySection::of(ReinforceConfig{});
  spec.check = [](const TrainConfig&, const envs::EnvSpec& env, const RunContext& ctx) {
    if (!env.action_space.is_discrete())
      throw std::invalid_argument(ctx.source + ": algo: reinforce_test needs discrete actions");
  };
  spec.rollout_steps = [](const TrainConfig& c) { return c.section<ReinforceConfig>("reinforce_test").rollout_steps; };
  spec.make = [](const AlgorithmInit& init) -> std::unique_ptr<Algorithm> { return std::make_unique<Reinforce>(init); };
  spec.make_behaviour_policy = [](const TrainConfig& c, const envs::EnvSpec& env) -> std::shared_ptr<agents::Policy> {
    return std::make_shared<agents::ActorCriticPolicy>(agents::make_actor_critic(env, to_policy_config(c.policy, env)));
  };
  spec.policy_key = "model";
  spec.metrics = {"pg_loss"};
  register_algorithm(std::move(spec));
  return true;
}();

// Runs `apiary ARGS...` in this process (app::run_cli) and returns its exit status and stdout.
struct CliResult {
  int status = -1;
  std::string out;
};
CliResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "apiary");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::fflush(stdout);
  std::string path = (std::filesystem::temp_directory_path() / "apiary_registry_testXXXXXX").string();
  const int fd = ::mkstemp(path.data());
  const int saved = ::dup(1);
  ::dup2(fd, 1);
  CliResult r;
  r.status = app::run_cli(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  ::unlink(path.c_str());
  return r;
}

TEST(AlgorithmRegistry, ATestOnlyAlgorithmTrainsEvaluatesAndPlaysThroughTheCli) {
  ASSERT_TRUE(registered);
  const fs::path dir = fs::temp_directory_path() / ("apiary_registry_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string config = (dir / "reinforce.yaml").string();
  std::ofstream(config) << "name: reinforce\nout_dir: " << (dir / "runs").string()
                        << "\nalgo: reinforce_test\nenv: {id: CartPole-v1, num_envs: 4}\ntotal_steps: 3000\n"
                           "reinforce_test: {rollout_steps: 50}\neval: {interval_steps: 0, episodes: 4, num_envs: 4}\n";

  const CliResult train = run_cli({"train", config, "--quiet", "--set", "reinforce_test.learning_rate=0.005"});
  ASSERT_EQ(train.status, 0) << train.out;
  EXPECT_NE(train.out.find("eval_mean_return:"), std::string::npos) << train.out;
  const fs::path run = dir / "runs" / "reinforce";
  std::ifstream csv(run / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find("pg_loss"), std::string::npos) << header;  // the algorithm's own metric
  std::stringstream resolved;
  resolved << std::ifstream(run / "config.yaml").rdbuf();
  EXPECT_NE(resolved.str().find("reinforce_test:"), std::string::npos);  // its section, dumped
  EXPECT_NE(resolved.str().find("learning_rate: 0.005"), std::string::npos) << resolved.str();

  const std::string checkpoint = (run / "checkpoints" / "latest.pt").string();
  const CliResult eval = run_cli({"eval", checkpoint, "--episodes", "3"});
  ASSERT_EQ(eval.status, 0) << eval.out;
  EXPECT_NE(eval.out.find("mean_return:"), std::string::npos) << eval.out;

  const CliResult play = run_cli({"play", "--checkpoint", checkpoint, "--headless", "--episodes", "1"});
  ASSERT_EQ(play.status, 0) << play.out;
  EXPECT_NE(play.out.find("episodes: 1"), std::string::npos) << play.out;

  // Its ranges come from its own declarations.
  const CliResult bad = run_cli({"train", config, "--set", "reinforce_test.gamma=2"});
  EXPECT_EQ(bad.status, 2);
  fs::remove_all(dir);
}

TEST(AlgorithmRegistry, EveryBuiltInAlgorithmDescribesItself) {
  const auto all = registered_algorithms();
  ASSERT_GE(all.size(), 3u);  // ppo, dqn and this file's
  for (const AlgorithmSpec* s : all) {
    EXPECT_FALSE(s->policy_key.empty()) << s->name;
    EXPECT_TRUE(s->make && s->rollout_steps && s->make_behaviour_policy) << s->name;
    TrainConfig config;
    config.algo = s->name;
    EXPECT_GE(s->rollout_steps(config), 1) << s->name;
  }
  EXPECT_THROW(find_algorithm("no_such_algorithm"), std::invalid_argument);
  // The metrics a spec declares are the ones update() may report; another name is refused, named.
  const AlgorithmSpec& ppo = find_algorithm("ppo");
  EXPECT_NO_THROW(check_reported_metrics(ppo, {{"pg_loss", 0.1}, {"approx_kl", 0.0}}));
  try {
    check_reported_metrics(ppo, {{"pg_loss", 0.1}, {"surprise", 1.0}});
    ADD_FAILURE() << "an undeclared metric passed";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("algorithm ppo reported the metric 'surprise'"), std::string::npos) << e.what();
  }
  AlgorithmSpec twice;
  twice.name = "ppo";
  EXPECT_THROW(register_algorithm(twice), std::logic_error);
}

}  // namespace
}  // namespace apiary::learner
