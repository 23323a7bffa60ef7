#include "parallel/pipeline.h"

#include <torch/torch.h>

#include <limits>
#include <string>

namespace apiary::parallel {
namespace {

std::int64_t numel_of(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

std::int64_t bytes_of(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

// A layer's input and output widths; {-1, -1} for a module that is not a layer.
std::pair<std::int64_t, std::int64_t> layer_features(const std::shared_ptr<torch::nn::Module>& m) {
  if (const auto* linear = dynamic_cast<const torch::nn::LinearImpl*>(m.get()))
    return {linear->options.in_features(), linear->options.out_features()};
  if (const auto* whole = dynamic_cast<const WholeLayer*>(m.get())) return {whole->in_features(), whole->out_features()};
  return {-1, -1};
}

bool is_layer(const std::shared_ptr<torch::nn::Module>& m) { return layer_features(m).first >= 0; }

}  // namespace

std::pair<std::int64_t, std::int64_t> stage_features(const torch::nn::Sequential& stage) {
  std::int64_t in = -1, out = -1;
  for (const auto& m : stage->children()) {
    const auto features = layer_features(m);
    if (features.first < 0) continue;
    if (in < 0) in = features.first;
    out = features.second;
  }
  return {in, out};
}

StagePlan plan_stages(const torch::nn::Sequential& net, int num_stages) {
  if (num_stages < 1) throw std::invalid_argument("pipeline stages must be >= 1, got " + std::to_string(num_stages));
  const auto modules = net->children();
  // Layers: a Linear (or a WholeLayer) and the parameter-free modules after it.
  std::vector<std::int64_t> layer_begin, layer_params;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const std::int64_t params = numel_of(modules[i]->parameters());
    if (is_layer(modules[i])) {
      layer_begin.push_back(static_cast<std::int64_t>(i));
      layer_params.push_back(params);
    } else if (i == 0) {
      throw std::invalid_argument("pipeline: the network must start with a Linear layer, not " + modules[i]->name());
    } else if (params > 0) {
      throw std::invalid_argument("pipeline: module " + std::to_string(i) + " (" + modules[i]->name() +
                                  ") holds parameters but is not a Linear layer; only Linear layers, whole layers "
                                  "(parallel::WholeLayer) and parameter-free modules can be split into stages");
    }
  }
  const int n = static_cast<int>(layer_begin.size());
  if (n < num_stages) {
    throw std::invalid_argument("pipeline: " + std::to_string(num_stages) +
                                " stages need at least as many layers, the network has " + std::to_string(n));
  }
  // cost[k][i]: the smallest possible largest stage for the first i layers in k stages; cut[k][i]: where
  // the k-th stage begins in that best split.
  constexpr std::int64_t kInf = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> prefix(static_cast<std::size_t>(n) + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + layer_params[i];
  std::vector<std::vector<std::int64_t>> cost(num_stages + 1, std::vector<std::int64_t>(n + 1, kInf));
  std::vector<std::vector<int>> cut(num_stages + 1, std::vector<int>(n + 1, 0));
  cost[0][0] = 0;
  for (int k = 1; k <= num_stages; ++k) {
    for (int i = k; i <= n; ++i) {
      for (int j = k - 1; j < i; ++j) {
        if (cost[k - 1][j] == kInf) continue;
        const std::int64_t c = std::max(cost[k - 1][j], prefix[i] - prefix[j]);
        if (c < cost[k][i]) {
          cost[k][i] = c;
          cut[k][i] = j;
        }
      }
    }
  }
  StagePlan plan;
  plan.begin.resize(num_stages);
  plan.end.resize(num_stages);
  plan.parameters.resize(num_stages);
  int i = n;
  for (int k = num_stages; k >= 1; --k) {
    const int j = cut[k][i];
    plan.begin[k - 1] = layer_begin[j];
    plan.end[k - 1] = i == n ? static_cast<std::int64_t>(modules.size()) : layer_begin[i];
    plan.parameters[k - 1] = prefix[i] - prefix[j];
    i = j;
  }
  return plan;
}

torch::nn::Sequential make_stage(const torch::nn::Sequential& net, const StagePlan& plan, int stage) {
  if (stage < 0 || stage >= plan.num_stages()) {
    throw std::invalid_argument("make_stage: stage " + std::to_string(stage) + " is not in [0, " +
                                std::to_string(plan.num_stages()) + ")");
  }
  if (plan.end[stage] > static_cast<std::int64_t>(net->size())) {
    throw std::invalid_argument("make_stage: the plan does not fit this network");
  }
  torch::nn::Sequential out;
  // AnyModule copies share the module they hold.
  for (auto it = net->begin() + plan.begin[stage]; it != net->begin() + plan.end[stage]; ++it) out->push_back(*it);
  return out;
}

std::vector<RowRange> micro_batch_ranges(std::int64_t batch_size, int micro_batches) {
  if (micro_batches < 1 || micro_batches > batch_size) {
    throw std::invalid_argument("micro_batches must be in [1, batch size " + std::to_string(batch_size) + "], got " +
                                std::to_string(micro_batches));
  }
  std::vector<RowRange> ranges;
  const std::int64_t base = batch_size / micro_batches, extra = batch_size % micro_batches;
  std::int64_t begin = 0;
  for (int m = 0; m < micro_batches; ++m) {
    const std::int64_t rows = base + (m < extra ? 1 : 0);
    ranges.push_back({begin, begin + rows});
    begin += rows;
  }
  return ranges;
}

ParallelLayout ParallelLayout::for_world(int world_size, int stages) {
  if (stages < 1 || world_size < 1 || world_size % stages != 0) {
    throw std::invalid_argument("world size " + std::to_string(world_size) + " is not a multiple of " +
                                std::to_string(stages) + " pipeline stages (world size = replicas x stages)");
  }
  return ParallelLayout{world_size / stages, stages};
}

std::vector<int> ParallelLayout::pipeline_ranks(int replica) const {
  std::vector<int> ranks;
  for (int s = 0; s < stages; ++s) ranks.push_back(replica * stages + s);
  return ranks;
}

std::vector<int> ParallelLayout::stage_ranks(int stage) const {
  std::vector<int> ranks;
  for (int r = 0; r < replicas; ++r) ranks.push_back(r * stages + stage);
  return ranks;
}

PipelineStage::PipelineStage(ProcessGroup& group, torch::nn::Sequential stage, int micro_batches)
    : group_(group),
      stage_(std::move(stage)),
      micro_batches_(micro_batches),
      stage_index_(group.rank()),
      num_stages_(group.world_size()) {
  if (micro_batches < 1)
    throw std::invalid_argument("micro_batches must be >= 1, got " + std::to_string(micro_batches));
  const auto modules = stage_->children();
  if (modules.empty() || !is_layer(modules.front())) {
    throw std::invalid_argument("pipeline stage " + std::to_string(stage_index_) + " must start with a Linear layer");
  }
  std::tie(in_features_, out_features_) = stage_features(stage_);
  parameters_ = stage_->parameters();
  activations_ = parameters_.front().options().requires_grad(false);
  fn_ = [seq = stage_](const torch::Tensor& x) mutable { return seq->forward(x); };
}

PipelineStage::PipelineStage(ProcessGroup& group, StageFn fn, std::vector<torch::Tensor> parameters,
                             std::int64_t in_features, std::int64_t out_features, torch::TensorOptions activations,
                             int micro_batches)
    : group_(group),
      fn_(std::move(fn)),
      parameters_(std::move(parameters)),
      activations_(activations.requires_grad(false)),
      micro_batches_(micro_batches),
      stage_index_(group.rank()),
      num_stages_(group.world_size()),
      in_features_(in_features),
      out_features_(out_features) {
  if (micro_batches < 1)
    throw std::invalid_argument("micro_batches must be >= 1, got " + std::to_string(micro_batches));
  if (in_features < 1 || out_features < 1)
    throw std::invalid_argument("pipeline stage " + std::to_string(stage_index_) + ": in_features " +
                                std::to_string(in_features) + " and out_features " + std::to_string(out_features) +
                                " must be >= 1");
}

void PipelineStage::check_input(std::int64_t batch_size, const torch::Tensor& input) const {
  if (!input.defined() || input.dim() != 2 || input.size(0) != batch_size || input.size(1) != in_features_) {
    throw std::invalid_argument("pipeline stage 0: input must be [" + std::to_string(batch_size) + ", " +
                                std::to_string(in_features_) + "]");
  }
}

torch::Tensor PipelineStage::micro_batch_input(const torch::Tensor& input, const RowRange& rows, int m) {
  // Stage 0's input keeps an integer dtype (uint8 pixels reach a WholeLayer encoder as they are).
  if (stage_index_ == 0) {
    const auto x = input.narrow(0, rows.begin, rows.rows());
    return c10::isIntegralType(x.scalar_type(), /*includeBool=*/true) ? x.to(activations_.device()) : x.to(activations_);
  }
  auto x = torch::empty({rows.rows(), in_features_}, activations_);
  group_.recv(x, stage_index_ - 1, m);
  return x;
}

PipelineStepOut PipelineStage::step(std::int64_t batch_size, const torch::Tensor& input, const LossFn& loss_fn) {
  const bool first = stage_index_ == 0, last = stage_index_ == num_stages_ - 1;
  const auto ranges = micro_batch_ranges(batch_size, micro_batches_);
  const int m_count = static_cast<int>(ranges.size());
  if (first) check_input(batch_size, input);
  if (last && !loss_fn) throw std::invalid_argument("pipeline: the last stage needs a loss function");

  std::vector<torch::Tensor> inputs(m_count), outputs(m_count), losses(m_count);
  std::vector<ProcessGroup::PendingSend> sends;
  // Forward: every micro-batch through this stage, its activations on to the next stage.
  for (int m = 0; m < m_count; ++m) {
    const auto& r = ranges[m];
    torch::Tensor x = micro_batch_input(input, r, m);
    if (!first) x.requires_grad_(true);
    auto y = fn_(x);
    if (last) {
      losses[m] = loss_fn(y, r.begin, r.end) * (static_cast<double>(r.rows()) / static_cast<double>(batch_size));
    } else {
      sends.push_back(group_.send(y.detach().contiguous(), stage_index_ + 1, m));
    }
    inputs[m] = x;
    outputs[m] = y;
  }
  // Backward, in reverse: the gradient of each micro-batch's output comes from the next stage; the
  // gradient of its input goes to the previous one.
  for (int m = m_count - 1; m >= 0; --m) {
    if (last) {
      losses[m].backward();
    } else {
      auto grad = torch::empty({ranges[m].rows(), out_features_}, activations_);
      group_.recv(grad, stage_index_ + 1, m_count + m);
      outputs[m].backward(grad);
    }
    if (!first) sends.push_back(group_.send(inputs[m].grad().contiguous(), stage_index_ - 1, m_count + m));
    outputs[m] = torch::Tensor();  // frees this micro-batch's graph
  }
  for (auto& s : sends) s.wait();

  PipelineStepOut out;
  if (last) {
    torch::NoGradGuard no_grad;
    torch::Tensor total = losses.front().detach().to(torch::kFloat32);
    for (std::size_t m = 1; m < losses.size(); ++m) total = total + losses[m].detach();
    out.loss = total;  // on the stage's device: no host synchronisation per minibatch
  }
  return out;
}

torch::Tensor PipelineStage::forward(std::int64_t batch_size, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  const bool first = stage_index_ == 0, last = stage_index_ == num_stages_ - 1;
  const auto ranges = micro_batch_ranges(batch_size, micro_batches_);
  if (first) check_input(batch_size, input);
  std::vector<torch::Tensor> results;
  std::vector<ProcessGroup::PendingSend> sends;
  for (int m = 0; m < static_cast<int>(ranges.size()); ++m) {
    const auto& r = ranges[m];
    auto y = fn_(micro_batch_input(input, r, m));
    if (last) {
      results.push_back(y);
    } else {
      sends.push_back(group_.send(y.contiguous(), stage_index_ + 1, m));
    }
  }
  for (auto& s : sends) s.wait();
  return last ? torch::cat(results) : torch::Tensor();
}

torch::Tensor PipelineStage::gather_weights(int root) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  for (const auto& p : parameters_) flat.push_back(p.detach().reshape({-1}).to(torch::kCPU, torch::kFloat32));
  return group_.gather_flat(torch::cat(flat), root);
}

std::int64_t parameter_bytes(const torch::nn::Module& module) {
  std::int64_t bytes = 0;
  for (const auto& p : module.parameters()) bytes += bytes_of(p);
  return bytes;
}

std::int64_t optimizer_state_bytes(const torch::optim::Optimizer& optimizer) {
  std::int64_t bytes = 0;
  for (const auto& [key, state] : optimizer.state()) {
    const auto* s = state.get();
    if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(s)) {
      bytes += bytes_of(adam->exp_avg()) + bytes_of(adam->exp_avg_sq()) + bytes_of(adam->max_exp_avg_sq());
    } else if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(s)) {
      bytes += bytes_of(adamw->exp_avg()) + bytes_of(adamw->exp_avg_sq()) + bytes_of(adamw->max_exp_avg_sq());
    } else if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(s)) {
      bytes += bytes_of(sgd->momentum_buffer());
    } else if (const auto* rms = dynamic_cast<const torch::optim::RMSpropParamState*>(s)) {
      bytes += bytes_of(rms->square_avg()) + bytes_of(rms->momentum_buffer()) + bytes_of(rms->grad_avg());
    } else if (const auto* adagrad = dynamic_cast<const torch::optim::AdagradParamState*>(s)) {
      bytes += bytes_of(adagrad->sum());
    } else {
      throw std::invalid_argument("optimizer_state_bytes: an optimizer state of an unknown type");
    }
  }
  return bytes;
}

}  // namespace apiary::parallel
