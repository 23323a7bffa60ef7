#include "actors/codec.h"

#include <stdexcept>

#include <torch/torch.h>

namespace apiary::actors {

namespace {

wire::DType to_wire(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return wire::DType::kFloat32;
    case torch::kInt64: return wire::DType::kInt64;
    case torch::kUInt8: return wire::DType::kUInt8;
    case torch::kInt32: return wire::DType::kInt32;
    default: throw std::invalid_argument(std::string("wire: no dtype for ") + c10::toString(t));
  }
}

torch::ScalarType to_torch(wire::DType t) {
  switch (t) {
    case wire::DType::kFloat32: return torch::kFloat32;
    case wire::DType::kInt64: return torch::kInt64;
    case wire::DType::kUInt8: return torch::kUInt8;
    case wire::DType::kInt32: return torch::kInt32;
  }
  throw std::invalid_argument("wire: unknown dtype");
}

// Adds `t` as a descriptor and a frame that holds a reference to it.
void add_tensor(const torch::Tensor& t, wire::Header& header, std::vector<wire::OutFrame>& frames) {
  if (!t.is_contiguous() || !t.device().is_cpu())
    throw std::invalid_argument("wire: tensors must be contiguous and on the CPU");
  wire::TensorDesc d;
  d.dtype = to_wire(t.scalar_type());
  d.ndim = static_cast<std::uint8_t>(t.dim());
  for (std::int64_t i = 0; i < t.dim(); ++i) d.shape[static_cast<std::size_t>(i)] = t.size(i);
  header.tensors.push_back(d);
  auto owner = std::make_shared<torch::Tensor>(t);
  frames.push_back(wire::OutFrame{t.data_ptr(), t.nbytes(), owner});
}

void add_bytes(const void* data, std::size_t size, std::shared_ptr<const void> owner, wire::Header& header,
               std::vector<wire::OutFrame>& frames) {
  header.tensors.push_back(wire::tensor_desc(wire::DType::kUInt8, {static_cast<std::int64_t>(size)}));
  frames.push_back(wire::OutFrame{data, size, std::move(owner)});
}

// Puts the header frame first.
std::vector<wire::OutFrame> finish(const wire::Header& header, std::vector<wire::OutFrame>&& tensors) {
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(wire::encode_header(header));
  std::vector<wire::OutFrame> frames;
  frames.reserve(tensors.size() + 1);
  frames.push_back(wire::OutFrame{bytes->data(), bytes->size(), bytes});
  for (auto& f : tensors) frames.push_back(std::move(f));
  return frames;
}

}  // namespace

std::vector<wire::OutFrame> encode_chunk(const agents::TrajectoryChunk& chunk, std::uint64_t session,
                                         const std::array<double, 4>& stats) {
  wire::Header h;
  h.kind = wire::MessageKind::kChunk;
  h.actor_id = chunk.actor_id;
  h.sequence = chunk.sequence;
  h.policy_version = chunk.policy_version;
  h.session = session;
  h.stats = stats;
  std::vector<wire::OutFrame> frames;
  for (const torch::Tensor* t : {&chunk.obs, &chunk.actions, &chunk.rewards, &chunk.terminated, &chunk.truncated,
                                 &chunk.next_obs})
    add_tensor(*t, h, frames);
  torch::Tensor episodes = torch::empty({static_cast<std::int64_t>(chunk.episodes.size()), 2}, torch::kFloat32);
  float* e = episodes.data_ptr<float>();
  for (std::size_t i = 0; i < chunk.episodes.size(); ++i) {
    e[2 * i] = chunk.episodes[i].episode_return;
    e[2 * i + 1] = static_cast<float>(chunk.episodes[i].episode_length);
  }
  add_tensor(episodes, h, frames);
  if (chunk.log_probs.defined()) {
    add_tensor(chunk.log_probs, h, frames);
    add_tensor(chunk.values, h, frames);
  }
  if (chunk.state.defined()) {
    if (!chunk.log_probs.defined())
      throw std::invalid_argument("wire: a recurrent chunk (state) must carry log-probabilities and values");
    add_tensor(chunk.state, h, frames);
    add_tensor(chunk.starts, h, frames);
  }
  return finish(h, std::move(frames));
}

agents::TrajectoryChunk decode_chunk(const wire::Header& header, std::shared_ptr<std::vector<zmq::message_t>> frames) {
  const auto tensor = [&](std::size_t i) {
    const wire::TensorDesc& d = header.tensors[i];
    std::vector<std::int64_t> shape(d.shape.begin(), d.shape.begin() + d.ndim);
    zmq::message_t& m = (*frames)[i + 1];
    return torch::from_blob(m.data(), shape, [frames](void*) {}, torch::TensorOptions().dtype(to_torch(d.dtype)));
  };
  agents::TrajectoryChunk chunk;
  chunk.actor_id = header.actor_id;
  chunk.sequence = header.sequence;
  chunk.policy_version = header.policy_version;
  chunk.obs = tensor(wire::kObs);
  chunk.actions = tensor(wire::kActions);
  chunk.rewards = tensor(wire::kRewards);
  chunk.terminated = tensor(wire::kTerminated);
  chunk.truncated = tensor(wire::kTruncated);
  chunk.next_obs = tensor(wire::kNextObs);
  const wire::TensorDesc& ep = header.tensors[wire::kEpisodes];
  const auto* e = static_cast<const float*>((*frames)[wire::kEpisodes + 1].data());
  for (std::int64_t i = 0; i < ep.shape[0]; ++i)
    chunk.episodes.push_back(agents::EpisodeStat{e[2 * i], static_cast<std::int32_t>(e[2 * i + 1])});
  if (header.tensors.size() >= wire::kChunkTensorsWithLogProbs) {
    chunk.log_probs = tensor(wire::kLogProbs);
    chunk.values = tensor(wire::kValues);
  }
  if (header.tensors.size() == wire::kChunkTensorsRecurrent) {
    chunk.state = tensor(wire::kState);
    chunk.starts = tensor(wire::kStarts);
  }
  return chunk;
}

std::vector<wire::OutFrame> encode_weights(std::shared_ptr<const agents::Weights> weights, std::uint64_t session) {
  wire::Header h;
  h.kind = wire::MessageKind::kWeights;
  h.policy_version = weights->version;
  h.session = session;
  std::vector<wire::OutFrame> frames;
  add_bytes(weights->bytes.data(), weights->bytes.size(), weights, h, frames);
  return finish(h, std::move(frames));
}

std::vector<wire::OutFrame> encode_welcome(std::int32_t actor_id, const std::string& config_yaml,
                                           std::shared_ptr<const agents::Weights> weights, std::uint64_t session) {
  wire::Header h;
  h.kind = wire::MessageKind::kWelcome;
  h.actor_id = actor_id;
  h.policy_version = weights->version;
  h.session = session;
  auto text = std::make_shared<std::string>(config_yaml);
  std::vector<wire::OutFrame> frames;
  add_bytes(text->data(), text->size(), text, h, frames);
  add_bytes(weights->bytes.data(), weights->bytes.size(), weights, h, frames);
  return finish(h, std::move(frames));
}

std::vector<wire::OutFrame> encode_hello(std::int32_t actor_id) {
  wire::Header h;
  h.kind = wire::MessageKind::kHello;
  h.actor_id = actor_id;
  return finish(h, {});
}

std::vector<wire::FrameView> frame_views(const std::vector<zmq::message_t>& frames, std::size_t first) {
  std::vector<wire::FrameView> views;
  views.reserve(frames.size() - std::min(first, frames.size()));
  for (std::size_t i = first; i < frames.size(); ++i) views.push_back(wire::FrameView{frames[i].data(), frames[i].size()});
  return views;
}

std::string frame_string(const std::vector<zmq::message_t>& frames, std::size_t index) {
  const zmq::message_t& m = frames.at(index);
  return std::string(static_cast<const char*>(m.data()), m.size());
}

}  // namespace apiary::actors
