// Everything `apiary train` can be told, as typed structs with defaults and a comment per field; YAML
// keys map onto them one to one (core/config.h). Defaults follow CleanRL's ppo.py / dqn.py.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"

namespace apiary::learner {

using core::Range;

struct EnvSection {
  std::string id = "CartPole-v1";             // Gymnasium id (see `apiary envs`)
  std::int32_t num_envs = 8;                  // lanes stepped together by the actor
  std::map<std::string, double> options;      // env parameters by name (gravity, ...)
  // Shared libraries that register environment ids (docs/custom-envs.md), loaded before `id` is looked
  // up; relative paths are taken from the working directory, and the run's config.yaml stores them
  // absolute. The config carries them so that every process of a run loads the same plugins (the
  // actor processes of multi-process runs will read them from here).
  std::vector<std::string> plugins;
  template <class V>
  void visit(V& v) {
    v.field("id", id, "environment id");
    v.field("num_envs", num_envs, "lanes stepped together", Range::closed(1, 1 << 24));
    v.field("options", options, "environment parameters by name, e.g. {gravity: 9.81}");
    v.field("plugins", plugins, "shared libraries that register environments (paths), e.g. [build/libmyenv.so]");
  }
};

struct PolicySection {
  std::vector<int> hidden_sizes{64, 64};  // units per hidden layer
  std::string activation = "tanh";        // tanh | relu
  bool shared_trunk = false;              // one trunk for actor and critic
  double init_log_std = 0.0;              // Gaussian policies: initial log standard deviation
  bool dueling = false;                   // DQN: dueling head
  bool scale_obs = false;                 // map bounded observation elements onto [-1, 1]
  template <class V>
  void visit(V& v) {
    v.field("hidden_sizes", hidden_sizes, "units per hidden layer", Range::closed(1, 65536));
    v.choice("activation", activation, {"tanh", "relu"}, "non-linearity after each hidden layer");
    v.field("shared_trunk", shared_trunk, "actor and critic share one trunk");
    v.field("init_log_std", init_log_std, "initial log-std of Gaussian policies", Range::closed(-10, 5));
    v.field("dueling", dueling, "DQN: dueling value/advantage head");
    v.field("scale_obs", scale_obs, "map bounded observation elements onto [-1, 1] with the space's bounds");
  }
};

struct PpoConfig {
  std::int32_t rollout_steps = 128;   // T: steps per lane per rollout
  double learning_rate = 2.5e-4;      // Adam step size
  bool anneal_lr = true;              // linear decay to 0 over total_steps
  double gamma = 0.99;                // discount
  double gae_lambda = 0.95;           // GAE lambda
  std::int32_t num_minibatches = 4;   // minibatches per epoch
  std::int32_t update_epochs = 4;     // passes over each rollout
  bool norm_adv = true;               // normalise advantages per minibatch
  double clip_coef = 0.2;             // surrogate clipping
  bool clip_vloss = true;             // clip the value loss
  double ent_coef = 0.01;             // entropy bonus
  double vf_coef = 0.5;               // value loss weight
  double max_grad_norm = 0.5;         // global gradient-norm clip
  double target_kl = 0.0;             // stop the epochs early above this approx KL (0: off)
  template <class V>
  void visit(V& v) {
    v.field("rollout_steps", rollout_steps, "steps per lane per rollout", Range::closed(1, 1 << 20));
    v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
    v.field("anneal_lr", anneal_lr, "linearly anneal the learning rate to 0");
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("gae_lambda", gae_lambda, "GAE lambda", Range::closed(0, 1));
    v.field("num_minibatches", num_minibatches, "minibatches per epoch", Range::closed(1, 1 << 20));
    v.field("update_epochs", update_epochs, "passes over each rollout", Range::closed(1, 1000));
    v.field("norm_adv", norm_adv, "normalise advantages");
    v.field("clip_coef", clip_coef, "surrogate clipping coefficient", Range::open_closed(0, 10));
    v.field("clip_vloss", clip_vloss, "clip the value loss");
    v.field("ent_coef", ent_coef, "entropy bonus coefficient", Range::closed(0, 10));
    v.field("vf_coef", vf_coef, "value loss coefficient", Range::closed(0, 100));
    v.field("max_grad_norm", max_grad_norm, "gradient-norm clip (0: off)", Range::closed(0, 1e6));
    v.field("target_kl", target_kl, "early-stop KL (0: off)", Range::closed(0, 10));
  }
};

struct DqnConfig {
  double learning_rate = 2.5e-4;             // Adam step size
  std::int64_t buffer_size = 10000;          // replay capacity (transitions)
  double gamma = 0.99;                       // discount
  double tau = 1.0;                          // target update: 1 copies (hard), < 1 Polyak
  std::int64_t target_network_frequency = 500;  // env steps between target updates
  std::int32_t batch_size = 128;             // transitions per gradient step
  double start_e = 1.0;                      // epsilon at the start
  double end_e = 0.05;                       // epsilon after the decay
  double exploration_fraction = 0.5;         // fraction of total_steps over which epsilon decays
  std::int64_t learning_starts = 10000;      // env steps before learning
  std::int32_t train_frequency = 10;         // env steps (all lanes) between gradient phases
  std::int32_t gradient_steps = 1;           // gradient steps per phase
  std::int32_t n_step = 1;                   // n-step returns
  bool double_dqn = true;                    // argmax from the online network
  bool prioritized = false;                  // prioritised replay (sum tree)
  double per_alpha = 0.6;                    // priority exponent
  double per_beta = 0.4;                     // importance-sampling exponent at the start (annealed to 1)
  std::string loss = "huber";                // huber | mse
  double max_grad_norm = 10.0;               // gradient-norm clip (0: off)
  template <class V>
  void visit(V& v) {
    v.field("learning_rate", learning_rate, "Adam step size", Range::open_closed(0, 1));
    v.field("buffer_size", buffer_size, "replay capacity", Range::closed(1, 1LL << 32));
    v.field("gamma", gamma, "discount factor", Range::closed(0, 1));
    v.field("tau", tau, "target update rate (1: hard copy)", Range::open_closed(0, 1));
    v.field("target_network_frequency", target_network_frequency, "env steps between target updates",
            Range::closed(1, 1LL << 40));
    v.field("batch_size", batch_size, "transitions per gradient step", Range::closed(1, 1 << 20));
    v.field("start_e", start_e, "initial epsilon", Range::closed(0, 1));
    v.field("end_e", end_e, "final epsilon", Range::closed(0, 1));
    v.field("exploration_fraction", exploration_fraction, "fraction of the run spent decaying epsilon",
            Range::closed(0, 1));
    v.field("learning_starts", learning_starts, "env steps before learning", Range::closed(0, 1LL << 40));
    v.field("train_frequency", train_frequency, "env steps between gradient phases", Range::closed(1, 1 << 20));
    v.field("gradient_steps", gradient_steps, "gradient steps per phase", Range::closed(1, 1 << 20));
    v.field("n_step", n_step, "n-step returns", Range::closed(1, 1000));
    v.field("double_dqn", double_dqn, "double DQN targets");
    v.field("prioritized", prioritized, "prioritised replay");
    v.field("per_alpha", per_alpha, "priority exponent", Range::closed(0, 1));
    v.field("per_beta", per_beta, "initial importance-sampling exponent", Range::closed(0, 1));
    v.choice("loss", loss, {"huber", "mse"}, "TD loss");
    v.field("max_grad_norm", max_grad_norm, "gradient-norm clip (0: off)", Range::closed(0, 1e6));
  }
};

struct EvalSection {
  std::int64_t interval_steps = 10000;  // env steps between evaluations (0: only at the end)
  std::int32_t episodes = 20;           // episodes per evaluation
  std::int32_t num_envs = 20;           // evaluation lanes (separate from training lanes)
  template <class V>
  void visit(V& v) {
    v.field("interval_steps", interval_steps, "env steps between evaluations (0: end only)",
            Range::closed(0, 1LL << 40));
    v.field("episodes", episodes, "episodes per evaluation", Range::closed(1, 1 << 20));
    v.field("num_envs", num_envs, "evaluation lanes", Range::closed(1, 1 << 20));
  }
};

struct StopSection {
  // End the run at the first evaluation whose mean return reaches this (.inf: never stop early).
  double mean_return = std::numeric_limits<double>::infinity();
  template <class V>
  void visit(V& v) {
    v.field("mean_return", mean_return, "evaluation mean return that ends the run (.inf: never)");
  }
};

// Multi-process runs (docs/distributed.md): actor processes stream trajectory chunks to the learner
// over ZeroMQ and receive its weights. count 0 keeps the in-process fast path.
struct ActorsSection {
  std::int32_t count = 0;              // actor processes `apiary train` starts (0: one actor in-process)
  std::int32_t max_policy_lag = 16;    // chunks acted by weights more than this many versions old are dropped
  // Where actors connect: empty means the learner's endpoint (ipc:// in the run folder, or learner.bind).
  std::string connect;
  // Learner's public CURVE key file (`apiary keys`): actors need it for a tcp:// learner off loopback.
  std::string curve_server_key;
  double restart_backoff_seconds = 0.5;      // first restart delay of a dead actor; doubles per quick death
  double max_restart_backoff_seconds = 10.0; // cap on that delay
  std::int64_t max_message_bytes = 1LL << 28;  // larger messages are refused (ZMQ_MAXMSGSIZE and decoder)
  template <class V>
  void visit(V& v) {
    v.field("count", count, "actor processes (0: in-process actor)", Range::closed(0, 4096));
    v.field("max_policy_lag", max_policy_lag, "drop chunks more than this many policy versions old",
            Range::closed(1, 1 << 30));
    v.field("connect", connect, "endpoint actors connect to (empty: the learner's)");
    v.field("curve_server_key", curve_server_key, "learner's public CURVE key file (apiary keys)");
    v.field("restart_backoff_seconds", restart_backoff_seconds, "first restart delay of a dead actor",
            Range::closed(0, 3600));
    v.field("max_restart_backoff_seconds", max_restart_backoff_seconds, "cap on the restart delay",
            Range::closed(0, 3600));
    v.field("max_message_bytes", max_message_bytes, "largest message accepted", Range::closed(1024, 1LL << 40));
  }
};

struct LearnerSection {
  // Where the learner listens: empty for ipc:// in the run folder; tcp://ADDR:PORT uses PORT (control),
  // PORT+1 (chunks) and PORT+2 (weights). A non-loopback ADDR needs curve_secret_key.
  std::string bind;
  std::string curve_secret_key;  // learner's secret CURVE key file (`apiary keys`); empty: no CURVE
  template <class V>
  void visit(V& v) {
    v.field("bind", bind, "learner endpoint, e.g. tcp://127.0.0.1:5555 (empty: ipc in the run folder)");
    v.field("curve_secret_key", curve_secret_key, "learner's secret CURVE key file (apiary keys)");
  }
};

struct TrainConfig {
  std::string name = "run";          // run folder name under out_dir
  std::string out_dir = "runs";      // where run folders go
  std::string algo = "ppo";          // ppo | dqn
  std::int64_t seed = 1;             // seeds envs, networks and sampling
  std::int64_t total_steps = 100000; // env steps (all lanes) to train for
  std::string device = "auto";       // auto | cpu | cuda
  std::int32_t threads = 1;          // LibTorch and env threads (0: all cores)
  std::string precision = "fp32";    // fp32 | bf16 | fp16
  std::int64_t checkpoint_interval_steps = 50000;  // env steps between checkpoints (0: end only)
  std::int32_t log_interval_updates = 1;           // updates between metrics rows
  EnvSection env;
  PolicySection policy;
  PpoConfig ppo;
  DqnConfig dqn;
  EvalSection eval;
  StopSection stop;
  ActorsSection actors;
  LearnerSection learner;
  template <class V>
  void visit(V& v) {
    v.field("name", name, "run folder name");
    v.field("out_dir", out_dir, "folder that holds run folders");
    v.choice("algo", algo, {"ppo", "dqn"}, "algorithm");
    v.field("seed", seed, "random seed", Range::closed(0, 9.2e18));
    v.field("total_steps", total_steps, "env steps to train for", Range::closed(1, 1e15));
    v.choice("device", device, {"auto", "cpu", "cuda"}, "where networks run");
    v.field("threads", threads, "LibTorch and env threads (0: all cores)", Range::closed(0, 1024));
    v.choice("precision", precision, {"fp32", "bf16", "fp16"}, "forward-pass precision");
    v.field("checkpoint_interval_steps", checkpoint_interval_steps, "env steps between checkpoints (0: end only)",
            Range::closed(0, 1e15));
    v.field("log_interval_updates", log_interval_updates, "updates between metrics rows", Range::closed(1, 1 << 20));
    v.section("env", env, "environment");
    v.section("policy", policy, "network");
    v.section("ppo", ppo, "PPO hyperparameters (algo: ppo)");
    v.section("dqn", dqn, "DQN hyperparameters (algo: dqn)");
    v.section("eval", eval, "periodic evaluation with the deterministic policy");
    v.section("stop", stop, "early stop");
    v.section("actors", actors, "actor processes (multi-process runs)");
    v.section("learner", learner, "learner endpoint (multi-process runs)");
  }
};

}  // namespace apiary::learner
