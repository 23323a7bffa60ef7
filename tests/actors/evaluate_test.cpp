// actors::evaluate: each lane owes a fixed number of episodes, and a lane that owes no more stops
// stepping (VecEnv::set_active_lanes) while the others finish theirs. The result is the one of an env
// that ignores the hint and steps every lane to the end. LunarLander-v3: a CpuVecEnv (the Box2D envs'
// back end, which honours the hint; the classic envs' Thrust back end steps every lane, which is cheap).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "actors/actor.h"
#include "agents/factory.h"
#include "agents/policy.h"
#include "envs/plugin.h"
#include "envs/registry.h"

namespace apiary::actors {
namespace {

// Steps every lane whatever it is told (a back end that does not honour the hint).
class StepsEveryLane final : public envs::ForwardingVecEnv {
 public:
  using ForwardingVecEnv::ForwardingVecEnv;
  void set_active_lanes(const std::uint8_t*) override {}
};

std::unique_ptr<envs::VecEnv> lander_lanes(std::int32_t n) {
  envs::VecEnvConfig c;
  c.num_envs = n;
  c.threads = 1;
  return envs::make_env("LunarLander-v3", c);
}

TEST(Evaluate, LanesThatOweNoMoreEpisodesStopAndTheResultIsUnchanged) {
  const envs::EnvSpec spec = envs::env_spec("LunarLander-v3");
  torch::manual_seed(7);  // an untrained policy: episodes of many different lengths
  agents::ActorCriticPolicy policy(agents::make_actor_critic(spec));
  constexpr std::int32_t kLanes = 7, kEpisodes = 17;  // lanes owe 2, 2, 2, 2, 3, 3, 3 episodes

  auto honours = lander_lanes(kLanes);
  StepsEveryLane ignores(lander_lanes(kLanes));
  const EvalResult a = evaluate(*honours, policy, kEpisodes, /*seed=*/9);
  const EvalResult b = evaluate(ignores, policy, kEpisodes, /*seed=*/9);
  EXPECT_EQ(a.episodes, kEpisodes);
  EXPECT_EQ(a.episodes, b.episodes);
  EXPECT_EQ(a.mean_return, b.mean_return);
  EXPECT_EQ(a.std_return, b.std_return);
  EXPECT_EQ(a.mean_length, b.mean_length);

  // Every lane stopped right after its last episode (auto-reset: 0 steps into the next); where every
  // lane steps to the end, lanes that finished early went on.
  const envs::BatchBuffers& stopped = honours->buffers();
  const envs::BatchBuffers& went_on = ignores.buffers();
  int kept_stepping = 0;
  for (std::int32_t lane = 0; lane < kLanes; ++lane) {
    EXPECT_EQ(stopped.elapsed[lane], 0) << "lane " << lane << " stepped after its last episode";
    kept_stepping += went_on.elapsed[lane] > 0;
  }
  EXPECT_GT(kept_stepping, 0) << "the episodes all ended together: the case shows nothing";

  // The hint is gone after the evaluation: every lane steps again.
  std::vector<std::int32_t> actions(kLanes, 0);
  honours->step(envs::ActionBatch::discrete(actions.data(), kLanes));
  for (std::int32_t lane = 0; lane < kLanes; ++lane) EXPECT_EQ(stopped.elapsed[lane], 1) << "lane " << lane;
}

}  // namespace
}  // namespace apiary::actors
