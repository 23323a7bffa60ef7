// Typed configuration loaded from YAML.
//
// Every configurable thing is a plain struct with defaults that lists its fields once, in a
// `visit` member template. The same description drives loading, `--set` overrides, dumping the
// resolved config and `apiary describe`-style listings, so a key can never be accepted by one and
// unknown to another:
//
//   struct PpoConfig {
//     float learning_rate = 2.5e-4f;
//     int update_epochs = 4;
//     std::string anneal = "linear";
//     template <class V> void visit(V& v) {
//       v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
//       v.field("update_epochs", update_epochs, "passes over each rollout", Range::at_least(1));
//       v.choice("anneal", anneal, {"none", "linear"}, "learning-rate schedule");
//     }
//   };
//   struct RunConfig {
//     std::string name = "run";
//     PpoConfig ppo;
//     template <class V> void visit(V& v) {
//       v.field("name", name, "folder under runs/");
//       v.section("ppo", ppo, "PPO hyperparameters");
//     }
//   };
//
// Field types: bool, int, AutoCount (an int or `auto`), std::int64_t, float, double, std::string (free or one of `choice`s),
// std::vector of int, float, double or std::string, nested structs (`section`) and
// std::map<std::string, double> (free-form options, validated by whoever reads them).
//
// Errors are ConfigError; the message names the source (file path or "--set"), the line where
// known, the full dotted key and what was wrong. Unknown keys are always errors.
//
// yaml-cpp stays in config.cpp: YAML text is parsed there into the small ConfigNode tree below,
// which the header-only visitors walk.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

namespace apiary::core {

// A configuration problem the user must fix. `source` is the file path or "--set", `line` is
// 1-based (0 when unknown), `key` the full dotted key ("ppo.learning_rate"; empty for whole-file
// problems such as a YAML syntax error).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string source, int line, std::string key, const std::string& what);

  const std::string& source() const { return source_; }
  int line() const { return line_; }
  const std::string& key() const { return key_; }
  const std::string& problem() const { return problem_; }  // the message without the location

 private:
  std::string source_;
  int line_;
  std::string key_;
  std::string problem_;
};

// Allowed interval for a numeric field (or each element of a numeric list). Bounds are doubles;
// an absent bound is infinite. NaN: `contains` places it outside every interval but `any()`, and
// loading and validation refuse it for every numeric field, `any()` ones included (a field whose
// range is any() may be .inf, never .nan), unless the field's range opts in with allow_nan().
class Range {
 public:
  static Range any() { return Range(); }
  static Range at_least(double lo) { return Range(lo, false, kInf, true); }      // [lo, inf)
  static Range greater_than(double lo) { return Range(lo, true, kInf, true); }   // (lo, inf)
  static Range at_most(double hi) { return Range(-kInf, true, hi, false); }      // (-inf, hi]
  static Range less_than(double hi) { return Range(-kInf, true, hi, true); }     // (-inf, hi)
  static Range closed(double lo, double hi) { return Range(lo, false, hi, false); }       // [lo, hi]
  static Range open(double lo, double hi) { return Range(lo, true, hi, true); }           // (lo, hi)
  static Range open_closed(double lo, double hi) { return Range(lo, true, hi, false); }   // (lo, hi]
  static Range closed_open(double lo, double hi) { return Range(lo, false, hi, true); }   // [lo, hi)

  // This range with NaN allowed too (a field where NaN means something, e.g. "not set").
  Range allow_nan() const {
    Range r = *this;
    r.nan_ok_ = true;
    return r;
  }

  bool is_any() const { return any_; }
  bool allows_nan() const { return nan_ok_; }
  bool contains(double x) const;
  // Interval notation, e.g. "(0, 1]", "[1, inf)"; "any" for any().
  std::string to_string() const;

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  Range() = default;
  Range(double lo, bool lo_open, double hi, bool hi_open)
      : any_(false), lo_(lo), hi_(hi), lo_open_(lo_open), hi_open_(hi_open) {}

  bool any_ = true;
  double lo_ = 0, hi_ = 0;
  bool lo_open_ = false, hi_open_ = false;
  bool nan_ok_ = false;
};

// A count that may be written `auto` in a config: the program picks the number where it knows the
// machine (env.num_envs: the cores, or the GPU's multiprocessors) and the run's config.yaml records
// the pick. It converts to and from std::int32_t; 0 stands for auto and is never read from a file.
struct AutoCount {
  std::int32_t value = 0;
  AutoCount() = default;
  AutoCount(std::int32_t v) : value(v) {}  // NOLINT: a count is assigned like an int
  operator std::int32_t() const { return value; }  // NOLINT
  bool is_auto() const { return value == 0; }
};

// One row of describe_fields(): everything a user needs to write the key by hand.
struct FieldInfo {
  std::string key;            // full dotted key, e.g. "ppo.learning_rate"
  std::string type;           // "float", "int", "list of int", "section", ...
  std::string default_value;  // the value in the struct it was described from, as YAML
  std::string constraint;     // "(0, 1]", "one of: none, linear", or empty
  std::string doc;
};

namespace detail {

// A parsed YAML value, independent of yaml-cpp. Maps keep their file order.
struct ConfigNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  int line = 0;                // 1-based line of the value in its source; 0 when unknown
  std::string scalar;          // kScalar: the text as written (quotes removed)
  std::vector<ConfigNode> items;  // kSequence
  struct Entry;
  std::vector<Entry> entries;  // kMap, keys unique (duplicates are rejected while parsing)
  // kMap built from a dotted `--set` key: a map field merges it into its current entries
  // instead of being replaced by it (files replace, so a dumped config loads back exactly).
  bool merge = false;

  const ConfigNode* find(const std::string& key) const;
};
struct ConfigNode::Entry {
  std::string key;
  int key_line = 0;
  ConfigNode value;
};

// Parses YAML text (one document). Throws ConfigError naming `source` and the line on a syntax
// error, a non-scalar map key, a duplicate key, or aliases that expand past the limits above.
ConfigNode parse_yaml(const std::string& text, const std::string& source);
// Reads and parses a file; a missing, unreadable or empty file, or a folder, is a ConfigError too.
ConfigNode parse_yaml_file(const std::string& path);
// Turns "a.b.c=value" into {a: {b: {c: value}}} (maps marked `merge`), the value parsed as
// YAML (scalar or flow).
ConfigNode parse_override(const std::string& assignment);

// Where a value came from, for error messages.
struct Where {
  const std::string& source;
  const std::string& key;
  int line;
};
[[noreturn]] void fail(const Where& where, const std::string& what);

// Conversions from a node; each throws ConfigError ("expected an integer, got 'abc'").
void read_value(const ConfigNode& node, bool& out, const Where& where);
void read_value(const ConfigNode& node, int& out, const Where& where);
void read_value(const ConfigNode& node, AutoCount& out, const Where& where);
void read_value(const ConfigNode& node, std::int64_t& out, const Where& where);
void read_value(const ConfigNode& node, float& out, const Where& where);
void read_value(const ConfigNode& node, double& out, const Where& where);
void read_value(const ConfigNode& node, std::string& out, const Where& where);
void read_value(const ConfigNode& node, std::vector<int>& out, const Where& where);
void read_value(const ConfigNode& node, std::vector<float>& out, const Where& where);
void read_value(const ConfigNode& node, std::vector<double>& out, const Where& where);
void read_value(const ConfigNode& node, std::vector<std::string>& out, const Where& where);
// Replaces `out` with the node's entries, or merges them into it when `node.merge` (--set a.b=1).
void read_value(const ConfigNode& node, std::map<std::string, double>& out, const Where& where);

// Range checks; a non-any range on a non-numeric field is a programming error (std::logic_error).
void check_range(bool value, const Range& range, const Where& where);
void check_range(int value, const Range& range, const Where& where);
void check_range(AutoCount value, const Range& range, const Where& where);  // auto passes
void check_range(std::int64_t value, const Range& range, const Where& where);
void check_range(float value, const Range& range, const Where& where);
void check_range(double value, const Range& range, const Where& where);
void check_range(const std::string& value, const Range& range, const Where& where);
void check_range(const std::vector<int>& value, const Range& range, const Where& where);
void check_range(const std::vector<float>& value, const Range& range, const Where& where);
void check_range(const std::vector<double>& value, const Range& range, const Where& where);
void check_range(const std::vector<std::string>& value, const Range& range, const Where& where);
void check_range(const std::map<std::string, double>& value, const Range& range,
                 const Where& where);
void check_choice(const std::string& value, const std::vector<std::string>& choices,
                  const Where& where);

// YAML text of a value that parses back to the same value (floats in shortest round-trip form,
// strings double-quoted). Maps are written in flow style here; dump_config writes them in blocks.
std::string format_value(bool value);
std::string format_value(int value);
std::string format_value(AutoCount value);  // "auto" or the number
std::string format_value(std::int64_t value);
std::string format_value(float value);
std::string format_value(double value);
std::string format_value(const std::string& value);
std::string format_value(const std::vector<int>& value);
std::string format_value(const std::vector<float>& value);
std::string format_value(const std::vector<double>& value);
std::string format_value(const std::vector<std::string>& value);
std::string format_value(const std::map<std::string, double>& value);
std::string format_key(const std::string& key);  // quoted only where YAML needs it

// Names for describe and messages.
inline const char* type_name(const bool*) { return "bool"; }
inline const char* type_name(const int*) { return "int"; }
inline const char* type_name(const AutoCount*) { return "int or auto"; }
inline const char* type_name(const std::int64_t*) { return "int64"; }
inline const char* type_name(const float*) { return "float"; }
inline const char* type_name(const double*) { return "double"; }
inline const char* type_name(const std::string*) { return "string"; }
inline const char* type_name(const std::vector<int>*) { return "list of int"; }
inline const char* type_name(const std::vector<float>*) { return "list of float"; }
inline const char* type_name(const std::vector<double>*) { return "list of double"; }
inline const char* type_name(const std::vector<std::string>*) { return "list of string"; }
inline const char* type_name(const std::map<std::string, double>*) { return "map of number"; }

std::string join_key(const std::string& prefix, const char* name);
std::string choices_to_string(const std::vector<std::string>& choices);  // "a, b, c"

// Applies a map node onto a struct's fields, recursing into sections. Fields absent from the
// node keep their values; keys that match no field are reported by finish().
class Loader {
 public:
  Loader(const ConfigNode& map, const std::string& source, std::string prefix)
      : map_(map), source_(source), prefix_(std::move(prefix)) {}

  template <class T>
  void field(const char* name, T& value, const char* /*doc*/, const Range& range = Range::any()) {
    const ConfigNode* node = claim(name);
    if (node == nullptr) return;
    const std::string key = join_key(prefix_, name);
    const Where where{source_, key, node->line};
    read_value(*node, value, where);
    check_range(value, range, where);
  }

  void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
              const char* doc);

  template <class S>
  void section(const char* name, S& sub, const char* /*doc*/ = "") {
    const ConfigNode* node = claim(name);
    if (node == nullptr || node->kind == ConfigNode::Kind::kNull) return;
    const std::string key = join_key(prefix_, name);
    expect_map(*node, key);
    Loader child(*node, source_, key);
    sub.visit(child);
    child.finish();
  }

  // Throws ConfigError for the first key in the node that no field claimed, suggesting the
  // closest valid key.
  void finish() const;

 private:
  // Records `name` as a valid key here and returns its node, or nullptr when absent.
  const ConfigNode* claim(const char* name);
  void expect_map(const ConfigNode& node, const std::string& key) const;

  const ConfigNode& map_;
  const std::string& source_;
  std::string prefix_;
  std::vector<std::string> known_;  // field names visited at this level, in order
};

// Writes the YAML of a struct, each field followed by its doc as a comment.
class Dumper {
 public:
  explicit Dumper(int indent = 0) : indent_(indent) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, const Range& /*range*/ = Range::any()) {
    line(name, format_value(value), doc);
  }
  void field(const char* name, std::map<std::string, double>& value, const char* doc,
             const Range& range = Range::any());
  void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
              const char* doc);

  template <class S>
  void section(const char* name, S& sub, const char* doc = "") {
    Dumper child(indent_ + 2);
    sub.visit(child);
    open_block(name, doc, child.text());
  }

  const std::string& text() const { return out_; }

 private:
  void line(const char* name, const std::string& value, const char* doc);
  void open_block(const char* name, const char* doc, const std::string& body);

  int indent_;
  std::string out_;
};

// Collects one FieldInfo per key (sections included).
class Describer {
 public:
  explicit Describer(std::string prefix = "") : prefix_(std::move(prefix)) {}

  template <class T>
  void field(const char* name, T& value, const char* doc, const Range& range = Range::any()) {
    add(name, type_name(&value), format_value(value), range.is_any() ? "" : range.to_string(),
        doc);
  }
  void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
              const char* doc);

  template <class S>
  void section(const char* name, S& sub, const char* doc = "") {
    add(name, "section", "", "", doc);
    Describer child(join_key(prefix_, name));
    sub.visit(child);
    for (auto& f : child.fields_) fields_.push_back(std::move(f));
  }

  std::vector<FieldInfo>& fields() { return fields_; }

 private:
  void add(const char* name, std::string type, std::string default_value, std::string constraint,
           const char* doc);

  std::string prefix_;
  std::vector<FieldInfo> fields_;
};

// Checks the current values against ranges and choices (e.g. after code changed them).
class Validator {
 public:
  Validator(const std::string& source, std::string prefix)
      : source_(source), prefix_(std::move(prefix)) {}

  template <class T>
  void field(const char* name, T& value, const char* /*doc*/, const Range& range = Range::any()) {
    const std::string key = join_key(prefix_, name);
    check_range(value, range, Where{source_, key, 0});
  }
  void choice(const char* name, std::string& value, const std::vector<std::string>& choices,
              const char* doc);

  template <class S>
  void section(const char* name, S& sub, const char* /*doc*/ = "") {
    Validator child(source_, join_key(prefix_, name));
    sub.visit(child);
  }

 private:
  const std::string& source_;
  std::string prefix_;
};

std::string format_description(const std::vector<FieldInfo>& fields);

}  // namespace detail

// A config section whose struct is chosen at run time: an algorithm's hyperparameters, registered by
// the algorithm itself (learner/algorithm.h), sit in the training config under the algorithm's name
// without the config struct naming their type. It has value semantics (copies deep-copy the struct)
// and visits like the struct it holds, so loading, --set, dumping, describing and validating work on
// it as on a plain section.
class AnySection {
 public:
  AnySection() = default;
  template <class T>
  static AnySection of(T value) {
    AnySection s;
    s.impl_ = std::make_unique<Impl<T>>(std::move(value));
    return s;
  }
  AnySection(const AnySection& other) : impl_(other.impl_ ? other.impl_->clone() : nullptr) {}
  AnySection& operator=(const AnySection& other) {
    if (this != &other) impl_ = other.impl_ ? other.impl_->clone() : nullptr;
    return *this;
  }
  AnySection(AnySection&&) noexcept = default;
  AnySection& operator=(AnySection&&) noexcept = default;

  // The struct, or nullptr when it is not a T.
  template <class T>
  T* get() {
    return impl_ && impl_->type() == typeid(T) ? &static_cast<Impl<T>*>(impl_.get())->value : nullptr;
  }
  template <class T>
  const T* get() const {
    return impl_ && impl_->type() == typeid(T) ? &static_cast<const Impl<T>*>(impl_.get())->value : nullptr;
  }

  template <class V>
  void visit(V& v) {
    if (impl_) impl_->visit(v);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual std::unique_ptr<Base> clone() const = 0;
    virtual const std::type_info& type() const = 0;
    virtual void visit(detail::Loader& v) = 0;
    virtual void visit(detail::Dumper& v) = 0;
    virtual void visit(detail::Describer& v) = 0;
    virtual void visit(detail::Validator& v) = 0;
  };
  template <class T>
  struct Impl final : Base {
    explicit Impl(T v) : value(std::move(v)) {}
    std::unique_ptr<Base> clone() const override { return std::make_unique<Impl>(value); }
    const std::type_info& type() const override { return typeid(T); }
    void visit(detail::Loader& v) override { value.visit(v); }
    void visit(detail::Dumper& v) override { value.visit(v); }
    void visit(detail::Describer& v) override { value.visit(v); }
    void visit(detail::Validator& v) override { value.visit(v); }
    T value;
  };
  std::unique_ptr<Base> impl_;
};

namespace detail {

// Applies `root` to a copy of `cfg` and assigns it back only when everything was valid, so a
// failed load leaves `cfg` untouched.
template <class T>
void apply_node(T& cfg, const ConfigNode& root, const std::string& source) {
  T staged = cfg;
  if (root.kind == ConfigNode::Kind::kNull) return;  // an empty document sets nothing
  if (root.kind != ConfigNode::Kind::kMap) {
    fail(Where{source, std::string(), root.line},
         "expected a mapping of keys at the top level of the document");
  }
  Loader loader(root, source, "");
  staged.visit(loader);
  loader.finish();
  cfg = std::move(staged);
}

}  // namespace detail

// Loads the YAML file at `yaml_path` onto `cfg`: keys in the file replace the current values,
// all other fields keep theirs. Throws ConfigError; `cfg` is unchanged on error. A folder, an empty
// file (or one of only comments or null) and a document that is not a mapping are refused, and so is
// a document whose aliases expand past 100,000 values or 16 MiB of text.
template <class T>
void load_config(T& cfg, const std::string& yaml_path) {
  detail::apply_node(cfg, detail::parse_yaml_file(yaml_path), yaml_path);
}

// As load_config, from text; `source_name` stands for the file in error messages. Empty text sets
// nothing (a config in memory may legitimately be empty; files may not).
template <class T>
void load_config_string(T& cfg, const std::string& text, const std::string& source_name) {
  detail::apply_node(cfg, detail::parse_yaml(text, source_name), source_name);
}

// Applies one `--set` assignment, "ppo.learning_rate=3e-4" or "model.hidden_sizes=[64, 64]";
// the value is parsed as a YAML scalar or flow collection. Errors name "--set".
template <class T>
void apply_override(T& cfg, const std::string& assignment) {
  detail::apply_node(cfg, detail::parse_override(assignment), "--set");
}

template <class T>
void apply_overrides(T& cfg, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) apply_override(cfg, a);
}

// YAML for `cfg` that load_config reads back to the same values, with each field's doc as a
// trailing comment. (visit is non-const by design; the dumper only reads.)
template <class T>
std::string dump_config(const T& cfg) {
  detail::Dumper dumper;
  const_cast<T&>(cfg).visit(dumper);
  return dumper.text();
}

// Every key with its type, default (the value in `cfg`), constraint and doc.
template <class T>
std::vector<FieldInfo> describe_fields(const T& cfg) {
  detail::Describer describer;
  const_cast<T&>(cfg).visit(describer);
  return std::move(describer.fields());
}

// describe_fields as an aligned text table, one key per line.
template <class T>
std::string describe_config(const T& cfg) {
  return detail::format_description(describe_fields(cfg));
}

// Throws ConfigError (naming `source`) if a current value is out of its range or choices.
template <class T>
void validate_config(const T& cfg, const std::string& source = "config") {
  detail::Validator validator(source, "");
  const_cast<T&>(cfg).visit(validator);
}

}  // namespace apiary::core
