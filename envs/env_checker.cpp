#include "envs/env_checker.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <sstream>
#include <utility>

#include "core/fnv1a.h"
#include "envs/random_actions.h"
#include "envs/registry.h"

namespace apiary::envs {

namespace {

constexpr const char* kCheckNames[] = {"spaces",     "reset",       "observations", "rewards", "auto_reset",
                                       "time_limit", "determinism", "seeding",      "snapshot"};

// Salt of the action stream, so that the env's seed and its actions' seed differ.
constexpr std::uint64_t kActionSeedOffset = 1000;

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// "step 12 lane 3: " (step 0 is the reset).
std::string where(std::int64_t step, std::int64_t lane) {
  return (step == 0 ? std::string("reset") : "step " + std::to_string(step)) + " lane " + std::to_string(lane) + ": ";
}

class Checker {
 public:
  explicit Checker(std::string id) {
    report_.env_id = std::move(id);
    for (const char* name : kCheckNames) report_.checks.push_back(CheckResult{name, true, "", 0});
  }

  void fail(const char* check, const std::string& message) {
    CheckResult& c = get(check);
    if (c.failures++ == 0) {
      c.passed = false;
      c.message = message;
    }
  }
  void fail(const char* check, std::int64_t step, std::int64_t lane, const std::string& message) {
    fail(check, where(step, lane) + message);
  }
  void note(const char* check, const std::string& message) {
    CheckResult& c = get(check);
    if (c.passed && c.message.empty()) c.message = message;
  }
  void not_run(const char* check, const std::string& why) {
    CheckResult& c = get(check);
    if (c.passed) {
      c.passed = false;
      c.message = "not run: " + why;
    }
  }
  bool passed(const char* check) { return get(check).passed; }
  void add_steps(std::int64_t n) { report_.steps += n; }
  CheckReport take() { return std::move(report_); }

 private:
  CheckResult& get(const char* check) {
    for (auto& c : report_.checks)
      if (c.name == check) return c;
    report_.checks.push_back(CheckResult{check, true, "", 0});
    return report_.checks.back();
  }
  CheckReport report_;
};

// One hash per (step, lane) of everything a lane's step writes: observation, reward, flags, and the
// final observation where the episode ended. Two runs agree bit for bit exactly where these agree.
struct Trace {
  std::int32_t num_envs = 0;
  std::vector<std::uint64_t> hashes;  // [steps + 1, num_envs], row 0 after the reset
  std::uint64_t at(std::int64_t step, std::int64_t lane) const {
    return hashes[static_cast<std::size_t>(step * num_envs + lane)];
  }
  std::int64_t steps() const { return num_envs ? static_cast<std::int64_t>(hashes.size()) / num_envs - 1 : 0; }
};

void record(const HostBatch& h, std::int64_t obs_dim, bool after_step, Trace& trace) {
  for (std::int32_t lane = 0; lane < trace.num_envs; ++lane) {
    const std::size_t row = static_cast<std::size_t>(lane * obs_dim), n = static_cast<std::size_t>(obs_dim);
    core::Fnv1a x;
    x.add(h.obs.data() + row, n * sizeof(float));
    if (after_step) {
      x.add(&h.reward[lane], sizeof(float));
      x.add(&h.terminated[lane], 1);
      x.add(&h.truncated[lane], 1);
      if (h.terminated[lane] | h.truncated[lane]) x.add(h.final_obs.data() + row, n * sizeof(float));
    }
    trace.hashes.push_back(x.h);
  }
}

// The batch's buffers, with uint8 (image) observations widened to floats here so that every check
// below reads one layout (pixels are exact in float).
void read_host(const VecEnv& env, HostBatch& h) {
  env.copy_to_host(h);
  if (h.obs_u8.empty()) return;
  h.obs.assign(h.obs_u8.begin(), h.obs_u8.end());
  h.final_obs.assign(h.final_obs_u8.begin(), h.final_obs_u8.end());
}

// Checks one observation row; returns "" or what is wrong with the first bad element. Elements the
// spec lists as unbounded (EnvSpec::unbounded_obs) need only be finite.
std::string bad_observation(const EnvSpec& spec, const float* row, std::int64_t dim, const char* name) {
  const Space& space = spec.observation_space;
  // The element's text only for a bad one: an image row has tens of thousands of good ones.
  const auto element = [&](std::int64_t i) { return std::string(name) + "[" + std::to_string(i) + "] = " + num(row[i]); };
  for (std::int64_t i = 0; i < dim; ++i) {
    const float v = row[i];
    if (!std::isfinite(v)) return element(i) + " is not finite";
    const auto k = static_cast<std::size_t>(i);
    if (v >= space.low[k] && v <= space.high[k]) continue;
    const bool unbounded = std::find(spec.unbounded_obs.begin(), spec.unbounded_obs.end(), i) != spec.unbounded_obs.end();
    if (!unbounded)
      return element(i) + " is outside the observation space [" + num(space.low[k]) + ", " + num(space.high[k]) + "]";
  }
  return "";
}

// What a run validates besides recording its trace.
struct RunOptions {
  bool validate = false;              // the reset, observations, rewards, auto_reset and time_limit checks
  std::int64_t snapshot_at = -1;      // save a snapshot after this step (-1: none)
  std::vector<std::uint8_t>* snapshot = nullptr;
};

// Resets `env` with `seed`, steps it `steps` times with random actions drawn from `action_seed`, and
// records the trace. Throws what the env throws.
Trace run(VecEnv& env, std::uint64_t seed, std::uint64_t action_seed, std::int64_t steps, Checker& c,
          const RunOptions& ro) {
  const EnvSpec& spec = env.spec();
  const std::int64_t dim = spec.obs_dim();
  const std::int32_t n = env.num_envs();
  const std::int32_t limit = spec.max_episode_steps;
  Trace trace;
  trace.num_envs = n;
  trace.hashes.reserve(static_cast<std::size_t>((steps + 1) * n));
  HostBatch h;

  env.reset(seed);
  read_host(env, h);
  record(h, dim, false, trace);
  if (ro.validate) {
    for (std::int32_t lane = 0; lane < n; ++lane) {
      const std::string bad = bad_observation(spec, h.obs.data() + lane * dim, dim, "obs");
      if (!bad.empty()) c.fail("reset", 0, lane, bad);
      if (h.elapsed[lane] != 0) c.fail("reset", 0, lane, "elapsed is " + std::to_string(h.elapsed[lane]) + ", expected 0");
      if (h.episode_return[lane] != 0.0f) c.fail("reset", 0, lane, "episode_return is " + num(h.episode_return[lane]) + ", expected 0");
      if (h.terminated[lane] | h.truncated[lane]) c.fail("reset", 0, lane, "terminated or truncated is set after reset()");
    }
  }

  // The checker's own count of each lane's episode, against which the env's counters are checked.
  std::vector<std::int32_t> length(static_cast<std::size_t>(n), 0);
  std::vector<float> ret(static_cast<std::size_t>(n), 0.0f);
  RandomActions actions(spec, n, action_seed);
  for (std::int64_t t = 1; t <= steps; ++t) {
    env.step(actions.next());
    c.add_steps(1);
    read_host(env, h);
    record(h, dim, true, trace);
    if (ro.snapshot && t == ro.snapshot_at) *ro.snapshot = env.save_snapshot();
    if (!ro.validate) continue;
    for (std::int32_t lane = 0; lane < n; ++lane) {
      const auto l = static_cast<std::size_t>(lane);
      const std::string bad = bad_observation(spec, h.obs.data() + lane * dim, dim, "obs");
      if (!bad.empty()) c.fail("observations", t, lane, bad);
      const float r = h.reward[l];
      if (!std::isfinite(r)) c.fail("rewards", t, lane, "reward = " + num(r) + " is not finite");
      if (h.terminated[l] > 1 || h.truncated[l] > 1)
        c.fail("rewards", t, lane, "terminated = " + std::to_string(h.terminated[l]) + ", truncated = " +
                                       std::to_string(h.truncated[l]) + " (each must be 0 or 1)");
      const std::int32_t len = length[l] + 1;
      const float total = ret[l] + r;
      const bool terminated = h.terminated[l] != 0, truncated = h.truncated[l] != 0;
      const bool done = terminated || truncated;
      // time_limit
      if (limit > 0) {
        if (!done && len >= limit)
          c.fail("time_limit", t, lane, "the episode reached max_episode_steps (" + std::to_string(limit) +
                                            ") without being truncated");
        if (terminated && !truncated && len == limit)
          c.fail("time_limit", t, lane, "the episode terminated on its step " + std::to_string(limit) +
                                            " (max_episode_steps) but truncated is 0; it is set there as well");
        if (truncated && len != limit)
          c.fail("time_limit", t, lane, "truncated after " + std::to_string(len) + " steps, but max_episode_steps is " +
                                            std::to_string(limit));
      } else if (truncated) {
        c.fail("time_limit", t, lane, "truncated, but the env has no time limit (max_episode_steps 0)");
      }
      // auto_reset
      const float tol = 1e-4f * std::max(1.0f, std::abs(total));
      if (done) {
        const char* why = terminated ? "terminated" : "truncated";
        if (h.elapsed[l] != 0)
          c.fail("auto_reset", t, lane, std::string("the episode ended (") + why +
                                            ") but the lane was not reset in the same step: elapsed is " +
                                            std::to_string(h.elapsed[l]) + ", expected 0");
        else if (h.episode_return[l] != 0.0f)
          c.fail("auto_reset", t, lane, "the episode ended but episode_return is " + num(h.episode_return[l]) +
                                            ", expected 0 after the reset");
        const std::string bad_final = bad_observation(spec, h.final_obs.data() + lane * dim, dim, "final_obs");
        if (!bad_final.empty()) c.fail("auto_reset", t, lane, bad_final + " (final_obs is written where a lane ends)");
        if (h.final_length[l] != len)
          c.fail("auto_reset", t, lane, "final_length is " + std::to_string(h.final_length[l]) + ", the episode took " +
                                            std::to_string(len) + " steps");
        if (!(std::abs(h.final_return[l] - total) <= tol))
          c.fail("auto_reset", t, lane, "final_return is " + num(h.final_return[l]) + ", the rewards sum to " + num(total));
        length[l] = 0;
        ret[l] = 0.0f;
      } else {
        if (h.elapsed[l] != len)
          c.fail("auto_reset", t, lane, "elapsed is " + std::to_string(h.elapsed[l]) + ", the episode has taken " +
                                            std::to_string(len) + " steps");
        else if (!(std::abs(h.episode_return[l] - total) <= tol))
          c.fail("auto_reset", t, lane, "episode_return is " + num(h.episode_return[l]) + ", the rewards sum to " +
                                            num(total));
        length[l] = len;
        ret[l] = total;
      }
    }
  }
  return trace;
}

// The first (step, lane) where two traces differ, or {-1, -1}.
std::pair<std::int64_t, std::int64_t> first_difference(const Trace& a, const Trace& b, std::int64_t from = 0) {
  const std::int64_t steps = std::min(a.steps(), b.steps());
  for (std::int64_t t = from; t <= steps; ++t)
    for (std::int64_t lane = 0; lane < a.num_envs; ++lane)
      if (a.at(t, lane) != b.at(t, lane)) return {t, lane};
  return {-1, -1};
}

std::string describe_spec(const EnvSpec& s) {
  return "observation " + s.observation_space.to_string() + ", action " + s.action_space.to_string() +
         ", max_episode_steps " + std::to_string(s.max_episode_steps);
}

// The `spaces` check of a declared spec; returns false where nothing else can run.
bool check_spaces(const std::string& id, const EnvSpec& s, Checker& c) {
  bool usable = true;
  if (s.id != id) c.fail("spaces", "the spec's id is '" + s.id + "', registered as '" + id + "'");
  const Space& o = s.observation_space;
  if (o.kind != SpaceKind::kBox) {
    c.fail("spaces", "the observation space is " + o.to_string() + "; it must be a Box (float32 or uint8)");
    usable = false;
  } else if (o.flat_size() < 1 || static_cast<std::int64_t>(o.low.size()) != o.flat_size() ||
             o.high.size() != o.low.size()) {
    c.fail("spaces", "the observation space has " + std::to_string(o.flat_size()) + " elements and " +
                         std::to_string(o.low.size()) + " / " + std::to_string(o.high.size()) + " bounds");
    usable = false;
  } else {
    for (std::size_t i = 0; i < o.low.size(); ++i)
      if (!(o.low[i] <= o.high[i])) {
        c.fail("spaces", "observation bounds at element " + std::to_string(i) + ": low " + num(o.low[i]) +
                             " is not <= high " + num(o.high[i]));
        usable = false;
      }
  }
  const Space& a = s.action_space;
  if (a.kind == SpaceKind::kDiscrete) {
    if (a.n < 1) {
      c.fail("spaces", "the action space is Discrete(" + std::to_string(a.n) + "); it needs n >= 1");
      usable = false;
    }
  } else if (a.flat_size() < 1 || static_cast<std::int64_t>(a.low.size()) != a.flat_size() ||
             a.high.size() != a.low.size()) {
    c.fail("spaces", "the action space has " + std::to_string(a.flat_size()) + " elements and " +
                         std::to_string(a.low.size()) + " / " + std::to_string(a.high.size()) + " bounds");
    usable = false;
  } else {
    for (std::size_t i = 0; i < a.low.size(); ++i)
      if (!std::isfinite(a.low[i]) || !std::isfinite(a.high[i]) || !(a.low[i] <= a.high[i])) {
        c.fail("spaces", "action bounds at element " + std::to_string(i) + ": [" + num(a.low[i]) + ", " +
                             num(a.high[i]) + "] must be finite with low <= high (policies scale actions to them)");
        usable = false;
      }
  }
  if (s.max_episode_steps < 0)
    c.fail("spaces", "max_episode_steps is " + std::to_string(s.max_episode_steps) + "; it must be 0 (none) or more");
  if (s.reward_threshold && !std::isfinite(*s.reward_threshold))
    c.fail("spaces", "reward_threshold is " + num(*s.reward_threshold) + "; it must be finite");
  return usable;
}

bool same_spec(const EnvSpec& a, const EnvSpec& b) {
  return a.id == b.id && a.observation_space.to_string() == b.observation_space.to_string() &&
         a.observation_space.low == b.observation_space.low && a.observation_space.high == b.observation_space.high &&
         a.action_space.to_string() == b.action_space.to_string() && a.action_space.low == b.action_space.low &&
         a.action_space.high == b.action_space.high && a.max_episode_steps == b.max_episode_steps;
}

// What the checks after the main run share: the options, the declared spec, a way to build lanes
// (threads, options), the seeds, and the main run's trace and half-way snapshot.
struct MainRun {
  const CheckOptions& options;
  const EnvSpec& spec;
  std::function<std::unique_ptr<VecEnv>(std::int32_t, const EnvOptions&)> build;
  std::uint64_t seed, action_seed;
  Trace trace;
  std::vector<std::uint8_t> snapshot;
  std::int64_t snapshot_at;
  std::string row_fault;  // the observations check's finding of a write outside the row, or empty
};

void env_threw(Checker& c, const char* check, const std::exception& e) {
  c.fail(check, std::string("the env threw: ") + e.what());
}

// time_limit on a short limit, whatever the env's own.
void check_short_time_limit(const MainRun& m, Checker& c) {
  try {
    EnvOptions short_options = m.options.options;
    short_options[kMaxEpisodeStepsOption] = m.options.short_time_limit;
    auto limited = m.build(1, short_options);
    if (limited->spec().max_episode_steps != m.options.short_time_limit) {
      c.fail("time_limit", "the option max_episode_steps=" + std::to_string(m.options.short_time_limit) +
                               " gives an env with max_episode_steps " +
                               std::to_string(limited->spec().max_episode_steps));
    } else {
      RunOptions ro;
      ro.validate = true;
      run(*limited, m.seed, m.action_seed, 3 * static_cast<std::int64_t>(m.options.short_time_limit) + 1, c, ro);
    }
  } catch (const std::exception& e) {
    env_threw(c, "time_limit", e);
  }
}

// determinism: the same seed on another thread count.
void check_determinism(const MainRun& m, Checker& c) {
  try {
    auto again = m.build(m.options.num_envs > 1 ? 2 : 1, m.options.options);
    const Trace t = run(*again, m.seed, m.action_seed, m.options.steps, c, RunOptions{});
    const auto [step, lane] = first_difference(m.trace, t);
    if (step >= 0)
      c.fail("determinism", step, lane,
             "the same seed gave another " + std::string(step == 0 ? "reset observation" : "step") +
                 " on a second env (2 threads instead of 1): " +
                 (m.row_fault.empty() ? "a random source other than the lane's LaneRng, or state shared between lanes"
                                    : "observe() writes outside its row (see observations), into the next lane's"));
  } catch (const std::exception& e) {
    env_threw(c, "determinism", e);
  }
}

// seeding: another seed.
void check_seeding(const MainRun& m, Checker& c) {
  try {
    auto other = m.build(1, m.options.options);
    const Trace t = run(*other, m.seed + 1, m.action_seed, m.options.steps, c, RunOptions{});
    if (first_difference(m.trace, t).first < 0) {
      if (m.options.allow_deterministic)
        c.note("seeding", "seeds " + std::to_string(m.seed) + " and " + std::to_string(m.seed + 1) +
                              " gave the same trajectories (allowed: --allow-deterministic)");
      else
        c.fail("seeding", "seeds " + std::to_string(m.seed) + " and " + std::to_string(m.seed + 1) + " gave the same " +
                              std::to_string(m.options.steps) + " steps on every lane: reset and step ignore the LaneRng "
                              "(an env without any randomness passes with --allow-deterministic)");
    }
  } catch (const std::exception& e) {
    env_threw(c, "seeding", e);
  }
}

// snapshot: restore the main run's half-way snapshot into a fresh env and replay the same actions.
void check_snapshot(const MainRun& m, Checker& c) {
  try {
    auto restored = m.build(1, m.options.options);
    restored->reset(m.seed + 7);  // whatever it held before must not matter
    restored->load_snapshot(m.snapshot);
    RandomActions actions(m.spec, restored->num_envs(), m.action_seed);
    for (std::int64_t t = 1; t <= m.snapshot_at; ++t) (void)actions.next();
    Trace t;
    t.num_envs = restored->num_envs();
    t.hashes.assign(static_cast<std::size_t>((m.snapshot_at + 1) * t.num_envs), 0);
    for (std::int64_t lane = 0; lane < t.num_envs; ++lane)
      t.hashes[static_cast<std::size_t>(m.snapshot_at * t.num_envs + lane)] = m.trace.at(m.snapshot_at, lane);
    HostBatch h;
    for (std::int64_t step = m.snapshot_at + 1; step <= m.options.steps; ++step) {
      restored->step(actions.next());
      c.add_steps(1);
      read_host(*restored, h);
      record(h, m.spec.obs_dim(), true, t);
    }
    const auto [step, lane] = first_difference(m.trace, t, m.snapshot_at + 1);
    if (step >= 0)
      c.fail("snapshot", step, lane,
             "an env restored from the snapshot of step " + std::to_string(m.snapshot_at) +
                 " continues differently from the original (checkpoints would not resume exactly)");
  } catch (const std::exception& e) {
    env_threw(c, "snapshot", e);
  }
}

}  // namespace

std::int32_t CheckReport::failed() const {
  std::int32_t n = 0;
  for (const auto& c : checks) n += c.passed ? 0 : 1;
  return n;
}

// The spec and the envs as make_env gives them, generic options (observe_velocity, frame_stack)
// included; the row probe runs the env's own functions, so it is given the env's own options.
CheckReport check_env(const std::string& id, const CheckOptions& options) {
  const EnvEntry& entry = Registry::global().at(id);
  std::function<std::string(const EnvOptions&)> row_probe;
  if (entry.row_probe)
    row_probe = [id, probe = entry.row_probe](const EnvOptions& env_options) {
      return probe(own_options(id, env_options));
    };
  return check_env(id, [id](const EnvOptions& env_options) { return env_spec(id, env_options); },
                   [id](const VecEnvConfig& config) { return make_env(id, config); }, options, row_probe);
}

CheckReport check_env(const std::string& id, const std::function<EnvSpec(const EnvOptions&)>& declare,
                      const EnvFactory& make, const CheckOptions& options,
                      const std::function<std::string(const EnvOptions&)>& row_probe) {
  Checker c(id);
  auto skip_all = [&](const std::string& why) {
    for (const char* name : kCheckNames)
      if (std::string(name) != "spaces") c.not_run(name, why);
    return c.take();
  };
  if (options.num_envs < 1) throw std::invalid_argument("check_env: num_envs must be at least 1");
  if (options.steps < 2) throw std::invalid_argument("check_env: steps must be at least 2");
  if (options.short_time_limit < 1) throw std::invalid_argument("check_env: short_time_limit must be at least 1");

  // spaces
  EnvSpec spec;
  try {
    spec = declare(options.options);
  } catch (const std::exception& e) {
    c.fail("spaces", std::string("the spec function throws: ") + e.what());
    return skip_all("the spec is unavailable");
  }
  if (!check_spaces(id, spec, c)) return skip_all("the spaces cannot be sampled or checked");
  c.note("spaces", describe_spec(spec));

  auto build = [&](std::int32_t threads, const EnvOptions& env_options) {
    VecEnvConfig config;
    config.num_envs = options.num_envs;
    config.device = Device::kCpu;
    config.threads = threads;
    config.options = env_options;
    return make(config);
  };
  std::unique_ptr<VecEnv> env;
  try {
    env = build(1, options.options);
  } catch (const std::exception& e) {
    c.fail("spaces", std::string("building ") + std::to_string(options.num_envs) + " lanes throws: " + e.what());
    return skip_all("the env cannot be built");
  }
  if (!same_spec(env->spec(), spec))
    c.fail("spaces", "the built env's spec (" + describe_spec(env->spec()) + ") differs from the declared one (" +
                         describe_spec(spec) + ")");
  if (env->num_envs() != options.num_envs)
    c.fail("spaces", "asked for " + std::to_string(options.num_envs) + " lanes, the env has " +
                         std::to_string(env->num_envs()));
  if (env->state_dim() < 0) c.fail("spaces", "state_dim() is negative");
  if (!c.passed("spaces")) return skip_all("spaces failed");

  // One lane's observe() with guard values around its row: a write outside the row reaches the
  // neighbouring lane's observation, which the runs below would only see as lanes that disagree.
  std::string row_fault;
  if (row_probe) row_fault = row_probe(options.options);
  if (!row_fault.empty()) c.fail("observations", row_fault);

  const std::uint64_t seed = options.seed;
  const std::uint64_t action_seed = options.seed + kActionSeedOffset;
  const std::int64_t steps = options.steps;

  // The main run: reset, observations, rewards, auto_reset, time_limit; a snapshot half-way.
  Trace main_trace;
  std::vector<std::uint8_t> snapshot;
  const std::int64_t snapshot_at = steps / 2;
  try {
    RunOptions ro;
    ro.validate = true;
    ro.snapshot_at = snapshot_at;
    ro.snapshot = &snapshot;
    main_trace = run(*env, seed, action_seed, steps, c, ro);
    const std::size_t states = env->get_states().size();
    if (states != static_cast<std::size_t>(env->num_envs()) * static_cast<std::size_t>(env->state_dim()))
      c.fail("spaces", "get_states() returned " + std::to_string(states) + " floats, expected num_envs x state_dim = " +
                           std::to_string(env->num_envs()) + " x " + std::to_string(env->state_dim()));
  } catch (const std::exception& e) {
    env_threw(c, "observations", e);
    return skip_all("the main run threw");
  }

  const MainRun main{options, spec, build, seed, action_seed, std::move(main_trace), std::move(snapshot), snapshot_at,
                     row_fault};
  check_short_time_limit(main, c);
  check_determinism(main, c);
  check_seeding(main, c);
  check_snapshot(main, c);
  return c.take();
}

}  // namespace apiary::envs
