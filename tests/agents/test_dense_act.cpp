// ActorCritic::dense_act and dense_mode (the dense kernels, fp32 on the CPU; what ActorCriticPolicy
// acts with) against act(), mode() and the LibTorch forward pass of the same network: the same values,
// log-probabilities and deterministic actions, Gaussian samples drawn from the same noise, categorical
// samples with the softmax's frequencies; and the kernels' tanh.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/dense_kernels.h"
#include "agents/distributions.h"
#include "agents/policy.h"

namespace apiary::agents {
namespace {

constexpr std::int64_t kObsDim = 5;

struct Net {
  std::string name;
  bool discrete;
  std::vector<std::int64_t> hidden;
  std::string activation;
  bool shared_trunk;
  bool scale_obs;
};

ActorCritic make_net(const Net& n) {
  torch::manual_seed(3);
  PolicyConfig pc;
  pc.hidden_sizes = n.hidden;
  pc.activation = n.activation;
  pc.shared_trunk = n.shared_trunk;
  pc.actor_output_gain = 1.0;
  pc.init_log_std = -0.7;
  if (n.scale_obs) {
    pc.obs_low = {-2.0f, 0.0f, -std::numeric_limits<float>::infinity(), -4.0f, -1.0f};
    pc.obs_high = {2.0f, 1.0f, std::numeric_limits<float>::infinity(), 4.0f, 3.0f};
  }
  return ActorCritic(kObsDim, n.discrete ? envs::Space::discrete(4) : envs::Space::box({-1, -1}, {1, 1}), pc);
}

std::vector<Net> nets() {
  return {{"discrete tanh 64x64", true, {64, 64}, "tanh", false, false},
          {"discrete relu 32, scaled obs", true, {32}, "relu", false, true},
          {"discrete shared trunk", true, {16, 16}, "tanh", true, false},
          {"discrete linear heads", true, {}, "tanh", false, false},
          {"box tanh 64x64", false, {64, 64}, "tanh", false, false},
          {"box relu 24x24, scaled obs", false, {24, 24}, "relu", false, true},
          {"box shared trunk", false, {32}, "relu", true, false}};
}

TEST(DenseAct, MatchesTheLibTorchForwardPass) {
  ASSERT_TRUE(dense_kernels_available()) << "the build found no BLAS: act() would run on LibTorch only";
  torch::set_num_threads(1);
  for (const Net& n : nets()) {
    SCOPED_TRACE(n.name);
    ActorCritic net = make_net(n);
    const torch::Tensor obs = torch::randn({37, kObsDim}) * 2.0;
    torch::NoGradGuard no_grad;
    const PolicyOut ref = net->forward(obs);

    ActOut greedy;
    ASSERT_TRUE(net->dense_act(obs, /*deterministic=*/true, nullptr, greedy));
    torch::Tensor mode;
    ASSERT_TRUE(net->dense_mode(obs, mode));
    EXPECT_TRUE(torch::equal(mode, greedy.action)) << "dense_mode is dense_act's deterministic action";
    EXPECT_LT((greedy.value - ref.value).abs().max().item<double>(), 1e-5);
    if (n.discrete) {
      EXPECT_TRUE(torch::equal(greedy.action, ref.logits.argmax(-1)));
      EXPECT_LT((greedy.log_prob - categorical_log_prob(ref.logits, greedy.action)).abs().max().item<double>(), 1e-5);
    } else {
      EXPECT_LT((greedy.action - ref.mean).abs().max().item<double>(), 1e-5);
    }

    // Sampled actions: their log-probabilities as the distributions compute them; Gaussian samples are
    // the mean plus exp(log_std) times the noise LibTorch's generator gives next.
    torch::manual_seed(99);
    ActOut sampled;
    ASSERT_TRUE(net->dense_act(obs, /*deterministic=*/false, nullptr, sampled));
    EXPECT_EQ(sampled.action.scalar_type(), n.discrete ? torch::kLong : torch::kFloat);
    if (n.discrete) {
      EXPECT_LT((sampled.log_prob - categorical_log_prob(ref.logits, sampled.action)).abs().max().item<double>(), 1e-5);
    } else {
      torch::manual_seed(99);
      const torch::Tensor noise = torch::randn(ref.mean.sizes());
      EXPECT_LT((sampled.action - (ref.mean + net->log_std().exp() * noise)).abs().max().item<double>(), 1e-5);
      EXPECT_LT((sampled.log_prob - gaussian_log_prob(ref.mean, net->log_std(), sampled.action)).abs().max().item<double>(),
                1e-4);
    }
  }
}

// One observation repeated 20000 times: each action's frequency within 5 standard errors of its
// softmax probability, and the same generator state gives the same draws.
TEST(DenseAct, CategoricalSamplesFollowTheSoftmax) {
  torch::set_num_threads(1);
  ActorCritic net = make_net(nets()[0]);
  constexpr std::int64_t kRows = 20000;
  const torch::Tensor obs = torch::randn({1, kObsDim}).expand({kRows, kObsDim}).contiguous();
  torch::NoGradGuard no_grad;
  const torch::Tensor probs = torch::softmax(net->forward(obs.slice(0, 0, 1)).logits, -1)[0];
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  ActOut out;
  ASSERT_TRUE(net->dense_act(obs, /*deterministic=*/false, &gen, out));
  const torch::Tensor counts = torch::bincount(out.action, {}, 4).to(torch::kDouble);
  for (std::int64_t k = 0; k < 4; ++k) {
    const double p = probs[k].item<double>();
    const double freq = counts[k].item<double>() / kRows;
    EXPECT_NEAR(freq, p, 5.0 * std::sqrt(p * (1 - p) / kRows) + 1e-9) << "action " << k;
  }
  EXPECT_GT(probs.min().item<double>(), 0.02) << "a near-deterministic policy would test little";
  auto again = at::make_generator<at::CPUGeneratorImpl>(5);
  ActOut repeat;
  ASSERT_TRUE(net->dense_act(obs, false, &again, repeat));
  EXPECT_TRUE(torch::equal(repeat.action, out.action));
}

TEST(DenseAct, NonFiniteObservationsAreRefusedNamingTheRow) {
  ActorCritic net = make_net(nets()[0]);
  torch::Tensor obs = torch::zeros({3, kObsDim});
  obs[2][1] = std::numeric_limits<float>::quiet_NaN();
  try {
    ActOut out;
    net->dense_act(obs, /*deterministic=*/false, nullptr, out);
    FAIL() << "a NaN observation was acted on";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
  }
}

// ActorCriticPolicy, which actors and evaluations use, acts through the dense path; a bf16 autocast
// region (reduced precision) keeps to LibTorch's operators.
TEST(DenseAct, ThePolicyActsThroughItWhereItApplies) {
  ActorCritic net = make_net(nets()[4]);
  ActorCriticPolicy policy(net);
  const torch::Tensor obs = torch::randn({9, kObsDim});
  ActContext ctx;
  ctx.deterministic = true;
  torch::Tensor mode;
  ASSERT_TRUE(net->dense_mode(obs, mode));
  EXPECT_TRUE(torch::equal(policy.act(obs, ctx).action, mode));
  EXPECT_TRUE(torch::equal(policy.deterministic_action(obs), mode));
  {
    at::autocast::set_cpu_enabled(true);
    ActOut out;
    EXPECT_FALSE(net->dense_act(obs, true, nullptr, out)) << "under autocast the dense path steps aside";
    at::autocast::set_cpu_enabled(false);
  }
  ActorCritic on_double = make_net(nets()[4]);
  on_double->to(torch::kDouble);
  ActOut out;
  EXPECT_FALSE(on_double->dense_act(obs.to(torch::kDouble), true, nullptr, out));
}

TEST(DenseKernels, TanhIsWithinAFewUlpOfLibm) {
  std::vector<float> x;
  for (double v = -12.0; v <= 12.0; v += 3e-4) x.push_back(static_cast<float>(v));
  for (const float v : {0.0f, -0.0f, 1e-30f, -1e-7f, 0.2f, 0.19999999f, 9.0f, 1e30f, -1e30f}) x.push_back(v);
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  std::vector<float> y = x;
  tanh_inplace(y.data(), static_cast<std::int64_t>(y.size()));
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double ref = std::tanh(static_cast<double>(x[i]));
    const double ulp = std::max(std::abs(ref), 1e-30) * std::numeric_limits<float>::epsilon();
    worst = std::max(worst, std::abs(y[i] - ref) / ulp);
  }
  EXPECT_LT(worst, 8.0) << "worst error in float ulps";
  float nan = std::numeric_limits<float>::quiet_NaN();
  tanh_inplace(&nan, 1);
  EXPECT_TRUE(std::isnan(nan));
  // Runs of eight take the AVX2 lanes where the CPU has them, single elements the portable loop: the
  // two agree bitwise, NaN included.
  std::vector<float> one_by_one = x;
  one_by_one[5] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> batched = one_by_one;
  for (float& v : one_by_one) tanh_inplace(&v, 1);
  tanh_inplace(batched.data(), static_cast<std::int64_t>(batched.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (i == 5) {
      EXPECT_TRUE(std::isnan(batched[i]));
    } else {
      ASSERT_EQ(batched[i], one_by_one[i]) << "x = " << x[i];
    }
  }
}

// dense_forward and dense_backward against double loops, on shapes that take the small AVX2 product
// (widths in eights up to 64: 8, 24, 32, 40; rows not a multiple of 4) and OpenBLAS (widths 1, 3, 72;
// a batch of 300 for the weight gradient), both weight layouts, gradients accumulated onto old values.
TEST(DenseKernels, LayersMatchDoubleLoopsOnEveryShape) {
  if (!dense_kernels_available()) GTEST_SKIP() << "built without a BLAS: the dense kernels do not run";
  std::uint32_t state = 12345;
  const auto draw = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
  };
  for (const bool in_out : {false, true})
    for (const std::int64_t rows : {1, 7, 300})
      for (const std::int64_t in : {3, 8, 32, 40, 72})
        for (const std::int64_t out : {1, 8, 24, 32, 72}) {
          SCOPED_TRACE(::testing::Message() << "rows " << rows << " in " << in << " out " << out << " in_out " << in_out);
          std::vector<float> w(in * out), b(out), x(rows * in), dz(rows * out);
          for (auto* v : {&w, &b, &x, &dz})
            for (float& f : *v) f = draw();
          const auto weight = [&](std::int64_t o, std::int64_t i) { return in_out ? w[i * out + o] : w[o * in + i]; };
          std::vector<float> wg(w.size()), bg(b.size());
          for (float& f : wg) f = draw();
          for (float& f : bg) f = draw();
          const std::vector<float> wg0 = wg, bg0 = bg;
          DenseLayer layer;
          layer.weight = w.data();
          layer.bias = b.data();
          layer.weight_grad = wg.data();
          layer.bias_grad = bg.data();
          layer.in = in;
          layer.out = out;
          layer.weight_in_out = in_out;
          std::vector<float> y(rows * out), dx(rows * in, 123.0f);
          dense_forward(layer, x.data(), rows, y.data(), /*activate=*/false, /*tanh=*/false);
          dense_backward(layer, x.data(), dz.data(), rows, dx.data());
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t o = 0; o < out; ++o) {
              double ref = b[o];
              for (std::int64_t i = 0; i < in; ++i) ref += static_cast<double>(x[r * in + i]) * weight(o, i);
              ASSERT_NEAR(y[r * out + o], ref, 1e-5) << "y[" << r << ", " << o << "]";
            }
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t i = 0; i < in; ++i) {
              double ref = 0.0;
              for (std::int64_t o = 0; o < out; ++o) ref += static_cast<double>(dz[r * out + o]) * weight(o, i);
              ASSERT_NEAR(dx[r * in + i], ref, 1e-5) << "dx[" << r << ", " << i << "]";
            }
          for (std::int64_t o = 0; o < out; ++o) {
            double bref = bg0[o];
            for (std::int64_t r = 0; r < rows; ++r) bref += dz[r * out + o];
            ASSERT_NEAR(bg[o], bref, 1e-4) << "bias grad " << o;
            for (std::int64_t i = 0; i < in; ++i) {
              const std::size_t at = static_cast<std::size_t>(in_out ? i * out + o : o * in + i);
              double ref = wg0[at];
              for (std::int64_t r = 0; r < rows; ++r) ref += static_cast<double>(dz[r * out + o]) * x[r * in + i];
              ASSERT_NEAR(wg[at], ref, 1e-4) << "weight grad " << o << ", " << i;
            }
          }
        }
}

}  // namespace
}  // namespace apiary::agents
