// The environment checker behind `apiary check-env ID`: runs an env id through the contract of
// envs/vec_env.h the way Gymnasium's env checker (gymnasium/utils/env_checker.py) runs a Python env,
// with random actions, and names the first failure of every check with its step and lane.
//
// The checks, in order:
//   spaces        the declared spec: a Box observation space (float32, finite-or-infinite bounds with
//                 low <= high), a Discrete(n >= 1) or finite Box action space, the id; the built env
//                 has that spec, the lane count asked for and a consistent state size
//   reset         after reset(seed): every lane's observation finite and within the space, counters 0
//   observations  after every step: every observation finite and within the space; and, for envs
//                 registered from their per-lane functions, observe() writes exactly its row of
//                 kObsDim floats (guard values around one lane's row, envs/row_probe.h)
//   rewards       every reward finite; terminated and truncated 0 or 1
//   auto_reset    a lane whose episode ended was reset in the same step: elapsed 0, return 0, and
//                 final_obs (finite, within the space), final_length and final_return written;
//                 elsewhere elapsed and the return count on
//   time_limit    no episode runs past max_episode_steps and truncated is set exactly at it, on the
//                 declared limit and on a short one given through the max_episode_steps option
//   determinism   the same seed gives the same bits on every step and lane, also with another thread
//                 count (no state shared between lanes, no global random state)
//   seeding       another seed gives other trajectories (the env draws from its LaneRng); envs with no
//                 randomness at all pass with `allow_deterministic`
//   snapshot      an env restored from save_snapshot() continues exactly as the original (checkpoints)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "envs/env_spec.h"
#include "envs/params.h"
#include "envs/vec_env.h"

namespace apiary::envs {

struct CheckOptions {
  std::int32_t num_envs = 4;         // lanes of every env the checker builds
  std::int64_t steps = 500;          // random-action steps of each run
  std::uint64_t seed = 1;            // the env seed (the second seed is seed + 1)
  std::int32_t short_time_limit = 8; // the max_episode_steps option of the time-limit run
  EnvOptions options;                // the env's parameters by name
  bool allow_deterministic = false;  // an env without randomness passes `seeding`
};

struct CheckResult {
  std::string name;         // "spaces", "observations", ...
  bool passed = true;
  std::string message;      // the first failure ("step 12 lane 3: obs[2] = nan is not finite"), or a note
  std::int64_t failures = 0;  // failing (step, lane) pairs found (the first is in `message`)
};

struct CheckReport {
  std::string env_id;
  std::vector<CheckResult> checks;  // in the order above
  std::int64_t steps = 0;           // batched steps taken over every run
  std::int32_t failed() const;
  bool ok() const { return failed() == 0; }
};

using EnvFactory = std::function<std::unique_ptr<VecEnv>(const VecEnvConfig&)>;

// Checks the registered id `id` (its spec from the registry, its envs from make_env).
CheckReport check_env(const std::string& id, const CheckOptions& options = {});
// Checks envs built by `make` against the spec `declare` gives for a set of options (a registry
// entry's spec function); for tests and tools that hold an env outside the registry. `row_probe`, where
// given, is the entry's guard-value probe of one lane's observation row (EnvEntry::row_probe).
CheckReport check_env(const std::string& id, const std::function<EnvSpec(const EnvOptions&)>& declare,
                      const EnvFactory& make, const CheckOptions& options = {},
                      const std::function<std::string(const EnvOptions&)>& row_probe = {});

}  // namespace apiary::envs
