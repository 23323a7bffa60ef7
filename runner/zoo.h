// The zoo: trained policies for the bundled envs, shipped in zoo/ (zoo/README.md lists them). An entry
// is a checkpoint stripped to its config and policy network, zoo/<name>.pt, named after the config it
// was trained from (lunarlander_ppo); zoo/index.tsv lists name, env id, algorithm and evaluation
// returns. `zoo:NAME` and `zoo:ENV_ID` are accepted wherever a checkpoint path is: an env with several
// entries gives the one of the run's algorithm (init.checkpoint), or the best by evaluation return
// (eval, play, Python).
#pragma once

#include <string>
#include <vector>

namespace apiary::runner {

// The folders searched for the zoo, in order: $APIARY_ZOO_DIR when set, then next to the program:
// <dir of the executable>/zoo (the build tree) and <dir>/../share/apiary/zoo (installed).
std::vector<std::string> zoo_dirs();

// `path` itself, or for "zoo:NAME" / "zoo:ENV_ID" the entry's file. For an env id, `algo` (when not
// empty) picks the entry of that algorithm, else the one of the highest evaluation return. Throws
// std::invalid_argument naming the entry and the folders searched when there is none, and listing
// the env's entries when none is of `algo`.
std::string resolve_checkpoint(const std::string& path, const std::string& algo = "");

struct ZooEntry {
  std::string name, env_id, algo, path;
  double mean_return = 0.0;  // the index's evaluation (100 episodes, its first evaluation seed)
};
// Every entry of the first zoo folder found (empty when none is).
std::vector<ZooEntry> zoo_entries();

}  // namespace apiary::runner
