// Transfer learning (docs/transfer.md): a run's network starts from a trained policy (another run's
// checkpoint or a zoo entry), whole or in parts, and parts of it can stay frozen for a while.
// Parameters are matched by name and shape: those that match are copied bitwise, the others keep the
// fresh initialisation of the run's seed (an input layer for another observation size, a head for
// another action space).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "learner/algorithm.h"
#include "learner/train_config.h"

namespace apiary::runner {

// Whether parameter `name` (of an actor-critic or Q-network, agents/) belongs to `part`: all; trunk
// (the hidden layers of both sides and the observation scaling); actor or critic (one side's path:
// its hidden layers, its head, the observation scaling, and a shared trunk); actor_trunk or
// critic_trunk (one side's hidden layers, or the shared trunk). Throws std::invalid_argument for an
// unknown part.
bool in_part(const std::string& name, const std::string& part);

struct TransferReport {
  std::string checkpoint;       // resolved, absolute
  std::uint64_t checkpoint_hash = 0;  // FNV-1a of the checkpoint file's bytes
  std::vector<std::string> loaded, fresh;  // parameter and buffer names
  std::vector<std::string> lines() const;  // "loaded trunk.0.weight [64, 8]" ..., for the log
};

// Copies the matching parameters of the checkpoint `init.checkpoint` (a path or zoo:NAME, already
// resolved by the caller) into `target` (the run's policy network), as init.parts and init.strict say.
// Throws std::invalid_argument naming the file, the parameters and both shapes when strict and
// anything does not match, or when nothing at all matches; leaves `target` unchanged then.
TransferReport load_init(const learner::InitSection& init, const std::string& checkpoint, torch::nn::Module& target);

// The names selected by policy.freeze (parts trunk, actor_trunk, critic_trunk).
std::vector<std::string> frozen_names(const std::vector<std::string>& parts, torch::nn::Module& module);

// init.checkpoint at the start of a new run: the policy's weights (the report's lines are returned
// for the log; init.checkpoint_fnv1a is set), or with init.optimizer the algorithm's whole state from
// a checkpoint of the same algorithm `algo_name`. Refusals name `source`.
std::vector<std::string> init_from_checkpoint(learner::InitSection& init, const std::string& algo_name,
                                              learner::Algorithm& algo, const std::string& source);

// policy.freeze: the selected parts excluded from the optimizer (until policy.freeze_steps); returns the
// log's line. Refused, naming `source`, where the algorithm cannot freeze parameters.
std::string freeze_policy(const learner::PolicySection& policy, const std::string& algo_name, learner::Algorithm& algo,
                          const std::string& source);

}  // namespace apiary::runner
