// Model parallelism: an MLP (torch::nn::Sequential of Linear layers, each followed by elementwise
// modules such as activations) cut into S consecutive stages, one per rank, trained on the GPipe
// schedule (Huang et al. 2019): a minibatch is cut into M micro-batches; every micro-batch goes
// forward through the stages (activations travel by c10d send/recv), then every one comes back in
// reverse order (the gradients of the activations travel back), and the stage's parameter gradients
// accumulate over the M micro-batches. The optimizer step is then local to each stage: each stage's
// process holds only its own parameters and optimizer state.
//
//   auto full = make_network();                           // same seed on every stage: same init
//   const auto plan = plan_stages(full, group.world_size());
//   auto stage = make_stage(full, plan, group.rank());    // this rank's layers (shared, not copied)
//   full = nullptr;                                       // the other stages' layers are freed
//   torch::optim::Adam adam(stage->parameters(), ...);
//   PipelineStage pipe(group, stage, /*micro_batches=*/4);
//   adam.zero_grad();
//   auto out = pipe.step(batch_size, obs /*stage 0*/, loss_fn /*last stage*/);
//   adam.step();
//   auto weights = pipe.gather_weights(/*root=*/0);       // the whole network's parameters, flat
//
// With data parallelism as well (world size = replicas x stages), ParallelLayout says which ranks
// form one replica's pipeline and which ranks hold the same stage; each stage averages its gradients
// over the latter with ProcessGroup::average_gradients on a subgroup.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "parallel/process_group.h"

namespace apiary::parallel {

// A module with parameters that a pipeline keeps whole as one layer, as it keeps a Linear (e.g. a
// convolutional encoder at the front of a network, so that a cut may fall between it and the MLP
// after it): the widths of its [rows, in] input and [rows, out] output.
class WholeLayer {
 public:
  virtual ~WholeLayer() = default;
  virtual std::int64_t in_features() const = 0;
  virtual std::int64_t out_features() const = 0;
};

// A stage's input and output widths: the in_features of its first layer (Linear or WholeLayer) and
// the out_features of its last; {-1, -1} where it holds no layer.
std::pair<std::int64_t, std::int64_t> stage_features(const torch::nn::Sequential& stage);

// Which modules of the Sequential each stage holds: stage s has modules [begin[s], end[s]).
// A stage starts at a layer (a Linear or a WholeLayer) and takes the modules after it up to the next
// layer; the cut points minimise the largest stage's parameter count (ties: earlier cuts).
struct StagePlan {
  std::vector<std::int64_t> begin, end;  // module indices, S each
  std::vector<std::int64_t> parameters;  // parameter elements per stage
  int num_stages() const { return static_cast<int>(begin.size()); }
};

// Throws std::invalid_argument when num_stages < 1, when the network does not start with a layer,
// has a module with parameters that is not a layer, or has fewer layers than stages.
StagePlan plan_stages(const torch::nn::Sequential& net, int num_stages);

// Stage `stage` of `plan` as a Sequential holding the same module objects as `net` (no copy: the
// caller drops `net` to free the other stages' layers).
torch::nn::Sequential make_stage(const torch::nn::Sequential& net, const StagePlan& plan, int stage);

// Rows [begin, end) of micro-batch m: M consecutive slices of B rows as even as possible (the first
// B % M one row longer). Throws std::invalid_argument unless 1 <= M <= B.
struct RowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t rows() const { return end - begin; }
};
std::vector<RowRange> micro_batch_ranges(std::int64_t batch_size, int micro_batches);

// Rank layout of data x model parallelism: rank = replica * stages + stage, so one replica's stages
// are consecutive ranks (on one machine when ranks fill machines in order).
struct ParallelLayout {
  int replicas = 1, stages = 1;
  // Throws std::invalid_argument unless world_size == replicas * stages with both >= 1.
  static ParallelLayout for_world(int world_size, int stages);
  int replica_of(int rank) const { return rank / stages; }
  int stage_of(int rank) const { return rank % stages; }
  std::vector<int> pipeline_ranks(int replica) const;  // its stages 0..S-1, in order
  std::vector<int> stage_ranks(int stage) const;       // the replicas of one stage
};

// What step returns. On the last stage: the minibatch's loss (the micro-batches' losses weighted by
// their rows, so that it equals the loss of the whole minibatch); undefined on the other stages.
struct PipelineStepOut {
  torch::Tensor loss;  // fp32 scalar, detached, on the stage's device
};

class PipelineStage {
 public:
  // group: exactly the pipeline's stages, stage s at group rank s (a subgroup of one replica with
  // data parallelism). stage: this rank's layers (make_stage), on any device. Throws
  // std::invalid_argument when the stage does not start with a Linear or micro_batches < 1.
  PipelineStage(ProcessGroup& group, torch::nn::Sequential stage, int micro_batches);

  // A stage given as a function: `fn` maps a micro-batch of this stage's input, [rows, in_features],
  // to its output, [rows, out_features], with autograd through `parameters` (e.g. two networks side by
  // side, as PPO's actor and critic). Received activations are allocated with `activations` (dtype and
  // device). Throws std::invalid_argument when micro_batches < 1 or a feature count is < 1.
  using StageFn = std::function<torch::Tensor(const torch::Tensor& x)>;
  PipelineStage(ProcessGroup& group, StageFn fn, std::vector<torch::Tensor> parameters, std::int64_t in_features,
                std::int64_t out_features, torch::TensorOptions activations, int micro_batches);

  // The loss of rows [begin, end) of the minibatch, as the mean over those rows, given the network's
  // output for them ([end - begin, out_features], with autograd). Called on the last stage only.
  using LossFn = std::function<torch::Tensor(const torch::Tensor& output, std::int64_t begin, std::int64_t end)>;

  // One forward and backward pass of `batch_size` rows on the GPipe schedule; the same batch_size on
  // every stage. input: [batch_size, in_features], on stage 0 (ignored elsewhere). loss_fn: used on
  // the last stage (ignored elsewhere). Adds to the stage's parameter gradients: zero them before,
  // step the optimizer after. Throws CommError when a peer stage fails.
  PipelineStepOut step(std::int64_t batch_size, const torch::Tensor& input, const LossFn& loss_fn);

  // The network's output for `input` without autograd (micro-batches as in step): [batch_size,
  // out_features] on the last stage, undefined on the others.
  torch::Tensor forward(std::int64_t batch_size, const torch::Tensor& input);

  // Every stage's parameters, flattened in stage order (fp32, on the host) on `root`, which is the
  // unsplit network's parameters in registration order, agents::export_weights' layout for a
  // Sequential of Linear layers and activations; undefined on the other stages. Collective.
  torch::Tensor gather_weights(int root = 0);

  const torch::nn::Sequential& module() const { return stage_; }  // null for a stage given as a function
  int stage() const { return stage_index_; }
  int num_stages() const { return num_stages_; }
  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }

 private:
  // The input of stage 0 for `batch_size` rows, checked.
  void check_input(std::int64_t batch_size, const torch::Tensor& input) const;
  // Micro-batch m's input: its rows of `input` on stage 0, received from the previous stage elsewhere.
  torch::Tensor micro_batch_input(const torch::Tensor& input, const RowRange& rows, int m);

  ProcessGroup& group_;
  torch::nn::Sequential stage_{nullptr};
  StageFn fn_;
  std::vector<torch::Tensor> parameters_;
  torch::TensorOptions activations_;
  int micro_batches_, stage_index_, num_stages_;
  std::int64_t in_features_ = 0, out_features_ = 0;
};

// Bytes of a module's parameters, and of an optimizer's state (Adam's and AdamW's moments, SGD's
// momentum, RMSprop's and Adagrad's accumulators); for the memory a stage holds. The optimizer's
// state exists after its first step. Throws std::invalid_argument for another optimizer.
std::int64_t parameter_bytes(const torch::nn::Module& module);
std::int64_t optimizer_state_bytes(const torch::optim::Optimizer& optimizer);

}  // namespace apiary::parallel
