#include "agents/encoder.h"

#include "agents/policy_config.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

namespace apiary::agents {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                       std::int64_t padding) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// conv->forward(x), with the weight in channels-last layout on the CPU. oneDNN's fast fp32 kernels
// are the NHWC ones; LibTorch picks them when the input or the weight is channels-last. A permuted
// [N, H, W, C] batch already is, but an input stored NCHW (a [N, H, W, C] view of NCHW storage) with
// NCHW weights takes the slow path: a Nature-CNN training step at batch 256 took 401 ms instead of
// 112 ms (LibTorch 1.13, one thread, AVX-512; /tmp/enc_bench.cpp). The parameter itself stays
// contiguous (the flat parameter buffers of learner/optim.h, weight export and checkpoints assume
// it); the per-call copy of the weight is small and autograd carries its gradient back.
torch::Tensor conv_forward(torch::nn::Conv2d& conv, const torch::Tensor& x, std::int64_t stride,
                           std::int64_t padding) {
  if (!x.is_cpu() || x.numel() == 0) return conv->forward(x);  // (an empty batch fails in 1.13)
  const std::int64_t strides[2] = {stride, stride}, paddings[2] = {padding, padding};
  return torch::conv2d(x, conv->weight.contiguous(torch::MemoryFormat::ChannelsLast), conv->bias,
                       torch::IntArrayRef(strides), torch::IntArrayRef(paddings));
}

// Output size of a convolution or pooling along one dimension.
std::int64_t out_size(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) n *= d;
  return n;
}

// The shape checks of validate_encoder; `who` is the env id or "the observation".
void check_shape(EncoderKind kind, const std::vector<std::int64_t>& shape, const std::string& who) {
  const std::string name = std::string("policy.encoder '") + to_string(kind) + "'";
  bool positive = !shape.empty();
  for (const std::int64_t d : shape) positive = positive && d > 0;
  if (kind == EncoderKind::kMlp) {
    if (!positive)
      throw std::invalid_argument(name + " needs an observation with positive dimensions; " + who +
                                  " observes " + shape_string(shape));
    return;
  }
  if (!is_image_shape(shape) || !positive)
    throw std::invalid_argument(name + " needs an image observation (H, W, C); " + who + " observes " +
                                shape_string(shape));
  const std::int64_t min = encoder_min_image_size(kind);
  if (shape[0] < min || shape[1] < min)
    throw std::invalid_argument(name + " needs an image of at least " + std::to_string(min) + "x" +
                                std::to_string(min) + " (H, W); " + who + " observes " +
                                shape_string(shape));
}

}  // namespace

EncoderKind parse_encoder(const std::string& name) {
  if (name == "mlp") return EncoderKind::kMlp;
  if (name == "minatar") return EncoderKind::kMinAtar;
  if (name == "nature") return EncoderKind::kNature;
  if (name == "impala") return EncoderKind::kImpala;
  throw std::invalid_argument("policy.encoder: unknown encoder '" + name +
                              "' (choices: mlp, minatar, nature, impala)");
}

const char* to_string(EncoderKind kind) {
  switch (kind) {
    case EncoderKind::kMlp: return "mlp";
    case EncoderKind::kMinAtar: return "minatar";
    case EncoderKind::kNature: return "nature";
    case EncoderKind::kImpala: return "impala";
  }
  return "?";
}

bool is_image_shape(const std::vector<std::int64_t>& shape) { return shape.size() == 3; }

std::int64_t encoder_min_image_size(EncoderKind kind) {
  switch (kind) {
    case EncoderKind::kMinAtar: return 3;  // one 3x3 convolution without padding
    case EncoderKind::kNature: return 36;  // 36 -> 8 -> 3 -> 1 through the three convolutions
    default: return 1;
  }
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ",";
  out << ")";
  return out.str();
}

void validate_encoder(EncoderKind kind, const std::vector<std::int64_t>& obs_shape,
                      const std::string& env_id) {
  check_shape(kind, obs_shape, env_id);
}

ImpalaResidualBlockImpl::ImpalaResidualBlockImpl(std::int64_t channels) {
  conv0_ = register_module("conv0", conv(channels, channels, 3, 1, 1));
  conv1_ = register_module("conv1", conv(channels, channels, 3, 1, 1));
}

torch::Tensor ImpalaResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv_forward(conv0_, torch::relu(x), 1, 1);
  h = conv_forward(conv1_, torch::relu(h), 1, 1);
  return h + x;
}

ImpalaSequenceImpl::ImpalaSequenceImpl(std::int64_t in_channels, std::int64_t out_channels) {
  conv_ = register_module("conv", conv(in_channels, out_channels, 3, 1, 1));
  res0_ = register_module("res0", ImpalaResidualBlock(out_channels));
  res1_ = register_module("res1", ImpalaResidualBlock(out_channels));
}

torch::Tensor ImpalaSequenceImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv_forward(conv_, x, 1, 1);
  h = F::max_pool2d(h, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  h = res0_->forward(h);
  return res1_->forward(h);
}

ConvEncoderImpl::ConvEncoderImpl(EncoderKind kind, std::vector<std::int64_t> obs_shape,
                                 bool scale_uint8, bool orthogonal_init, double gain, double uint8_high)
    : kind_(kind), obs_shape_(std::move(obs_shape)), scale_uint8_(scale_uint8), uint8_high_(uint8_high) {
  check_shape(kind_, obs_shape_, "the observation");
  if (!(uint8_high_ > 0.0) || !std::isfinite(uint8_high_))
    throw std::invalid_argument("ConvEncoder: uint8_high must be finite and > 0, got " + std::to_string(uint8_high_));
  if (!std::isfinite(gain) || gain < 0.0)
    throw std::invalid_argument("ConvEncoder: gain must be finite and >= 0, got " + std::to_string(gain));
  if (kind_ == EncoderKind::kMlp) {
    out_features_ = product(obs_shape_);
    return;
  }
  std::int64_t h = obs_shape_[0], w = obs_shape_[1], c = obs_shape_[2];
  std::int64_t fc_out = 0;
  switch (kind_) {
    case EncoderKind::kMinAtar:
      convs_.push_back(register_module("conv0", conv(c, 16, 3, 1, 0)));
      conv_strides_.push_back(1);
      h = out_size(h, 3, 1, 0), w = out_size(w, 3, 1, 0), c = 16;
      fc_out = 128;
      break;
    case EncoderKind::kNature: {
      const std::int64_t channels[3] = {32, 64, 64}, kernels[3] = {8, 4, 3}, strides[3] = {4, 2, 1};
      for (int i = 0; i < 3; ++i) {
        convs_.push_back(register_module("conv" + std::to_string(i),
                                         conv(c, channels[i], kernels[i], strides[i], 0)));
        conv_strides_.push_back(strides[i]);
        h = out_size(h, kernels[i], strides[i], 0), w = out_size(w, kernels[i], strides[i], 0);
        c = channels[i];
      }
      fc_out = 512;
      break;
    }
    case EncoderKind::kImpala: {
      const std::int64_t channels[3] = {16, 32, 32};
      for (int i = 0; i < 3; ++i) {
        stacks_.push_back(register_module("stack" + std::to_string(i), ImpalaSequence(c, channels[i])));
        h = out_size(h, 3, 2, 1), w = out_size(w, 3, 2, 1), c = channels[i];
      }
      fc_out = 256;
      break;
    }
    case EncoderKind::kMlp: break;
  }
  if (h < 1 || w < 1)  // check_shape's minimum sizes rule this out
    throw std::logic_error("ConvEncoder: empty feature map for " + shape_string(obs_shape_));
  fc_ = register_module("fc", torch::nn::Linear(c * h * w, fc_out));
  out_features_ = fc_out;

  if (orthogonal_init) {
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* cv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::orthogonal_(cv->weight, gain);
        torch::nn::init::zeros_(cv->bias);
      } else if (auto* fc = module->as<torch::nn::Linear>()) {
        torch::nn::init::orthogonal_(fc->weight, gain);
        torch::nn::init::zeros_(fc->bias);
      }
    }
  }

  // The analytic shape above must match what the layers compute.
  torch::NoGradGuard no_grad;
  const torch::Tensor probe = torch::zeros({1, obs_shape_[0], obs_shape_[1], obs_shape_[2]});
  const torch::Tensor out = forward(probe);
  if (out.dim() != 2 || out.size(0) != 1 || out.size(1) != out_features_)
    throw std::logic_error("ConvEncoder '" + std::string(to_string(kind_)) + "': probe output " +
                           shape_string(out.sizes().vec()) + " for " + shape_string(obs_shape_));
}

torch::Tensor ConvEncoderImpl::prepare(const torch::Tensor& obs, std::vector<std::int64_t>& lead) const {
  const auto n = static_cast<std::int64_t>(obs_shape_.size());
  bool ok = obs.dim() > n;
  for (std::int64_t i = 0; ok && i < n; ++i) ok = obs.size(obs.dim() - n + i) == obs_shape_[i];
  TORCH_CHECK(ok, "ConvEncoder '", to_string(kind_), "': expected observations [B, ",
              c10::IntArrayRef(obs_shape_), "] (channels last), got shape ", obs.sizes());
  const auto scalar = obs.scalar_type();
  TORCH_CHECK(scalar == torch::kUInt8 || at::isFloatingType(scalar), "ConvEncoder '", to_string(kind_),
              "': expected uint8 or floating-point observations, got ", scalar);
  lead.assign(obs.sizes().begin(), obs.sizes().end() - n);

  // The parameters' dtype (float32 unless the module was converted); mlp has none.
  const auto dtype = fc_ ? fc_->weight.scalar_type() : torch::kFloat;
  std::vector<std::int64_t> flat_shape{product(lead)};
  flat_shape.insert(flat_shape.end(), obs_shape_.begin(), obs_shape_.end());
  torch::Tensor x = obs.reshape(flat_shape);
  if (scalar == torch::kUInt8) {
    x = x.to(dtype);
    if (scale_uint8_ && uint8_high_ != 1.0) x = x.mul(1.0 / uint8_high_);
  } else if (scalar != dtype) {
    x = x.to(dtype);
  }
  if (kind_ == EncoderKind::kMlp) return x;
  // [N, H, W, C] -> [N, C, H, W]: a view with channels-last strides when x is contiguous.
  return x.permute({0, 3, 1, 2});
}

torch::Tensor ConvEncoderImpl::forward(const torch::Tensor& obs) {
  std::vector<std::int64_t> lead;
  torch::Tensor x = prepare(obs, lead);
  torch::Tensor features = kind_ == EncoderKind::kMlp ? x.flatten(1) : trunk(x);
  if (lead.size() == 1) return features;
  lead.push_back(out_features_);
  return features.reshape(lead);
}

torch::Tensor ConvEncoderImpl::trunk(const torch::Tensor& x) {
  torch::Tensor h = x;
  if (kind_ == EncoderKind::kImpala) {
    for (auto& stack : stacks_) h = stack->forward(h);
    h = torch::relu(h);
  } else {
    for (std::size_t i = 0; i < convs_.size(); ++i)
      h = torch::relu(conv_forward(convs_[i], h, conv_strides_[i], 0));
  }
  // Flatten in NCHW order (as PyTorch's nn.Flatten on the NCHW tensor), whatever the strides.
  h = h.flatten(1);
  return torch::relu(fc_->forward(h));
}

ConvEncoder make_encoder(const PolicyConfig& config, const char* who) {
  const EncoderKind kind = parse_encoder(config.encoder);
  if (kind == EncoderKind::kMlp) return ConvEncoder(nullptr);
  validate_encoder(kind, config.obs_shape, std::string(who) + "'s observation");
  return ConvEncoder(kind, config.obs_shape, /*scale_uint8=*/true, config.orthogonal_init, config.hidden_gain,
                     config.uint8_high);
}

torch::Tensor encode_observation(const torch::Tensor& obs, ConvEncoder& encoder, ObsScaling& scaling,
                                 std::int64_t obs_dim, const PolicyConfig& config, const char* who) {
  if (encoder) return encoder->forward(image_batch(obs, config.obs_shape));
  const torch::Tensor x = flatten_obs(obs, obs_dim, who, config.uint8_high);
  return scaling ? scaling->forward(x) : x;
}

}  // namespace apiary::agents
