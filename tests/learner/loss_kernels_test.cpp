// The loss kernels (learner/loss_kernels.h) and the MLP body's backward (agents/dense_kernels.h) against
// LibTorch: values against its functions, gradients against autograd, on random rows and on the ties
// and clip bounds where max() splits the gradient and clamp() stops it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/dense_kernels.h"
#include "agents/distributions.h"
#include "learner/loss_kernels.h"
#include "learner/losses.h"

namespace apiary::learner {
namespace {

// (Names carry lk_: test_learner is a unity build in CI.)
std::vector<float> lk_floats(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor lk_tensor(const std::vector<float>& v) { return torch::tensor(v, torch::kFloat); }

// The largest |got - want| over the elements, relative to max(1, the largest |want|).
double lk_rel_diff(const std::vector<float>& got, const torch::Tensor& want) {
  const torch::Tensor w = want.detach().to(torch::kDouble).flatten();
  EXPECT_EQ(static_cast<std::int64_t>(got.size()), w.numel());
  const torch::Tensor g = torch::tensor(std::vector<double>(got.begin(), got.end()), torch::kDouble);
  return (g - w).abs().max().item<double>() / std::max(1.0, w.abs().max().item<double>());
}

TEST(LossKernels, StandardizeAdvantagesAsNormalizeAdvantages) {
  torch::manual_seed(3);
  const torch::Tensor adv = torch::randn({257}) * 3.0 + 0.5;
  std::vector<float> out(257);
  standardize_advantages(lk_floats(adv).data(), 257, out.data());
  EXPECT_LT(lk_rel_diff(out, normalize_advantages(adv)), 1e-6);
  // By hand: mean 2, unbiased std sqrt(2).
  const float two[] = {1.0f, 3.0f};
  float two_out[2];
  standardize_advantages(two, 2, two_out);
  EXPECT_NEAR(two_out[0], -1.0 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(two_out[1], 1.0 / std::sqrt(2.0), 1e-6);
}

struct LkCategoricalBatch {
  std::int64_t rows = 0, n = 5;
  torch::Tensor logits, actions;
};

// Random logits, a row of equal logits and a row far from 0 (the max subtracted before exp).
LkCategoricalBatch lk_categorical_batch() {
  torch::manual_seed(5);
  LkCategoricalBatch b;
  b.rows = 40;
  b.logits = torch::randn({b.rows, b.n}) * 3.0;
  b.logits[0] = 0.7;
  b.logits[1] += 90.0;
  b.actions = torch::randint(b.n, {b.rows}, torch::kLong);
  return b;
}

TEST(LossKernels, CategoricalLogProbAndEntropyMatchLibTorch) {
  const LkCategoricalBatch b = lk_categorical_batch();
  std::vector<float> log_p(b.rows * b.n), log_prob(b.rows), entropy(b.rows);
  categorical_log_prob_forward(lk_floats(b.logits).data(), b.actions.data_ptr<std::int64_t>(), b.rows, b.n,
                               log_p.data(), log_prob.data(), entropy.data());
  EXPECT_LT(lk_rel_diff(log_p, torch::log_softmax(b.logits, -1)), 1e-6);
  EXPECT_LT(lk_rel_diff(log_prob, agents::categorical_log_prob(b.logits, b.actions)), 1e-6);
  EXPECT_LT(lk_rel_diff(entropy, agents::categorical_entropy(b.logits)), 1e-6);
  EXPECT_NEAR(entropy[0], std::log(5.0), 1e-6) << "equal logits: the uniform distribution";
}

TEST(LossKernels, CategoricalBackwardMatchesAutograd) {
  const LkCategoricalBatch b = lk_categorical_batch();
  const torch::Tensor g_log_prob = torch::randn({b.rows});
  const float g_entropy = -0.37f;  // large enough that a wrong entropy term shows
  const torch::Tensor logits = b.logits.clone().requires_grad_(true);
  const torch::Tensor loss = (g_log_prob * agents::categorical_log_prob(logits, b.actions)).sum() +
                             g_entropy * agents::categorical_entropy(logits).sum();
  loss.backward();

  std::vector<float> log_p(b.rows * b.n), log_prob(b.rows), entropy(b.rows), d_logits(b.rows * b.n);
  const std::int64_t* actions = b.actions.data_ptr<std::int64_t>();
  categorical_log_prob_forward(lk_floats(b.logits).data(), actions, b.rows, b.n, log_p.data(), log_prob.data(),
                               entropy.data());
  categorical_log_prob_backward(log_p.data(), actions, entropy.data(), lk_floats(g_log_prob).data(), g_entropy, b.rows,
                                b.n, d_logits.data());
  EXPECT_LT(lk_rel_diff(d_logits, logits.grad()), 1e-6);
  // In place, as PPO's step runs it (d_logits over log_p): the same.
  categorical_log_prob_backward(log_p.data(), actions, entropy.data(), lk_floats(g_log_prob).data(), g_entropy, b.rows,
                                b.n, log_p.data());
  EXPECT_EQ(log_p, d_logits);
}

TEST(LossKernels, CategoricalRefusesAnActionOutsideTheLogits) {
  const float logits[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  float log_p[6], log_prob[2], entropy[2];
  for (const std::int64_t bad : {3, -1}) {
    const std::int64_t actions[] = {2, bad};
    try {
      categorical_log_prob_forward(logits, actions, 2, 3, log_p, log_prob, entropy);
      FAIL() << "action " << bad << " was accepted";
    } catch (const std::out_of_range& e) {
      const std::string want = "action " + std::to_string(bad) + " of row 1 is outside [0, 3)";
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

struct LkGaussianBatch {
  std::int64_t rows = 30, dim = 3;
  torch::Tensor mean, log_std, actions;
};

LkGaussianBatch lk_gaussian_batch() {
  torch::manual_seed(7);
  LkGaussianBatch b;
  b.mean = torch::randn({b.rows, b.dim});
  b.log_std = torch::tensor({-0.5f, 0.3f, -1.2f});
  b.actions = b.mean + torch::randn({b.rows, b.dim}) * 1.5;
  return b;
}

TEST(LossKernels, DiagGaussianLogProbAndEntropyMatchLibTorch) {
  const LkGaussianBatch b = lk_gaussian_batch();
  std::vector<float> log_prob(b.rows);
  const std::vector<float> log_std = lk_floats(b.log_std);
  diag_gaussian_log_prob_forward(lk_floats(b.mean).data(), lk_floats(b.actions).data(), log_std.data(), b.rows, b.dim,
                                 log_prob.data());
  // The Normal density written out in double, and the actor's own function.
  const torch::Tensor var = (2.0 * b.log_std.to(torch::kDouble)).exp();
  const torch::Tensor diff = (b.actions - b.mean).to(torch::kDouble);
  const torch::Tensor normal =
      (-diff * diff / (2.0 * var) - b.log_std.to(torch::kDouble) - 0.5 * std::log(2.0 * M_PI)).sum(-1);
  EXPECT_LT(lk_rel_diff(log_prob, normal), 1e-6);
  EXPECT_LT(lk_rel_diff(log_prob, agents::gaussian_log_prob(b.mean, b.log_std, b.actions)), 1e-6);
  const float entropy = diag_gaussian_entropy(log_std.data(), b.dim);
  EXPECT_NEAR(entropy, agents::gaussian_entropy(b.mean, b.log_std)[0].item<double>(), 1e-6);
  EXPECT_NEAR(entropy, 3 * (0.5 + 0.5 * std::log(2.0 * M_PI)) + (-0.5 + 0.3 - 1.2), 1e-6);
}

TEST(LossKernels, DiagGaussianBackwardMatchesAutograd) {
  const LkGaussianBatch b = lk_gaussian_batch();
  const torch::Tensor g_log_prob = torch::randn({b.rows});
  const double g_entropy_sum = -0.21;  // d loss / d the batch's mean entropy
  const torch::Tensor mean = b.mean.clone().requires_grad_(true);
  const torch::Tensor log_std = b.log_std.clone().requires_grad_(true);
  const torch::Tensor loss = (g_log_prob * agents::gaussian_log_prob(mean, log_std, b.actions)).sum() +
                             g_entropy_sum * agents::gaussian_entropy(mean, log_std).mean();
  loss.backward();

  std::vector<float> d_mean(b.rows * b.dim);
  std::vector<float> log_std_grad(b.dim, 0.25f);  // added into
  diag_gaussian_log_prob_backward(lk_floats(b.mean).data(), lk_floats(b.actions).data(), lk_floats(b.log_std).data(),
                                  lk_floats(g_log_prob).data(), g_entropy_sum, b.rows, b.dim, d_mean.data(),
                                  log_std_grad.data());
  EXPECT_LT(lk_rel_diff(d_mean, mean.grad()), 1e-6);
  EXPECT_LT(lk_rel_diff(log_std_grad, log_std.grad() + 0.25), 1e-6);
}

// Every (ratio, advantage) pair: the clip bounds themselves, just inside and outside them, 1, far off
// on both sides, and a zero advantage (a tie outside the clip range).
TEST(LossKernels, ClippedSurrogateMatchesAutogradAtTiesAndClipBounds) {
  const float c = 0.2f, lo = 1.0f - c, hi = 1.0f + c;
  std::vector<float> ratios = {lo, hi, 1.0f, 0.3f, 2.7f, std::nextafter(lo, 0.0f), std::nextafter(lo, 2.0f),
                               std::nextafter(hi, 0.0f), std::nextafter(hi, 2.0f)};
  torch::manual_seed(9);
  for (const float r : lk_floats(torch::exp(torch::randn({12}) * 0.4))) ratios.push_back(r);
  std::vector<float> ratio_rows, adv_rows;
  for (const float r : ratios) {
    for (const float a : {-1.7f, -0.3f, 0.0f, 0.8f, 2.5f}) {
      ratio_rows.push_back(r);
      adv_rows.push_back(a);
    }
  }
  const torch::Tensor ratio = lk_tensor(ratio_rows).requires_grad_(true);
  const torch::Tensor adv = lk_tensor(adv_rows);
  const torch::Tensor ref = torch::max(-adv * ratio, -adv * torch::clamp(ratio, lo, hi));
  ref.sum().backward();
  const std::vector<float> ref_value = lk_floats(ref), ref_grad = lk_floats(ratio.grad());
  for (std::size_t i = 0; i < ratio_rows.size(); ++i) {
    SCOPED_TRACE("ratio " + std::to_string(ratio_rows[i]) + ", advantage " + std::to_string(adv_rows[i]));
    EXPECT_FLOAT_EQ(clipped_surrogate_forward(ratio_rows[i], adv_rows[i], c), ref_value[i]);
    EXPECT_FLOAT_EQ(clipped_surrogate_backward(ratio_rows[i], adv_rows[i], c), ref_grad[i]);
  }
  // At the bound the clamp still passes its half: the whole -A.
  EXPECT_EQ(clipped_surrogate_backward(hi, 2.5f, c), -2.5f);
  EXPECT_EQ(clipped_surrogate_backward(std::nextafter(hi, 2.0f), 2.5f, c), 0.0f);
}

// (v, old value, return) rows with c = 0.25 (exact in float): v - old at the bounds, inside and outside
// them, ties where the return lies halfway between v and its clipped value, and random rows.
TEST(LossKernels, ValueErrorsMatchAutogradAtTiesAndClipBounds) {
  const float c = 0.25f;
  std::vector<float> v = {1.25f, 0.75f, 1.1f, 1.0f, -1.0f, 1.0f, 2.0f, 0.5f};
  std::vector<float> old_v = {1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
  std::vector<float> ret = {0.5f, 0.5f, 1.1f, 0.625f, -0.625f, 3.0f, 0.0f, 0.2f};
  torch::manual_seed(13);
  const torch::Tensor rv = torch::randn({40}), ro = rv + torch::randn({40}) * 0.4, rr = rv + torch::randn({40});
  for (std::int64_t i = 0; i < 40; ++i) {
    v.push_back(rv[i].item<float>());
    old_v.push_back(ro[i].item<float>());
    ret.push_back(rr[i].item<float>());
  }
  const torch::Tensor vt = lk_tensor(v).requires_grad_(true), ot = lk_tensor(old_v), rt = lk_tensor(ret);
  const torch::Tensor v_clipped = ot + torch::clamp(vt - ot, -c, c);
  const torch::Tensor clipped = torch::max((vt - rt).pow(2), (v_clipped - rt).pow(2));
  const torch::Tensor plain = (vt - rt).pow(2);
  const torch::Tensor clipped_grad = torch::autograd::grad({clipped.sum()}, {vt}, {}, true)[0];
  const torch::Tensor plain_grad = torch::autograd::grad({plain.sum()}, {vt})[0];
  for (std::size_t i = 0; i < v.size(); ++i) {
    SCOPED_TRACE("v " + std::to_string(v[i]) + ", old " + std::to_string(old_v[i]) + ", return " +
                 std::to_string(ret[i]));
    EXPECT_FLOAT_EQ(clipped_value_error_forward(v[i], old_v[i], ret[i], c), clipped[i].item<float>());
    EXPECT_FLOAT_EQ(clipped_value_error_backward(v[i], old_v[i], ret[i], c), clipped_grad[i].item<float>());
    EXPECT_FLOAT_EQ(squared_error_forward(v[i], ret[i]), plain[i].item<float>());
    EXPECT_FLOAT_EQ(squared_error_backward(v[i], ret[i]), plain_grad[i].item<float>());
  }
  // By hand: at the bound the clamp passes (the whole 2 (v - ret)); at the tie v = 1, clipped 0.25 and
  // return 0.625 the unclipped side alone passes, at half weight.
  EXPECT_EQ(clipped_value_error_backward(1.25f, 1.0f, 0.5f, c), 1.5f);
  EXPECT_EQ(clipped_value_error_backward(1.0f, 0.0f, 0.625f, c), 0.375f);
}

// A body of `widths` on x[rows, in]: the kernels' gradients (added into non-zero ones) and the input's
// against autograd of sum(G * body(x)) for a random G.
void lk_expect_body_backward_matches(const std::vector<std::int64_t>& widths, bool tanh) {
  SCOPED_TRACE(std::string(tanh ? "tanh" : "relu") + ", " + std::to_string(widths.size()) + " layers");
  torch::manual_seed(17);
  const std::int64_t rows = 19, in = 6;
  const torch::Tensor x = torch::randn({rows, in}).requires_grad_(true);
  std::vector<torch::Tensor> w, b;
  std::vector<std::vector<float>> wv, bv, wg, bg;
  std::vector<agents::DenseLayer> body;
  std::int64_t width = in;
  for (const std::int64_t out : widths) {
    w.push_back((torch::randn({out, width}) / std::sqrt(static_cast<double>(width))).requires_grad_(true));
    b.push_back((torch::randn({out}) * 0.1).requires_grad_(true));
    wv.push_back(lk_floats(w.back()));
    bv.push_back(lk_floats(b.back()));
    wg.emplace_back(out * width, 0.5f);
    bg.emplace_back(out, 0.5f);
    width = out;
  }
  for (std::size_t l = 0; l < widths.size(); ++l)
    body.push_back({wv[l].data(), bv[l].data(), wg[l].data(), bg[l].data(), l == 0 ? in : widths[l - 1], widths[l]});
  torch::Tensor h = x;
  for (std::size_t l = 0; l < widths.size(); ++l) {
    h = torch::addmm(b[l], h, w[l].t());
    h = tanh ? torch::tanh(h) : torch::relu(h);
  }
  const torch::Tensor g = torch::randn({rows, width});
  (g * h).sum().backward();

  std::vector<std::vector<float>> hidden;
  std::vector<float> scratch, scratch_next, dx(rows * in);
  const std::vector<float> xv = lk_floats(x);
  agents::dense_body_forward(body, xv.data(), rows, tanh, hidden);
  EXPECT_LT(lk_rel_diff(hidden.back(), h), 1e-5) << "the forward pass it mirrors";
  std::vector<float> d_out = lk_floats(g);
  agents::dense_body_backward(body, xv.data(), hidden, rows, tanh, d_out.data(), dx.data(), scratch, scratch_next);
  for (std::size_t l = 0; l < widths.size(); ++l) {
    EXPECT_LT(lk_rel_diff(wg[l], w[l].grad() + 0.5), 1e-5) << "weight " << l;
    EXPECT_LT(lk_rel_diff(bg[l], b[l].grad() + 0.5), 1e-5) << "bias " << l;
  }
  EXPECT_LT(lk_rel_diff(dx, x.grad()), 1e-5) << "the input";
}

// A suite of its own: it skips where the build found no BLAS (tests/run_suite.sh).
TEST(DenseBodyBackwardBlas, MatchesAutogradForTanhAndRelu) {
  if (!agents::dense_kernels_available()) GTEST_SKIP() << "the build found no BLAS";
  for (const bool tanh : {true, false}) {
    lk_expect_body_backward_matches({16}, tanh);
    lk_expect_body_backward_matches({16, 8, 12}, tanh);
  }
}

TEST(DenseBodyBackward, AnEmptyBodyChangesNothing) {
  std::vector<std::vector<float>> hidden;
  std::vector<float> scratch, scratch_next, d_out = {1.0f, 2.0f}, dx = {7.0f, 7.0f};
  agents::dense_body_backward({}, d_out.data(), hidden, 1, true, d_out.data(), dx.data(), scratch, scratch_next);
  EXPECT_EQ(d_out, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(dx, (std::vector<float>{7.0f, 7.0f}));
}

}  // namespace
}  // namespace apiary::learner
