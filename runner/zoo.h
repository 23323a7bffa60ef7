// The zoo: trained policies for the bundled envs, shipped in zoo/ (zoo/README.md lists them). An entry
// is a checkpoint stripped to its config and policy network, zoo/<name>.pt, named after the config it
// was trained from (lunarlander_ppo); zoo/index.tsv lists name, env id and algorithm. `zoo:NAME` and
// `zoo:ENV_ID` (the first entry for that env) are accepted wherever a checkpoint path is.
#pragma once

#include <string>
#include <vector>

namespace apiary::runner {

// The folders searched for the zoo, in order: $APIARY_ZOO_DIR when set, then next to the program:
// <dir of the executable>/zoo (the build tree) and <dir>/../share/apiary/zoo (installed).
std::vector<std::string> zoo_dirs();

// `path` itself, or for "zoo:NAME" / "zoo:ENV_ID" the entry's file. Throws std::invalid_argument naming
// the entry and the folders searched when there is none.
std::string resolve_checkpoint(const std::string& path);

struct ZooEntry {
  std::string name, env_id, algo, path;
};
// Every entry of the first zoo folder found (empty when none is).
std::vector<ZooEntry> zoo_entries();

}  // namespace apiary::runner
