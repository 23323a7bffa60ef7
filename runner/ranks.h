// The ranks of a run (learner.world_size > 1, docs/distributed.md): joining them, the groups a rank
// takes part in, and what a pipeline stage after the first does (serve its stage 0).
#pragma once

#include <memory>

#include "learner/algorithm.h"
#include "parallel/process_group.h"
#include "runner/run_plan.h"
#include "runner/train.h"

namespace apiary::runner {

// This process's groups. Model parallelism over ranks (learner.pipeline_stages without stage_devices):
// rank = replica x stages + stage. The rank's pipeline is its replica's stages; with several replicas,
// the ranks that hold the same stage average that stage's gradients. A replica's stage 0 runs the
// training loop (steps its envs, acts); world rank 0 alone writes. The other stages serve stage 0.
struct RankGroups {
  int rank = 0, world_size = 1, stage = 0;
  parallel::ProcessGroup* data = nullptr;      // averages the gradients (nullptr: one replica)
  parallel::ProcessGroup* pipeline = nullptr;  // this rank's pipeline (nullptr: no model parallelism over ranks)
  std::unique_ptr<parallel::ProcessGroup> world, pipeline_group, replica_group;  // owned (stable addresses)
};

// Joins the other ranks when learner.world_size > 1 (comparing configs), and makes the pipeline's and the
// stage's groups; one rank: no group.
RankGroups join_ranks(const RunPlan& plan);

// A pipeline stage after the first: steps no envs and writes nothing; it takes part in the updates
// stage 0 starts until stage 0's algorithm says stop.
TrainResult serve_pipeline_stage(const RunPlan& plan, const RankGroups& ranks);

// Data parallelism's gradient hook: the average over `group`'s ranks (none without a group).
learner::GradientHook gradient_average(parallel::ProcessGroup* group);

}  // namespace apiary::runner
