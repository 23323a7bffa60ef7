// libFuzzer target for the wire decoder (actors/wire.h): any bytes, split into frames by
// wire::split_frames, must be decoded or refused without a crash, a leak or an out-of-bounds read.
// Built with clang -fsanitize=fuzzer,address,undefined by tests/actors/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "actors/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace apiary::actors::wire;
  std::vector<FrameView> frames;
  if (!split_frames(data, size, frames)) return 0;
  ChunkSchema schema;
  schema.num_envs = 2;
  schema.obs_dim = 4;
  schema.log_probs = true;
  DecodeLimits limits;
  limits.max_message_bytes = 1 << 16;
  Header header;
  decode(frames.data(), frames.size(), limits, header);  // any kind, no schema
  limits.chunk_schema = &schema;
  limits.expected_kind = static_cast<std::uint16_t>(MessageKind::kChunk);
  if (decode(frames.data(), frames.size(), limits, header) == DecodeError::kOk) {
    // Accepted: every tensor frame holds exactly its shape's bytes.
    for (std::size_t i = 0; i < header.tensors.size(); ++i)
      if (header.tensors[i].nbytes() != frames[i + 1].size) __builtin_trap();
  }
  return 0;
}
