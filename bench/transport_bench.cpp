// Transport throughput (issue 5, bench/RESULTS.md): an actor thread PUSHes LunarLander-sized trajectory
// chunks (wire format, zero copy) to a learner thread that PULLs and decodes them against the env
// schema, over ipc:// and tcp:// loopback. Prints chunks per second and payload bytes per second.
//   bench_transport [--seconds S] [--num-envs N] [--steps T] [--senders K]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/transport.h"
#include "actors/wire.h"

using namespace apiary::actors;

namespace {

struct Args {
  double seconds = 3;
  std::int64_t num_envs = 64, steps = 128, obs_dim = 8;  // LunarLander-v3: 8 observation elements
  int senders = 1;
};

wire::TensorDesc desc(wire::DType dtype, std::initializer_list<std::int64_t> shape) {
  wire::TensorDesc d;
  d.dtype = dtype;
  d.ndim = static_cast<std::uint8_t>(shape.size());
  int i = 0;
  for (auto s : shape) d.shape[static_cast<std::size_t>(i++)] = s;
  return d;
}

// A PPO chunk's header and buffers (filled once, sent many times without copying).
struct Chunk {
  wire::Header header;
  std::vector<std::shared_ptr<std::vector<std::uint8_t>>> buffers;
  std::size_t payload = 0;
};

Chunk make_chunk(const Args& a) {
  Chunk c;
  const std::int64_t t = a.steps, n = a.num_envs, d = a.obs_dim;
  c.header.kind = wire::MessageKind::kChunk;
  c.header.tensors = {desc(wire::DType::kFloat32, {t + 1, n, d}), desc(wire::DType::kInt64, {t, n}),
                      desc(wire::DType::kFloat32, {t, n}),        desc(wire::DType::kFloat32, {t, n}),
                      desc(wire::DType::kFloat32, {t, n}),        desc(wire::DType::kFloat32, {t, n, d}),
                      desc(wire::DType::kFloat32, {4, 2}),        desc(wire::DType::kFloat32, {t, n}),
                      desc(wire::DType::kFloat32, {t, n})};
  for (const auto& td : c.header.tensors) {
    c.buffers.push_back(std::make_shared<std::vector<std::uint8_t>>(td.nbytes(), std::uint8_t{1}));
    c.payload += td.nbytes();
  }
  return c;
}

struct Result {
  double chunks_per_second = 0, bytes_per_second = 0;
  std::int64_t malformed = 0;
};

Result run(const std::string& endpoint, const Args& a) {
  TransportOptions options;
  LearnerSockets learner(endpoint, options);
  const Chunk chunk = make_chunk(a);
  wire::ChunkSchema schema;
  schema.num_envs = a.num_envs;
  schema.obs_dim = a.obs_dim;
  schema.log_probs = true;
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int k = 0; k < a.senders; ++k) {
    senders.emplace_back([&] {
      ActorSockets actor(endpoint, options);
      while (!stop.load()) {
        std::vector<wire::OutFrame> frames;
        auto header = std::make_shared<std::vector<std::uint8_t>>(wire::encode_header(chunk.header));
        frames.push_back(wire::OutFrame{header->data(), header->size(), header});
        for (const auto& b : chunk.buffers) frames.push_back(wire::OutFrame{b->data(), b->size(), b});
        while (!stop.load() && !send_frames(actor.data(), std::move(frames), true)) {
          zmq::pollitem_t item{actor.data().handle(), 0, ZMQ_POLLOUT, 0};
          zmq::poll(&item, 1, std::chrono::milliseconds(10));
          frames.clear();
          frames.push_back(wire::OutFrame{header->data(), header->size(), header});
          for (const auto& b : chunk.buffers) frames.push_back(wire::OutFrame{b->data(), b->size(), b});
        }
      }
    });
  }
  wire::DecodeLimits limits;
  limits.chunk_schema = &schema;
  std::vector<zmq::message_t> frames;
  std::vector<wire::FrameView> views;
  wire::Header h;
  Result r;
  // Warm up (connections, first allocations), then time.
  for (int i = 0; i < 20; ++i) recv_frames(learner.data(), frames, false);
  std::int64_t chunks = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < a.seconds) {
    recv_frames(learner.data(), frames, false);
    views.clear();
    for (const auto& f : frames) views.push_back(wire::FrameView{f.data(), f.size()});
    if (wire::decode(views.data(), views.size(), limits, h) == wire::DecodeError::kOk) {
      ++chunks;
      bytes += static_cast<std::int64_t>(chunk.payload);
    } else {
      ++r.malformed;
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  stop = true;
  for (auto& s : senders) s.join();
  r.chunks_per_second = static_cast<double>(chunks) / elapsed;
  r.bytes_per_second = static_cast<double>(bytes) / elapsed;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--seconds") a.seconds = std::atof(argv[i + 1]);
    else if (k == "--num-envs") a.num_envs = std::atoll(argv[i + 1]);
    else if (k == "--steps") a.steps = std::atoll(argv[i + 1]);
    else if (k == "--senders") a.senders = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "bench_transport: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  const std::string ipc = "ipc:///tmp/apiary-bench-" + std::to_string(::getpid());
  const int port = 30000 + ::getpid() % 20000;
  const Chunk probe = make_chunk(a);
  std::printf("chunk: %lld steps x %lld lanes x %lld obs (LunarLander-v3, PPO), %.1f KiB payload, %d sender(s)\n",
              static_cast<long long>(a.steps), static_cast<long long>(a.num_envs), static_cast<long long>(a.obs_dim),
              static_cast<double>(probe.payload) / 1024.0, a.senders);
  const Result ri = run(ipc, a);
  const Result rt = run("tcp://127.0.0.1:" + std::to_string(port), a);
  std::printf("ipc_chunks_per_second: %.1f ipc_bytes_per_second: %.3e tcp_chunks_per_second: %.1f "
              "tcp_bytes_per_second: %.3e malformed: %lld\n",
              ri.chunks_per_second, ri.bytes_per_second, rt.chunks_per_second, rt.bytes_per_second,
              static_cast<long long>(ri.malformed + rt.malformed));
  return 0;
}
