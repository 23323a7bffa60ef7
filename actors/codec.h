// LibTorch side of the wire format (actors/wire.h): trajectory chunks and weights to frames and back.
// Encoding hands the tensors' own memory to ZeroMQ (each frame keeps its tensor alive until sent);
// decoding wraps the received frames with from_blob (each tensor keeps the frames alive). No copies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>
#include <zmq.hpp>

#include "actors/wire.h"
#include "agents/trajectory.h"
#include "agents/weights.h"

namespace apiary::actors {

// A chunk as frames. `stats` goes to the header (wire::ActorStat order). The chunk's tensors must be
// contiguous CPU tensors; they stay referenced until ZeroMQ has sent them.
std::vector<wire::OutFrame> encode_chunk(const agents::TrajectoryChunk& chunk, std::uint64_t session,
                                         const std::array<double, 4>& stats);

// The chunk of a message that wire::decode accepted as kChunk (with a schema). Zero copy: the tensors
// view `frames`, which they keep alive.
agents::TrajectoryChunk decode_chunk(const wire::Header& header, std::shared_ptr<std::vector<zmq::message_t>> frames);

// Weights (kWeights: one uint8 tensor); the Weights object lives until sent.
std::vector<wire::OutFrame> encode_weights(std::shared_ptr<const agents::Weights> weights, std::uint64_t session);

// A welcome for actor `actor_id`: the run's config (YAML) and the current weights.
std::vector<wire::OutFrame> encode_welcome(std::int32_t actor_id, const std::string& config_yaml,
                                           std::shared_ptr<const agents::Weights> weights, std::uint64_t session);

// A hello (no tensors) asking for actor id `actor_id` (-1: any).
std::vector<wire::OutFrame> encode_hello(std::int32_t actor_id);

// Frame views of a received multipart, for wire::decode.
std::vector<wire::FrameView> frame_views(const std::vector<zmq::message_t>& frames, std::size_t first = 0);

// The bytes of tensor `i` of a decoded message (frames[first + 1 + i]) as a string / Weights.
std::string frame_string(const std::vector<zmq::message_t>& frames, std::size_t index);

}  // namespace apiary::actors
