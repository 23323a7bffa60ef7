// Data-parallel training end to end (learner.world_size, issue 12), with the `apiary` program as a user
// runs it: `apiary train` starting its own ranks (launch_local), two ranks started by hand with
// torchrun's variables, a rank killed with SIGKILL, a rank started with another config, a resume with
// another world size.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "parallel/launch.h"
#include "tests/common/cli.h"
#include "tests/parallel/test_util.h"

namespace fs = std::filesystem;

namespace {

using apiary::testing::CmdResult;
using apiary::testing::parse_pairs;
using apiary::testing::run_apiary;

class DataParallelTrain : public apiary::testing::ScratchTest {
 protected:
  DataParallelTrain() : ScratchTest("apiary_dp_") {}

  std::string config_path() const { return std::string(APIARY_SOURCE_DIR) + "/configs/cartpole_ppo.yaml"; }

  // Trains cartpole_ppo.yaml with `sets` added, into the scratch folder, and checks that it learnt:
  // status 0, a best evaluation of 475 or more, and one run folder (rank 0 alone writes), put in `run`.
  void expect_learns_cartpole(const std::string& sets, CmdResult& r, fs::path& run) {
    r = run_apiary("train " + config_path() + " --quiet --set out_dir=" + dir_.string() + sets);
    ASSERT_EQ(r.status, 0) << r.output;
    const auto kv = parse_pairs(r.last_line());
    ASSERT_TRUE(kv.count("best_eval_mean_return")) << r.output;
    EXPECT_GE(std::stod(kv.at("best_eval_mean_return")), 475.0) << r.output;
    const auto folders = run_folders();
    ASSERT_EQ(folders.size(), 1u) << r.output;
    run = folders[0];
  }

  // The run folders under out_dir.
  std::vector<fs::path> run_folders() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.is_directory()) out.push_back(e.path());
    return out;
  }

  // torchrun's variables for rank `rank` of `world` (the prefix of a shell command).
  static std::string torchrun_env(int rank, int world, std::uint16_t port) {
    return "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " WORLD_SIZE=" + std::to_string(world) +
           " RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank);
  }
};

// Processes whose parent is `parent` (from /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z') out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// `learner.world_size: 2`: `apiary train` starts two ranks that learn CartPole-v1 to an evaluation of
// 475 together; rank 0 alone writes the one run folder, whose metrics carry the communication columns.
TEST_F(DataParallelTrain, TwoRanksLearnCartPole) {
  const auto start = std::chrono::steady_clock::now();
  CmdResult r;
  fs::path run;
  ASSERT_NO_FATAL_FAILURE(
      expect_learns_cartpole(" --set learner.world_size=2 --set learner.check_weights_interval=5", r, run));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(parse_pairs(r.last_line()).at("solved_steps"), "-1") << r.output;
  // One summary (rank 0 speaks for the run), with the communication line.
  EXPECT_EQ(r.output.find("run_dir:"), r.output.rfind("run_dir:")) << r.output;
  EXPECT_EQ(r.output.find("profile:"), r.output.rfind("profile:")) << r.output;
  EXPECT_TRUE(r.has("communication ")) << r.output;
  EXPECT_TRUE(r.has("2 ranks (learner.world_size)")) << r.output;
  const std::string log = apiary::testing::read_text(run / "train.log");
  EXPECT_NE(log.find("data-parallel rank 0 of 2"), std::string::npos) << log;
  const std::string metrics = apiary::testing::read_text(run / "metrics.csv");
  EXPECT_NE(metrics.find("comm_allreduce_seconds"), std::string::npos) << metrics.substr(0, 400);
  EXPECT_NE(metrics.find("comm_bytes"), std::string::npos);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.pt"));
  EXPECT_NE(apiary::testing::read_text(run / "config.yaml").find("world_size: 2"), std::string::npos);
  std::printf("[ info ] 2 ranks solved CartPole-v1 in %.1f s: %s\n", seconds, r.last_line().c_str());
}

// `learner.pipeline_stages: 2` (model parallelism): rank 0 steps the envs with a whole copy of the
// network, the actor and the critic are each cut into two stages on two ranks, and every PPO update
// runs on the GPipe schedule over 4 micro-batches; CartPole-v1 is learnt to an evaluation of 475, and
// rank 0 alone writes the run folder, whose checkpoint holds the whole network (eval works on it).
// learner.world_size is left out: one stage per rank makes it 2.
TEST_F(DataParallelTrain, TwoPipelineStagesLearnCartPole) {
  const auto start = std::chrono::steady_clock::now();
  CmdResult r;
  fs::path run;
  ASSERT_NO_FATAL_FAILURE(
      expect_learns_cartpole(" --set learner.pipeline_stages=2 --set learner.micro_batches=4", r, run));
  EXPECT_NE(apiary::testing::read_text(run / "config.yaml").find("world_size: 2"), std::string::npos);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.output.find("run_dir:"), r.output.rfind("run_dir:")) << r.output;
  EXPECT_TRUE(r.has("send/recv")) << r.output;  // the communication line counts the pipeline's messages
  const std::string log = apiary::testing::read_text(run / "train.log");
  EXPECT_NE(log.find("model-parallel stage 0 of 2 (learner.pipeline_stages)"), std::string::npos) << log;
  const CmdResult e = run_apiary("eval " + (run / "checkpoints" / "best.pt").string() + " --episodes 10");
  EXPECT_EQ(e.status, 0) << e.output;
  std::printf("[ info ] 2 pipeline stages solved CartPole-v1 in %.1f s: %s\n", seconds, r.last_line().c_str());
}

// Data and model parallelism together (world size 4 = 2 replicas x 2 stages): every update runs on
// the GPipe schedule with each stage's gradients averaged over the replicas, and the replicas' weights
// are compared after every update (a mismatch would end the run with status 1). The run stops after
// 2048 steps and resumes from its checkpoint (the stages' Adam state, in the unsplit layout) to the
// end; eval runs on the checkpoint.
TEST_F(DataParallelTrain, ReplicasOfAPipelineTrainAndResume) {
  const std::string sets = " --set learner.world_size=4 --set learner.pipeline_stages=2 --set learner.micro_batches=2"
                           " --set learner.check_weights_interval=1 --set total_steps=4096 --set eval.episodes=4"
                           " --set eval.num_envs=4";
  const CmdResult first =
      run_apiary("train " + config_path() + " --quiet --set out_dir=" + dir_.string() + sets + " --session-steps 2048");
  ASSERT_EQ(first.status, 0) << first.output;
  const auto folders = run_folders();
  ASSERT_EQ(folders.size(), 1u) << first.output;
  const CmdResult resumed = run_apiary("train --resume " + folders[0].string() + " --quiet");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  const auto kv = parse_pairs(resumed.last_line());
  ASSERT_TRUE(kv.count("steps")) << resumed.output;
  EXPECT_EQ(kv.at("steps"), "4096") << resumed.output;
  EXPECT_TRUE(resumed.has("send/recv")) << resumed.output;
  const std::string log = apiary::testing::read_text(folders[0] / "train.log");
  EXPECT_NE(log.find("data-parallel replica 0 of 2 (learner.world_size), model-parallel stage 0 of 2"),
            std::string::npos) << log;
  EXPECT_NE(log.find("resume at step 2048"), std::string::npos) << log;
  const CmdResult e = run_apiary("eval " + (folders[0] / "checkpoints" / "latest.pt").string() + " --episodes 4");
  EXPECT_EQ(e.status, 0) << e.output;
}

// A pipelined run starts from init.checkpoint (the zoo's trained CartPole-v1 policy): stage 0 loads it
// and sends each stage its layers. With a learning rate too small to change anything in 8 updates, the
// final evaluation is the loaded policy's (about 500); stages that kept their own initial weights would
// gather a random network into the copy that acts (about 20).
TEST_F(DataParallelTrain, PipelineStartsFromACheckpoint) {
  const CmdResult r = run_apiary("train " + config_path() + " --quiet --set out_dir=" + dir_.string() +
                                 " --set learner.world_size=2 --set learner.pipeline_stages=2"
                                 " --set init.checkpoint=zoo:cartpole_ppo --set ppo.learning_rate=1e-7"
                                 " --set stop.mean_return=1e9 --set total_steps=2048 --set eval.interval_steps=0"
                                 " --set eval.episodes=10 --set eval.num_envs=10");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  ASSERT_TRUE(kv.count("eval_mean_return")) << r.output;
  EXPECT_GE(std::stod(kv.at("eval_mean_return")), 450.0) << r.output;
}

// learner.stage_devices: one process holds both stages, each on its own device (both the CPU here;
// PpoPipelineGpu.StageDevicesOnTheCpuAndAGpu... checks a GPU), and learns CartPole-v1 to 475.
TEST_F(DataParallelTrain, StagesOnDevicesOfOneRankLearnCartPole) {
  CmdResult r;
  fs::path run;
  ASSERT_NO_FATAL_FAILURE(expect_learns_cartpole(
      " --set learner.pipeline_stages=2 --set learner.stage_devices=[cpu,cpu] --set learner.micro_batches=4", r, run));
  const std::string log = apiary::testing::read_text(run / "train.log");
  EXPECT_NE(log.find("model-parallel: 2 stages on cpu, cpu (learner.stage_devices)"), std::string::npos) << log;
}

// Both again, with the stages on devices: 2 data-parallel ranks, each holding both stages of its
// network (on [cpu, cpu]), its gradients averaged with the other rank's stage by stage, weights
// compared after every update; they learn CartPole-v1 to 475.
TEST_F(DataParallelTrain, ReplicasOfOneRankPipelinesLearnCartPole) {
  CmdResult r;
  fs::path run;
  ASSERT_NO_FATAL_FAILURE(expect_learns_cartpole(
      " --set learner.world_size=2 --set env.num_envs=4 --set learner.pipeline_stages=2"
      " --set learner.stage_devices=[cpu,cpu] --set learner.micro_batches=2 --set learner.check_weights_interval=1",
      r, run));
  const std::string log = apiary::testing::read_text(run / "train.log");
  EXPECT_NE(log.find("data-parallel rank 0 of 2 (learner.world_size), model-parallel: 2 stages on cpu, cpu"),
            std::string::npos) << log;
}

// Model parallelism's refusals, before any work: an algorithm without a pipeline, more micro-batches
// than a minibatch has rows, a world size that is not a multiple of the stages, stage devices that do
// not exist or do not match the stages, frozen parameters.
TEST_F(DataParallelTrain, PipelineCombinationsThatCannotWorkAreRefused) {
  const std::string base = "train " + config_path() + " --quiet --set out_dir=" + dir_.string();
  CmdResult r = run_apiary("train " + std::string(APIARY_SOURCE_DIR) + "/configs/cartpole_dqn.yaml --quiet --set out_dir=" +
                           dir_.string() + " --set learner.world_size=2 --set learner.pipeline_stages=2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.pipeline_stages: algo dqn cannot split its networks into pipeline stages; model "
                    "parallelism works with ppo")) << r.output;
  r = run_apiary("train " + std::string(APIARY_SOURCE_DIR) + "/configs/pendulum_sac.yaml --quiet --set out_dir=" +
                 dir_.string() + " --set learner.world_size=2 --set learner.pipeline_stages=2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.pipeline_stages: algo sac cannot split its networks")) << r.output;
  // cartpole_ppo.yaml: 32 steps x 8 lanes in 1 minibatch = 256 rows.
  r = run_apiary(base + " --set learner.world_size=2 --set learner.pipeline_stages=2 --set learner.micro_batches=257");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.micro_batches (257) exceeds the rows of a minibatch")) << r.output;
  EXPECT_TRUE(r.has("= 256")) << r.output;
  r = run_apiary(base + " --set learner.world_size=3 --set learner.pipeline_stages=2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.world_size: world size 3 is not a multiple of 2 pipeline stages")) << r.output;
  // Left out, the world size is pipeline_stages (TwoPipelineStagesLearnCartPole); set to 1, refused.
  r = run_apiary(base + " --set learner.pipeline_stages=2 --set learner.world_size=1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("world size 1 is not a multiple of 2 pipeline stages")) << r.output;
  r = run_apiary(base + " --set learner.pipeline_stages=2 --set learner.stage_devices=[cpu,cuda:7]");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.stage_devices: cuda:7 is not a device of this machine")) << r.output;
  r = run_apiary(base + " --set learner.stage_devices=[cpu,cpu]");  // pipeline_stages 1
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.stage_devices names 2 devices for learner.pipeline_stages 1")) << r.output;
  r = run_apiary(base + " --set learner.pipeline_stages=2 --set learner.stage_devices=[cpu,cpu]"
                        " --set policy.freeze=[actor_body]");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("policy.freeze cannot be combined with pipeline stages")) << r.output;
  EXPECT_TRUE(run_folders().empty());
}

// DQN averages its online network's gradients too: with a weight-hash check after every update the two
// ranks' weights stay bitwise equal through a short run (a mismatch would end it with status 1).
TEST_F(DataParallelTrain, DqnRanksStayBitwiseEqual) {
  const CmdResult r = run_apiary("train " + std::string(APIARY_SOURCE_DIR) + "/configs/cartpole_dqn.yaml --quiet" +
                                 " --set out_dir=" + dir_.string() +
                                 " --set learner.world_size=2 --set learner.check_weights_interval=1"
                                 " --set total_steps=4096 --set dqn.learning_starts=512 --set eval.episodes=4"
                                 " --set eval.num_envs=4");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto kv = parse_pairs(r.last_line());
  ASSERT_TRUE(kv.count("steps")) << r.output;
  EXPECT_EQ(kv.at("steps"), "4096") << r.output;
  // The hash was compared at the start and after updates.
  const auto at = r.output.find("hash ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const auto open = r.output.find('(', at), close = r.output.find(')', at);
  ASSERT_LT(open, close) << r.output;
  EXPECT_GT(std::stoi(r.output.substr(open + 1, close - open - 1)), 2) << r.output;
}

// Two processes started by hand with torchrun's variables, with a config that leaves learner.world_size
// out (as a torchrun user's does), join one run of the launcher's world size: steps count both ranks',
// one run folder whose config says world_size 2, rank 1 prints nothing of the summary. A config that
// sets another world size is refused naming both.
TEST_F(DataParallelTrain, TorchrunVariablesJoinOneRun) {
  const std::uint16_t port = apiary::parallel::find_free_port();
  const std::string args = "train " + config_path() + " --quiet --set out_dir=" + dir_.string() +
                           " --set total_steps=2048 --set eval.interval_steps=0"
                           " --set eval.episodes=4 --set eval.num_envs=4";
  const CmdResult one = run_apiary(args + " --set learner.world_size=1", torchrun_env(0, 2, port));
  EXPECT_EQ(one.status, 2) << one.output;
  EXPECT_TRUE(one.has("learner.world_size 1 differs from the launcher's WORLD_SIZE=2")) << one.output;
  const CmdResult odd = run_apiary(args + " --set learner.pipeline_stages=2", torchrun_env(0, 3, port));
  EXPECT_EQ(odd.status, 2) << odd.output;
  EXPECT_TRUE(odd.has("learner.pipeline_stages 2 does not divide the launcher's WORLD_SIZE=3")) << odd.output;
  ASSERT_TRUE(run_folders().empty());
  auto rank1 = std::async(std::launch::async, [&] { return run_apiary(args, torchrun_env(1, 2, port)); });
  const CmdResult r0 = run_apiary(args, torchrun_env(0, 2, port));
  const CmdResult r1 = rank1.get();
  ASSERT_EQ(r0.status, 0) << r0.output << "\n--- rank 1:\n" << r1.output;
  ASSERT_EQ(r1.status, 0) << r1.output;
  const auto kv = parse_pairs(r0.last_line());
  ASSERT_TRUE(kv.count("steps")) << r0.output;
  EXPECT_EQ(kv.at("steps"), "2048") << r0.output;  // 2 ranks x 8 lanes x 32 steps x 4 updates
  EXPECT_FALSE(r1.has("eval_mean_return:")) << r1.output;
  ASSERT_EQ(run_folders().size(), 1u);
  EXPECT_NE(apiary::testing::read_text(run_folders()[0] / "config.yaml").find("world_size: 2"), std::string::npos);
}

// A rank started with another config is refused when it joins, naming the line that differs; both
// exit with status 2 and no run folder is left.
TEST_F(DataParallelTrain, RankWithAnotherConfigIsRefused) {
  const std::uint16_t port = apiary::parallel::find_free_port();
  const std::string args = "train " + config_path() + " --quiet --set out_dir=" + dir_.string() +
                           " --set learner.world_size=2 --set learner.timeout_seconds=30";
  auto rank1 = std::async(std::launch::async, [&] {
    return run_apiary(args + " --set ppo.learning_rate=0.001", torchrun_env(1, 2, port));
  });
  const CmdResult r0 = run_apiary(args, torchrun_env(0, 2, port));
  const CmdResult r1 = rank1.get();
  EXPECT_EQ(r0.status, 2) << r0.output;
  EXPECT_EQ(r1.status, 2) << r1.output;
  for (const CmdResult* r : {&r0, &r1}) {
    EXPECT_TRUE(r->has("rank 1 was started with another config than rank 0")) << r->output;
    EXPECT_TRUE(r->has("rank 0 has '  learning_rate: 0.005  # Adam step size', rank 1 has '  learning_rate: 0.001"))
        << r->output;
  }
  EXPECT_TRUE(run_folders().empty());
}

// SIGKILL of one rank: the agent (`apiary train` with learner.world_size 2) ends the other rank, exits
// 1 with a message naming the killed rank, and leaves no process behind.
TEST_F(DataParallelTrain, KilledRankEndsTheRunNamingIt) {
  const std::string out = (dir_ / "agent.out").string();
  const std::string binary = std::string(APIARY_BINARY_DIR) + "/apiary";
  const std::string out_dir = "out_dir=" + dir_.string();
  const pid_t agent = ::fork();
  if (agent == 0) {
    ::setpgid(0, 0);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(binary.c_str(), binary.c_str(), "train", config_path().c_str(), "--quiet", "--set", out_dir.c_str(), "--set",
            "learner.world_size=2", "--set", "total_steps=100000000", "--set", "stop.mean_return=1e9", "--set",
            "eval.interval_steps=0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(agent, 0);
  // The two ranks, once both have joined and trained a while (rank 0's metrics.csv has rows).
  std::vector<pid_t> ranks;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool training = false;
  while (std::chrono::steady_clock::now() < deadline && !training) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ranks = children_of(agent);
    for (const auto& folder : run_folders()) {
      const std::string metrics = apiary::testing::read_text(folder / "metrics.csv");
      training = training || std::count(metrics.begin(), metrics.end(), '\n') >= 3;
    }
  }
  ASSERT_TRUE(training) << apiary::testing::read_text(out);
  ASSERT_EQ(ranks.size(), 2u) << apiary::testing::read_text(out);
  // Which pid is rank 1: its environment says so.
  pid_t rank1 = -1, rank0 = -1;
  for (pid_t pid : ranks) {
    std::ifstream environ_file("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string entry;
    while (std::getline(environ_file, entry, '\0')) {
      if (entry == "RANK=1") rank1 = pid;
      if (entry == "RANK=0") rank0 = pid;
    }
  }
  ASSERT_GT(rank1, 0);
  ASSERT_GT(rank0, 0);
  ASSERT_EQ(::kill(rank1, SIGKILL), 0);
  const auto status = apiary::parallel::testing::wait_child(agent, 30.0);
  const std::string output = apiary::testing::read_text(out);
  ASSERT_TRUE(status.has_value()) << "the agent did not end within 30 s of the kill\n" << output;
  ASSERT_TRUE(WIFEXITED(*status)) << output;
  EXPECT_EQ(WEXITSTATUS(*status), 1) << output;
  EXPECT_NE(output.find("rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"), std::string::npos)
      << output;
  // Nothing left behind: both ranks are gone (rank 0 ended, rank 1 killed), and nothing of the
  // agent's process group runs.
  for (int i = 0; i < 100 && !apiary::parallel::testing::process_gone(rank0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(apiary::parallel::testing::process_gone(rank0));
  EXPECT_TRUE(apiary::parallel::testing::process_gone(rank1));
  EXPECT_NE(::kill(-rank0, 0), 0) << "a process of the ranks' group is still running";
  // Rank 0 kept its latest checkpoint when the communication failed.
  const auto folders = run_folders();
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_TRUE(fs::exists(folders[0] / "checkpoints" / "latest.pt")) << output;
}

// A run resumes with the world size it was trained with (here 2, started by `apiary train --resume`
// itself); another world size, given by the launcher's variables, is refused with a message before any
// work.
TEST_F(DataParallelTrain, ResumeNeedsTheSameWorldSize) {
  const CmdResult first = run_apiary("train " + config_path() + " --quiet --set out_dir=" + dir_.string() +
                                     " --set learner.world_size=2 --set total_steps=4096 --set eval.episodes=4"
                                     " --set eval.num_envs=4 --session-steps 1024");
  ASSERT_EQ(first.status, 0) << first.output;
  const auto folders = run_folders();
  ASSERT_EQ(folders.size(), 1u);
  const std::string run = folders[0].string();

  const std::uint16_t port = apiary::parallel::find_free_port();
  const CmdResult other = run_apiary("train --resume " + run + " --quiet", torchrun_env(0, 3, port));
  EXPECT_EQ(other.status, 2) << other.output;
  EXPECT_TRUE(other.has("--resume " + run + ": the run was trained with learner.world_size 2 and this launch has "
                        "WORLD_SIZE=3; a run resumes only with the world size it was trained with"))
      << other.output;
  const CmdResult one = run_apiary("train --resume " + run + " --quiet", torchrun_env(0, 1, port));
  EXPECT_EQ(one.status, 2) << one.output;
  EXPECT_TRUE(one.has("this launch has WORLD_SIZE=1")) << one.output;

  const CmdResult same = run_apiary("train --resume " + run + " --quiet");
  ASSERT_EQ(same.status, 0) << same.output;
  const auto kv = parse_pairs(same.last_line());
  ASSERT_TRUE(kv.count("steps")) << same.output;
  EXPECT_EQ(kv.at("steps"), "4096") << same.output;
  EXPECT_NE(apiary::testing::read_text(folders[0] / "train.log").find("resume at step 1024"), std::string::npos)
      << apiary::testing::read_text(folders[0] / "train.log");
}

// Each rank with its own actor processes (actors.count: 1 on each of 2 ranks): rank 1's actor is
// started by rank 1, with its own seed, its endpoint and log in <run>/rank-1; both ranks' chunks feed
// the averaged updates, and CartPole-v1 is learnt to 475 (the run stops at the first evaluation that
// reaches it; actor processes act with weights one update old, so the budget is 300k steps, not 100k).
TEST_F(DataParallelTrain, RanksWithTheirOwnActorProcessesLearnCartPole) {
  CmdResult r;
  fs::path run;
  ASSERT_NO_FATAL_FAILURE(expect_learns_cartpole(" --set learner.world_size=2 --set env.num_envs=4 --set actors.count=1"
                                                 " --set learner.check_weights_interval=1 --set total_steps=300000",
                                                 r, run));
  EXPECT_TRUE(fs::exists(run / "actor-0.log")) << "rank 0's actor logs in the run folder";
  EXPECT_TRUE(fs::exists(run / "rank-1" / "actor-0.log")) << "rank 1's actor logs in rank-1/";
}

// Refusals before any work: an algorithm that does not average its gradients, one learner.bind
// address for several ranks, an early stop on each rank's own KL.
TEST_F(DataParallelTrain, CombinationsThatCannotWorkAreRefused) {
  const std::string base = "train " + config_path() + " --quiet --set out_dir=" + dir_.string();
  CmdResult r = run_apiary(base + " --set learner.world_size=2 --set ppo.target_kl=0.02");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("ppo.target_kl")) << r.output;
  r = run_apiary(base + " --set learner.world_size=2 --set actors.count=1 --set learner.bind=tcp://127.0.0.1:5599");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.bind: with learner.world_size 2 every rank starts its own actor processes")) << r.output;
  r = run_apiary("train " + std::string(APIARY_SOURCE_DIR) + "/configs/pendulum_sac.yaml --quiet --set out_dir=" +
                 dir_.string() + " --set learner.world_size=2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.world_size: algo sac does not average its gradients across ranks")) << r.output;
  r = run_apiary(base + " --set learner.world_size=-1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.has("learner.world_size")) << r.output;
  EXPECT_TRUE(run_folders().empty());
}

}  // namespace
