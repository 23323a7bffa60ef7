// Writes the fuzzer's seed corpus, one file each, into the folder given as argv[1]: valid messages of
// every kind in wire::join_frames form (and a few near misses), a chunk whose content is sound and
// copies of it with one bad value each (for the content check), and inputs for the fuzzer's second use
// of its input, as the content of a well-formed chunk (fuzz_wire.cpp: zero bytes are a valid chunk).
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "actors/wire.h"

using namespace apiary::actors::wire;

namespace {

void write_bytes(const std::string& dir, const std::string& name, const std::vector<std::uint8_t>& bytes) {
  std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) {
    std::perror(name.c_str());
    std::exit(1);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

void write(const std::string& dir, const std::string& name, const Header& h) {
  std::vector<std::vector<std::uint8_t>> frames{encode_header(h)};
  for (const auto& t : h.tensors) frames.emplace_back(t.nbytes(), std::uint8_t{1});
  write_bytes(dir, name, join_frames(frames));
}

template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<std::uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A chunk of T = 3 steps, N = 2 lanes, D = 4, Discrete(2) actions, with log-probs, from actor 1 at the
// fuzzer's learner version; lane 1 ends a 7-step episode at step 2. `spoil` changes one thing.
template <class Spoil>
void write_content_chunk(const std::string& dir, const std::string& name, Spoil spoil) {
  constexpr std::int64_t t = 3, n = 2, d = 4;
  Header h;
  h.kind = MessageKind::kChunk;
  h.actor_id = 1;
  h.sequence = 3;
  h.policy_version = 10;
  h.session = 77;
  std::vector<float> obs((t + 1) * n * d, 0.5f), next_obs(t * n * d, 0.5f), rewards(t * n, 1.0f),
      terminated(t * n, 0.0f), truncated(t * n, 0.0f), episodes = {7.0f, 7.0f}, log_probs(t * n, -0.7f),
      values(t * n, 2.0f);
  std::vector<std::int64_t> actions = {0, 1, 1, 0, 1, 1};
  terminated[5] = 1.0f;
  spoil(h, obs, actions, rewards, terminated, episodes);
  h.tensors = {tensor_desc(DType::kFloat32, {t + 1, n, d}), tensor_desc(DType::kInt64, {t, n}),
               tensor_desc(DType::kFloat32, {t, n}),        tensor_desc(DType::kFloat32, {t, n}),
               tensor_desc(DType::kFloat32, {t, n}),        tensor_desc(DType::kFloat32, {t, n, d}),
               tensor_desc(DType::kFloat32, {static_cast<std::int64_t>(episodes.size() / 2), 2}),
               tensor_desc(DType::kFloat32, {t, n}),        tensor_desc(DType::kFloat32, {t, n})};
  write_bytes(dir, name,
              join_frames({encode_header(h), bytes_of(obs), bytes_of(actions), bytes_of(rewards), bytes_of(terminated),
                           bytes_of(truncated), bytes_of(next_obs), bytes_of(episodes), bytes_of(log_probs),
                           bytes_of(values)}));
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
    chunk.tensors = {tensor_desc(DType::kFloat32, {t + 1, 2, 4}), tensor_desc(DType::kInt64, {t, 2}), tensor_desc(DType::kFloat32, {t, 2}),
                     tensor_desc(DType::kFloat32, {t, 2}),        tensor_desc(DType::kFloat32, {t, 2}),
                     tensor_desc(DType::kFloat32, {t, 2, 4}),     tensor_desc(DType::kFloat32, {1, 2}),
                     tensor_desc(DType::kFloat32, {t, 2}),        tensor_desc(DType::kFloat32, {t, 2})};
    write(dir, "chunk_t" + std::to_string(t), chunk);
  }
  chunk.tensors.resize(7);
  write(dir, "chunk_no_logprobs", chunk);
  Header weights;
  weights.kind = MessageKind::kWeights;
  weights.tensors = {tensor_desc(DType::kUInt8, {64})};
  write(dir, "weights", weights);
  Header hello;
  hello.kind = MessageKind::kHello;
  write(dir, "hello", hello);
  Header welcome;
  welcome.kind = MessageKind::kWelcome;
  welcome.tensors = {tensor_desc(DType::kUInt8, {10}), tensor_desc(DType::kUInt8, {16})};
  write(dir, "welcome", welcome);

  // Sound content, then one bad value each.
  using F = std::vector<float>;
  using I = std::vector<std::int64_t>;
  int files = 6;
  const auto content = [&](const std::string& name, auto spoil) {
    write_content_chunk(dir, name, spoil);
    ++files;
  };
  content("content_sound", [](Header&, F&, I&, F&, F&, F&) {});
  content("content_action_7", [](Header&, F&, I& a, F&, F&, F&) { a[2] = 7; });
  content("content_reward_nan", [](Header&, F&, I&, F& r, F&, F&) { r[1] = std::numeric_limits<float>::quiet_NaN(); });
  content("content_obs_inf", [](Header&, F& o, I&, F&, F&, F&) { o[30] = std::numeric_limits<float>::infinity(); });
  content("content_flag_2", [](Header&, F&, I&, F&, F& term, F&) { term[0] = 2.0f; });
  content("content_episode_length_0", [](Header&, F&, I&, F&, F&, F& e) { e[1] = 0.0f; });
  content("content_policy_version_future", [](Header& h, F&, I&, F&, F&, F&) { h.policy_version = 1000000000000000; });
  content("content_unknown_actor", [](Header& h, F&, I&, F&, F&, F&) { h.actor_id = 999; });
  content("content_stats_nan", [](Header& h, F&, I&, F&, F&, F&) { h.stats[0] = std::numeric_limits<double>::quiet_NaN(); });

  // The second use of an input: zero bytes are a sound T = 1, N = 1 chunk; the others start the
  // search next to it (two steps, a terminated lane with its episode row, Box actions).
  write_bytes(dir, "as_content_zeros", std::vector<std::uint8_t>(64, 0));
  std::vector<std::uint8_t> ended(64, 0);
  ended[0] = 1;  // T = 2, N = 1, Discrete, log-probs; 8 header bytes, then obs (6 bytes: 8..13), then
                 // per step action, reward, terminated, truncated, log-prob, value
  ended[16] = 1;  // step 0 terminated; its episode row (bytes 30, 31 after next_obs) is 1 step long
  write_bytes(dir, "as_content_episode", ended);
  std::vector<std::uint8_t> box(64, 0);
  box[0] = 8 | 4;  // Box actions, N = 2
  write_bytes(dir, "as_content_box", box);
  files += 3;
  std::printf("seed_files: %d dir: %s\n", files, dir.c_str());
  return 0;
}
