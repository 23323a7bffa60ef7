// Model parallelism wired into PPO (learner.pipeline_stages, issue 12):
// - two ranks, each holding one stage of the actor and of the critic and its own Adam, take the same
//   update as one process with the unsplit network, with 1 and with 4 micro-batches, to floating-point
//   tolerance (and with 1 in bf16: micro-batches sum bf16 weight gradients in another order, which
//   Adam's first steps magnify to the learning rate), for a Discrete (CartPole) and a Box (Pendulum) action space; rank 0's whole copy (what it
//   acts with) follows the stages; each rank holds only its own stage's parameters and optimizer state;
// - the stages of one rank on devices of their own (learner.stage_devices) take the same update;
// - a pipelined run's checkpoint is the unsplit network's (weights and Adam's state in its layout):
//   an unsplit PPO resumes from it, and a pipeline resumes from an unsplit run's, taking the same
//   next update;
// - with a convolutional encoder (MinAtar's frames), the cut falls between the encoders and the MLPs;
// - two data-parallel replicas of a two-stage pipeline (4 ranks) take the update of two data-parallel
//   ranks with the unsplit network.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/ppo/ppo.h"
#include "learner/precision.h"
#include "parallel/launch.h"
#include "parallel/pipeline.h"
#include "parallel/process_group.h"
#include "tests/common/algorithm_checks.h"
#include "tests/common/synthetic_chunk.h"
#include "tests/parallel/test_util.h"

namespace apiary::parallel {
namespace {

using apiary::testing::as_map;
using apiary::testing::load_state;
using apiary::testing::saved_state;
using apiary::testing::synthetic_chunk;
using testing::in_rank;
using testing::rank_body;
using testing::rerun_this_test;

// A Discrete and a Box env, with their observation sizes.
struct EnvCase {
  const char* id;
  std::int64_t obs_dim;
};
constexpr EnvCase kEnvs[] = {{"CartPole-v1", 4}, {"Pendulum-v1", 3}};

learner::TrainConfig pipeline_config(int micro_batches, int world_size = 2) {
  learner::TrainConfig config;
  config.seed = 7;
  config.policy.hidden_sizes = {16, 16};  // actor and critic: 3 Linear layers each
  auto& ppo = config.section<learner::PpoConfig>("ppo");
  ppo.rollout_steps = 16;
  ppo.num_minibatches = 2;  // minibatches of 32 rows
  ppo.update_epochs = 2;
  ppo.anneal_lr = false;
  ppo.learning_rate = 1e-2;  // large steps: a wrong gradient shows
  ppo.max_grad_norm = 0.5;   // clips: the norm must be the global one
  config.env.num_envs = 4;
  config.learner.pipeline_stages = 2;
  config.learner.world_size = world_size;
  config.learner.micro_batches = micro_batches;
  return config;
}

std::int64_t elements_of(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

double largest_difference(learner::Algorithm& a, learner::Algorithm& b) {
  const auto pa = a.policy()->module().parameters(), pb = b.policy()->module().parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double worst = 0;
  for (std::size_t i = 0; i < pa.size() && i < pb.size(); ++i)
    worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  return worst;
}

// The unsplit PPO of `config` (no pipeline), with the initial weights of seed 11.
std::unique_ptr<learner::Algorithm> unsplit_ppo(learner::TrainConfig config, const envs::EnvSpec& spec,
                                                learner::GradientHook hook = {}) {
  config.learner.pipeline_stages = 1;
  config.learner.stage_devices.clear();
  learner::AlgorithmInit init;
  init.config = config;
  init.spec = spec;
  init.precision = learner::parse_precision(config.precision);
  init.reduce_gradients = std::move(hook);
  torch::manual_seed(11);
  return learner::make_ppo(init);
}

// The PPO of `config` (pipelined as it says, over `pipeline` where its stages are ranks), with the
// initial weights of seed 11.
std::unique_ptr<learner::Algorithm> seeded_ppo(const learner::TrainConfig& config, const envs::EnvSpec& spec,
                                               ProcessGroup* pipeline = nullptr) {
  learner::AlgorithmInit init;
  init.config = config;
  init.spec = spec;
  init.precision = learner::parse_precision(config.precision);
  init.pipeline = pipeline;
  torch::manual_seed(11);
  return learner::make_ppo(init);
}

// `a` and `b` take the same update on a synthetic chunk (metrics and weights).
void expect_same_update(learner::Algorithm& a, learner::Algorithm& b, const EnvCase& env, std::uint64_t seed,
                        int update, double tolerance = 2e-5) {
  const auto chunk = synthetic_chunk(*b.policy(), seed, 16, 4, env.obs_dim);
  learner::UpdateContext ctx{64 * (update + 1), 1 << 20, 1};
  const auto ma = as_map(a.update(chunk, ctx));
  const auto mb = as_map(b.update(chunk, ctx));
  for (const char* key : {"pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac", "explained_var"})
    EXPECT_NEAR(ma.at(key), mb.at(key), 5 * tolerance) << key << " update " << update;
  EXPECT_LT(largest_difference(a, b), tolerance) << "update " << update;
}

JoinOptions ppo_pipeline_join() {
  JoinOptions options;
  options.timeout_seconds = 60.0;
  options.fingerprint = "ppo pipeline test\n";
  return options;
}

TEST(PpoPipeline, TwoStagesTakeTheUnsplitUpdate) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, ppo_pipeline_join());
        const int rank = group.rank();
        for (const EnvCase& env : kEnvs) {
          const auto spec = envs::env_spec(env.id);
          for (const int micro : {1, 4, 0}) {  // 0: one micro-batch in bf16
            const bool bf16 = micro == 0;
            SCOPED_TRACE(std::string(env.id) + ", micro_batches " + std::to_string(std::max(micro, 1)) +
                         (bf16 ? ", bf16" : ""));
            learner::TrainConfig config = pipeline_config(std::max(micro, 1));
            if (bf16) config.precision = "bf16";
            learner::AlgorithmInit init;
            init.config = config;
            init.spec = spec;
            init.precision = learner::parse_precision(config.precision);
            init.pipeline = &group;
            torch::manual_seed(11);
            auto pipe = learner::make_ppo(init);
            // The whole network's size, for comparison with what a stage holds.
            const std::int64_t whole = elements_of(
                agents::ActorCritic(env.obs_dim, spec.action_space, learner::to_policy_config(config.policy, spec))
                    ->parameters());
            if (rank == 1) {
              EXPECT_EQ(pipe->policy(), nullptr);  // no whole network to act with on this rank
              pipe->serve_stage();                 // the two updates rank 0 starts, then its stop
              const auto held = pipe->held_state();
              EXPECT_EQ(held.acting_parameters, 0);
              EXPECT_GT(held.trained_parameters, 0);
              EXPECT_LT(held.trained_parameters, whole);
              EXPECT_EQ(held.optimizer_state, 2 * held.trained_parameters);  // Adam's two moments, of its stage
              group.gather_to_root({static_cast<double>(held.trained_parameters)});
              continue;
            }
            auto unsplit = unsplit_ppo(config, spec);
            for (int update = 0; update < 2; ++update)
              expect_same_update(*pipe, *unsplit, env, 100 + update, update, bf16 ? 1e-3 : 2e-5);
            // The update moved every layer, the other stage's too (gathered into rank 0's copy).
            auto fresh = unsplit_ppo(config, spec);
            const auto pf = fresh->policy()->module().parameters(), pa = pipe->policy()->module().parameters();
            for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_FALSE(torch::equal(pa[i], pf[i])) << "parameter " << i;
            const auto held = pipe->held_state();
            EXPECT_EQ(held.acting_parameters, whole);  // rank 0 keeps the whole network to act with
            EXPECT_LT(held.trained_parameters, whole);
            EXPECT_EQ(held.optimizer_state, 2 * held.trained_parameters);
            pipe.reset();  // tells rank 1 to stop
            const auto got = group.gather_to_root({static_cast<double>(held.trained_parameters)});
            ASSERT_EQ(got.size(), 2u);
            EXPECT_EQ(static_cast<std::int64_t>(got[0][0] + got[1][0]), whole);  // the stages partition it
          }
        }
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

// A pipelined run's checkpoint holds the unsplit network's weights and Adam state: an unsplit PPO
// loaded from it takes the pipeline's next update. A pipeline loaded from an unsplit run's checkpoint
// (the resume of a pipelined run goes the same way) takes the unsplit run's next update.
TEST(PpoPipeline, CheckpointsAreTheUnsplitNetworksBothWays) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, ppo_pipeline_join());
        for (const EnvCase& env : kEnvs) {
          SCOPED_TRACE(env.id);
          const auto spec = envs::env_spec(env.id);
          const learner::TrainConfig config = pipeline_config(2);
          learner::AlgorithmInit init;
          init.config = config;
          init.spec = spec;
          init.pipeline = &group;
          for (int round = 0; round < 2; ++round) {
            torch::manual_seed(11);
            auto pipe = learner::make_ppo(init);
            if (group.rank() == 1) {
              pipe->serve_stage();
              continue;
            }
            auto unsplit = unsplit_ppo(config, spec);
            if (round == 0) {
              // pipeline -> checkpoint -> unsplit
              expect_same_update(*pipe, *unsplit, env, 200, 0);
              auto resumed = unsplit_ppo(config, spec);
              load_state(*resumed, saved_state(*pipe));
              EXPECT_EQ(largest_difference(*resumed, *pipe), 0.0);
              expect_same_update(*pipe, *resumed, env, 201, 1);
            } else {
              // unsplit -> checkpoint -> pipeline (a fresh one: its own weights differ until loaded)
              unsplit->update(synthetic_chunk(*unsplit->policy(), 300, 16, 4, env.obs_dim),
                              learner::UpdateContext{64, 1 << 20, 1});
              EXPECT_GT(largest_difference(*pipe, *unsplit), 0.0);
              load_state(*pipe, saved_state(*unsplit));
              EXPECT_EQ(largest_difference(*pipe, *unsplit), 0.0);
              expect_same_update(*pipe, *unsplit, env, 301, 1);
              expect_same_update(*pipe, *unsplit, env, 302, 2);
            }
          }
        }
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

// learner.stage_devices: one process holds every stage, stage s on device s (here both on the CPU),
// and takes the unsplit update; its checkpoint loads into an unsplit PPO.
TEST(PpoPipeline, StageDevicesTakeTheUnsplitUpdate) {
  if (in_rank()) GTEST_SKIP();
  for (const EnvCase& env : kEnvs) {
    const auto spec = envs::env_spec(env.id);
    for (const int micro : {1, 4, 0}) {  // 0: one micro-batch in bf16
      const bool bf16 = micro == 0;
      SCOPED_TRACE(std::string(env.id) + ", micro_batches " + std::to_string(std::max(micro, 1)) + (bf16 ? ", bf16" : ""));
      learner::TrainConfig config = pipeline_config(std::max(micro, 1), 1);
      config.learner.stage_devices = {"cpu", "cpu"};
      if (bf16) config.precision = "bf16";
      learner::AlgorithmInit init;
      init.config = config;
      init.spec = spec;
      init.precision = learner::parse_precision(config.precision);
      torch::manual_seed(11);
      auto local = learner::make_ppo(init);
      auto unsplit = unsplit_ppo(config, spec);
      for (int update = 0; update < 2; ++update)
        expect_same_update(*local, *unsplit, env, 400 + update, update, bf16 ? 1e-3 : 2e-5);
      const auto held = local->held_state();
      EXPECT_EQ(held.trained_parameters, held.acting_parameters);  // every stage is on this rank
      EXPECT_EQ(held.optimizer_state, 2 * held.trained_parameters);
      auto resumed = unsplit_ppo(config, spec);
      load_state(*resumed, saved_state(*local));
      expect_same_update(*local, *resumed, env, 410, 2, bf16 ? 1e-3 : 2e-5);
    }
  }
}

// The same with the stages on two devices: the CPU and the first GPU. Skips where there is no GPU, so it
// has a suite of its own (tests/run_suite.sh).
TEST(PpoPipelineGpu, StageDevicesOnTheCpuAndAGpuTakeTheUnsplitUpdate) {
  if (in_rank()) GTEST_SKIP();
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "[ SKIPPED ] no CUDA device: learner.stage_devices [cpu, cuda:0] is not checked here\n");
    GTEST_SKIP() << "no CUDA device: learner.stage_devices [cpu, cuda:0] is not checked here";
  }
  for (const EnvCase& env : kEnvs) {
    SCOPED_TRACE(env.id);
    const auto spec = envs::env_spec(env.id);
    learner::TrainConfig config = pipeline_config(4, 1);
    config.learner.stage_devices = {"cpu", "cuda:0"};
    auto local = seeded_ppo(config, spec);
    auto unsplit = unsplit_ppo(config, spec);
    for (int update = 0; update < 2; ++update) {
      const auto chunk = synthetic_chunk(*unsplit->policy(), 500 + update, 16, 4, env.obs_dim);
      learner::UpdateContext ctx{64 * (update + 1), 1 << 20, 1};
      local->update(chunk, ctx);
      unsplit->update(chunk, ctx);
      EXPECT_LT(largest_difference(*local, *unsplit), 1e-4) << "update " << update;  // GPU kernels round otherwise
    }
  }
}

// A convolutional encoder is one layer of the pipeline: on MinAtar's uint8 frames with
// policy.encoder minatar (its ~131k parameters) and one hidden layer, two stages cut between the
// encoders and the MLPs (stage 0 holds the actor's and the critic's encoders, stage 1 the rest), as
// two ranks and as two stage devices of one rank, and take the unsplit update.
learner::TrainConfig encoder_pipeline_config(int world_size) {
  learner::TrainConfig config = pipeline_config(2, world_size);
  config.policy.encoder = "minatar";
  config.policy.hidden_sizes = {16};
  return config;
}

void expect_same_image_update(learner::Algorithm& a, learner::Algorithm& b, const envs::EnvSpec& spec,
                              std::uint64_t seed, int update) {
  const auto chunk = apiary::testing::synthetic_image_chunk(*b.policy(), seed, 16, 4, spec.observation_space.shape, 1);
  ASSERT_EQ(chunk.obs.scalar_type(), torch::kUInt8);
  learner::UpdateContext ctx{64 * (update + 1), 1 << 20, 1};
  const auto ma = as_map(a.update(chunk, ctx));
  const auto mb = as_map(b.update(chunk, ctx));
  for (const char* key : {"pg_loss", "v_loss", "entropy", "approx_kl"})
    EXPECT_NEAR(ma.at(key), mb.at(key), 1e-4) << key << " update " << update;
  EXPECT_LT(largest_difference(a, b), 2e-5) << "update " << update;
}

std::int64_t encoder_parameters(learner::Algorithm& unsplit) {
  std::int64_t n = 0;
  for (const auto& item : unsplit.policy()->module().named_parameters())
    if (item.key().find("encoder.") != std::string::npos) n += item.value().numel();
  return n;
}

TEST(PpoPipeline, ACutBetweenTheEncoderAndTheHeadTakesTheUnsplitUpdate) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, ppo_pipeline_join());
        const auto spec = envs::env_spec("MinAtar/Breakout-v1");
        const learner::TrainConfig config = encoder_pipeline_config(2);
        auto pipe = seeded_ppo(config, spec, &group);
        if (group.rank() == 1) {
          pipe->serve_stage();
          group.gather_to_root({static_cast<double>(pipe->held_state().trained_parameters)});
          return;
        }
        auto unsplit = unsplit_ppo(config, spec);
        for (int update = 0; update < 2; ++update) expect_same_image_update(*pipe, *unsplit, spec, 700 + update, update);
        const std::int64_t encoders = encoder_parameters(*unsplit);
        EXPECT_GT(encoders, 2 * 100000);  // the actor's and the critic's
        EXPECT_EQ(pipe->held_state().trained_parameters, encoders);  // stage 0: the encoders, nothing else
        const std::int64_t stage0 = pipe->held_state().trained_parameters;
        pipe.reset();
        const auto got = group.gather_to_root({static_cast<double>(stage0)});
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(static_cast<std::int64_t>(got[0][0] + got[1][0]),
                  elements_of(unsplit->policy()->module().parameters()));  // stage 1: the MLPs and heads
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(PpoPipeline, StageDevicesCutBetweenTheEncoderAndTheHead) {
  if (in_rank()) GTEST_SKIP();
  const auto spec = envs::env_spec("MinAtar/Breakout-v1");
  learner::TrainConfig config = encoder_pipeline_config(1);
  config.learner.stage_devices = {"cpu", "cpu"};
  auto local = seeded_ppo(config, spec);
  auto unsplit = unsplit_ppo(config, spec);
  EXPECT_EQ(largest_difference(*local, *unsplit), 0.0);  // the same initial weights
  for (int update = 0; update < 2; ++update) expect_same_image_update(*local, *unsplit, spec, 800 + update, update);
}

// Data and model parallelism together: 4 ranks, 2 replicas x 2 stages (rank = replica x 2 + stage).
// Each replica's stage 0 updates on its own chunk; each stage averages its gradients with the other
// replica's. The reference, on the two stage-0 ranks: two data-parallel ranks with the unsplit
// network, the same chunks. Both replicas' whole copies stay bitwise equal.
TEST(PpoPipeline, ReplicasOfAPipelineTakeTheDataParallelUpdate) {
  const int rc = launch_local(
      4, rank_body([](const RendezvousInfo& info) {
        auto world = ProcessGroup::join(info, ppo_pipeline_join());
        const auto layout = ParallelLayout::for_world(4, 2);
        const int rank = world.rank(), replica = layout.replica_of(rank), stage = layout.stage_of(rank);
        auto pipeline = world.subgroup(layout.pipeline_ranks(replica));
        auto replicas = world.subgroup(layout.stage_ranks(stage));
        const auto average = [&replicas](const std::vector<torch::Tensor>& grads) { replicas.average_gradients(grads); };
        const EnvCase env = kEnvs[0];
        const auto spec = envs::env_spec(env.id);
        const learner::TrainConfig config = pipeline_config(2, 4);
        learner::AlgorithmInit init;
        init.config = config;
        init.spec = spec;
        init.pipeline = &pipeline;
        init.reduce_gradients = average;
        torch::manual_seed(11);
        auto pipe = learner::make_ppo(init);
        if (stage == 1) {
          pipe->serve_stage();
          return;
        }
        auto reference = unsplit_ppo(config, spec, average);  // data-parallel over the stage-0 ranks
        auto alone = unsplit_ppo(config, spec);               // this replica's chunks only
        for (int update = 0; update < 2; ++update) {
          const auto chunk = synthetic_chunk(*reference->policy(), 600 + 10 * update + replica, 16, 4, env.obs_dim);
          learner::UpdateContext ctx{128 * (update + 1), 1 << 20, 2};
          pipe->update(chunk, ctx);
          reference->update(chunk, ctx);
          alone->update(chunk, ctx);
          EXPECT_LT(largest_difference(*pipe, *reference), 2e-5) << "update " << update;
        }
        EXPECT_GT(largest_difference(*pipe, *alone), 1e-4);  // the other replica's gradients counted
        std::vector<torch::Tensor> flat;
        for (const auto& p : pipe->policy()->module().parameters()) flat.push_back(p.detach().reshape({-1}));
        EXPECT_NO_THROW(replicas.check_weights(torch::cat(flat)));  // bitwise equal replicas
        pipe.reset();  // stops this replica's stage 1
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace apiary::parallel
