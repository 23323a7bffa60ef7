// PPO's model parallelism (learner.pipeline_stages > 1 or learner.stage_devices, docs/distributed.md):
// the Ppo members that cut the actor and the critic into stages and run them (ppo_impl.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "agents/distributions.h"
#include "agents/encoder.h"
#include "agents/layers.h"
#include "learner/ppo/ppo_impl.h"

namespace apiary::learner::ppo_detail {

// ---- Model parallelism (learner.pipeline_stages > 1, docs/distributed.md) ---------------------------
//
// The actor ([actor_encoder,] actor_body's layers, then actor_head) and the critic ([critic_encoder,]
// critic_body's, then critic_head) are each cut into S consecutive stages by parallel::plan_stages; rank s holds stage s of
// both, and an Adam over those parameters only. Stage 0 (rank 0) also keeps the whole network for
// acting, GAE and checkpoints; after every update the stages' weights are gathered into it. A
// minibatch runs on the GPipe schedule: M micro-batches go forward (stage s sends [actor | critic]
// activations to s + 1), the last stage computes PPO's loss (ppo_loss, on advantages normalised over
// the whole minibatch first, each micro-batch weighted by its rows, so that the sum is the
// minibatch's loss), the activations' gradients come back in reverse, and each stage clips with the
// global gradient norm (one all-reduce of the squared norms) and steps its own Adam.

namespace {

std::int64_t elements(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

// A convolutional encoder as one pipeline layer, so that a cut may fall between it and the MLP after
// it: its input is the observation flattened to [rows, obs_dim] (uint8 as the env gives it, or
// float), its output the encoder's features, as ActorCritic encodes.
class EncoderLayerImpl : public torch::nn::Module, public parallel::WholeLayer {
 public:
  EncoderLayerImpl(agents::ConvEncoder encoder, std::int64_t obs_dim, agents::PolicyConfig config)
      : encoder_(register_module("encoder", std::move(encoder))), obs_dim_(obs_dim), config_(std::move(config)) {}

  torch::Tensor forward(const torch::Tensor& x) {
    agents::ObsScaling none{nullptr};  // an encoder reads the observation unscaled
    return agents::encode_observation(x, encoder_, none, obs_dim_, config_, "PPO pipeline");
  }
  std::int64_t in_features() const override { return obs_dim_; }
  std::int64_t out_features() const override { return encoder_->out_features(); }

  // A copy with these weights on `device` (Sequential::clone, for learner.stage_devices). Like
  // LibTorch's Cloneable, it initialises a new module (drawing from the default generator), then
  // copies the weights over.
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override {
    torch::NoGradGuard no_grad;
    auto copy = std::make_shared<EncoderLayerImpl>(agents::make_encoder(config_, "PPO pipeline"), obs_dim_, config_);
    const auto mine = parameters(), theirs = copy->parameters();
    TORCH_CHECK(mine.size() == theirs.size(), "PPO pipeline: the encoder's copy has other parameters");
    for (std::size_t i = 0; i < mine.size(); ++i) theirs[i].copy_(mine[i]);
    if (device) copy->to(*device);
    return copy;
  }

 private:
  agents::ConvEncoder encoder_;
  std::int64_t obs_dim_;
  agents::PolicyConfig config_;
};

// [encoder,] body's modules, then head, as one Sequential holding the same module objects.
torch::nn::Sequential chain(const std::shared_ptr<torch::nn::Module>& encoder, const std::shared_ptr<torch::nn::Module>& body,
                            const std::shared_ptr<torch::nn::Module>& head, std::int64_t obs_dim,
                            const agents::PolicyConfig& config) {
  torch::nn::Sequential out;
  if (encoder) {
    auto conv = std::dynamic_pointer_cast<agents::ConvEncoderImpl>(encoder);
    TORCH_CHECK(conv != nullptr, "PPO pipeline: expected a convolutional encoder");
    out->push_back(std::make_shared<EncoderLayerImpl>(agents::ConvEncoder(conv), obs_dim, config));
  }
  const auto seq = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(body);
  TORCH_CHECK(seq != nullptr, "PPO pipeline: expected a Sequential body");
  for (const auto& m : *seq) out->push_back(m);
  const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(head);
  TORCH_CHECK(linear != nullptr, "PPO pipeline: expected a Linear head");
  out->push_back(torch::nn::Linear(linear));
  return out;
}

}  // namespace

void Ppo::setup_pipeline(const AlgorithmInit& init) {
  using namespace parallel;
  const auto& learner = init.config.learner;
  const bool local = !learner.stage_devices.empty();
  if (local) {
    for (const auto& name : learner.stage_devices) local_devices_.emplace_back(name);
    stages_ = static_cast<int>(local_devices_.size());
  } else {
    pipe_ = init.pipeline;
    stage_ = pipe_->rank();
    stages_ = pipe_->world_size();
  }
  micro_batches_ = learner.micro_batches;
  obs_dim_ = init.spec.obs_dim();
  discrete_ = net_->is_discrete();
  action_dim_ = net_->action_dim();
  if (net_->config().shared_trunk)
    throw std::invalid_argument("learner.pipeline_stages: PPO's pipeline splits separate actor and critic MLPs "
                                "(policy.shared_trunk: false)");
  if (precision_ == Precision::kFp16)
    throw std::invalid_argument("learner.pipeline_stages: PPO's pipeline runs in fp32 or bf16 (fp16's loss scaling "
                                "is not shared between stages)");
  // The same seed on every rank made the same whole network; each keeps its stage of it.
  // A convolutional encoder (policy.encoder) is one layer at the front of each side: a cut may fall
  // after it.
  std::shared_ptr<torch::nn::Module> encoder_a, body_a, head_a, encoder_c, body_c, head_c;
  for (const auto& item : net_->named_children()) {
    if (item.key() == "actor_encoder") encoder_a = item.value();
    if (item.key() == "actor_body") body_a = item.value();
    if (item.key() == "actor_head") head_a = item.value();
    if (item.key() == "critic_encoder") encoder_c = item.value();
    if (item.key() == "critic_body") body_c = item.value();
    if (item.key() == "critic_head") head_c = item.value();
  }
  auto actor = chain(encoder_a, body_a, head_a, obs_dim_, net_->config());
  auto critic = chain(encoder_c, body_c, head_c, obs_dim_, net_->config());
  StagePlan actor_plan, critic_plan;
  try {
    actor_plan = plan_stages(actor, stages_);
    critic_plan = plan_stages(critic, stages_);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("learner.pipeline_stages: ") + e.what() +
                                " (the actor and the critic each have policy.hidden's layers plus a head, and "
                                "a convolutional policy.encoder in front as one more)");
  }
  // Each stage's parameters (actor's, critic's, then on the last stage a Box space's log-std) and
  // where they sit in the unsplit network's flat layout.
  const auto whole = net_->parameters();
  const auto slot_of = [&whole](const torch::Tensor& p) {
    std::int64_t offset = 0;
    for (const auto& w : whole) {
      if (w.is_same(p)) return Slot{offset, p.numel()};
      offset += w.numel();
    }
    throw std::logic_error("PPO pipeline: a stage parameter is not the network's");
  };
  for (const auto& w : whole) whole_numel_ += w.numel();
  const auto params_of = [&](int s) {
    auto params = make_stage(actor, actor_plan, s)->parameters();
    for (const auto& p : make_stage(critic, critic_plan, s)->parameters()) params.push_back(p);
    if (!discrete_ && s == stages_ - 1) params.push_back(net_->log_std());
    return params;
  };
  for (int s = 0; s < stages_; ++s) {
    std::vector<Slot> slots;
    for (const auto& p : params_of(s)) slots.push_back(slot_of(p));
    if (local || s == stage_) my_slots_.insert(my_slots_.end(), slots.begin(), slots.end());
    all_slots_.insert(all_slots_.end(), slots.begin(), slots.end());
  }
  if (local) {
    // Every stage here: copies of its layers on its device; net_ stays whole on the run's device to act.
    for (int s = 0; s < stages_; ++s) {
      const torch::Device d = local_devices_[static_cast<std::size_t>(s)];
      local_actor_.emplace_back(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(make_stage(actor, actor_plan, s)->clone(d)));
      local_critic_.emplace_back(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(make_stage(critic, critic_plan, s)->clone(d)));
      for (const auto& p : local_actor_.back()->parameters()) stage_params_.push_back(p);
      for (const auto& p : local_critic_.back()->parameters()) stage_params_.push_back(p);
    }
    if (!discrete_) {
      stage_log_std_ = net_->log_std().detach().to(local_devices_.back()).clone().set_requires_grad(true);
      stage_params_.push_back(stage_log_std_);
    }
  } else {
    actor_stage_ = make_stage(actor, actor_plan, stage_);
    critic_stage_ = make_stage(critic, critic_plan, stage_);
    std::tie(actor_in_, actor_out_) = parallel::stage_features(actor_stage_);
    std::tie(critic_in_, critic_out_) = parallel::stage_features(critic_stage_);
    stage_params_ = params_of(stage_);
    if (!discrete_ && stage_ == stages_ - 1) stage_log_std_ = net_->log_std();
    // The GPipe schedule (parallel::PipelineStage) over this stage's actor and critic side by side.
    pipe_stage_ = std::make_unique<parallel::PipelineStage>(
        *pipe_, [this](const torch::Tensor& x) { return stage_forward(x); }, stage_params_,
        stage_ == 0 ? obs_dim_ : actor_in_ + critic_in_, actor_out_ + critic_out_,
        torch::TensorOptions().dtype(torch::kFloat).device(device_), micro_batches_);
  }
  if (stage_ == 0) {
    policy_ = std::make_shared<agents::ActorCriticPolicy>(net_);
    flat_ = std::make_unique<FlatParameters>(*net_);  // the whole copy; stage 0's own layers are its views
  } else {
    net_ = nullptr;  // the other stages' layers go with it: this rank holds its own stage only
  }
  actor = nullptr;
  critic = nullptr;
  optimizer_ = std::make_unique<torch::optim::Adam>(stage_params_,
                                                    torch::optim::AdamOptions(config_.learning_rate).eps(1e-5));
  guard_ = std::make_unique<UpdateGuard>(*optimizer_);
}

std::unique_ptr<torch::optim::Adam> Ppo::unsplit_adam() const {
  return std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{flat_->values()},
                                              torch::optim::AdamOptions(config_.learning_rate).eps(1e-5));
}

Ppo::~Ppo() {
  if (pipe_ != nullptr && stage_ == 0 && !stopped_) {
    try {
      broadcast_header(StageCommand::kStop);
    } catch (const std::exception&) {
      // A peer is gone already: it ends on its own (its next call fails or times out).
    }
  }
}

void Ppo::broadcast_header(StageCommand command, std::int64_t rows, double lr) {
  auto header = torch::tensor({static_cast<double>(command), static_cast<double>(rows), lr}, torch::kDouble);
  pipe_->broadcast(header, 0);
  if (command == StageCommand::kStop) stopped_ = true;
}

void Ppo::serve_stage() {
  if (pipe_ == nullptr || stage_ == 0) throw std::logic_error("PPO::serve_stage: not a pipeline stage after the first");
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  for (;;) {
    auto header = torch::zeros({3}, torch::kDouble);
    pipe_->broadcast(header, 0);
    const double* h = header.data_ptr<double>();
    const auto command = static_cast<StageCommand>(static_cast<int>(h[0]));
    switch (command) {
      case StageCommand::kStop:
        return;
      case StageCommand::kSendMoments:
        whole_moments();
        break;
      case StageCommand::kLoadWeights:
      case StageCommand::kLoadState: {
        AdamMoments moments;  // filled by the broadcast
        load_stages(command == StageCommand::kLoadState ? &moments : nullptr);
        break;
      }
      case StageCommand::kUpdate: {
        const auto rows = static_cast<std::int64_t>(h[1]);
        const double lr = h[2];
        set_learning_rate(lr);  // stage 0's annealed step size
        RolloutBatch batch;
        batch.actions = discrete_ ? torch::empty({rows}, torch::TensorOptions().dtype(torch::kLong).device(device_))
                                  : torch::empty({rows, action_dim_}, f32);
        batch.log_probs = torch::empty({rows}, f32);
        batch.values = torch::empty({rows}, f32);
        batch.advantages = torch::empty({rows}, f32);
        batch.returns = torch::empty({rows}, f32);
        for (const auto& t : {batch.actions, batch.log_probs, batch.values, batch.advantages, batch.returns})
          pipe_->broadcast(t, 0);
        pipeline_round(batch, lr);
        break;
      }
      default:
        throw std::runtime_error("PPO pipeline stage " + std::to_string(stage_) + ": unknown command " +
                                 std::to_string(h[0]) + " from stage 0");
    }
  }
}

torch::Tensor Ppo::stage_flat() const {
  std::vector<torch::Tensor> flat;
  for (const auto& p : stage_params_) flat.push_back(p.detach().reshape({-1}).to(torch::kCPU, torch::kFloat));
  return torch::cat(flat);
}

void Ppo::absorb_stages(const torch::Tensor& concat) {
  torch::NoGradGuard no_grad;
  const auto host = concat.to(torch::kCPU, torch::kFloat);
  std::int64_t pos = 0;
  for (const auto& slot : all_slots_) {
    flat_->values().narrow(0, slot.offset, slot.numel).copy_(host.narrow(0, pos, slot.numel));
    pos += slot.numel;
  }
  TORCH_CHECK(pos == concat.numel() && pos == flat_->values().numel(),
              "PPO pipeline: the stages' weights do not fit the network");
}

AdamMoments Ppo::whole_moments() {
  AdamMoments mine = adam_moments(*optimizer_, stage_params_);
  torch::Tensor avg = mine.exp_avg, avg_sq = mine.exp_avg_sq;
  if (pipe_ != nullptr) {
    avg = pipe_->gather_flat(avg, 0);
    avg_sq = pipe_->gather_flat(avg_sq, 0);
  }
  if (stage_ != 0) return {};
  AdamMoments whole;
  whole.step = mine.step;  // every stage has taken the same steps
  whole.exp_avg = torch::zeros({whole_numel_});
  whole.exp_avg_sq = torch::zeros({whole_numel_});
  std::int64_t pos = 0;
  for (const auto& slot : all_slots_) {
    whole.exp_avg.narrow(0, slot.offset, slot.numel).copy_(avg.narrow(0, pos, slot.numel));
    whole.exp_avg_sq.narrow(0, slot.offset, slot.numel).copy_(avg_sq.narrow(0, pos, slot.numel));
    pos += slot.numel;
  }
  return whole;
}

void Ppo::load_stages(const AdamMoments* moments) {
  torch::NoGradGuard no_grad;
  torch::Tensor weights, avg, avg_sq, step, gen;
  if (stage_ == 0) {
    weights = flat_->values().detach().to(torch::kCPU, torch::kFloat).clone();
    if (moments != nullptr) {
      avg = moments->exp_avg.to(torch::kFloat).contiguous();
      avg_sq = moments->exp_avg_sq.to(torch::kFloat).contiguous();
      step = torch::tensor({static_cast<double>(moments->step)}, torch::kDouble);
      gen = minibatch_gen_.get_state().to(torch::kFloat);
    }
  } else {
    weights = torch::empty({whole_numel_});
    if (moments != nullptr) {
      avg = torch::empty({whole_numel_});
      avg_sq = torch::empty({whole_numel_});
      step = torch::empty({1}, torch::kDouble);
      gen = torch::empty({minibatch_gen_.get_state().numel()});
    }
  }
  if (pipe_ != nullptr) {
    if (stage_ == 0) broadcast_header(moments != nullptr ? StageCommand::kLoadState : StageCommand::kLoadWeights);
    pipe_->broadcast(weights, 0);
    if (moments != nullptr)
      for (const auto& t : {avg, avg_sq, step, gen}) pipe_->broadcast(t, 0);
  }
  const auto mine = [this](const torch::Tensor& whole) {
    std::vector<torch::Tensor> parts;
    for (const auto& slot : my_slots_) parts.push_back(whole.narrow(0, slot.offset, slot.numel));
    return torch::cat(parts);
  };
  const auto own = mine(weights);
  std::int64_t pos = 0;
  for (auto& p : stage_params_) {
    p.copy_(own.narrow(0, pos, p.numel()).view(p.sizes()));
    pos += p.numel();
  }
  if (moments == nullptr) return;
  AdamMoments stage_moments;
  stage_moments.exp_avg = mine(avg);
  stage_moments.exp_avg_sq = mine(avg_sq);
  stage_moments.step = static_cast<std::int64_t>(step.item<double>());
  set_adam_moments(*optimizer_, stage_params_, stage_moments);
  if (stage_ != 0) minibatch_gen_.set_state(gen.to(torch::kUInt8));
}

Metrics Ppo::pipeline_round(const RolloutBatch& batch, double lr) {
  guard_->save();
  PpoUpdateResult result = ppo_update(batch);
  // The diagnostics are the last stage's; every stage learns them (and so the same finiteness).
  result.stat_sums = result.stat_sums.contiguous();
  pipe_->broadcast(result.stat_sums, stages_ - 1);
  const auto means = (result.stat_sums / static_cast<double>(result.minibatches)).to(torch::kCPU, torch::kDouble);
  const double* mean = means.data_ptr<double>();
  bool finite = guard_->finite();
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) finite = finite && std::isfinite(mean[i]);
  auto bad = torch::full({1}, finite ? 0.0f : 1.0f);
  pipe_->average_gradients(bad);  // > 0: some stage's weights are not finite
  if (bad.item<float>() > 0.0f) {
    guard_->restore();  // every stage undoes it, so stage 0's whole copy is still every stage's
    return {{kNonFiniteUpdate, 1.0}};
  }
  // Acting needs the whole network: the stages' weights, gathered into stage 0's copy.
  const auto gathered = pipe_->gather_flat(stage_flat(), 0);
  if (stage_ == 0) absorb_stages(gathered);
  policy_version_ += 1;
  Metrics metrics;
  for (std::int64_t i = 0; i < kNumMinibatchStats; ++i) metrics.emplace_back(kMinibatchStatNames[i], mean[i]);
  if (stage_ == 0) metrics.emplace_back("explained_var", explained_variance(batch.values, batch.returns));
  metrics.emplace_back("learning_rate", lr);
  metrics.emplace_back("skipped_steps", 0.0);
  metrics.emplace_back("epochs_run", static_cast<double>(result.epochs_run));
  return metrics;
}

torch::Tensor Ppo::stage_input(const RolloutBatch& minibatch, std::int64_t begin, std::int64_t end) {
  // A convolutional encoder takes the observation as the env gave it (uint8 stays uint8), flattened.
  if (net_->config().encoder != "mlp") return minibatch.obs.slice(0, begin, end).reshape({end - begin, obs_dim_});
  torch::Tensor x = agents::flatten_obs(minibatch.obs.slice(0, begin, end), obs_dim_, "PPO pipeline",
                                          net_->config().uint8_high);
  for (const auto& item : net_->named_children())
    if (item.key() == "obs_scaling") x = std::dynamic_pointer_cast<agents::ObsScalingImpl>(item.value())->forward(x);
  return x;
}

PpoLossOut Ppo::stage_loss(const torch::Tensor& actor_out, const torch::Tensor& critic_out,
                           const RolloutBatch& minibatch, const torch::Tensor& advantages, std::int64_t begin,
                           std::int64_t end) const {
  const auto out = actor_out.to(torch::kFloat);
  const auto actions = minibatch.actions.slice(0, begin, end);
  PpoLossIn in;
  if (discrete_) {
    in.new_logprob = agents::categorical_log_prob(out, actions);
    in.entropy = agents::categorical_entropy(out);
  } else {
    const auto log_std = stage_log_std_.to(out.device());
    in.new_logprob = agents::gaussian_log_prob(out, log_std, actions);
    in.entropy = agents::gaussian_entropy(out, log_std);
  }
  in.new_values = critic_out.to(torch::kFloat).squeeze(-1);
  in.old_logprob = minibatch.log_probs.slice(0, begin, end);
  in.advantages = advantages.slice(0, begin, end);
  in.old_values = minibatch.values.slice(0, begin, end);
  in.returns = minibatch.returns.slice(0, begin, end);
  set_loss_options(in, config_);
  in.norm_adv = false;  // done by the caller, over the whole minibatch
  return ppo_loss(in);
}

void Ppo::zero_stage_grads() {
  // In place: on stage 0 the gradients are views of the whole copy's flat buffer, which
  // Optimizer::zero_grad (detach_) refuses.
  torch::NoGradGuard no_grad;
  for (auto& p : stage_params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void Ppo::step_stage_params() {
  // Data parallelism: this stage's gradients averaged over the replicas (one all-reduce), before
  // clipping, as the unsplit update does.
  if (reduce_gradients_) reduce_gradients_(grads_of(stage_params_));
  if (config_.max_grad_norm > 0.0) {
    // The global norm, as the unsplit update clips: over every stage (one all-reduce of the stages'
    // squared norms when the stages are ranks).
    torch::NoGradGuard no_grad;
    auto squares = torch::zeros({1}, torch::kFloat);
    for (const auto& p : stage_params_)
      if (p.grad().defined()) squares += p.grad().pow(2).sum().to(torch::kCPU, torch::kFloat);
    if (pipe_ != nullptr) {
      pipe_->average_gradients(squares);
      squares *= static_cast<double>(stages_);
    }
    const auto coef = (config_.max_grad_norm / (squares.sqrt() + 1e-6)).clamp_max(1.0);
    for (const auto& p : stage_params_)
      if (p.grad().defined()) p.grad().mul_(coef.to(p.device()));
  }
  optimizer_->step();
}

torch::Tensor Ppo::stage_forward(const torch::Tensor& x) {
  // Stage 0 feeds the observations to both networks; a later stage receives [actor | critic].
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  torch::Tensor ya, yc;
  {
    AutocastGuard autocast(precision_, device_);  // bf16: the stage's layers in reduced precision
    ya = actor_stage_->forward(first ? x : x.narrow(1, 0, actor_in_));
    yc = critic_stage_->forward(first ? x : x.narrow(1, actor_in_, critic_in_));
  }
  const auto y = torch::cat({ya, yc}, 1);
  // Activations travel as fp32 (bf16 values convert exactly); the next stage's autocast casts back.
  return last ? y : y.to(torch::kFloat);
}

MinibatchResult Ppo::pipeline_minibatch_step(const RolloutBatch& minibatch) {
  const bool first = stage_ == 0, last = stage_ == stages_ - 1;
  const std::int64_t rows = minibatch.size();
  zero_stage_grads();
  // norm_adv over the whole minibatch, as the unsplit update does; then each micro-batch's mean
  // losses weighted by its share of the rows (PipelineStage::step) add up to the minibatch's.
  const torch::Tensor advantages =
      last ? (config_.norm_adv ? normalize_advantages(minibatch.advantages) : minibatch.advantages) : torch::Tensor();
  torch::Tensor stats = torch::zeros({kNumMinibatchStats}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  pipe_stage_->step(rows, first ? stage_input(minibatch, 0, rows) : torch::Tensor(),
                    [&](const torch::Tensor& y, std::int64_t begin, std::int64_t end) {
                      const PpoLossOut loss = stage_loss(y.narrow(1, 0, actor_out_), y.narrow(1, actor_out_, critic_out_),
                                                         minibatch, advantages, begin, end);
                      torch::NoGradGuard no_grad;
                      stats += minibatch_stats(loss) * (static_cast<double>(end - begin) / static_cast<double>(rows));
                      return loss.loss;
                    });
  step_stage_params();
  MinibatchResult out;
  out.stats = stats;
  out.stepped = true;
  return out;
}

MinibatchResult Ppo::local_minibatch_step(const RolloutBatch& minibatch) {
  // GPipe on one rank: every micro-batch goes forward through the stages (its activations hop to
  // each stage's device), then they come back in reverse order; autograd carries the gradients
  // across the devices. With CUDA devices the kernels queue asynchronously, so stage s works on
  // micro-batch m + 1 while stage s + 1 works on m.
  const std::int64_t rows = minibatch.size();
  const auto ranges = parallel::micro_batch_ranges(rows, micro_batches_);
  zero_stage_grads();
  const torch::Tensor advantages =
      config_.norm_adv ? normalize_advantages(minibatch.advantages) : minibatch.advantages;
  torch::Tensor stats = torch::zeros({kNumMinibatchStats}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  std::vector<torch::Tensor> losses;
  for (const auto& r : ranges) {
    torch::Tensor ya = stage_input(minibatch, r.begin, r.end), yc = ya;
    for (int s = 0; s < stages_; ++s) {
      const torch::Device d = local_devices_[static_cast<std::size_t>(s)];
      AutocastGuard autocast(precision_, d);  // bf16: each stage's layers in reduced precision
      ya = local_actor_[static_cast<std::size_t>(s)]->forward(ya.to(d));
      yc = local_critic_[static_cast<std::size_t>(s)]->forward(yc.to(d));
    }
    const PpoLossOut loss = stage_loss(ya.to(device_), yc.to(device_), minibatch, advantages, r.begin, r.end);
    const double share = static_cast<double>(r.rows()) / static_cast<double>(rows);
    losses.push_back(loss.loss * share);
    torch::NoGradGuard no_grad;
    stats += minibatch_stats(loss) * share;
  }
  for (auto it = losses.rbegin(); it != losses.rend(); ++it) {
    it->backward();
    *it = torch::Tensor();
  }
  step_stage_params();
  MinibatchResult out;
  out.stats = stats;
  out.stepped = true;
  return out;
}

Algorithm::HeldState Ppo::held_state() const {
  HeldState held;
  std::vector<torch::Tensor> trained = pipelined() ? stage_params_ : std::vector<torch::Tensor>{flat_->values()};
  held.trained_parameters = elements(trained);
  for (const auto& [key, state] : optimizer_->state()) {
    const auto& adam = static_cast<const torch::optim::AdamParamState&>(*state);
    held.optimizer_state += adam.exp_avg().numel() + adam.exp_avg_sq().numel();
  }
  if (net_) held.acting_parameters = elements(net_->parameters());
  return held;
}

}  // namespace apiary::learner::ppo_detail
