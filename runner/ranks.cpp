#include "runner/ranks.h"

#include <chrono>
#include <stdexcept>
#include <string>

#include <torch/torch.h>

#include "core/config.h"
#include "learner/threads.h"
#include "parallel/pipeline.h"
#include "parallel/rendezvous.h"

namespace apiary::runner {

learner::GradientHook gradient_average(parallel::ProcessGroup* group) {
  if (group == nullptr) return {};
  return [group](const std::vector<torch::Tensor>& grads) {
    if (grads.size() == 1 && grads.front().is_contiguous()) {
      group->average_gradients(grads.front());  // PPO's flat buffer: one all-reduce in place
    } else {
      group->average_gradients(grads);  // copied into one buffer, one all-reduce, copied back
    }
  };
}

RankGroups join_ranks(const RunPlan& plan) {
  RankGroups ranks;
  const TrainConfig& config = plan.config;
  if (config.learner.world_size <= 1) return ranks;
  const parallel::RendezvousInfo info = parallel::rendezvous_from_env();
  if (info.source == parallel::RendezvousSource::kNone)
    throw std::invalid_argument(plan.source + ": learner.world_size " + std::to_string(config.learner.world_size) +
                                ": this process is no rank of a launch (no RANK/WORLD_SIZE or SLURM variables); "
                                "`apiary train` starts the ranks itself, or see docs/distributed.md for torchrun");
  parallel::JoinOptions join;
  join.timeout_seconds = config.learner.timeout_seconds;
  TrainConfig fingerprint = config;
  fingerprint.name = plan.requested_name;  // rank 0 may have picked a free folder name since
  join.fingerprint = (plan.resume_from.empty() ? std::string() : "resume: " + plan.run_dir + "\n") +
                     core::dump_config(fingerprint);
  ranks.world = std::make_unique<parallel::ProcessGroup>(parallel::ProcessGroup::join(info, join));
  parallel::ProcessGroup& world = *ranks.world;
  ranks.rank = world.rank();
  ranks.world_size = world.world_size();
  ranks.data = &world;
  const std::int32_t stages = config.learner.stage_devices.empty() ? config.learner.pipeline_stages : 1;
  if (stages <= 1) return ranks;
  const auto layout = parallel::ParallelLayout::for_world(world.world_size(), stages);
  if (layout.replicas == 1) {
    ranks.pipeline = &world;
    ranks.data = nullptr;
  } else {
    // Every rank makes its pipeline's group first, then its stage's: the same order everywhere.
    ranks.pipeline_group = std::make_unique<parallel::ProcessGroup>(
        world.subgroup(layout.pipeline_ranks(layout.replica_of(ranks.rank))));
    ranks.replica_group =
        std::make_unique<parallel::ProcessGroup>(world.subgroup(layout.stage_ranks(layout.stage_of(ranks.rank))));
    ranks.pipeline = ranks.pipeline_group.get();
    ranks.data = ranks.replica_group.get();
  }
  ranks.stage = layout.stage_of(ranks.rank);
  return ranks;
}

TrainResult serve_pipeline_stage(const RunPlan& plan, const RankGroups& ranks) {
  learner::set_compute_threads(plan.config.threads);
  torch::manual_seed(static_cast<std::uint64_t>(plan.config.seed));  // the same whole network as rank 0's
  learner::AlgorithmInit init;
  init.config = plan.config;
  init.spec = plan.spec;
  init.device = plan.device;
  init.precision = plan.precision;
  init.pipeline = ranks.pipeline;
  init.reduce_gradients = gradient_average(ranks.data);
  std::unique_ptr<learner::Algorithm> algo = learner::make_algorithm(init);
  const auto start = std::chrono::steady_clock::now();
  algo->serve_stage();
  TrainResult result;
  result.run_dir = plan.run_dir;
  result.rank = ranks.rank;
  result.world_size = ranks.world_size;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  parallel::CommStats comm = ranks.pipeline->stats();
  if (ranks.data != nullptr) comm += ranks.data->stats();
  result.communication = comm.to_string();
  return result;
}

}  // namespace apiary::runner
