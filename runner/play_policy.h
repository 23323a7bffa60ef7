// A trained policy for watching it act (`apiary play --checkpoint`): loads a checkpoint written by
// train() (runner/train.h) into the behaviour policy its algorithm builds (runner/checkpoint.h), and
// maps one observation to the deterministic action plus what the heads-up display shows of the choice
// (agents::PolicyView: action probabilities, Q-values or the Gaussian mean).
//
// No LibTorch in this header (app/ includes it); the network lives behind a pointer to an
// implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "envs/params.h"

namespace apiary::runner {

struct PlayDecision {
  // The env's action values: a discrete action as its integer value (index + the space's start), a
  // continuous one as the Gaussian mean, unclipped (the env clips, as in training and evaluation).
  std::vector<float> action;
  std::vector<float> scores;  // one per discrete action, or per element of a continuous action
  enum class Kind : std::uint8_t { kProbabilities, kQValues, kActionMean } kind = Kind::kProbabilities;
  double memory_norm = -1.0;  // a recurrent policy's state norm after this step (negative: no memory)
};

class PlayPolicy {
 public:
  // Loads `checkpoint` for env `env_id` (empty: the checkpoint's own env). Throws
  // std::invalid_argument when the checkpoint was trained on another env id (naming both) or when its
  // weights do not fit the network its config describes for this env (naming the parameter and both
  // shapes), and std::runtime_error when the file is not an Apiary checkpoint. Runs on the CPU.
  static std::unique_ptr<PlayPolicy> load(const std::string& checkpoint, const std::string& env_id = "");
  ~PlayPolicy();
  PlayPolicy(const PlayPolicy&) = delete;
  PlayPolicy& operator=(const PlayPolicy&) = delete;

  const std::string& env_id() const;
  const std::string& algo() const;          // the registered algorithm's name
  const envs::EnvOptions& env_options() const;  // the env options the policy was trained with
  std::int64_t obs_dim() const;

  // The decision for one observation of obs_dim() floats. Throws std::invalid_argument for another size.
  // A recurrent policy carries its memory from call to call and clears it when episode_start is set
  // (the observation is an episode's first).
  PlayDecision act(const std::vector<float>& obs, bool episode_start = false);

 private:
  struct Impl;
  explicit PlayPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace apiary::runner
