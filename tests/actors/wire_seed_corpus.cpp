// Writes the fuzzer's seed corpus: valid messages of every kind in wire::join_frames form (and a few
// near misses), one file each, into the folder given as argv[1].
#include <cstdio>
#include <string>
#include <vector>

#include "actors/wire.h"

using namespace apiary::actors::wire;

namespace {

TensorDesc desc(DType dtype, std::initializer_list<std::int64_t> shape) {
  TensorDesc d;
  d.dtype = dtype;
  d.ndim = static_cast<std::uint8_t>(shape.size());
  int i = 0;
  for (auto s : shape) d.shape[static_cast<std::size_t>(i++)] = s;
  return d;
}

void write(const std::string& dir, const std::string& name, const Header& h) {
  std::vector<std::vector<std::uint8_t>> frames{encode_header(h)};
  for (const auto& t : h.tensors) frames.emplace_back(t.nbytes(), std::uint8_t{1});
  const auto bytes = join_frames(frames);
  std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) {
    std::perror(name.c_str());
    std::exit(1);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: wire_seed_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  Header chunk;
  chunk.kind = MessageKind::kChunk;
  for (std::int64_t t : {1, 3}) {
    chunk.tensors = {desc(DType::kFloat32, {t + 1, 2, 4}), desc(DType::kInt64, {t, 2}), desc(DType::kFloat32, {t, 2}),
                     desc(DType::kFloat32, {t, 2}),        desc(DType::kFloat32, {t, 2}),
                     desc(DType::kFloat32, {t, 2, 4}),     desc(DType::kFloat32, {1, 2}),
                     desc(DType::kFloat32, {t, 2}),        desc(DType::kFloat32, {t, 2})};
    write(dir, "chunk_t" + std::to_string(t), chunk);
  }
  chunk.tensors.resize(7);
  write(dir, "chunk_no_logprobs", chunk);
  Header weights;
  weights.kind = MessageKind::kWeights;
  weights.tensors = {desc(DType::kUInt8, {64})};
  write(dir, "weights", weights);
  Header hello;
  hello.kind = MessageKind::kHello;
  write(dir, "hello", hello);
  Header welcome;
  welcome.kind = MessageKind::kWelcome;
  welcome.tensors = {desc(DType::kUInt8, {10}), desc(DType::kUInt8, {16})};
  write(dir, "welcome", welcome);
  std::printf("seed_files: 6 dir: %s\n", dir.c_str());
  return 0;
}
