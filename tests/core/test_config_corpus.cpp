// The malformed-config corpus (tests/core/malformed_configs/): every file is a config a user or an
// attacker could hand to `apiary train`, and each must be refused with a ConfigError that names the
// file, the key where there is one, and what was wrong, quickly and without touching the config it
// was loaded into. Every file of the folder must have its row here, so a new case cannot be dropped
// in unchecked.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

namespace fs = std::filesystem;

// The shape of the training config, with the same kinds of fields and ranges.
struct CorpusConfig {
  struct Env {
    std::string id = "CartPole-v1";
    int num_envs = 8;
    std::map<std::string, double> options;
    template <class V>
    void visit(V& v) {
      v.field("id", id, "environment id");
      v.field("num_envs", num_envs, "lanes", Range::closed(1, 1 << 24));
      v.field("options", options, "environment parameters");
    }
  };
  struct Ppo {
    double gamma = 0.99;
    template <class V>
    void visit(V& v) {
      v.field("gamma", gamma, "discount", Range::closed(0, 1));
    }
  };
  struct Stop {
    double mean_return = std::numeric_limits<double>::infinity();
    template <class V>
    void visit(V& v) {
      v.field("mean_return", mean_return, "return that ends the run (.inf: never)");
    }
  };
  std::string name = "run";
  std::vector<double> weights;
  Env env;
  Ppo ppo;
  Stop stop;
  template <class V>
  void visit(V& v) {
    v.field("name", name, "run folder name");
    v.field("weights", weights, "loss weights");
    v.section("env", env, "environment");
    v.section("ppo", ppo, "PPO");
    v.section("stop", stop, "when to stop");
  }
};

struct Case {
  std::vector<std::string> parts;  // in the message, beside the file's path
  std::string key;                 // ConfigError::key(); empty for whole-document problems
};

const std::map<std::string, Case>& cases() {
  static const std::map<std::string, Case> c = {
      {"empty.yaml", {{"the config file is empty"}, ""}},
      {"comments_only.yaml", {{"the config file is empty"}, ""}},
      {"null_document.yaml", {{"the config file is empty"}, ""}},
      {"list_document.yaml", {{"expected a mapping of keys at the top level"}, ""}},
      {"scalar_document.yaml", {{"expected a mapping of keys at the top level"}, ""}},
      {"nan_stop_mean_return.yaml", {{":2: stop.mean_return: value nan is not a number"}, "stop.mean_return"}},
      {"nan_env_option.yaml", {{"env.options.gravity: value nan is not a number"}, "env.options.gravity"}},
      {"nan_in_list.yaml", {{"weights[1]: value nan is not a number"}, "weights[1]"}},
      {"nan_out_of_range.yaml", {{"ppo.gamma: value nan is out of range [0, 1]"}, "ppo.gamma"}},
      {"billion_laughs.yaml", {{"holds more than 100000 values after expanding its aliases", "aliases"}, ""}},
      {"long_laughs.yaml", {{"holds more than 16 MiB of text after expanding its aliases", "aliases"}, ""}},
      {"deep_nesting.yaml", {{"nests lists and mappings deeper than 64 levels"}, ""}},
      {"self_alias.yaml", {{"deeper than 64 levels (or an alias refers to itself)"}, ""}},
      {"duplicate_key.yaml", {{":2: name: duplicate key"}, "name"}},
      {"unknown_key.yaml", {{":2: env.num_env: unknown key (did you mean 'env.num_envs'?)"}, "env.num_env"}},
      {"wrong_type.yaml", {{":2: env.num_envs: expected an integer, got 'eight'"}, "env.num_envs"}},
      {"out_of_range.yaml", {{"env.num_envs: value 100000000 is out of range [1, 16777216]"}, "env.num_envs"}},
      {"integer_too_large.yaml", {{"env.num_envs: integer '99999999999999999999' does not fit int"}, "env.num_envs"}},
      {"two_documents.yaml", {{"expected one YAML document, found 2"}, ""}},
      {"syntax_error.yaml", {{"YAML syntax error"}, ""}},
      {"section_not_mapping.yaml", {{":1: env: expected a section (a mapping of keys), got '3'"}, "env"}},
      {"non_scalar_key.yaml", {{"map keys must be plain names"}, ""}},
      {"tab_indent.yaml", {{"YAML syntax error"}, ""}},
  };
  return c;
}

// Loads `path`, expecting a ConfigError within a second that names the path.
ConfigError refused(const std::string& path) {
  CorpusConfig cfg;
  cfg.name = "kept";
  const auto start = std::chrono::steady_clock::now();
  try {
    load_config(cfg, path);
  } catch (const ConfigError& e) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 1.0) << path << " took " << seconds << " s to refuse";
    EXPECT_EQ(cfg.name, "kept") << "a refused config must leave the struct unchanged";
    EXPECT_EQ(e.source(), path);
    EXPECT_CONTAINS(e.what(), path);
    return e;
  }
  ADD_FAILURE() << path << " was accepted";
  return ConfigError("", 0, "", "");
}

const std::string kCorpus = std::string(APIARY_SOURCE_DIR) + "/tests/core/malformed_configs";

TEST(MalformedConfigCorpus, EveryFileIsRefusedNamingFileKeyAndProblem) {
  for (const auto& [file, expected] : cases()) {
    SCOPED_TRACE(file);
    const std::string path = kCorpus + "/" + file;
    ASSERT_TRUE(fs::is_regular_file(path)) << path << " is missing from the corpus";
    const ConfigError e = refused(path);
    for (const auto& part : expected.parts) EXPECT_CONTAINS(e.what(), part);
    EXPECT_EQ(e.key(), expected.key);
  }
}

TEST(MalformedConfigCorpus, EveryFileOfTheCorpusHasItsCase) {
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(kCorpus)) files.insert(entry.path().filename().string());
  for (const auto& f : files) EXPECT_EQ(cases().count(f), 1u) << f << " has no row in cases()";
  EXPECT_EQ(files.size(), cases().size());
}

TEST(MalformedConfigCorpus, AFolderIsNotAConfig) {
  testing::TempDir dir;
  const ConfigError e = refused(dir.path().string());
  EXPECT_CONTAINS(e.what(), "is a folder, not a config file");
}

TEST(MalformedConfigCorpus, BinaryGarbageIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.file("garbage.yaml");
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 512; ++i) out.put(static_cast<char>((i * 131 + 7) & 0xff));
  out.close();
  refused(path);
}

// The limits are about expansion, not about aliases as such: a config that uses an anchor and a few
// aliases the usual way loads.
TEST(MalformedConfigCorpus, OrdinaryAliasesStillLoad) {
  testing::TempDir dir;
  const std::string path = dir.file("aliases.yaml");
  std::ofstream(path) << "weights: &w [0.5, 0.25]\nenv:\n  options: &opts {gravity: 9.8}\n";
  CorpusConfig cfg;
  load_config(cfg, path);
  EXPECT_EQ(cfg.weights, (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(cfg.env.options.at("gravity"), 9.8);
}

struct NanOk {
  double x = 0;
  template <class V>
  void visit(V& v) {
    v.field("x", x, "NaN means unset here", Range::any().allow_nan());
  }
};

// .inf stays allowed where the range allows it; only NaN is refused, and a field can opt in to NaN.
TEST(MalformedConfigCorpus, InfinityIsANumberAndNanCanBeOptedInto) {
  CorpusConfig cfg;
  load_config_string(cfg, "stop: {mean_return: -.inf}", "x.yaml");
  EXPECT_EQ(cfg.stop.mean_return, -std::numeric_limits<double>::infinity());

  NanOk nan_ok;
  load_config_string(nan_ok, "x: .nan", "x.yaml");
  EXPECT_TRUE(std::isnan(nan_ok.x));
  // Values set in code are held to the same rule.
  cfg.stop.mean_return = std::nan("");
  EXPECT_THROW(validate_config(cfg), ConfigError);
}

}  // namespace
}  // namespace apiary::core
