#include "runner/zoo.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace apiary::runner {

namespace fs = std::filesystem;

std::vector<std::string> zoo_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("APIARY_ZOO_DIR"); env != nullptr && *env != '\0') dirs.emplace_back(env);
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    const fs::path dir = fs::path(std::string(exe, static_cast<std::size_t>(n))).parent_path();
    dirs.push_back((dir / "zoo").string());
    dirs.push_back((dir / ".." / "share" / "apiary" / "zoo").lexically_normal().string());
  }
  return dirs;
}

std::vector<ZooEntry> zoo_entries() {
  for (const auto& dir : zoo_dirs()) {
    std::ifstream in(fs::path(dir) / "index.tsv");
    if (!in) continue;
    std::vector<ZooEntry> entries;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::stringstream ss(line);
      ZooEntry e;
      std::string mean;
      std::getline(ss, e.name, '\t');
      std::getline(ss, e.env_id, '\t');
      std::getline(ss, e.algo, '\t');
      std::getline(ss, mean, '\t');
      if (e.name == "name") continue;  // the header
      e.mean_return = std::strtod(mean.c_str(), nullptr);
      e.path = (fs::path(dir) / (e.name + ".pt")).string();
      entries.push_back(e);
    }
    return entries;
  }
  return {};
}

std::string resolve_checkpoint(const std::string& path, const std::string& algo) {
  if (path.rfind("zoo:", 0) != 0) return path;
  const std::string key = path.substr(4);
  const auto entries = zoo_entries();
  for (const auto& e : entries)
    if (e.name == key) return e.path;
  const ZooEntry* pick = nullptr;
  std::string of_env;
  for (const auto& e : entries) {
    if (e.env_id != key) continue;
    of_env += (of_env.empty() ? "" : ", ") + e.name + " (" + e.algo + ")";
    if (!algo.empty() && e.algo != algo) continue;
    if (pick == nullptr || e.mean_return > pick->mean_return) pick = &e;
  }
  if (pick != nullptr) return pick->path;
  if (!of_env.empty())
    throw std::invalid_argument("checkpoint " + path + ": the zoo has no " + algo + " entry for " + key +
                                " (its entries: " + of_env + "); name one with zoo:NAME, or train the run with "
                                "that entry's algorithm");
  std::string searched, known;
  for (const auto& d : zoo_dirs()) searched += (searched.empty() ? "" : ", ") + d;
  for (const auto& e : entries) known += (known.empty() ? "" : ", ") + e.name;
  throw std::invalid_argument("checkpoint " + path + ": no zoo entry '" + key + "' (searched " + searched + "; " +
                              (known.empty() ? std::string("no zoo found") : "entries: " + known) + ")");
}

}  // namespace apiary::runner
