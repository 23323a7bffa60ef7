// Peer for `apiary bench envs` on LunarLander-v3: one physics core (envs/box2d/lunar_lander.h) stepped
// in a bare loop on one thread, with the same actions as `apiary bench envs --num-envs 1 --seed 1`
// (8 random actions, cycled) and a reset when an episode ends; what the Box2D work alone costs,
// without the batched back end's buffers, validation, time limit and pool.
// Prints steps_per_second last, like `apiary bench envs`.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "envs/box2d/lunar_lander.h"
#include "envs/random_actions.h"

int main(int argc, char** argv) {
  using namespace apiary::envs;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  LunarLander env(LunarLanderParams{});
  LaneRng rng{1, 0, 0};
  env.reset(rng);
  RandomActions random(LunarLander::spec(LunarLanderParams{}), 1, 1);
  std::vector<std::int32_t> actions;
  for (int i = 0; i < 8; ++i) actions.push_back(*static_cast<const std::int32_t*>(random.next().data));
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
