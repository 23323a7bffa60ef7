#include "learner/play_policy.h"

#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/q_network.h"
#include "envs/registry.h"
#include "learner/algorithm.h"
#include "learner/trainer.h"

namespace apiary::learner {

namespace {

std::string shape_text(const torch::IntArrayRef& sizes) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

std::string hidden_text(const std::vector<int>& sizes) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

// Loads `module`'s parameters and buffers from `archive` and checks that every one kept the shape the
// network was built with. LibTorch's Module::load re-seats each tensor on what the archive holds,
// whatever its shape, so a mismatch would otherwise surface later as an opaque matmul error.
void load_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& what,
                  const std::string& path) {
  std::map<std::string, std::vector<std::int64_t>> expected;
  for (const auto& p : module.named_parameters()) expected[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers()) expected[b.key()] = b.value().sizes().vec();
  try {
    module.load(archive);
  } catch (const c10::Error& e) {
    std::string reason = e.what_without_backtrace();
    throw std::invalid_argument("checkpoint " + path + " does not fit " + what + ": " + reason);
  }
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    const auto it = expected.find(name);
    if (it == expected.end()) return;
    if (t.sizes().vec() != it->second)
      throw std::invalid_argument("checkpoint " + path + " does not fit " + what + ": parameter '" + name +
                                  "' has shape " + shape_text(t.sizes()) + " in the checkpoint, the network wants " +
                                  shape_text(it->second));
  };
  for (const auto& p : module.named_parameters()) check(p.key(), p.value());
  for (const auto& b : module.named_buffers()) check(b.key(), b.value());
}

}  // namespace

struct PlayPolicy::Impl {
  std::string env_id;
  std::string algo;
  envs::EnvOptions env_options;
  envs::EnvSpec spec;
  agents::ActorCritic actor_critic{nullptr};  // algo: ppo
  agents::QNetwork q_network{nullptr};        // algo: dqn
};

PlayPolicy::PlayPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PlayPolicy::~PlayPolicy() = default;

std::unique_ptr<PlayPolicy> PlayPolicy::load(const std::string& path, const std::string& env_id) {
  const TrainConfig config = read_checkpoint_config(path);  // throws for anything but an Apiary checkpoint
  if (!env_id.empty() && env_id != config.env.id)
    throw std::invalid_argument("checkpoint " + path + " was trained on " + config.env.id + ", not " + env_id +
                                " (play it with --env " + config.env.id + ", or leave --env out)");
  auto impl = std::make_unique<Impl>();
  impl->env_id = config.env.id;
  impl->algo = config.algo;
  impl->env_options = config.env.options;
  impl->spec = envs::env_spec(config.env.id, config.env.options);
  const agents::PolicyConfig policy_config = to_policy_config(config.policy, impl->spec);

  torch::serialize::InputArchive archive, algorithm, model;
  archive.load_from(path);
  archive.read("algorithm", algorithm);
  const std::string what = "the " + config.algo + " network for " + config.env.id + " (observations " +
                           std::to_string(impl->spec.obs_dim()) + ", actions " + impl->spec.action_space.to_string() +
                           ", hidden_sizes " + hidden_text(config.policy.hidden_sizes) + ")";
  if (config.algo == "ppo") {
    impl->actor_critic = agents::ActorCritic(impl->spec.obs_dim(), impl->spec.action_space, policy_config);
    if (!algorithm.try_read("model", model))
      throw std::invalid_argument("checkpoint " + path + " has no PPO network ('algorithm/model')");
    load_checked(*impl->actor_critic, model, what, path);
    impl->actor_critic->eval();
  } else if (config.algo == "dqn") {
    if (!impl->spec.action_space.is_discrete())
      throw std::invalid_argument("checkpoint " + path + ": algo dqn on " + config.env.id + ", whose actions are " +
                                  impl->spec.action_space.to_string());
    impl->q_network = agents::QNetwork(impl->spec.obs_dim(), impl->spec.action_space.n, policy_config);
    if (!algorithm.try_read("online", model))
      throw std::invalid_argument("checkpoint " + path + " has no DQN network ('algorithm/online')");
    load_checked(*impl->q_network, model, what, path);
    impl->q_network->eval();
  } else {
    throw std::invalid_argument("checkpoint " + path + ": unknown algo '" + config.algo + "'");
  }
  return std::unique_ptr<PlayPolicy>(new PlayPolicy(std::move(impl)));
}

const std::string& PlayPolicy::env_id() const { return impl_->env_id; }
const std::string& PlayPolicy::algo() const { return impl_->algo; }
const envs::EnvOptions& PlayPolicy::env_options() const { return impl_->env_options; }
std::int64_t PlayPolicy::obs_dim() const { return impl_->spec.obs_dim(); }

PlayDecision PlayPolicy::act(const std::vector<float>& obs) {
  const std::int64_t dim = impl_->spec.obs_dim();
  if (static_cast<std::int64_t>(obs.size()) != dim)
    throw std::invalid_argument("play: an observation of " + std::to_string(obs.size()) + " floats, " +
                                impl_->env_id + " has " + std::to_string(dim));
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::from_blob(const_cast<float*>(obs.data()), {1, dim}, torch::kFloat32).clone();
  PlayDecision d;
  const envs::Space& space = impl_->spec.action_space;
  auto to_vector = [](const torch::Tensor& t) {
    const torch::Tensor c = t.to(torch::kFloat32).contiguous().view(-1);
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  if (impl_->q_network) {
    const torch::Tensor q = impl_->q_network->forward(x);
    d.kind = PlayDecision::Kind::kQValues;
    d.scores = to_vector(q);
    d.action = {static_cast<float>(space.start + q.argmax(1).item<std::int64_t>())};
    return d;
  }
  const agents::PolicyOut out = impl_->actor_critic->forward(x);
  if (space.is_discrete()) {
    d.kind = PlayDecision::Kind::kProbabilities;
    d.scores = to_vector(torch::softmax(out.logits, 1));
    d.action = {static_cast<float>(space.start + out.logits.argmax(1).item<std::int64_t>())};
  } else {
    d.kind = PlayDecision::Kind::kActionMean;
    d.scores = to_vector(out.mean);
    d.action = d.scores;
  }
  return d;
}

}  // namespace apiary::learner
