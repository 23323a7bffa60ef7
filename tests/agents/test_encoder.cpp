// Image encoders: output shapes, uint8 scaling, training, layer counts, parameter names, refusals.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/encoder.h"

namespace apiary::agents {
namespace {

struct Case {
  EncoderKind kind;
  std::vector<std::int64_t> shape;
  std::int64_t out;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {EncoderKind::kMinAtar, {10, 10, 4}, 128},
      {EncoderKind::kNature, {84, 84, 4}, 512},
      {EncoderKind::kImpala, {64, 64, 3}, 256},
      {EncoderKind::kMlp, {10, 10, 4}, 400},
  };
  return all;
}

torch::Tensor random_pixels(std::int64_t batch, const std::vector<std::int64_t>& shape, std::uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<std::int64_t> full{batch};
  full.insert(full.end(), shape.begin(), shape.end());
  return torch::randint(0, 256, full, torch::kUInt8);
}

std::int64_t count_convs(torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& m : module.modules(/*include_self=*/false)) n += m->as<torch::nn::Conv2d>() != nullptr;
  return n;
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no std::invalid_argument>";
}

TEST(Encoder, ParseAndName) {
  for (const char* name : {"mlp", "minatar", "nature", "impala"})
    EXPECT_STREQ(to_string(parse_encoder(name)), name);
  const std::string msg = message_of([] { parse_encoder("foo"); });
  EXPECT_NE(msg.find("'foo'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mlp, minatar, nature, impala"), std::string::npos) << msg;
  EXPECT_THROW(parse_encoder("Nature"), std::invalid_argument);
}

TEST(Encoder, OutputShapes) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(to_string(c.kind));
    ConvEncoder enc(c.kind, c.shape);
    EXPECT_EQ(enc->out_features(), c.out);
    const torch::Tensor out = enc->forward(random_pixels(5, c.shape, 1));
    EXPECT_EQ(out.sizes(), torch::IntArrayRef({5, c.out}));
    EXPECT_EQ(out.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
    // More leading dimensions: [T, B, H, W, C] -> [T, B, out], the same rows as the flat batch.
    const torch::Tensor pixels = random_pixels(6, c.shape, 2);
    std::vector<std::int64_t> tb{2, 3};
    tb.insert(tb.end(), c.shape.begin(), c.shape.end());
    const torch::Tensor out_tb = enc->forward(pixels.reshape(tb));
    EXPECT_EQ(out_tb.sizes(), torch::IntArrayRef({2, 3, c.out}));
    EXPECT_TRUE(torch::allclose(out_tb.reshape({6, c.out}), enc->forward(pixels), 1e-5, 1e-6));
  }
  // Non-square images and other sizes.
  EXPECT_EQ(ConvEncoder(EncoderKind::kNature, std::vector<std::int64_t>{36, 40, 1})
                ->forward(torch::zeros({2, 36, 40, 1}, torch::kUInt8)).sizes(),
            torch::IntArrayRef({2, 512}));
  EXPECT_EQ(ConvEncoder(EncoderKind::kImpala, std::vector<std::int64_t>{7, 5, 2})
                ->forward(torch::zeros({2, 7, 5, 2})).sizes(),
            torch::IntArrayRef({2, 256}));
  EXPECT_EQ(ConvEncoder(EncoderKind::kMlp, std::vector<std::int64_t>{4})->forward(torch::ones({3, 4})).sizes(),
            torch::IntArrayRef({3, 4}));
}

TEST(Encoder, Uint8IsScaledFloatIsNot) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(to_string(c.kind));
    ConvEncoder enc(c.kind, c.shape);
    const torch::Tensor pixels = random_pixels(4, c.shape, 3);
    const torch::Tensor from_u8 = enc->forward(pixels);
    const torch::Tensor from_f32 = enc->forward(pixels.to(torch::kFloat) / 255.0);
    EXPECT_TRUE(torch::allclose(from_u8, from_f32, 1e-3, 1e-4))  // x * (1/255) vs x / 255
        << (from_u8 - from_f32).abs().max().item<float>();
    if (c.kind == EncoderKind::kMlp) {
      EXPECT_TRUE(torch::allclose(from_u8, pixels.flatten(1).to(torch::kFloat) / 255.0));
    }
    // scale_uint8 = false: the uint8 input is only converted.
    ConvEncoder raw(c.kind, c.shape, /*scale_uint8=*/false);
    torch::NoGradGuard no_grad;
    const auto src = enc->parameters();
    const auto dst = raw->parameters();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
    EXPECT_TRUE(torch::allclose(raw->forward(pixels), enc->forward(pixels.to(torch::kFloat)), 1e-4, 1e-5));
  }
}

TEST(Encoder, AdamStepChangesEveryParameter) {
  for (const Case& c : cases()) {
    if (c.kind == EncoderKind::kMlp) continue;  // no parameters
    SCOPED_TRACE(to_string(c.kind));
    torch::manual_seed(4);
    ConvEncoder enc(c.kind, c.shape);
    torch::nn::Linear head(enc->out_features(), 1);
    std::vector<torch::Tensor> params = enc->parameters();
    ASSERT_FALSE(params.empty());
    std::vector<torch::Tensor> before;
    for (const auto& p : params) before.push_back(p.detach().clone());
    auto all = params;
    for (const auto& p : head->parameters()) all.push_back(p);
    torch::optim::Adam adam(all, torch::optim::AdamOptions(1e-3));
    const torch::Tensor x = random_pixels(8, c.shape, 5);
    const torch::Tensor target = torch::randn({8, 1});
    const torch::Tensor loss = torch::mse_loss(head->forward(enc->forward(x)), target);
    adam.zero_grad();
    loss.backward();
    adam.step();
    const auto named = enc->named_parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_FALSE(torch::equal(before[i], params[i].detach())) << named[i].key() << " did not change";
    }
  }
}

TEST(Encoder, ConvLayerCounts) {
  EXPECT_EQ(count_convs(*ConvEncoder(EncoderKind::kImpala, std::vector<std::int64_t>{64, 64, 3})), 15);
  EXPECT_EQ(count_convs(*ConvEncoder(EncoderKind::kNature, std::vector<std::int64_t>{84, 84, 4})), 3);
  EXPECT_EQ(count_convs(*ConvEncoder(EncoderKind::kMinAtar, std::vector<std::int64_t>{10, 10, 4})), 1);
  EXPECT_TRUE(ConvEncoder(EncoderKind::kMlp, std::vector<std::int64_t>{10, 10, 4})->parameters().empty());
}

TEST(Encoder, ParameterNamesAndShapes) {
  auto names = [](ConvEncoder& enc) {
    std::vector<std::string> out;
    for (const auto& p : enc->named_parameters()) out.push_back(p.key());
    return out;
  };
  ConvEncoder minatar(EncoderKind::kMinAtar, std::vector<std::int64_t>{10, 10, 4});
  EXPECT_EQ(names(minatar), (std::vector<std::string>{"conv0.weight", "conv0.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(minatar->named_parameters()["conv0.weight"].sizes(), torch::IntArrayRef({16, 4, 3, 3}));
  EXPECT_EQ(minatar->named_parameters()["fc.weight"].sizes(), torch::IntArrayRef({128, 16 * 8 * 8}));

  ConvEncoder nature(EncoderKind::kNature, std::vector<std::int64_t>{84, 84, 4});
  EXPECT_EQ(names(nature), (std::vector<std::string>{"conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias",
                                                     "conv2.weight", "conv2.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(nature->named_parameters()["conv0.weight"].sizes(), torch::IntArrayRef({32, 4, 8, 8}));
  EXPECT_EQ(nature->named_parameters()["fc.weight"].sizes(), torch::IntArrayRef({512, 64 * 7 * 7}));

  ConvEncoder impala(EncoderKind::kImpala, std::vector<std::int64_t>{64, 64, 3});
  std::vector<std::string> expected;
  for (int s = 0; s < 3; ++s) {
    const std::string stack = "stack" + std::to_string(s) + ".";
    for (const char* conv : {"conv", "res0.conv0", "res0.conv1", "res1.conv0", "res1.conv1"}) {
      expected.push_back(stack + conv + ".weight");
      expected.push_back(stack + conv + ".bias");
    }
  }
  expected.push_back("fc.weight");
  expected.push_back("fc.bias");
  EXPECT_EQ(names(impala), expected);
  EXPECT_EQ(impala->named_parameters()["stack0.conv.weight"].sizes(), torch::IntArrayRef({16, 3, 3, 3}));
  EXPECT_EQ(impala->named_parameters()["fc.weight"].sizes(), torch::IntArrayRef({256, 32 * 8 * 8}));

  // Registered under a prefix, as ActorCritic will.
  torch::nn::Module owner;
  owner.register_module("actor_encoder", nature);
  EXPECT_NE(owner.named_parameters().find("actor_encoder.conv2.bias"), nullptr);
}

TEST(Encoder, OrthogonalInit) {
  const double gain = std::sqrt(2.0);
  ConvEncoder nature(EncoderKind::kNature, std::vector<std::int64_t>{84, 84, 4}, true, true, gain);
  for (const auto& p : nature->named_parameters()) {
    SCOPED_TRACE(p.key());
    if (p.key().find("bias") != std::string::npos) {
      EXPECT_EQ(p.value().abs().max().item<float>(), 0.0f);
    } else {
      const torch::Tensor w = p.value().detach().flatten(1);  // [out, in], out <= in here
      ASSERT_LE(w.size(0), w.size(1));
      const torch::Tensor gram = torch::mm(w, w.t());
      EXPECT_TRUE(torch::allclose(gram, gain * gain * torch::eye(w.size(0)), 1e-4, 1e-4));
    }
  }
  // Without orthogonal_init the biases keep LibTorch's default (non-zero) initialisation.
  ConvEncoder plain(EncoderKind::kNature, std::vector<std::int64_t>{84, 84, 4}, true, false);
  EXPECT_GT(plain->named_parameters()["conv0.bias"].abs().max().item<float>(), 0.0f);
}

TEST(Encoder, BadShapesAreRefused) {
  EXPECT_EQ(message_of([] { validate_encoder(EncoderKind::kNature, {4}, "CartPole-v1"); }),
            "policy.encoder 'nature' needs an image observation (H, W, C); CartPole-v1 observes (4,)");
  EXPECT_EQ(message_of([] { validate_encoder(EncoderKind::kNature, {10, 10, 4}, "MinAtar/Breakout-v1"); }),
            "policy.encoder 'nature' needs an image of at least 36x36 (H, W); MinAtar/Breakout-v1 observes "
            "(10, 10, 4)");
  EXPECT_EQ(message_of([] { validate_encoder(EncoderKind::kImpala, {8, 8}, "Foo-v0"); }),
            "policy.encoder 'impala' needs an image observation (H, W, C); Foo-v0 observes (8, 8)");
  EXPECT_EQ(message_of([] { validate_encoder(EncoderKind::kMinAtar, {2, 10, 4}, "Foo-v0"); }),
            "policy.encoder 'minatar' needs an image of at least 3x3 (H, W); Foo-v0 observes (2, 10, 4)");
  EXPECT_THROW(validate_encoder(EncoderKind::kImpala, {0, 8, 3}, "Foo-v0"), std::invalid_argument);
  // mlp takes images (it flattens) and flat observations.
  EXPECT_NO_THROW(validate_encoder(EncoderKind::kMlp, {84, 84, 4}, "ALE/Pong-v5"));
  EXPECT_NO_THROW(validate_encoder(EncoderKind::kMlp, {4}, "CartPole-v1"));
  EXPECT_NO_THROW(validate_encoder(EncoderKind::kNature, {36, 36, 1}, "Foo-v0"));
  EXPECT_TRUE(is_image_shape({84, 84, 4}));
  EXPECT_FALSE(is_image_shape({4}));
  EXPECT_FALSE(is_image_shape({1, 84, 84, 4}));

  // The constructor refuses the same shapes.
  const std::string msg = message_of([] { ConvEncoder(EncoderKind::kNature, std::vector<std::int64_t>{35, 84, 4}); });
  EXPECT_NE(msg.find("at least 36x36"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(35, 84, 4)"), std::string::npos) << msg;
  EXPECT_THROW(ConvEncoder(EncoderKind::kImpala, std::vector<std::int64_t>{4}), std::invalid_argument);
  EXPECT_THROW(ConvEncoder(EncoderKind::kMinAtar, std::vector<std::int64_t>{10, 10, 4}, true, true, -1.0),
               std::invalid_argument);

  // forward refuses observations of another shape or dtype.
  ConvEncoder enc(EncoderKind::kMinAtar, std::vector<std::int64_t>{10, 10, 4});
  EXPECT_THROW(enc->forward(torch::zeros({2, 4, 10, 10})), c10::Error);  // channels first
  EXPECT_THROW(enc->forward(torch::zeros({10, 10, 4})), c10::Error);     // no batch dimension
  EXPECT_THROW(enc->forward(torch::zeros({2, 10, 10, 4}, torch::kInt)), c10::Error);
}

TEST(Encoder, ReducedPrecisionModule) {
  // A module converted to bf16 takes uint8 and bf16 input and computes in bf16.
  ConvEncoder enc(EncoderKind::kNature, std::vector<std::int64_t>{84, 84, 4});
  const torch::Tensor pixels = random_pixels(2, {84, 84, 4}, 6);
  const torch::Tensor ref = enc->forward(pixels);
  enc->to(torch::kBFloat16);
  const torch::Tensor out = enc->forward(pixels);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::allclose(out.to(torch::kFloat), ref, 0.05, 0.05));
  EXPECT_EQ(enc->forward(pixels.to(torch::kBFloat16) / 255.0).scalar_type(), torch::kBFloat16);
}

TEST(Encoder, EmptyBatch) {
  ConvEncoder enc(EncoderKind::kImpala, std::vector<std::int64_t>{16, 16, 3});
  EXPECT_EQ(enc->forward(torch::zeros({0, 16, 16, 3}, torch::kUInt8)).sizes(), torch::IntArrayRef({0, 256}));
}

}  // namespace
}  // namespace apiary::agents
