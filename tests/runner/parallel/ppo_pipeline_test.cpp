// Model parallelism wired into PPO (learner.pipeline_stages, issue 12): two ranks, each holding one
// stage of the actor and of the critic and its own Adam, take the same update as one process with the
// unsplit network, with 1 and with 4 micro-batches, to floating-point tolerance; rank 0's whole copy
// (what it acts with) follows the stages; each rank holds only its own stage's parameters and
// optimizer state.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "agents/actor_critic.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "tests/common/algorithm_checks.h"
#include "learner/ppo/ppo.h"
#include "runner/parallel/launch.h"
#include "runner/parallel/process_group.h"
#include "tests/common/synthetic_chunk.h"
#include "tests/runner/parallel/test_util.h"

namespace apiary::runner::parallel {
namespace {

using testing::in_rank;
using testing::rank_body;
using testing::rerun_this_test;

learner::TrainConfig pipeline_config(int micro_batches) {
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
  config.learner.world_size = 2;
  config.learner.micro_batches = micro_batches;
  return config;
}

using apiary::testing::synthetic_chunk;

using apiary::testing::as_map;
std::int64_t numel_of(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

JoinOptions quick_join() {
  JoinOptions options;
  options.timeout_seconds = 60.0;
  options.fingerprint = "ppo pipeline test\n";
  return options;
}

TEST(PpoPipeline, TwoStagesTakeTheUnsplitUpdate) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, quick_join());
        const int rank = group.rank();
        const auto spec = envs::env_spec("CartPole-v1");
        for (const int micro : {1, 4}) {
          SCOPED_TRACE("micro_batches " + std::to_string(micro));
          const learner::TrainConfig config = pipeline_config(micro);
          learner::AlgorithmInit init;
          init.config = config;
          init.spec = spec;
          init.pipeline = &group;
          torch::manual_seed(11);
          auto pipe = learner::make_ppo(init);
          // The whole network's size, for comparison with what a stage holds.
          const std::int64_t whole =
              numel_of(agents::ActorCritic(4, spec.action_space, learner::to_policy_config(config.policy, spec))
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
          learner::AlgorithmInit one;  // the unsplit PPO (no pipeline)
          one.config = config;
          one.spec = spec;
          torch::manual_seed(11);
          auto unsplit = learner::make_ppo(one);
          auto& pipe_net = pipe->policy()->module();
          auto& ref_net = unsplit->policy()->module();
          for (int update = 0; update < 2; ++update) {
            const auto chunk = synthetic_chunk(*unsplit->policy(), 100 + update);
            learner::UpdateContext ctx{64 * (update + 1), 1 << 20, 1};
            const auto a = as_map(pipe->update(chunk, ctx));
            const auto b = as_map(unsplit->update(chunk, ctx));
            for (const char* key : {"pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac", "explained_var"})
              EXPECT_NEAR(a.at(key), b.at(key), 1e-4) << key << " update " << update;
            const auto pa = pipe_net.parameters(), pb = ref_net.parameters();
            ASSERT_EQ(pa.size(), pb.size());
            double worst = 0;
            for (std::size_t i = 0; i < pa.size(); ++i) {
              worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
            }
            EXPECT_LT(worst, 2e-5) << "update " << update;
          }
          // The update moved every layer, the other stage's too (gathered into rank 0's copy).
          torch::manual_seed(11);
          auto fresh = learner::make_ppo(one);
          const auto pf = fresh->policy()->module().parameters(), pa = pipe_net.parameters();
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
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace apiary::runner::parallel
