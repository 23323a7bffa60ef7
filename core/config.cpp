// YAML parsing (the only file that sees yaml-cpp), value conversion, formatting and error messages
// for the typed configuration in config.h.
#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_set>

namespace apiary::core {

namespace {

std::string make_message(const std::string& source, int line, const std::string& key,
                         const std::string& what) {
  std::string msg = source;
  if (line > 0) msg += ":" + std::to_string(line);
  msg += ": ";
  if (!key.empty()) msg += key + ": ";
  msg += what;
  return msg;
}

// How a node reads in "expected X, got Y".
std::string describe_node(const detail::ConfigNode& node) {
  using Kind = detail::ConfigNode::Kind;
  switch (node.kind) {
    case Kind::kNull: return "nothing (null)";
    case Kind::kScalar: return "'" + node.scalar + "'";
    case Kind::kSequence: return "a list";
    case Kind::kMap: return "a mapping";
  }
  return "?";
}

// Numbers printed in bounds and messages: integers without a fraction, others shortest.
std::string format_number(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // Whole numbers as written in configs (100000000, not 1e+08), up to where exponents read better.
  if (std::fabs(x) < 1e12 && std::floor(x) == x) return std::to_string(static_cast<long long>(x));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, res.ptr);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// YAML-style float literal: [-+]?(digits[.digits]|.digits)([eE][-+]?digits)?, or .inf/.nan forms.
// Returns false if `text` is not one; otherwise sets `out` (via from_chars, locale-independent).
// `out_of_range` is set when the literal is valid but does not fit T.
template <class T>
bool parse_float(const std::string& text, T& out, bool& out_of_range) {
  out_of_range = false;
  std::string t = text;
  bool negative = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    negative = t[0] == '-';
    t.erase(0, 1);
  }
  if (t == ".inf" || t == ".Inf" || t == ".INF") {
    out = negative ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    return true;
  }
  if (t == ".nan" || t == ".NaN" || t == ".NAN") {
    if (text.size() != t.size()) return false;  // no sign on NaN
    out = std::numeric_limits<T>::quiet_NaN();
    return true;
  }
  size_t i = 0, n = t.size();
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && is_digit(t[i])) ++i, ++int_digits;
  if (i < n && t[i] == '.') {
    ++i;
    while (i < n && is_digit(t[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < n && is_digit(t[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != n) return false;
  if (negative) t.insert(0, "-");
  auto res = std::from_chars(t.data(), t.data() + t.size(), out);
  if (res.ec == std::errc::result_out_of_range) {
    out_of_range = true;
    return true;
  }
  return res.ec == std::errc() && res.ptr == t.data() + t.size();
}

enum class IntParse { kOk, kNotInteger, kOutOfRange };

// Decimal integer with optional sign and '_' between digits (10_000_000), or a float literal
// with an exact integer value (1e6), as RL configs often write step counts.
IntParse parse_int64(const std::string& text, std::int64_t& out) {
  std::string digits;
  size_t i = 0;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    if (text[0] == '-') digits.push_back('-');
    i = 1;
  }
  bool plain = i < text.size();
  for (size_t j = i; j < text.size(); ++j) {
    const char c = text[j];
    if (is_digit(c)) {
      digits.push_back(c);
    } else if (c == '_' && j > i && j + 1 < text.size() && is_digit(text[j - 1]) &&
               is_digit(text[j + 1])) {
      continue;
    } else {
      plain = false;
      break;
    }
  }
  if (plain) {
    auto res = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    if (res.ec == std::errc::result_out_of_range) return IntParse::kOutOfRange;
    if (res.ec != std::errc() || res.ptr != digits.data() + digits.size()) {
      return IntParse::kNotInteger;
    }
    return IntParse::kOk;
  }
  double x = 0;
  bool oor = false;
  if (!parse_float(text, x, oor) || oor || !std::isfinite(x) || std::floor(x) != x) {
    return IntParse::kNotInteger;
  }
  constexpr double kExact = 9007199254740992.0;  // 2^53: beyond it doubles skip integers
  if (std::fabs(x) > kExact) return IntParse::kOutOfRange;
  out = static_cast<std::int64_t>(x);
  return IntParse::kOk;
}

bool parse_bool(const std::string& t, bool& out) {
  static const char* const kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char* const kFalse[] = {"false", "False", "FALSE", "no", "No",
                                       "NO",    "off",   "Off",   "OFF"};
  for (const char* s : kTrue) {
    if (t == s) return out = true, true;
  }
  for (const char* s : kFalse) {
    if (t == s) return out = false, true;
  }
  return false;
}

void expect_scalar(const detail::ConfigNode& node, const detail::Where& where,
                   const char* expected) {
  if (node.kind != detail::ConfigNode::Kind::kScalar) {
    detail::fail(where, std::string("expected ") + expected + ", got " + describe_node(node));
  }
}

template <class Int>
void read_integer(const detail::ConfigNode& node, Int& out, const detail::Where& where) {
  expect_scalar(node, where, "an integer");
  std::int64_t v = 0;
  const IntParse r = parse_int64(node.scalar, v);
  if (r == IntParse::kNotInteger) {
    detail::fail(where, "expected an integer, got '" + node.scalar + "'");
  }
  if (r == IntParse::kOutOfRange || v < std::numeric_limits<Int>::min() ||
      v > std::numeric_limits<Int>::max()) {
    detail::fail(where, "integer '" + node.scalar + "' does not fit " +
                            detail::type_name(static_cast<const Int*>(nullptr)) + " (" +
                            std::to_string(std::numeric_limits<Int>::min()) + " to " +
                            std::to_string(std::numeric_limits<Int>::max()) + ")");
  }
  out = static_cast<Int>(v);
}

template <class Float>
void read_floating(const detail::ConfigNode& node, Float& out, const detail::Where& where) {
  expect_scalar(node, where, "a number");
  bool oor = false;
  Float v{};
  if (!parse_float(node.scalar, v, oor)) {
    detail::fail(where, "expected a number, got '" + node.scalar + "'");
  }
  if (oor) {
    detail::fail(where, "number '" + node.scalar + "' does not fit " +
                            detail::type_name(static_cast<const Float*>(nullptr)));
  }
  out = v;
}

template <class Elem>
void read_list(const detail::ConfigNode& node, std::vector<Elem>& out, const detail::Where& where,
               const char* expected) {
  if (node.kind != detail::ConfigNode::Kind::kSequence) {
    detail::fail(where, std::string("expected ") + expected + " such as [1, 2], got " +
                            describe_node(node));
  }
  std::vector<Elem> values(node.items.size());
  for (size_t i = 0; i < node.items.size(); ++i) {
    const std::string key = where.key + "[" + std::to_string(i) + "]";
    const int line = node.items[i].line > 0 ? node.items[i].line : where.line;
    detail::read_value(node.items[i], values[i], detail::Where{where.source, key, line});
  }
  out = std::move(values);
}

void check_number(double x, const Range& range, const detail::Where& where) {
  if (std::isnan(x) && !range.allows_nan()) {
    if (range.is_any()) {
      detail::fail(where, "value nan is not a number: give a number (.inf or -.inf for no bound)");
    }
    detail::fail(where, "value nan is out of range " + range.to_string());
  }
  if (!range.is_any() && !range.contains(x)) {
    detail::fail(where, "value " + format_number(x) + " is out of range " + range.to_string());
  }
}

template <class Elem>
void check_list(const std::vector<Elem>& values, const Range& range, const detail::Where& where) {
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string key = where.key + "[" + std::to_string(i) + "]";
    check_number(static_cast<double>(values[i]), range, detail::Where{where.source, key, where.line});
  }
}

void no_range(const Range& range, const detail::Where& where) {
  if (!range.is_any()) {
    throw std::logic_error("config field '" + where.key +
                           "' declares a numeric range but is not numeric");
  }
}

template <class Float>
std::string format_floating(Float value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);  // shortest round-trip form
  std::string s(buf, res.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";  // reads as a float to a human
  return s;
}

template <class Elem>
std::string format_list(const std::vector<Elem>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s += ", ";
    s += detail::format_value(values[i]);
  }
  return s + "]";
}

std::string one_line(const char* doc) {
  std::string s = doc == nullptr ? "" : doc;
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The valid key most likely meant by `wrong`, or "" when none is close.
std::string closest_key(const std::string& wrong, const std::vector<std::string>& valid) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& k : valid) {
    size_t d = edit_distance(wrong, k);
    const bool contains = wrong.size() >= 3 && (k.find(wrong) != std::string::npos ||
                                                wrong.find(k) != std::string::npos);
    if (d > std::max<size_t>(2, wrong.size() / 3) && !contains) continue;
    if (contains) d = std::min(d, std::max<size_t>(2, wrong.size() / 3));
    if (d < best_d) best_d = d, best = k;
  }
  return best;
}

// What converting one document may cost. yaml-cpp keeps an alias as a reference to its anchor, so
// a few hundred bytes of nested aliases ("billion laughs") stand for billions of values; converting
// expands them, so the expansion is counted and refused past limits no hand-written config reaches.
struct Budget {
  static constexpr std::size_t kMaxValues = 100000;           // nodes after alias expansion
  static constexpr std::size_t kMaxScalarBytes = 16u << 20;   // text of all scalars after expansion
  static constexpr int kMaxDepth = 64;                         // nesting of lists and mappings
  std::size_t values = 0;
  std::size_t scalar_bytes = 0;
};

[[noreturn]] void too_large(const std::string& source, int line, const std::string& what) {
  throw ConfigError(source, line, "",
                    what + " after expanding its aliases (aliases that refer to aliases multiply: a few lines "
                           "can stand for billions of values); refused");
}

detail::ConfigNode convert(const YAML::Node& n, const std::string& source, int parent_line, Budget& budget,
                           int depth) {
  detail::ConfigNode out;
  const YAML::Mark mark = n.Mark();
  if (++budget.values > Budget::kMaxValues)
    too_large(source, parent_line, "the document holds more than " + std::to_string(Budget::kMaxValues) +
                                       " values");
  if (depth > Budget::kMaxDepth) {
    throw ConfigError(source, parent_line, "",
                      "the document nests lists and mappings deeper than " + std::to_string(Budget::kMaxDepth) +
                          " levels (or an alias refers to itself); refused");
  }
  out.line = mark.line >= 0 && !mark.is_null() ? mark.line + 1 : parent_line;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = detail::ConfigNode::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      out.kind = detail::ConfigNode::Kind::kScalar;
      budget.scalar_bytes += n.Scalar().size();
      if (budget.scalar_bytes > Budget::kMaxScalarBytes)
        too_large(source, out.line, "the document holds more than " +
                                        std::to_string(Budget::kMaxScalarBytes >> 20) + " MiB of text");
      out.scalar = n.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out.kind = detail::ConfigNode::Kind::kSequence;
      for (const auto& item : n) out.items.push_back(convert(item, source, out.line, budget, depth + 1));
      break;
    case YAML::NodeType::Map: {
      out.kind = detail::ConfigNode::Kind::kMap;
      std::unordered_set<std::string> keys;
      for (auto it = n.begin(); it != n.end(); ++it) {
        const YAML::Mark km = it->first.Mark();
        const int key_line = km.line >= 0 && !km.is_null() ? km.line + 1 : out.line;
        if (!it->first.IsScalar()) {
          throw ConfigError(source, key_line, "", "map keys must be plain names");
        }
        detail::ConfigNode::Entry e;
        e.key = it->first.Scalar();
        e.key_line = key_line;
        if (!keys.insert(e.key).second) {
          throw ConfigError(source, key_line, e.key, "duplicate key");
        }
        budget.scalar_bytes += e.key.size();
        e.value = convert(it->second, source, key_line, budget, depth + 1);
        out.entries.push_back(std::move(e));
      }
      break;
    }
  }
  return out;
}

void clear_lines(detail::ConfigNode& node) {
  node.line = 0;
  for (auto& item : node.items) clear_lines(item);
  for (auto& e : node.entries) {
    e.key_line = 0;
    clear_lines(e.value);
  }
}

}  // namespace

ConfigError::ConfigError(std::string source, int line, std::string key, const std::string& what)
    : std::runtime_error(make_message(source, line, key, what)),
      source_(std::move(source)),
      line_(line),
      key_(std::move(key)),
      problem_(what) {}

bool Range::contains(double x) const {
  if (any_) return true;
  if (std::isnan(x)) return nan_ok_;
  const bool lo_ok = lo_open_ ? x > lo_ : x >= lo_;
  const bool hi_ok = hi_open_ ? x < hi_ : x <= hi_;
  return lo_ok && hi_ok;
}

std::string Range::to_string() const {
  if (any_) return "any";
  return std::string(lo_open_ ? "(" : "[") + format_number(lo_) + ", " + format_number(hi_) +
         (hi_open_ ? ")" : "]");
}

namespace detail {

const ConfigNode* ConfigNode::find(const std::string& key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

ConfigNode parse_yaml(const std::string& text, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    throw ConfigError(source, line, "", "YAML syntax error: " + e.msg);
  }
  if (docs.empty()) return ConfigNode{};
  if (docs.size() > 1) {
    throw ConfigError(source, 0, "", "expected one YAML document, found " +
                                         std::to_string(docs.size()) + " (separated by '---')");
  }
  Budget budget;
  return convert(docs[0], source, 0, budget, 0);
}

ConfigNode parse_yaml_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path, 0, "", "is a folder, not a config file (give a YAML file such as configs/cartpole_ppo.yaml)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path, 0, "", "cannot open config file: " +
                                       std::generic_category().message(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path, 0, "", "cannot read config file");
  ConfigNode root = parse_yaml(text.str(), path);
  // A file that sets nothing is a mistake (a wrong path, a file not saved yet), never a default run.
  if (root.kind == ConfigNode::Kind::kNull) {
    throw ConfigError(path, root.line, "",
                      "the config file is empty (or holds only comments or null): expected a mapping of keys "
                      "such as 'env: {id: CartPole-v1}'");
  }
  return root;
}

ConfigNode parse_override(const std::string& assignment) {
  const std::string source = "--set";
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(source, 0, "", "expected key=value, got '" + assignment + "'");
  }
  const std::string key = assignment.substr(0, eq);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (parts.back().empty() || parts.back().find_first_of(" \t") != std::string::npos) {
      throw ConfigError(source, 0, "", "malformed key '" + key + "' in '" + assignment + "'");
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  ConfigNode value;
  try {
    value = parse_yaml(assignment.substr(eq + 1), source);
  } catch (const ConfigError& e) {
    throw ConfigError(source, 0, key,
                      "cannot parse value '" + assignment.substr(eq + 1) + "': " + e.problem());
  }
  clear_lines(value);
  for (size_t i = parts.size(); i-- > 0;) {
    ConfigNode map;
    map.kind = ConfigNode::Kind::kMap;
    map.merge = true;
    map.entries.push_back(ConfigNode::Entry{parts[i], 0, std::move(value)});
    value = std::move(map);
  }
  return value;
}

void fail(const Where& where, const std::string& what) {
  throw ConfigError(where.source, where.line, where.key, what);
}

void read_value(const ConfigNode& node, bool& out, const Where& where) {
  expect_scalar(node, where, "true or false");
  if (!parse_bool(node.scalar, out)) {
    fail(where, "expected true or false, got '" + node.scalar + "'");
  }
}
void read_value(const ConfigNode& node, int& out, const Where& where) {
  read_integer(node, out, where);
}

void read_value(const ConfigNode& node, AutoCount& out, const Where& where) {
  if (node.kind == ConfigNode::Kind::kScalar && node.scalar == "auto") {
    out = AutoCount{};
    return;
  }
  expect_scalar(node, where, "a positive integer or auto");
  std::int64_t v = 0;
  if (parse_int64(node.scalar, v) != IntParse::kOk || v < 1 || v > std::numeric_limits<std::int32_t>::max())
    fail(where, "expected a positive integer (up to " + std::to_string(std::numeric_limits<std::int32_t>::max()) +
                    ") or auto, got '" + node.scalar + "'");
  out = AutoCount{static_cast<std::int32_t>(v)};
}
void read_value(const ConfigNode& node, std::int64_t& out, const Where& where) {
  read_integer(node, out, where);
}
void read_value(const ConfigNode& node, float& out, const Where& where) {
  read_floating(node, out, where);
}
void read_value(const ConfigNode& node, double& out, const Where& where) {
  read_floating(node, out, where);
}
void read_value(const ConfigNode& node, std::string& out, const Where& where) {
  expect_scalar(node, where, "a string");
  out = node.scalar;
}
void read_value(const ConfigNode& node, std::vector<int>& out, const Where& where) {
  read_list(node, out, where, "a list of integers");
}
void read_value(const ConfigNode& node, std::vector<float>& out, const Where& where) {
  read_list(node, out, where, "a list of numbers");
}
void read_value(const ConfigNode& node, std::vector<double>& out, const Where& where) {
  read_list(node, out, where, "a list of numbers");
}
void read_value(const ConfigNode& node, std::vector<std::string>& out, const Where& where) {
  read_list(node, out, where, "a list of strings");
}
void read_value(const ConfigNode& node, std::map<std::string, double>& out, const Where& where) {
  if (node.kind == ConfigNode::Kind::kNull) return;
  if (node.kind != ConfigNode::Kind::kMap) {
    fail(where, "expected a mapping of names to numbers, got " + describe_node(node));
  }
  std::map<std::string, double> merged;
  if (node.merge) merged = out;
  for (const auto& e : node.entries) {
    const std::string key = where.key + "." + e.key;
    bool flag = false;  // switches such as `enable_wind: true` are 1 and 0
    if (e.value.kind == ConfigNode::Kind::kScalar && parse_bool(e.value.scalar, flag)) {
      merged[e.key] = flag ? 1.0 : 0.0;
      continue;
    }
    read_value(e.value, merged[e.key], Where{where.source, key, e.key_line});
  }
  out = std::move(merged);
}

void check_range(bool, const Range& range, const Where& where) { no_range(range, where); }
void check_range(int value, const Range& range, const Where& where) {
  check_number(value, range, where);
}

void check_range(AutoCount value, const Range& range, const Where& where) {
  if (!value.is_auto()) check_range(value.value, range, where);
}
void check_range(std::int64_t value, const Range& range, const Where& where) {
  check_number(static_cast<double>(value), range, where);
}
void check_range(float value, const Range& range, const Where& where) {
  check_number(value, range, where);
}
void check_range(double value, const Range& range, const Where& where) {
  check_number(value, range, where);
}
void check_range(const std::string&, const Range& range, const Where& where) {
  no_range(range, where);
}
void check_range(const std::vector<int>& value, const Range& range, const Where& where) {
  check_list(value, range, where);
}
void check_range(const std::vector<float>& value, const Range& range, const Where& where) {
  check_list(value, range, where);
}
void check_range(const std::vector<double>& value, const Range& range, const Where& where) {
  check_list(value, range, where);
}
void check_range(const std::vector<std::string>&, const Range& range, const Where& where) {
  no_range(range, where);
}
void check_range(const std::map<std::string, double>& value, const Range& range,
                 const Where& where) {
  for (const auto& [name, x] : value) {
    check_number(x, range, Where{where.source, where.key + "." + name, where.line});
  }
}

void check_choice(const std::string& value, const std::vector<std::string>& choices,
                  const Where& where) {
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    fail(where, "'" + value + "' is not one of: " + choices_to_string(choices));
  }
}

std::string format_value(bool value) { return value ? "true" : "false"; }
std::string format_value(int value) { return std::to_string(value); }
std::string format_value(AutoCount value) { return value.is_auto() ? "auto" : std::to_string(value.value); }
std::string format_value(std::int64_t value) { return std::to_string(value); }
std::string format_value(float value) { return format_floating(value); }
std::string format_value(double value) { return format_floating(value); }
std::string format_value(const std::string& value) {
  std::string s = "\"";
  for (const char c : value) {
    switch (c) {
      case '"': s += "\\\""; break;
      case '\\': s += "\\\\"; break;
      case '\n': s += "\\n"; break;
      case '\t': s += "\\t"; break;
      case '\r': s += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static const char kHex[] = "0123456789abcdef";
          s += "\\x";
          s += kHex[(c >> 4) & 0xf];
          s += kHex[c & 0xf];
        } else {
          s += c;
        }
    }
  }
  return s + "\"";
}
std::string format_value(const std::vector<int>& value) { return format_list(value); }
std::string format_value(const std::vector<float>& value) { return format_list(value); }
std::string format_value(const std::vector<double>& value) { return format_list(value); }
std::string format_value(const std::vector<std::string>& value) { return format_list(value); }
std::string format_value(const std::map<std::string, double>& value) {
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : value) {
    if (!first) s += ", ";
    first = false;
    s += format_key(k) + ": " + format_value(v);
  }
  return s + "}";
}

std::string format_key(const std::string& key) {
  bool plain = !key.empty() && (std::isalnum(static_cast<unsigned char>(key[0])) || key[0] == '_');
  for (const char c : key) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                    c == '.' || c == '/';
    plain = plain && ok;
  }
  return plain ? key : format_value(key);
}

std::string join_key(const std::string& prefix, const char* name) {
  return prefix.empty() ? std::string(name) : prefix + "." + name;
}

std::string choices_to_string(const std::vector<std::string>& choices) {
  std::string s;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) s += ", ";
    s += choices[i];
  }
  return s;
}

// ---- Loader ---------------------------------------------------------------------------------

const ConfigNode* Loader::claim(const char* name) {
  if (std::find(known_.begin(), known_.end(), name) != known_.end()) {
    throw std::logic_error("config key '" + join_key(prefix_, name) + "' is declared twice");
  }
  known_.emplace_back(name);
  return map_.find(name);
}

void Loader::expect_map(const ConfigNode& node, const std::string& key) const {
  if (node.kind != ConfigNode::Kind::kMap) {
    fail(Where{source_, key, node.line},
         "expected a section (a mapping of keys), got " + describe_node(node));
  }
}

void Loader::choice(const char* name, std::string& value, const std::vector<std::string>& choices,
                    const char* /*doc*/) {
  const ConfigNode* node = claim(name);
  if (node == nullptr) return;
  const std::string key = join_key(prefix_, name);
  const Where where{source_, key, node->line};
  std::string v;
  read_value(*node, v, where);
  check_choice(v, choices, where);
  value = std::move(v);
}

void Loader::finish() const {
  for (const auto& e : map_.entries) {
    if (std::find(known_.begin(), known_.end(), e.key) != known_.end()) continue;
    std::string what = "unknown key";
    const std::string best = closest_key(e.key, known_);
    if (!best.empty()) {
      what += " (did you mean '" + join_key(prefix_, best.c_str()) + "'?)";
    } else if (known_.empty()) {
      what += " (" + (prefix_.empty() ? std::string("this config") : "'" + prefix_ + "'") +
              " has no keys)";
    } else {
      what += " (valid keys" + (prefix_.empty() ? std::string() : " under '" + prefix_ + "'") +
              ": " + choices_to_string(known_) + ")";
    }
    fail(Where{source_, join_key(prefix_, e.key.c_str()), e.key_line}, what);
  }
}

// ---- Dumper ---------------------------------------------------------------------------------

void Dumper::line(const char* name, const std::string& value, const char* doc) {
  out_.append(static_cast<size_t>(indent_), ' ');
  out_ += format_key(name) + ": " + value;
  const std::string d = one_line(doc);
  if (!d.empty()) out_ += "  # " + d;
  out_ += '\n';
}

void Dumper::open_block(const char* name, const char* doc, const std::string& body) {
  if (body.empty()) {
    line(name, "{}", doc);
    return;
  }
  out_.append(static_cast<size_t>(indent_), ' ');
  out_ += format_key(name) + ":";
  const std::string d = one_line(doc);
  if (!d.empty()) out_ += "  # " + d;
  out_ += '\n';
  out_ += body;
}

void Dumper::field(const char* name, std::map<std::string, double>& value, const char* doc,
                   const Range&) {
  std::string body;
  for (const auto& [k, v] : value) {
    body.append(static_cast<size_t>(indent_ + 2), ' ');
    body += format_key(k) + ": " + format_value(v) + "\n";
  }
  open_block(name, doc, body);
}

void Dumper::choice(const char* name, std::string& value, const std::vector<std::string>& choices,
                    const char* doc) {
  std::string d = one_line(doc);
  d += (d.empty() ? "" : " ") + std::string("(") + choices_to_string(choices) + ")";
  line(name, format_value(value), d.c_str());
}

// ---- Describer, Validator -------------------------------------------------------------------

void Describer::add(const char* name, std::string type, std::string default_value,
                    std::string constraint, const char* doc) {
  fields_.push_back(FieldInfo{join_key(prefix_, name), std::move(type), std::move(default_value),
                              std::move(constraint), one_line(doc)});
}

void Describer::choice(const char* name, std::string& value,
                       const std::vector<std::string>& choices, const char* doc) {
  add(name, "string", format_value(value), "one of: " + choices_to_string(choices), doc);
}

void Validator::choice(const char* name, std::string& value,
                       const std::vector<std::string>& choices, const char* /*doc*/) {
  const std::string key = join_key(prefix_, name);
  check_choice(value, choices, Where{source_, key, 0});
}

std::string format_description(const std::vector<FieldInfo>& fields) {
  size_t wk = 3, wt = 4, wd = 7, wc = 0;
  for (const auto& f : fields) {
    wk = std::max(wk, f.key.size());
    wt = std::max(wt, f.type.size());
    wd = std::max(wd, f.default_value.size());
    wc = std::max(wc, f.constraint.size());
  }
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
  std::string out = pad("key", wk) + "  " + pad("type", wt) + "  " + pad("default", wd) + "  " +
                    pad("allowed", std::max<size_t>(wc, 7)) + "  doc\n";
  for (const auto& f : fields) {
    std::string row = pad(f.key, wk) + "  " + pad(f.type, wt) + "  " + pad(f.default_value, wd) +
                      "  " + pad(f.constraint, std::max<size_t>(wc, 7)) + "  " + f.doc;
    while (!row.empty() && row.back() == ' ') row.pop_back();
    out += row + "\n";
  }
  return out;
}

}  // namespace detail
}  // namespace apiary::core
