// Observation encoders for image observations: the networks that turn an image lane [H, W, C]
// (channels last, as the envs store it) into a feature vector for the actor / critic / Q heads.
//
//   mlp      no convolution: the image is flattened (H*W*C features) and the owner's MLP follows
//   minatar  the MinAtar paper's network (Young & Tian 2019): Conv(C,16,3,s1)+ReLU, Linear(.,128)+ReLU
//   nature   Nature DQN (Mnih et al. 2015; CleanRL's dqn_atari.py / ppo_atari.py):
//            Conv(C,32,8,s4)+ReLU, Conv(32,64,4,s2)+ReLU, Conv(64,64,3,s1)+ReLU, Linear(.,512)+ReLU
//   impala   the IMPALA ResNet (Espeholt et al. 2018; CleanRL's ppo_procgen.py): three sequences of
//            16, 32, 32 channels, each Conv3x3 -> MaxPool(3, s2, pad 1) -> two residual blocks
//            (ReLU, Conv3x3, ReLU, Conv3x3, + input); then ReLU, Linear(., 256)+ReLU. 15 convs.
//
// Parameter names of a ConvEncoder (prefix them with the name the owner registers it under, e.g.
// "encoder." or "actor_encoder."):
//   mlp      none
//   minatar  conv0.{weight,bias}  fc.{weight,bias}
//   nature   conv0.{weight,bias}  conv1.{weight,bias}  conv2.{weight,bias}  fc.{weight,bias}
//   impala   stack{0,1,2}.conv.{weight,bias}
//            stack{0,1,2}.res{0,1}.conv{0,1}.{weight,bias}
//            fc.{weight,bias}
// (named_parameters() lists them in that order: stack0's conv, res0.conv0, res0.conv1, res1.conv0,
// res1.conv1, then stack1, stack2, fc.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "agents/layers.h"

namespace apiary::agents {

enum class EncoderKind : std::uint8_t { kMlp, kMinAtar, kNature, kImpala };

// "mlp" | "minatar" | "nature" | "impala"; anything else throws std::invalid_argument naming the
// value and the choices.
EncoderKind parse_encoder(const std::string& name);
// The name parse_encoder reads ("mlp", "minatar", "nature", "impala").
const char* to_string(EncoderKind kind);

// true for an image observation shape: exactly 3 dimensions (H, W, C).
bool is_image_shape(const std::vector<std::int64_t>& shape);

// Smallest H and W the kind accepts: 1 for mlp and impala, 3 for minatar, 36 for nature.
std::int64_t encoder_min_image_size(EncoderKind kind);

// Checks that `kind` can encode observations of `obs_shape` from env `env_id`; throws
// std::invalid_argument otherwise:
//   "policy.encoder 'nature' needs an image observation (H, W, C); CartPole-v1 observes (4,)"
//   "policy.encoder 'nature' needs an image of at least 36x36 (H, W); MinAtar/Breakout-v1 observes
//    (10, 10, 4)"
// mlp accepts every shape with positive dimensions (an image is flattened).
void validate_encoder(EncoderKind kind, const std::vector<std::int64_t>& obs_shape,
                      const std::string& env_id);

// "(4,)", "(10, 10, 4)": a shape as the messages above print it.
std::string shape_string(const std::vector<std::int64_t>& shape);

struct PolicyConfig;

// One IMPALA residual block: x + Conv(ReLU(Conv(ReLU(x)))), 3x3 convolutions with padding 1.
// Parameters conv0.*, conv1.*.
class ImpalaResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ImpalaResidualBlockImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv0_{nullptr}, conv1_{nullptr};
};
TORCH_MODULE(ImpalaResidualBlock);

// One IMPALA sequence (CleanRL's ConvSequence): Conv3x3(pad 1) -> MaxPool(3, s2, pad 1) -> two
// residual blocks. Halves H and W (rounding up). Parameters conv.*, res0.*, res1.*.
class ImpalaSequenceImpl : public torch::nn::Module {
 public:
  ImpalaSequenceImpl(std::int64_t in_channels, std::int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  ImpalaResidualBlock res0_{nullptr}, res1_{nullptr};
};
TORCH_MODULE(ImpalaSequence);

// An image encoder of the kinds above.
//
// forward(obs): obs is [B, H, W, C] (more leading dimensions are allowed: [..., H, W, C]) of dtype
// uint8, float32 or bfloat16. It is converted to the module's parameter dtype (float32 unless the
// module was converted; float32 for mlp, which has no parameters); a uint8 input is multiplied by
// 1/255 when `scale_uint8` is set, so pixels land in [0, 1]. Whether to scale is decided by the
// input's dtype, not by the env: a float input is never scaled (it is taken to be scaled already,
// or to be a non-pixel feature). The result is permuted to NCHW (channels-last strides, which the
// CPU's oneDNN convolutions prefer), run through the network and flattened: the output is
// [..., out_features()] in the parameter dtype, or in the autocast dtype (bf16) when the forward
// runs under autocast. On the CPU the convolutions take a channels-last copy of each weight (the
// parameters stay contiguous), which oneDNN needs for its fast NHWC kernels.
//
// Initialisation: orthogonal_init gives every Conv2d and Linear an orthogonal weight with `gain`
// (sqrt(2), CleanRL's layer_init) and a zero bias; otherwise LibTorch's defaults (Kaiming uniform).
class ConvEncoderImpl : public torch::nn::Module {
 public:
  // obs_shape: (H, W, C) for the conv kinds, all > 0; any shape with positive dimensions for mlp.
  // Throws std::invalid_argument for a shape the kind refuses (see validate_encoder) or a
  // negative / non-finite gain.
  // uint8_high: what a uint8 input is divided by when scale_uint8 is set (the observation space's high
  // bound: 255 for pixels, 1 for MinAtar's 0/1 maps, which then pass as they are). Must be > 0.
  ConvEncoderImpl(EncoderKind kind, std::vector<std::int64_t> obs_shape, bool scale_uint8 = true,
                  bool orthogonal_init = true, double gain = 1.4142135623730951, double uint8_high = 255.0);

  torch::Tensor forward(const torch::Tensor& obs);

  EncoderKind kind() const { return kind_; }
  const std::vector<std::int64_t>& obs_shape() const { return obs_shape_; }
  // Features per observation: 128 (minatar), 512 (nature), 256 (impala), prod(obs_shape) (mlp).
  std::int64_t out_features() const { return out_features_; }
  bool scale_uint8() const { return scale_uint8_; }

 private:
  // dtype conversion, uint8 scaling, NHWC -> NCHW; `lead` receives the leading dimensions.
  torch::Tensor prepare(const torch::Tensor& obs, std::vector<std::int64_t>& lead) const;
  torch::Tensor trunk(const torch::Tensor& x);  // x: [N, C, H, W] -> [N, out_features]

  EncoderKind kind_;
  std::vector<std::int64_t> obs_shape_;
  bool scale_uint8_;
  double uint8_high_ = 255.0;
  std::int64_t out_features_ = 0;
  std::vector<torch::nn::Conv2d> convs_;        // minatar / nature: conv0, conv1, ... (no padding)
  std::vector<std::int64_t> conv_strides_;      // their strides
  std::vector<ImpalaSequence> stacks_;          // impala: stack0, stack1, stack2
  torch::nn::Linear fc_{nullptr};               // conv kinds
};
TORCH_MODULE(ConvEncoder);

// The encoder a network reads its observation with, for config.encoder other than "mlp" (checked
// against config.obs_shape; `who` names the network in the message); an empty holder for "mlp".
ConvEncoder make_encoder(const PolicyConfig& config, const char* who);
// What the layers after the input see: the encoder's features, or the flattened observation (uint8
// divided by config.uint8_high), then `scaling` where it is set. Width: encoder ? out_features() : obs_dim.
torch::Tensor encode_observation(const torch::Tensor& obs, ConvEncoder& encoder, ObsScaling& scaling,
                                 std::int64_t obs_dim, const PolicyConfig& config, const char* who);

}  // namespace apiary::agents
