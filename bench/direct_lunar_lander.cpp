// Peer for `apiary bench envs` on LunarLander-v3: one physics core (envs/box2d/lunar_lander.h) stepped
// in a bare loop on one thread, with random actions drawn in advance and a reset when an episode
// ends; what the Box2D work alone costs, without the batched back end's buffers, validation and pool.
// Prints steps_per_second last, like `apiary bench envs`.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "envs/box2d/lunar_lander.h"

int main(int argc, char** argv) {
  using namespace apiary::envs;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  LunarLander env(LunarLanderParams{});
  LaneRng rng{1, 0, 0};
  env.reset(rng);
  std::vector<std::int32_t> actions(4096);
  LaneRng pick{2, 0, 0};
  for (std::size_t i = 0; i < actions.size(); i += 4) {
    const Uniform4 u = pick.uniform4(0.0f, 4.0f);
    for (int j = 0; j < 4; ++j) actions[i + j] = std::min(3, static_cast<int>(u.v[j]));
  }
  std::vector<double> rates;
  float obs[8];
  for (int r = 0; r < repeats; ++r) {
    std::int64_t steps = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    while (elapsed < seconds) {
      for (int i = 0; i < 256; ++i, ++steps) {
        const StepOut out = env.step(&actions[static_cast<std::size_t>(steps) % actions.size()], rng);
        env.observe(obs);
        if (out.terminated) env.reset(rng);
      }
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    rates.push_back(static_cast<double>(steps) / elapsed);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("peer: direct LunarLander-v3 loop, 1 thread steps_per_second: %.4g\n", rates[rates.size() / 2]);
}
