// Typed YAML configuration: loading every field type, every error a user can make (each naming
// the file and the full key), --set overrides, dump/load round trips and describe.
#include "core/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "core/atomic_file.h"
#include "tests/core/test_util.h"

namespace apiary::core {
namespace {

struct NetConfig {
  std::vector<int> hidden_sizes = {64, 64};
  std::string activation = "tanh";

  template <class V>
  void visit(V& v) {
    v.field("hidden_sizes", hidden_sizes, "units per hidden layer", Range::at_least(1));
    v.choice("activation", activation, {"tanh", "relu"}, "hidden-layer activation");
  }
};

struct PpoConfig {
  float learning_rate = 2.5e-4f;
  double gamma = 0.99;
  int update_epochs = 4;
  std::int64_t total_steps = 100000;
  bool norm_adv = true;
  std::string anneal = "linear";
  std::vector<float> clip_schedule = {0.2f, 0.1f};
  NetConfig net;

  template <class V>
  void visit(V& v) {
    v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("update_epochs", update_epochs, "passes over each rollout", Range::at_least(1));
    v.field("total_steps", total_steps, "environment steps of the run", Range::greater_than(0));
    v.field("norm_adv", norm_adv, "normalize advantages per minibatch");
    v.choice("anneal", anneal, {"none", "linear"}, "learning-rate schedule");
    v.field("clip_schedule", clip_schedule, "clip coefficients", Range::closed(0, 1));
    v.section("net", net, "policy network");
  }
};

struct TestConfig {
  std::string name = "run";
  std::vector<std::string> tags = {"a"};
  std::vector<double> weights;
  std::map<std::string, double> env_params = {{"gravity", 9.8}};
  PpoConfig ppo;

  template <class V>
  void visit(V& v) {
    v.field("name", name, "run name, the folder under runs/");
    v.field("tags", tags, "labels for the run");
    v.field("weights", weights, "loss weights");
    v.field("env_params", env_params, "environment parameter overrides");
    v.section("ppo", ppo, "PPO hyperparameters");
  }
};

bool operator==(const NetConfig& a, const NetConfig& b) {
  return a.hidden_sizes == b.hidden_sizes && a.activation == b.activation;
}
bool operator==(const PpoConfig& a, const PpoConfig& b) {
  return a.learning_rate == b.learning_rate && a.gamma == b.gamma &&
         a.update_epochs == b.update_epochs && a.total_steps == b.total_steps &&
         a.norm_adv == b.norm_adv && a.anneal == b.anneal && a.clip_schedule == b.clip_schedule &&
         a.net == b.net;
}
bool operator==(const TestConfig& a, const TestConfig& b) {
  return a.name == b.name && a.tags == b.tags && a.weights == b.weights &&
         a.env_params == b.env_params && a.ppo == b.ppo;
}

// Loads `yaml` (as if from "exp.yaml") into a default TestConfig, expecting a ConfigError.
ConfigError load_error(const std::string& yaml) {
  TestConfig cfg;
  try {
    load_config_string(cfg, yaml, "exp.yaml");
  } catch (const ConfigError& e) {
    EXPECT_TRUE(cfg == TestConfig()) << "a failed load must leave the config unchanged";
    return e;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << yaml;
  return ConfigError("", 0, "", "");
}

ConfigError override_error(const std::string& assignment) {
  TestConfig cfg;
  try {
    apply_override(cfg, assignment);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError for --set " << assignment;
  return ConfigError("", 0, "", "");
}

TEST(Config, EmptyDocumentKeepsDefaults) {
  TestConfig cfg;
  load_config_string(cfg, "", "empty.yaml");
  load_config_string(cfg, "# only a comment\n", "empty.yaml");
  EXPECT_TRUE(cfg == TestConfig());
}

TEST(Config, FullLoadSetsEveryFieldType) {
  testing::TempDir dir;
  const std::string path = dir.file("exp.yaml");
  write_file_atomic(path, R"(
name: cartpole_ppo
tags: [fast, "with space"]
weights: [0.5, 2]
env_params: {gravity: 12.5, masscart: 2}
ppo:
  learning_rate: 3e-4
  gamma: 0.995
  update_epochs: 10
  total_steps: 10_000_000_000
  norm_adv: false
  anneal: none
  clip_schedule:
    - 0.3
    - 0.25
  net:
    hidden_sizes: [256, 128, 32]
    activation: relu
)");
  TestConfig cfg;
  load_config(cfg, path);
  EXPECT_EQ(cfg.name, "cartpole_ppo");
  EXPECT_EQ(cfg.tags, (std::vector<std::string>{"fast", "with space"}));
  EXPECT_EQ(cfg.weights, (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(cfg.env_params, (std::map<std::string, double>{{"gravity", 12.5}, {"masscart", 2}}));
  EXPECT_EQ(cfg.ppo.learning_rate, 3e-4f);
  EXPECT_EQ(cfg.ppo.gamma, 0.995);
  EXPECT_EQ(cfg.ppo.update_epochs, 10);
  EXPECT_EQ(cfg.ppo.total_steps, 10000000000LL);
  EXPECT_FALSE(cfg.ppo.norm_adv);
  EXPECT_EQ(cfg.ppo.anneal, "none");
  EXPECT_EQ(cfg.ppo.clip_schedule, (std::vector<float>{0.3f, 0.25f}));
  EXPECT_EQ(cfg.ppo.net.hidden_sizes, (std::vector<int>{256, 128, 32}));
  EXPECT_EQ(cfg.ppo.net.activation, "relu");
}

TEST(Config, PartialLoadKeepsOtherDefaultsAndReplacesMaps) {
  TestConfig cfg;
  load_config_string(cfg, "ppo:\n  update_epochs: 2\nenv_params:\n  length: 0.7\n", "exp.yaml");
  EXPECT_EQ(cfg.ppo.update_epochs, 2);
  EXPECT_EQ(cfg.ppo.learning_rate, 2.5e-4f);
  EXPECT_EQ(cfg.ppo.net.hidden_sizes, (std::vector<int>{64, 64}));
  EXPECT_EQ(cfg.env_params, (std::map<std::string, double>{{"length", 0.7}}));
}

TEST(Config, IntegersAcceptExactScientificNotation) {
  TestConfig cfg;
  load_config_string(cfg, "ppo: {total_steps: 1e6, update_epochs: 3.0}", "exp.yaml");
  EXPECT_EQ(cfg.ppo.total_steps, 1000000);
  EXPECT_EQ(cfg.ppo.update_epochs, 3);
}

TEST(ConfigErrors, UnknownTopLevelKeySuggestsClosest) {
  const ConfigError e = load_error("name: x\nnmae: y\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "nmae: unknown key");
  EXPECT_CONTAINS(e.what(), "did you mean 'name'?");
  EXPECT_EQ(e.key(), "nmae");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.source(), "exp.yaml");
}

TEST(ConfigErrors, UnknownNestedKeySuggestsFullKey) {
  const ConfigError e = load_error("ppo:\n  gamma: 0.9\n  learnin_rate: 0.1\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:3");
  EXPECT_CONTAINS(e.what(), "ppo.learnin_rate");
  EXPECT_CONTAINS(e.what(), "did you mean 'ppo.learning_rate'?");

  const ConfigError deep = load_error("ppo:\n  net:\n    hiden_sizes: [1]\n");
  EXPECT_CONTAINS(deep.what(), "exp.yaml:3");
  EXPECT_CONTAINS(deep.what(), "ppo.net.hiden_sizes");
  EXPECT_CONTAINS(deep.what(), "did you mean 'ppo.net.hidden_sizes'?");
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsValidKeys) {
  const ConfigError e = load_error("ppo:\n  net:\n    dropout: 0.1\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:3");
  EXPECT_CONTAINS(e.what(), "ppo.net.dropout: unknown key");
  EXPECT_CONTAINS(e.what(), "hidden_sizes, activation");
}

TEST(ConfigErrors, WrongTypeInt) {
  const ConfigError e = load_error("ppo:\n  update_epochs: abc\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "ppo.update_epochs");
  EXPECT_CONTAINS(e.what(), "expected an integer, got 'abc'");
  EXPECT_CONTAINS(load_error("ppo: {update_epochs: 2.5}").what(), "expected an integer, got '2.5'");
  EXPECT_CONTAINS(load_error("ppo: {update_epochs: 99999999999}").what(),
                  "does not fit int");
}

TEST(ConfigErrors, WrongTypeFloat) {
  const ConfigError e = load_error("ppo:\n  learning_rate: fast\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "ppo.learning_rate");
  EXPECT_CONTAINS(e.what(), "expected a number, got 'fast'");
  EXPECT_CONTAINS(load_error("ppo: {gamma: [1]}").what(), "ppo.gamma: expected a number, got a list");
}

TEST(ConfigErrors, WrongTypeBool) {
  const ConfigError e = load_error("ppo:\n  norm_adv: maybe\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "ppo.norm_adv");
  EXPECT_CONTAINS(e.what(), "expected true or false, got 'maybe'");
}

TEST(ConfigErrors, WrongTypeString) {
  const ConfigError e = load_error("name: [a, b]\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:1");
  EXPECT_CONTAINS(e.what(), "name: expected a string, got a list");
  EXPECT_CONTAINS(load_error("name:\n").what(), "name: expected a string, got nothing");
}

TEST(ConfigErrors, WrongTypeList) {
  const ConfigError scalar = load_error("ppo:\n  net:\n    hidden_sizes: 64\n");
  EXPECT_CONTAINS(scalar.what(), "exp.yaml:3");
  EXPECT_CONTAINS(scalar.what(), "ppo.net.hidden_sizes");
  EXPECT_CONTAINS(scalar.what(), "expected a list of integers");
  EXPECT_CONTAINS(scalar.what(), "got '64'");

  const ConfigError element = load_error("ppo:\n  net:\n    hidden_sizes: [64, x, 3]\n");
  EXPECT_CONTAINS(element.what(), "exp.yaml:3");
  EXPECT_CONTAINS(element.what(), "ppo.net.hidden_sizes[1]: expected an integer, got 'x'");

  EXPECT_CONTAINS(load_error("tags: [a, [b]]").what(), "tags[1]: expected a string, got a list");
  EXPECT_CONTAINS(load_error("env_params: {gravity: high}").what(),
                  "env_params.gravity: expected a number, got 'high'");
}

TEST(ConfigErrors, OutOfRange) {
  const ConfigError e = load_error("ppo:\n  learning_rate: 0\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "ppo.learning_rate");
  EXPECT_CONTAINS(e.what(), "out of range (0, 1]");
  EXPECT_CONTAINS(load_error("ppo: {update_epochs: 0}").what(), "out of range [1, inf)");
  EXPECT_CONTAINS(load_error("ppo: {gamma: .nan}").what(), "out of range [0, 1]");
  const ConfigError element = load_error("ppo:\n  net:\n    hidden_sizes: [64, 0]\n");
  EXPECT_CONTAINS(element.what(), "ppo.net.hidden_sizes[1]: value 0 is out of range [1, inf)");
}

TEST(ConfigErrors, NotOneOfTheChoices) {
  const ConfigError e = load_error("ppo:\n  anneal: cosine\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:2");
  EXPECT_CONTAINS(e.what(), "ppo.anneal");
  EXPECT_CONTAINS(e.what(), "'cosine' is not one of: none, linear");
  EXPECT_CONTAINS(load_error("ppo: {net: {activation: gelu}}").what(),
                  "ppo.net.activation: 'gelu' is not one of: tanh, relu");
}

TEST(ConfigErrors, YamlSyntaxErrorNamesLine) {
  const ConfigError e = load_error("name: x\nppo:\n  gamma: [0.9\n  norm_adv: true\n");
  EXPECT_CONTAINS(e.what(), "exp.yaml:");
  EXPECT_CONTAINS(e.what(), "YAML syntax error");
  EXPECT_GE(e.line(), 3);

  const ConfigError tab = load_error("name: x\n  bad indent: 1\n");
  EXPECT_CONTAINS(tab.what(), "exp.yaml:2");
  EXPECT_CONTAINS(tab.what(), "YAML syntax error");
}

TEST(ConfigErrors, StructuralProblems) {
  EXPECT_CONTAINS(load_error("name: a\nname: b\n").what(), "exp.yaml:2: name: duplicate key");
  EXPECT_CONTAINS(load_error("ppo: 3\n").what(),
                  "exp.yaml:1: ppo: expected a section (a mapping of keys), got '3'");
  EXPECT_CONTAINS(load_error("- a\n- b\n").what(), "expected a mapping of keys at the top level");
  EXPECT_CONTAINS(load_error("name: a\n---\nname: b\n").what(), "expected one YAML document");
}

TEST(ConfigErrors, MissingFileNamesPath) {
  TestConfig cfg;
  try {
    load_config(cfg, "/nonexistent/apiary/exp.yaml");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "/nonexistent/apiary/exp.yaml");
    EXPECT_CONTAINS(e.what(), "cannot open config file");
  }
}

TEST(ConfigErrors, ErrorsInFileNameTheFile) {
  testing::TempDir dir;
  const std::string path = dir.file("bad.yaml");
  write_file_atomic(path, "ppo:\n  update_epochs: many\n");
  TestConfig cfg;
  try {
    load_config(cfg, path);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), path + ":2: ppo.update_epochs: expected an integer, got 'many'");
  }
}

TEST(Overrides, ApplyScalarsListsAndMaps) {
  TestConfig cfg;
  apply_overrides(cfg, {"ppo.learning_rate=1e-3", "ppo.net.hidden_sizes=[32, 16]", "name=cp",
                        "ppo.norm_adv=false", "env_params.gravity=3", "tags=[]",
                        "ppo.net.activation=relu"});
  EXPECT_EQ(cfg.ppo.learning_rate, 1e-3f);
  EXPECT_EQ(cfg.ppo.net.hidden_sizes, (std::vector<int>{32, 16}));
  EXPECT_EQ(cfg.name, "cp");
  EXPECT_FALSE(cfg.ppo.norm_adv);
  EXPECT_EQ(cfg.env_params.at("gravity"), 3.0);
  EXPECT_TRUE(cfg.tags.empty());
  EXPECT_EQ(cfg.ppo.net.activation, "relu");
  EXPECT_EQ(cfg.env_params.size(), 1u);
  // A dotted key merges into a map field, a whole map replaces it.
  apply_override(cfg, "env_params.length=0.5");
  EXPECT_EQ(cfg.env_params, (std::map<std::string, double>{{"gravity", 3}, {"length", 0.5}}));
  apply_override(cfg, "env_params={mass: 2}");
  EXPECT_EQ(cfg.env_params, (std::map<std::string, double>{{"mass", 2}}));
  // Everything else untouched.
  EXPECT_EQ(cfg.ppo.update_epochs, 4);
}

TEST(Overrides, UnknownKeyNamesSetAndSuggests) {
  const ConfigError e = override_error("ppo.learnig_rate=1e-3");
  EXPECT_EQ(e.source(), "--set");
  EXPECT_CONTAINS(e.what(), "--set: ppo.learnig_rate: unknown key");
  EXPECT_CONTAINS(e.what(), "did you mean 'ppo.learning_rate'?");
  EXPECT_CONTAINS(override_error("ppo.net.width=3").what(), "--set: ppo.net.width: unknown key");
}

TEST(Overrides, BadValueNamesSetAndKey) {
  EXPECT_CONTAINS(override_error("ppo.update_epochs=abc").what(),
                  "--set: ppo.update_epochs: expected an integer, got 'abc'");
  EXPECT_CONTAINS(override_error("ppo.learning_rate=2").what(),
                  "--set: ppo.learning_rate: value 2 is out of range (0, 1]");
  EXPECT_CONTAINS(override_error("ppo.anneal=cosine").what(), "is not one of: none, linear");
  EXPECT_CONTAINS(override_error("ppo.net.hidden_sizes=[1, 2").what(),
                  "--set: ppo.net.hidden_sizes: cannot parse value '[1, 2'");
  EXPECT_CONTAINS(override_error("ppo.learning_rate").what(), "--set: expected key=value");
  EXPECT_CONTAINS(override_error("ppo..gamma=1").what(), "--set: malformed key 'ppo..gamma'");
}

TEST(Dump, RoundTripsEveryField) {
  TestConfig cfg;
  cfg.name = "quote \" colon: hash # and \\ newline\n";
  cfg.tags = {"123", "true", "", "null", "- dash"};
  cfg.weights = {0.1, 1e-300, -2.5, 3.0};
  cfg.env_params = {{"gravity", 0.1}, {"odd key: x", -1e20}};
  cfg.ppo.learning_rate = 0.1f;
  cfg.ppo.gamma = 1.0 / 3.0;
  cfg.ppo.update_epochs = 7;
  cfg.ppo.total_steps = 123456789012345LL;
  cfg.ppo.norm_adv = false;
  cfg.ppo.anneal = "none";
  cfg.ppo.clip_schedule = {};
  cfg.ppo.net.hidden_sizes = {3};
  cfg.ppo.net.activation = "relu";

  const std::string yaml = dump_config(cfg);
  TestConfig back;
  load_config_string(back, yaml, "dump.yaml");
  EXPECT_TRUE(back == cfg) << yaml;
  EXPECT_EQ(dump_config(back), yaml);

  // Docs become comments.
  EXPECT_CONTAINS(yaml, "learning_rate: 0.1  # Adam step size");
  EXPECT_CONTAINS(yaml, "ppo:  # PPO hyperparameters\n");
  EXPECT_CONTAINS(yaml, "    hidden_sizes: [3]  # units per hidden layer");
}

TEST(Dump, DefaultsRoundTripAndEmptyContainers) {
  TestConfig cfg;
  cfg.env_params.clear();
  const std::string yaml = dump_config(cfg);
  EXPECT_CONTAINS(yaml, "env_params: {}");
  EXPECT_CONTAINS(yaml, "weights: []");
  TestConfig back;
  load_config_string(back, yaml, "dump.yaml");
  EXPECT_TRUE(back == cfg) << yaml;
}

TEST(Describe, ListsKeysTypesDefaultsAndDocs) {
  const std::vector<FieldInfo> fields = describe_fields(TestConfig());
  auto find = [&](const std::string& key) -> const FieldInfo* {
    for (const auto& f : fields) {
      if (f.key == key) return &f;
    }
    return nullptr;
  };
  const FieldInfo* lr = find("ppo.learning_rate");
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->type, "float");
  EXPECT_EQ(lr->default_value, "0.00025");
  EXPECT_EQ(lr->constraint, "(0, 1]");
  EXPECT_EQ(lr->doc, "Adam step size");
  const FieldInfo* act = find("ppo.net.activation");
  ASSERT_NE(act, nullptr);
  EXPECT_EQ(act->constraint, "one of: tanh, relu");
  EXPECT_EQ(act->default_value, "\"tanh\"");
  ASSERT_NE(find("ppo.net"), nullptr);
  EXPECT_EQ(find("ppo.net")->type, "section");
  EXPECT_EQ(find("ppo.net.hidden_sizes")->type, "list of int");
  EXPECT_EQ(find("env_params")->type, "map of number");
  EXPECT_EQ(fields.size(), 15u);

  const std::string table = describe_config(TestConfig());
  EXPECT_CONTAINS(table, "ppo.update_epochs");
  EXPECT_CONTAINS(table, "passes over each rollout");
}

TEST(Validate, CatchesValuesSetInCode) {
  TestConfig cfg;
  EXPECT_NO_THROW(validate_config(cfg));
  cfg.ppo.net.activation = "sigmoid";
  try {
    validate_config(cfg, "cartpole.yaml");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "cartpole.yaml: ppo.net.activation: 'sigmoid' is not one of");
  }
  cfg.ppo.net.activation = "relu";
  cfg.ppo.gamma = 1.5;
  EXPECT_THROW(validate_config(cfg), ConfigError);
}

TEST(Range, ContainsAndPrints) {
  EXPECT_FALSE(Range::open_closed(0, 1).contains(0));
  EXPECT_TRUE(Range::open_closed(0, 1).contains(1));
  EXPECT_TRUE(Range::closed_open(0, 1).contains(0));
  EXPECT_FALSE(Range::closed_open(0, 1).contains(1));
  EXPECT_TRUE(Range::at_least(1).contains(1e300));
  EXPECT_FALSE(Range::greater_than(0).contains(0));
  EXPECT_TRUE(Range::at_most(0).contains(-5));
  EXPECT_FALSE(Range::less_than(0).contains(0));
  EXPECT_TRUE(Range::any().contains(std::nan("")));
  EXPECT_EQ(Range::closed(0, 0.5).to_string(), "[0, 0.5]");
  EXPECT_EQ(Range::greater_than(0).to_string(), "(0, inf)");
  EXPECT_EQ(Range::at_most(2).to_string(), "(-inf, 2]");
}

struct BadRangeConfig {
  std::string name = "x";
  template <class V>
  void visit(V& v) {
    v.field("name", name, "a string cannot have a numeric range", Range::at_least(0));
  }
};

TEST(Config, NumericRangeOnStringIsAProgrammingError) {
  BadRangeConfig cfg;
  EXPECT_THROW(load_config_string(cfg, "name: y", "x.yaml"), std::logic_error);
}

}  // namespace
}  // namespace apiary::core
