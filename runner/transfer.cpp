#include "runner/transfer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "core/fnv1a.h"
#include "learner/archive.h"
#include "runner/checkpoint.h"

namespace apiary::runner {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Every tensor of a module's archive by its dotted name (as named_parameters / named_buffers name them).
void collect(torch::serialize::InputArchive& archive, torch::nn::Module& layout, const std::string& prefix,
             std::map<std::string, torch::Tensor>& out) {
  for (const auto& p : layout.named_parameters(/*recurse=*/false)) {
    torch::Tensor t;
    if (archive.try_read(p.key(), t)) out[prefix + p.key()] = t;
  }
  for (const auto& b : layout.named_buffers(/*recurse=*/false)) {
    torch::Tensor t;
    if (archive.try_read(b.key(), t, /*is_buffer=*/true)) out[prefix + b.key()] = t;
  }
  for (const auto& child : layout.named_children()) {
    torch::serialize::InputArchive nested;
    if (archive.try_read(child.key(), nested)) collect(nested, *child.value(), prefix + child.key() + ".", out);
  }
}

std::uint64_t file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  core::Fnv1a h;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof(buf));
    h.add(buf, static_cast<std::size_t>(in.gcount()));
  }
  return h.h;
}

}  // namespace

bool in_part(const std::string& name, const std::string& part) {
  // A convolutional encoder reads the observation before the hidden layers: it belongs to the side(s)
  // it feeds, and part `encoder` takes the encoders alone (a visual encoder moved to another game).
  const bool encoder = starts_with(name, "encoder.");
  const bool actor_encoder = starts_with(name, "actor_encoder."), critic_encoder = starts_with(name, "critic_encoder.");
  if (part == "encoder") return encoder || actor_encoder || critic_encoder;
  // A recurrent core sits between the hidden layers and the heads: part `core` takes the cores alone,
  // and the trunks (everything before the heads) include them.
  const bool core = starts_with(name, "core."), actor_core = starts_with(name, "actor_core."),
             critic_core = starts_with(name, "critic_core.");
  if (part == "core") return core || actor_core || critic_core;
  const bool scaling = starts_with(name, "obs_scaling.") || encoder;
  const bool shared = starts_with(name, "trunk.") || core;
  const bool actor_body = starts_with(name, "actor_body.") || actor_encoder || actor_core;
  const bool critic_body = starts_with(name, "critic_body.") || critic_encoder || critic_core;
  if (part == "all") return true;
  if (part == "trunk") return scaling || shared || actor_body || critic_body;
  if (part == "actor_trunk") return scaling || shared || actor_body;
  if (part == "critic_trunk") return scaling || shared || critic_body;
  if (part == "actor") return scaling || shared || actor_body || starts_with(name, "actor_head.") || name == "log_std";
  if (part == "critic") return scaling || shared || critic_body || starts_with(name, "critic_head.");
  throw std::invalid_argument("unknown network part '" + part +
                              "' (one of all, encoder, core, trunk, actor, critic, actor_trunk, critic_trunk)");
}

std::vector<std::string> TransferReport::lines() const {
  std::vector<std::string> out;
  out.push_back("init from " + checkpoint + " (fnv1a " + [&] {
    std::ostringstream os;
    os << std::hex << checkpoint_hash;
    return os.str();
  }() + "): " + std::to_string(loaded.size()) + " loaded, " + std::to_string(fresh.size()) + " fresh");
  for (const auto& n : loaded) out.push_back("  loaded " + n);
  for (const auto& n : fresh) out.push_back("  fresh  " + n);
  return out;
}

TransferReport load_init(const learner::InitSection& init, const std::string& checkpoint, torch::nn::Module& target) {
  TransferReport report;
  report.checkpoint = fs::absolute(checkpoint).lexically_normal().string();
  const learner::TrainConfig source = read_checkpoint_config(checkpoint);
  const learner::AlgorithmSpec& algo = learner::find_algorithm(source.algo);
  auto archive = open_checkpoint(checkpoint);
  torch::serialize::InputArchive algorithm, network;
  if (!archive.try_read(kAlgorithmKey, algorithm) || !algorithm.try_read(algo.policy_key, network))
    throw std::invalid_argument("init.checkpoint: " + checkpoint + " has no '" + algo.policy_key + "' network");
  std::map<std::string, torch::Tensor> stored;
  collect(network, target, "", stored);

  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  std::vector<std::string> mismatches;
  auto consider = [&](const std::string& name, const torch::Tensor& t) {
    const auto it = stored.find(name);
    const std::string shape = learner::shape_text(t.sizes().vec());
    if (!in_part(name, init.parts)) {
      report.fresh.push_back(name + " " + shape + " (not in init.parts " + init.parts + ")");
      return;
    }
    if (it == stored.end()) {
      report.fresh.push_back(name + " " + shape + " (not in the checkpoint)");
      mismatches.push_back("'" + name + "' " + shape + " is not in the checkpoint");
      return;
    }
    if (it->second.sizes() != t.sizes()) {
      const std::string theirs = learner::shape_text(it->second.sizes().vec());
      report.fresh.push_back(name + " " + shape + " (the checkpoint's is " + theirs + ")");
      mismatches.push_back("'" + name + "' is " + theirs + " in the checkpoint, " + shape + " here");
      return;
    }
    if (it->second.is_floating_point() && !torch::isfinite(it->second).all().item<bool>())
      throw std::invalid_argument("init.checkpoint: " + checkpoint + ": '" + name + "' holds non-finite values");
    report.loaded.push_back(name + " " + shape);
    copies.emplace_back(t, it->second);
  };
  for (const auto& p : target.named_parameters()) consider(p.key(), p.value());
  for (const auto& b : target.named_buffers()) consider(b.key(), b.value());
  if (init.strict && !mismatches.empty()) {
    std::string text;
    for (const auto& m : mismatches) text += "\n  " + m;
    throw std::invalid_argument("init.checkpoint: " + checkpoint + " (" + source.algo + " on " + source.env.id +
                                ") does not match this network, and init.strict is true:" + text);
  }
  if (copies.empty())
    throw std::invalid_argument("init.checkpoint: " + checkpoint + " (" + source.algo + " on " + source.env.id +
                                ") has no parameter of this network in init.parts " + init.parts);
  torch::NoGradGuard no_grad;
  for (auto& [to, from] : copies) to.copy_(from);
  report.checkpoint_hash = file_hash(checkpoint);
  return report;
}

std::vector<std::string> frozen_names(const std::vector<std::string>& parts, torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& p : module.named_parameters()) {
    for (const auto& part : parts) {
      if (part != "encoder" && part != "core" && part != "trunk" && part != "actor_trunk" && part != "critic_trunk")
        throw std::invalid_argument("policy.freeze: '" + part +
                                    "' is not one of encoder, core, trunk, actor_trunk, critic_trunk");
      if (in_part(p.key(), part)) {
        names.push_back(p.key());
        break;
      }
    }
  }
  return names;
}

std::vector<std::string> init_from_checkpoint(learner::InitSection& init, const std::string& algo_name,
                                              learner::Algorithm& algo, const std::string& source) {
  if (init.optimizer) {
    const learner::TrainConfig from = read_checkpoint_config(init.checkpoint);
    if (from.algo != algo_name)
      throw std::invalid_argument(source + ": init.optimizer: true needs a checkpoint of " + algo_name + ", " +
                                  init.checkpoint + " is of " + from.algo);
    auto archive = open_checkpoint(init.checkpoint);
    torch::serialize::InputArchive state;
    archive.read(kAlgorithmKey, state);
    try {
      algo.load(state);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(source + ": init.checkpoint " + init.checkpoint +
                                  " (init.optimizer: true) does not fit: " + e.what());
    }
    return {"init from " + init.checkpoint + ": the whole " + algo_name + " state (init.optimizer)"};
  }
  std::vector<std::string> lines;
  try {
    const TransferReport report = load_init(init, init.checkpoint, algo.policy()->module());
    lines = report.lines();
    std::ostringstream hash;
    hash << std::hex << report.checkpoint_hash;
    init.checkpoint_fnv1a = hash.str();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": " + e.what());
  }
  algo.weights_loaded();
  return lines;
}

std::string freeze_policy(const learner::PolicySection& policy, const std::string& algo_name, learner::Algorithm& algo,
                          const std::string& source) {
  const auto names = frozen_names(policy.freeze, algo.policy()->module());
  const bool ok = algo.set_frozen([&names](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  });
  if (!ok) throw std::invalid_argument(source + ": policy.freeze: algo " + algo_name + " cannot freeze parameters");
  std::string line = "frozen (" + std::to_string(names.size()) +
                     " parameters, excluded from the optimizer and gradient clipping" +
                     (policy.freeze_steps > 0 ? " until step " + std::to_string(policy.freeze_steps)
                                              : std::string(" for the whole run")) +
                     "):";
  for (const auto& n : names) line += " " + n;
  return line;
}

}  // namespace apiary::runner
