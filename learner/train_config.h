// Everything `apiary train` can be told, as typed structs with defaults; YAML keys map onto them one to
// one (core/config.h). Each field is documented once, by the doc string of its visit() entry, which is
// what `apiary config` lists (docs/configs.md is its --markdown). Defaults follow CleanRL's ppo.py / dqn.py.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct EnvSection {
  std::string id = "CartPole-v1";
  core::AutoCount num_envs = 8;
  std::string device = "auto";
  bool in_place = false;
  std::map<std::string, double> options;
  std::vector<std::string> plugins;
  template <class V>
  void visit(V& v) {
    v.field("id", id, "environment id");
    v.field("num_envs", num_envs,
            "lanes stepped together (auto: the cores, or 32 per GPU multiprocessor; config.yaml records the pick)",
            Range::closed(1, 1 << 24));
    v.choice("device", device, {"auto", "cpu", "cuda"},
             "where the lanes step (cuda: in place with a policy on the GPU; auto: cuda with a GPU learner, a "
             "CUDA back end and 1024+ lanes; config.yaml records the pick)");
    v.field("in_place", in_place, "the policy reads the env's buffers in place, the chunk is built on its device "
                                  "(always so on a GPU; false copies each step; the same trajectories either way)");
    v.field("options", options, "environment parameters by name, e.g. {gravity: 9.81}");
    v.field("plugins", plugins,
            "shared libraries that register environments, e.g. [build/libmyenv.so] (docs/custom-envs.md); "
            "loaded before id is looked up; config.yaml stores them absolute, so every process of a run loads them");
  }
};

// A recurrent core between the hidden layers and the heads (agents/recurrent_core.h).
struct RecurrentSection {
  std::string cell = "none";
  std::int64_t hidden = 128;
  template <class V>
  void visit(V& v) {
    v.choice("cell", cell, {"none", "lstm", "gru"},
             "none (no memory), or an LSTM or GRU core after the hidden layers (PPO; each lane keeps its state "
             "across steps, zeroed when its episode ends)");
    v.field("hidden", hidden, "units of the recurrent core (the heads' input)", Range::closed(1, 65536));
  }
};

struct PolicySection {
  std::vector<int> hidden_sizes{64, 64};
  std::string activation = "tanh";
  bool shared_trunk = false;
  double init_log_std = 0.0;
  bool dueling = false;
  bool scale_obs = false;
  std::string encoder = "mlp";
  RecurrentSection recurrent;
  std::vector<std::string> freeze;
  std::int64_t freeze_steps = 0;
  template <class V>
  void visit(V& v) {
    v.field("hidden_sizes", hidden_sizes, "units per hidden layer", Range::closed(1, 65536));
    v.choice("activation", activation, {"tanh", "relu"}, "non-linearity after each hidden layer");
    v.field("shared_trunk", shared_trunk, "actor and critic share one trunk");
    v.field("init_log_std", init_log_std, "initial log-std of Gaussian policies", Range::closed(-10, 5));
    v.field("dueling", dueling, "DQN: dueling value/advantage head");
    v.field("scale_obs", scale_obs, "map bounded observation elements onto [-1, 1] with the space's bounds");
    v.choice("encoder", encoder, {"mlp", "minatar", "nature", "impala"},
             "what reads the observation: mlp (flattened) or a CNN over an (H, W, C) image: minatar (MinAtar "
             "paper), nature (Nature DQN, 84x84), impala (IMPALA ResNet)");
    v.section("recurrent", recurrent, "memory: a recurrent core before the heads");
    v.field("freeze", freeze,
            "network parts kept fixed (transfer learning): encoder (the CNN), core (the recurrent core), trunk "
            "(hidden layers, encoder, core and observation scaling), actor_trunk or critic_trunk (one side's)");
    v.field("freeze_steps", freeze_steps, "env steps after which frozen parts learn again (0: never)",
            Range::closed(0, 1e15));
  }
};

// An algorithm's config section as the registry (learner/algorithm.h) declares it.
struct AlgorithmSection {
  std::string name;          // the `algo:` value and the section's key
  std::string doc;           // one line for listings
  core::AnySection config;   // the algorithm's hyperparameter struct with its defaults
};
// The registered algorithms' sections with their defaults, and their names (learner/algorithm.cpp).
std::vector<AlgorithmSection> registered_algorithm_sections();
std::vector<std::string> registered_algorithm_names();

struct EvalSection {
  std::int64_t interval_steps = 10000;
  std::int32_t episodes = 20;
  std::int32_t num_envs = 20;
  bool background = false;
  template <class V>
  void visit(V& v) {
    v.field("interval_steps", interval_steps, "env steps between evaluations (0: end only)",
            Range::closed(0, 1LL << 40));
    v.field("episodes", episodes, "episodes per evaluation", Range::closed(1, 1 << 20));
    v.field("num_envs", num_envs, "evaluation lanes", Range::closed(1, 1 << 20));
    v.field("background", background,
            "evaluate a copy of the policy on its own thread while training goes on (one that falls due "
            "meanwhile waits its turn, up to 4)");
  }
};

// Transfer learning: where a run's weights start from (docs/transfer.md).
struct InitSection {
  std::string checkpoint;
  std::string parts = "all";
  bool strict = false;
  bool optimizer = false;
  std::string checkpoint_fnv1a;
  template <class V>
  void visit(V& v) {
    v.field("checkpoint", checkpoint,
            "checkpoint (best.pt, latest.pt) or zoo entry (zoo:LunarLander-v3) the weights start from "
            "(empty: random)");
    v.choice("parts", parts, {"all", "encoder", "core", "trunk", "actor", "critic"},
             "which parameters are taken from it (encoder: the convolutional encoders alone; core: the recurrent "
             "cores alone; trunk: everything before the heads)");
    v.field("strict", strict, "refuse any parameter that does not match in name and shape");
    v.field("optimizer", optimizer, "also take its optimizer state (same algorithm and network)");
    v.field("checkpoint_fnv1a", checkpoint_fnv1a, "recorded by the run: FNV-1a of the checkpoint it started from");
  }
};

struct StopSection {
  double mean_return = std::numeric_limits<double>::infinity();
  template <class V>
  void visit(V& v) {
    v.field("mean_return", mean_return, "evaluation mean return that ends the run (.inf: never)");
  }
};

// Multi-process runs (docs/distributed.md): actor processes stream trajectory chunks to the learner
// over ZeroMQ and receive its weights. count 0 keeps the in-process fast path.
struct ActorsSection {
  std::int32_t count = 0;
  std::int32_t max_policy_lag = 16;
  std::string connect;
  std::string curve_server_key;
  double restart_backoff_seconds = 0.5;
  double max_restart_backoff_seconds = 10.0;
  std::int64_t max_message_bytes = 1LL << 28;
  template <class V>
  void visit(V& v) {
    v.field("count", count, "actor processes (0: in-process actor)", Range::closed(0, 4096));
    v.field("max_policy_lag", max_policy_lag, "drop chunks more than this many policy versions old",
            Range::closed(1, 1 << 30));
    v.field("connect", connect,
            "endpoint actors connect to (empty: the learner's, ipc in the run folder or learner.bind)");
    v.field("curve_server_key", curve_server_key,
            "learner's public CURVE key file (apiary keys), needed for a tcp:// learner off loopback");
    v.field("restart_backoff_seconds", restart_backoff_seconds,
            "first restart delay of a dead actor (doubles per quick death)",
            Range::closed(0, 3600));
    v.field("max_restart_backoff_seconds", max_restart_backoff_seconds, "cap on the restart delay",
            Range::closed(0, 3600));
    v.field("max_message_bytes", max_message_bytes,
            "largest message accepted (ZMQ_MAXMSGSIZE and the decoder)", Range::closed(1024, 1LL << 40));
  }
};

// The learner's endpoint and its ranks. How ranks, replicas and pipeline stages are laid out (world_size
// = replicas x pipeline_stages without stage_devices) is in docs/distributed.md.
struct LearnerSection {
  std::string bind;
  std::string curve_secret_key;
  std::int32_t world_size = 0;
  std::int32_t pipeline_stages = 1;
  std::int32_t micro_batches = 1;
  std::vector<std::string> stage_devices;
  std::int32_t check_weights_interval = 100;
  double timeout_seconds = 300.0;
  template <class V>
  void visit(V& v) {
    v.field("bind", bind, "learner endpoint, e.g. tcp://127.0.0.1:5555: PORT control, PORT+1 chunks, PORT+2 weights; "
            "off loopback it needs curve_secret_key (empty: ipc in the run folder)");
    v.field("curve_secret_key", curve_secret_key, "learner's secret CURVE key file (apiary keys; empty: no CURVE)");
    v.field("world_size", world_size,
            "learner ranks, each with its own lanes and seeds, gradients averaged with one all-reduce "
            "(docs/distributed.md); 0: the launcher's WORLD_SIZE or SLURM_NTASKS, else pipeline_stages, else 1",
            Range::closed(0, 1024));
    v.field("pipeline_stages", pipeline_stages,
            "model parallelism: consecutive stages of the actor and critic (encoder, hidden layers, head), one "
            "per rank (PPO)",
            Range::closed(1, 64));
    v.field("micro_batches", micro_batches, "GPipe micro-batches per minibatch (pipeline_stages > 1; at most its rows)",
            Range::closed(1, 1 << 20));
    v.field("stage_devices", stage_devices,
            "devices of one rank's pipeline stages, one per stage (e.g. [cuda:0, cuda:1]); empty: one stage per rank");
    v.field("check_weights_interval", check_weights_interval,
            "updates between comparisons of the ranks' weight hashes (0: off)", Range::closed(0, 1 << 30));
    v.field("timeout_seconds", timeout_seconds, "longest wait for the rendezvous or a collective of the ranks",
            Range::closed(1, 86400));
  }
};

struct TrainConfig {
  std::string name = "run";
  std::string out_dir = "runs";
  std::string algo = "ppo";
  std::int64_t seed = 1;
  std::int64_t total_steps = 100000;
  std::string device = "auto";
  std::int32_t threads = 1;
  std::string precision = "fp32";
  std::int64_t checkpoint_interval_steps = 50000;
  std::int32_t log_interval_updates = 1;
  EnvSection env;
  PolicySection policy;
  // Every registered algorithm's hyperparameters, as a section under its name (ppo:, dqn:, ...), in
  // registration order; the algorithms declare them (learner/<algo>/), this struct never names them.
  std::vector<AlgorithmSection> algorithms = registered_algorithm_sections();
  InitSection init;
  EvalSection eval;
  StopSection stop;
  ActorsSection actors;
  LearnerSection learner;
  // The hyperparameters of algorithm `name` (its config struct T). Throws std::logic_error when no
  // algorithm of that name is registered or its section is not a T.
  template <class T>
  T& section(const std::string& algorithm_name) {
    for (AlgorithmSection& a : algorithms)
      if (a.name == algorithm_name)
        if (T* t = a.config.get<T>()) return *t;
    throw std::logic_error("no config section '" + algorithm_name + "' of that type is registered");
  }
  template <class T>
  const T& section(const std::string& algorithm_name) const {
    return const_cast<TrainConfig*>(this)->section<T>(algorithm_name);
  }

  template <class V>
  void visit(V& v) {
    v.field("name", name, "run folder name");
    v.field("out_dir", out_dir, "folder that holds run folders");
    v.choice("algo", algo, registered_algorithm_names(), "algorithm");
    v.field("seed", seed, "random seed", Range::closed(0, 9.2e18));
    v.field("total_steps", total_steps, "env steps to train for", Range::closed(1, 1e15));
    v.choice("device", device, {"auto", "cpu", "cuda"}, "where networks run");
    v.field("threads", threads, "LibTorch and env threads (0: all cores)", Range::closed(0, 1024));
    v.choice("precision", precision, {"fp32", "bf16", "fp16", "auto"},
             "forward-pass precision (auto: bf16 where the hardware has it and this network trains faster in it)");
    v.field("checkpoint_interval_steps", checkpoint_interval_steps, "env steps between checkpoints (0: end only)",
            Range::closed(0, 1e15));
    v.field("log_interval_updates", log_interval_updates, "updates between metrics rows", Range::closed(1, 1 << 20));
    v.section("env", env, "environment");
    v.section("policy", policy, "network");
    for (AlgorithmSection& a : algorithms) v.section(a.name.c_str(), a.config, a.doc.c_str());
    v.section("init", init, "transfer learning: start from a trained policy");
    v.section("eval", eval, "periodic evaluation with the deterministic policy");
    v.section("stop", stop, "early stop");
    v.section("actors", actors, "actor processes (multi-process runs)");
    v.section("learner", learner, "learner endpoint (multi-process runs) and data-parallel ranks");
  }
};

}  // namespace apiary::learner
