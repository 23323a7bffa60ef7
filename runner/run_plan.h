// How a training run is planned before anything is created (runner/train.cpp runs the plan): the
// config checked and settled, the devices, the lanes and the precision picked, the world size
// resolved, the run folder's path chosen. Everything that can be refused is refused here.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "envs/registry.h"
#include "learner/precision.h"
#include "runner/train.h"

namespace apiary::runner {

// What a run is, settled before anything is created: every check that can fail runs here.
struct RunPlan {
  TrainConfig config;
  std::string source;        // the config's file (messages)
  std::string resume_from;   // a checkpoint to continue from (empty: a new run)
  std::string run_dir;       // the folder (new: not created yet)
  std::string requested_name;  // config.name before a free folder name was picked (the ranks' fingerprint)
  envs::EnvSpec spec;
  torch::Device device = torch::kCPU;
  learner::Precision precision = learner::Precision::kFp32;
  std::string placement;     // where the lanes step and how many, and why (place_env)
  std::string precision_note;  // the fp32 fallback on a GPU without bf16, or empty
};

// The plan of `config` (or, with options.resume_dir, of the run folder's own config.yaml).
RunPlan plan_run(const TrainConfig& config, const TrainOptions& options);

// The lanes of a run: training ones on env.device (resolved by plan_run), evaluation ones with
// `device` as given.
envs::VecEnvConfig env_config(const TrainConfig& config, std::int32_t num_envs,
                              envs::Device device = envs::Device::kCpu);

}  // namespace apiary::runner
