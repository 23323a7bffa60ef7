// Model parallelism: the stage plan, micro-batches, the rank layout, and a GPipe pipeline of 2 stages
// (2 processes, Gloo on loopback) against the unsplit network: the same loss, gradients and output
// with 1 and 4 micro-batches; each stage holds only its own layers and optimizer state; the gathered
// weights are the whole network's. Also 2 replicas x 2 stages against one process.
#include "parallel/pipeline.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <memory>

#include "agents/weights.h"
#include "parallel/launch.h"
#include "tests/parallel/test_util.h"

namespace apiary::parallel {
namespace {

using namespace testing;

// Linear layers of 96, 408, 200 and 18 parameters.
torch::nn::Sequential make_four_layer_net() {
  return torch::nn::Sequential(torch::nn::Linear(5, 16), torch::nn::Tanh(), torch::nn::Linear(16, 24),
                               torch::nn::ReLU(), torch::nn::Linear(24, 8), torch::nn::Tanh(), torch::nn::Linear(8, 2));
}

std::int64_t numel_of(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

// The reference network's parameters of modules [begin, end), in order.
std::vector<torch::Tensor> parameters_of(const torch::nn::Sequential& net, std::int64_t begin, std::int64_t end) {
  std::vector<torch::Tensor> out;
  const auto modules = net->children();
  for (std::int64_t i = begin; i < end; ++i) {
    for (const auto& p : modules[i]->parameters()) out.push_back(p);
  }
  return out;
}

JoinOptions pipeline_join() {
  JoinOptions options;
  options.timeout_seconds = 30.0;
  options.fingerprint = "pipeline test\n";
  return options;
}

TEST(PipelinePlan, BalancesParameterCountsOverConsecutiveLayers) {
  if (in_rank()) GTEST_SKIP();
  const auto net = make_four_layer_net();
  const auto two = plan_stages(net, 2);  // [96 + 408 | 200 + 18] beats [96 | 626] and [704 | 18]
  EXPECT_EQ(two.begin, (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(two.end, (std::vector<std::int64_t>{4, 7}));
  EXPECT_EQ(two.parameters, (std::vector<std::int64_t>{504, 218}));
  const auto three = plan_stages(net, 3);  // [96 | 408 | 218]
  EXPECT_EQ(three.begin, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(three.end, (std::vector<std::int64_t>{2, 4, 7}));
  const auto four = plan_stages(net, 4);
  EXPECT_EQ(four.begin, (std::vector<std::int64_t>{0, 2, 4, 6}));
  EXPECT_EQ(four.parameters, (std::vector<std::int64_t>{96, 408, 200, 18}));
  const auto one = plan_stages(net, 1);
  EXPECT_EQ(one.end, (std::vector<std::int64_t>{7}));

  const auto stage = make_stage(net, two, 1);
  ASSERT_EQ(stage->size(), 3u);
  EXPECT_EQ(stage->children()[0].get(), net->children()[4].get()) << "the same module, not a copy";
  EXPECT_EQ(numel_of(stage->parameters()), 218);
  EXPECT_THROW(make_stage(net, two, 2), std::invalid_argument);
}

TEST(PipelinePlan, RefusesWhatCannotBeSplit) {
  if (in_rank()) GTEST_SKIP();
  const auto message = [](const torch::nn::Sequential& net, int stages) {
    try {
      plan_stages(net, stages);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(make_four_layer_net(), 5).find("5 stages need at least as many layers, the network has 4"),
            std::string::npos);
  EXPECT_NE(message(make_four_layer_net(), 0).find("must be >= 1"), std::string::npos);
  EXPECT_NE(
      message(torch::nn::Sequential(torch::nn::Tanh(), torch::nn::Linear(2, 2)), 1).find("must start with a Linear"),
      std::string::npos);
  const auto norm =
      torch::nn::Sequential(torch::nn::Linear(2, 2), torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
  EXPECT_NE(message(norm, 1).find("holds parameters but is not a Linear layer"), std::string::npos);
}

// A module with parameters that the plan keeps whole (PPO's convolutional encoder): a layer of its
// own, so that a cut falls after it, with its own widths.
class WholeBlockImpl : public torch::nn::Module, public WholeLayer {
 public:
  WholeBlockImpl() { weight_ = register_parameter("weight", torch::ones({6, 3})); }
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(x.matmul(weight_.t())); }
  std::int64_t in_features() const override { return 3; }
  std::int64_t out_features() const override { return 6; }

 private:
  torch::Tensor weight_;
};
TORCH_MODULE(WholeBlock);

TEST(PipelinePlan, AWholeLayerIsOneLayer) {
  if (in_rank()) GTEST_SKIP();
  const torch::nn::Sequential net(WholeBlock(), torch::nn::Tanh(), torch::nn::Linear(6, 2));
  const auto plan = plan_stages(net, 2);
  EXPECT_EQ(plan.begin, (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(plan.end, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(plan.parameters, (std::vector<std::int64_t>{18, 14}));
  EXPECT_EQ(stage_features(make_stage(net, plan, 0)), (std::pair<std::int64_t, std::int64_t>{3, 6}));
  EXPECT_EQ(stage_features(make_stage(net, plan, 1)), (std::pair<std::int64_t, std::int64_t>{6, 2}));
  EXPECT_EQ(stage_features(net), (std::pair<std::int64_t, std::int64_t>{3, 2}));
  EXPECT_THROW(plan_stages(net, 3), std::invalid_argument);  // two layers
}

TEST(PipelinePlan, MicroBatchesAndLayout) {
  if (in_rank()) GTEST_SKIP();
  const auto ranges = micro_batch_ranges(10, 4);
  ASSERT_EQ(ranges.size(), 4u);
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected{{0, 3}, {3, 6}, {6, 8}, {8, 10}};
  for (std::size_t m = 0; m < 4; ++m) {
    EXPECT_EQ(ranges[m].begin, expected[m].first);
    EXPECT_EQ(ranges[m].end, expected[m].second);
  }
  EXPECT_EQ(micro_batch_ranges(7, 1).front().rows(), 7);
  EXPECT_THROW(micro_batch_ranges(3, 4), std::invalid_argument);
  EXPECT_THROW(micro_batch_ranges(3, 0), std::invalid_argument);

  const auto layout = ParallelLayout::for_world(6, 2);
  EXPECT_EQ(layout.replicas, 3);
  EXPECT_EQ(layout.pipeline_ranks(1), (std::vector<int>{2, 3}));
  EXPECT_EQ(layout.stage_ranks(1), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(layout.replica_of(5), 2);
  EXPECT_EQ(layout.stage_of(5), 1);
  EXPECT_THROW(ParallelLayout::for_world(3, 2), std::invalid_argument);
}

TEST(Pipeline, TwoStagesMatchTheUnsplitNetwork) {
  const int rc = launch_local(
      2, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, pipeline_join());
        const int rank = group.rank();
        torch::manual_seed(3);
        auto full = make_four_layer_net();
        torch::manual_seed(3);
        auto reference = make_four_layer_net();  // the unsplit network, for comparison only

        const auto plan = plan_stages(full, 2);
        auto stage = make_stage(full, plan, rank);
        const int other = 1 - rank;
        std::weak_ptr<torch::nn::Module> other_layer = full->children()[plan.begin[other]];
        full = nullptr;
        // This process holds only its stage: the other stage's layers are gone with `full`.
        EXPECT_TRUE(other_layer.expired());
        EXPECT_EQ(numel_of(stage->parameters()), plan.parameters[rank]);
        EXPECT_LT(numel_of(stage->parameters()), numel_of(reference->parameters()));
        EXPECT_EQ(parameter_bytes(*stage), 4 * plan.parameters[rank]);

        PipelineStage first_pipe(group, stage, 1);
        EXPECT_EQ(first_pipe.in_features(), rank == 0 ? 5 : 24);
        EXPECT_EQ(first_pipe.out_features(), rank == 0 ? 24 : 2);
        // The gathered weights are the unsplit network's, byte for byte.
        const auto gathered = first_pipe.gather_weights(0);
        if (rank == 0) {
          const auto bytes = agents::export_weights(*reference, 0).bytes;
          ASSERT_EQ(static_cast<std::size_t>(gathered.numel()) * 4, bytes.size());
          EXPECT_EQ(std::memcmp(gathered.data_ptr(), bytes.data(), bytes.size()), 0);
        } else {
          EXPECT_FALSE(gathered.defined());
        }

        const auto reference_params = parameters_of(reference, plan.begin[rank], plan.end[rank]);
        const auto stage_params = stage->parameters();
        ASSERT_EQ(stage_params.size(), reference_params.size());
        for (std::size_t i = 0; i < stage_params.size(); ++i) {
          EXPECT_TRUE(torch::equal(stage_params[i], reference_params[i])) << "parameter " << i;
        }

        torch::optim::Adam adam(stage->parameters(), torch::optim::AdamOptions(1e-2));
        torch::optim::Adam reference_adam(reference->parameters(), torch::optim::AdamOptions(1e-2));
        struct Case {
          std::int64_t batch_size;
          int micro_batches;
        };
        for (const Case c : {Case{12, 1}, Case{12, 4}, Case{10, 4}}) {
          SCOPED_TRACE("batch " + std::to_string(c.batch_size) + ", micro-batches " + std::to_string(c.micro_batches));
          torch::manual_seed(50 + c.batch_size + c.micro_batches);
          const auto x = torch::randn({c.batch_size, 5});
          const auto y = torch::randn({c.batch_size, 2});

          reference_adam.zero_grad();
          const auto reference_loss = torch::mse_loss(reference->forward(x), y);
          reference_loss.backward();

          adam.zero_grad();
          PipelineStage pipe(group, stage, c.micro_batches);
          const auto out =
              pipe.step(c.batch_size, x, [&](const torch::Tensor& output, std::int64_t begin, std::int64_t end) {
                return torch::mse_loss(output, y.slice(0, begin, end));
              });
          if (rank == 1) {
            ASSERT_TRUE(out.loss.defined());
            EXPECT_NEAR(out.loss.item<float>(), reference_loss.item<float>(), 1e-6);
          } else {
            EXPECT_FALSE(out.loss.defined());
          }
          for (std::size_t i = 0; i < stage_params.size(); ++i) {
            EXPECT_TRUE(torch::allclose(stage_params[i].grad(), reference_params[i].grad(), 1e-5, 1e-7))
                << "gradient " << i;
          }
          const auto output = pipe.forward(c.batch_size, x);
          if (rank == 1) {
            torch::NoGradGuard no_grad;
            EXPECT_TRUE(torch::allclose(output, reference->forward(x), 1e-6, 1e-7));
          } else {
            EXPECT_FALSE(output.defined());
          }
          adam.step();
          reference_adam.step();
        }
        // Each stage's optimizer holds Adam's two moments of its own parameters only.
        EXPECT_EQ(optimizer_state_bytes(adam), 2 * parameter_bytes(*stage));
        const auto after = first_pipe.gather_weights(0);
        if (rank == 0) {
          std::vector<torch::Tensor> parts;
          for (const auto& p : reference->parameters()) parts.push_back(p.detach().reshape({-1}));
          EXPECT_TRUE(torch::allclose(after, torch::cat(parts), 1e-5, 1e-6));
        }
        EXPECT_GT(group.stats().sendrecv_calls, 0);
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

TEST(Pipeline, TwoReplicasOfTwoStagesMatchOneProcess) {
  const int rc = launch_local(
      4, rank_body([](const RendezvousInfo& info) {
        auto group = ProcessGroup::join(info, pipeline_join());
        const auto layout = ParallelLayout::for_world(group.world_size(), 2);
        const int replica = layout.replica_of(group.rank()), stage_index = layout.stage_of(group.rank());
        auto pipeline_group = group.subgroup(layout.pipeline_ranks(replica));
        auto replicas_group = group.subgroup(layout.stage_ranks(stage_index));
        EXPECT_EQ(pipeline_group.rank(), stage_index);
        EXPECT_EQ(replicas_group.rank(), replica);

        torch::manual_seed(5);
        auto full = make_four_layer_net();
        torch::manual_seed(5);
        auto reference = make_four_layer_net();
        const auto plan = plan_stages(full, 2);
        auto stage = make_stage(full, plan, stage_index);
        full = nullptr;

        constexpr std::int64_t kRows = 8;  // per replica
        torch::manual_seed(77);
        const auto x = torch::randn({2 * kRows, 5});
        const auto y = torch::randn({2 * kRows, 2});
        const auto reference_loss = torch::mse_loss(reference->forward(x), y);
        reference_loss.backward();

        PipelineStage pipe(pipeline_group, stage, 2);
        const auto x_mine = x.narrow(0, replica * kRows, kRows), y_mine = y.narrow(0, replica * kRows, kRows);
        auto out = pipe.step(kRows, x_mine, [&](const torch::Tensor& output, std::int64_t begin, std::int64_t end) {
          return torch::mse_loss(output, y_mine.slice(0, begin, end));
        });
        std::vector<torch::Tensor> grads;
        for (const auto& p : stage->parameters()) grads.push_back(p.grad());
        replicas_group.average_gradients(grads);

        const auto reference_params = parameters_of(reference, plan.begin[stage_index], plan.end[stage_index]);
        const auto stage_params = stage->parameters();
        for (std::size_t i = 0; i < stage_params.size(); ++i) {
          EXPECT_TRUE(torch::allclose(stage_params[i].grad(), reference_params[i].grad(), 1e-5, 1e-7))
              << "gradient " << i;
        }
        if (stage_index == 1) {
          auto loss = out.loss.reshape({1}).clone();
          replicas_group.average_gradients(loss);
          EXPECT_NEAR(loss.item<float>(), reference_loss.item<float>(), 1e-6);
        }
      }),
      rerun_this_test());
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace apiary::parallel
