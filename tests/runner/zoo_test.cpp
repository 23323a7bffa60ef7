// The zoo shipped in zoo/ (runner/zoo.h): every entry of zoo/index.tsv is a small checkpoint that loads,
// whose stored config names the env and algorithm the index gives and whose weights fit the network
// that config describes; zoo/README.md lists every entry; `zoo:NAME` and `zoo:ENV_ID` resolve next to
// the program whatever the working directory; and one entry, evaluated, reaches its env's threshold.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "envs/registry.h"
#include "runner/checkpoint.h"
#include "runner/train.h"
#include "runner/zoo.h"
#include "tests/common/cli.h"

namespace apiary::runner {
namespace {

namespace fs = std::filesystem;
const fs::path kZoo = fs::path(APIARY_SOURCE_DIR) / "zoo";

class Zoo : public testing::ScratchTest {
 protected:
  Zoo() : ScratchTest("apiary_zoo_") { ::setenv("APIARY_ZOO_DIR", kZoo.c_str(), 1); }
  ~Zoo() override { ::unsetenv("APIARY_ZOO_DIR"); }
};

TEST_F(Zoo, EveryEntryLoadsAndFitsItsConfig) {
  const auto entries = zoo_entries();
  ASSERT_GE(entries.size(), 8u) << "zoo/index.tsv lists too few entries (bash bench/zoo.sh build regenerates them)";
  std::stringstream readme;
  readme << std::ifstream(kZoo / "README.md").rdbuf();
  for (const ZooEntry& e : entries) {
    SCOPED_TRACE(e.name);
    ASSERT_TRUE(fs::exists(e.path)) << e.path;
    const LoadedPolicy loaded = load_policy(e.path);  // throws when weights and config disagree
    // Weights and the config only: the policy network's float32 tensors (PPO's holds its critic) and 64 KB
    // for the rest (no optimizer, target networks or replay). Tens of kilobytes for the classic envs, ~300 KB
    // for Box2D's networks, 1.3-2.6 MB for MinAtar's 256x256 MLPs on 400-1000 inputs.
    std::uintmax_t tensor_bytes = 0;
    for (const auto& t : loaded.policy->module().parameters()) tensor_bytes += t.numel() * sizeof(float);
    for (const auto& t : loaded.policy->module().buffers()) tensor_bytes += t.numel() * sizeof(float);
    EXPECT_LT(fs::file_size(e.path), tensor_bytes + 64u * 1024u) << e.path << ": more than its policy's weights";
    EXPECT_EQ(loaded.config.env.id, e.env_id);
    EXPECT_EQ(loaded.config.algo, e.algo);
    EXPECT_EQ(loaded.spec.id, e.env_id);
    EXPECT_TRUE(fs::exists(fs::path(APIARY_SOURCE_DIR) / "configs" / (e.name + ".yaml")))
        << "a zoo entry is named after the config it was trained from";
    EXPECT_NE(readme.str().find("| " + e.name + " | " + e.env_id + " |"), std::string::npos)
        << "zoo/README.md does not list " << e.name;
  }
  // zoo:NAME and zoo:ENV_ID name entries; an unknown one is refused naming it.
  EXPECT_EQ(fs::path(resolve_checkpoint("zoo:cartpole_ppo")), kZoo / "cartpole_ppo.pt");
  EXPECT_EQ(load_policy(resolve_checkpoint("zoo:CartPole-v1")).config.env.id, "CartPole-v1");
  try {
    resolve_checkpoint("zoo:no_such_entry");
    FAIL() << "zoo:no_such_entry resolved";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_entry"), std::string::npos) << e.what();
  }
}

// The program finds the zoo next to itself (build/zoo), not in the working directory: eval of a zoo
// entry from an unrelated folder, without APIARY_ZOO_DIR, reaches CartPole's threshold.
TEST_F(Zoo, AnEntryEvaluatedFromAnotherFolderReachesItsThreshold) {
  ::unsetenv("APIARY_ZOO_DIR");
  const testing::CmdResult r = testing::run_apiary("eval zoo:cartpole_ppo --episodes 20 --seed 99", "", dir_.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto at = r.output.find("mean_return: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const double mean = std::stod(r.output.substr(at + 13));
  EXPECT_GE(mean, *envs::env_spec("CartPole-v1").reward_threshold) << r.output;
}

}  // namespace
}  // namespace apiary::runner
