#include "app/cli_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "envs/plugin_loader.h"
#include "envs/registry.h"
#include "learner/train_config.h"
#include "runner/remote_actors.h"

namespace apiary::app {

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

CLI::Validator in_range(const core::Range& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        if (text.empty() || end == nullptr || *end != '\0') return "'" + text + "' is not a number";
        if (std::isnan(x)) return "value nan is not a number";
        if (!range.contains(x)) return "value " + text + " is out of range " + range.to_string();
        return "";
      },
      range.to_string(), "in_range");
}

std::string unknown_command_message(const CLI::App& app, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return "";
  std::string best;
  std::size_t best_d = 3;  // at most two edits away
  for (const auto& n : names) {
    const std::size_t d = edit_distance(word, n);
    if (d < best_d) best_d = d, best = n;
  }
  std::string msg = "unknown command '" + word + "'";
  if (!best.empty()) msg += " (did you mean '" + best + "'?)";
  msg += "; commands:";
  for (std::size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : " ") + names[i];
  return msg;
}

void check_loaded_config(learner::TrainConfig& config, const std::string& source, bool always_distributed,
                         const std::string& bind_flag) {
  try {
    envs::load_plugins(config.env.plugins);
  } catch (const std::exception& e) {
    throw core::ConfigError(source, 0, "env.plugins", e.what());
  }
  if (!envs::Registry::global().find(config.env.id)) {
    std::string ids;
    for (const auto& id : envs::Registry::global().ids()) ids += (ids.empty() ? "" : ", ") + id;
    throw core::ConfigError(source, 0, "env.id",
                            "unknown environment id '" + config.env.id + "' (registered: " + ids +
                                "; a custom env needs its plugin in env.plugins or --plugin)");
  }
  try {
    envs::env_spec(config.env.id, config.env.options);
  } catch (const std::exception& e) {
    throw core::ConfigError(source, 0, "env.options", e.what());
  }
  runner::DistributedOptions d;
  d.always = always_distributed;
  d.bind = bind_flag;
  try {
    runner::check_distributed_config(config, d);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    // Its messages start with the key at fault ("learner.bind: ...", "dqn.n_step > 1 ...").
    const std::size_t end = what.find_first_of(": ");
    const std::string key = what.substr(0, end);
    const bool is_key = end != std::string::npos && key.find('.') != std::string::npos;
    throw core::ConfigError(source, 0, is_key ? key : "", is_key && what[end] == ':' ? what.substr(end + 2) : what);
  }
}

}  // namespace apiary::app
