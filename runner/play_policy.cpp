#include "runner/play_policy.h"

#include <stdexcept>

#include <torch/torch.h>

#include "agents/policy.h"
#include "runner/checkpoint.h"

namespace apiary::runner {

struct PlayPolicy::Impl {
  LoadedPolicy loaded;
  agents::LaneMemory memory;  // one lane's, for a recurrent policy
};

PlayPolicy::PlayPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PlayPolicy::~PlayPolicy() = default;

std::unique_ptr<PlayPolicy> PlayPolicy::load(const std::string& path, const std::string& env_id) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->loaded = load_policy(path, env_id);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    // Another env than --env: say how to play it.
    if (!env_id.empty() && what.find("was trained on") != std::string::npos)
      throw std::invalid_argument(what + " (play it with --env " + read_checkpoint_config(path).env.id +
                                  ", or leave --env out)");
    throw;
  }
  impl->memory = agents::LaneMemory(*impl->loaded.policy, 1, torch::kCPU);
  return std::unique_ptr<PlayPolicy>(new PlayPolicy(std::move(impl)));
}

const std::string& PlayPolicy::env_id() const { return impl_->loaded.config.env.id; }
const std::string& PlayPolicy::algo() const { return impl_->loaded.config.algo; }
const envs::EnvOptions& PlayPolicy::env_options() const { return impl_->loaded.config.env.options; }
std::int64_t PlayPolicy::obs_dim() const { return impl_->loaded.spec.obs_dim(); }

PlayDecision PlayPolicy::act(const std::vector<float>& obs, bool episode_start) {
  const std::int64_t dim = obs_dim();
  if (static_cast<std::int64_t>(obs.size()) != dim)
    throw std::invalid_argument("play: an observation of " + std::to_string(obs.size()) + " floats, " + env_id() +
                                " has " + std::to_string(dim));
  torch::Tensor x = torch::from_blob(const_cast<float*>(obs.data()), {1, dim}, torch::kFloat32).clone();
  // An image env's pixels (0..255, exact in float) go to the network as the uint8 it was trained on.
  if (impl_->loaded.spec.observation_space.is_uint8()) x = x.to(torch::kUInt8);
  if (episode_start) impl_->memory.reset();
  const agents::PolicyView view = impl_->loaded.policy->view(x, impl_->memory.state());
  auto to_vector = [](const torch::Tensor& t) {
    const torch::Tensor c = t.to(torch::kFloat32).contiguous().view(-1);
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  PlayDecision d;
  d.scores = to_vector(view.scores);
  if (!impl_->memory.empty()) d.memory_norm = impl_->memory.tensor().norm().item<double>();
  const envs::Space& space = impl_->loaded.spec.action_space;
  if (space.is_discrete()) {
    d.action = {static_cast<float>(space.start + view.action.reshape({-1})[0].item<std::int64_t>())};
  } else {
    d.action = to_vector(view.action);
  }
  switch (view.kind) {
    case agents::PolicyView::Kind::kProbabilities: d.kind = PlayDecision::Kind::kProbabilities; break;
    case agents::PolicyView::Kind::kQValues: d.kind = PlayDecision::Kind::kQValues; break;
    case agents::PolicyView::Kind::kActionMean: d.kind = PlayDecision::Kind::kActionMean; break;
  }
  return d;
}

}  // namespace apiary::runner
