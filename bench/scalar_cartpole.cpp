// Peer for `apiary bench envs`: CartPole-v1 as a plain scalar C++ loop (an array of lane structs,
// libm's sinf/cosf, a branch for the auto-reset), the way a straightforward C++ port steps a batch.
// Prints steps_per_second last, like `apiary bench envs`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

struct Lane {
  float x, x_dot, theta, theta_dot;
  int steps;
};

}  // namespace

int main(int argc, char** argv) {
  const int num_envs = argc > 1 ? std::atoi(argv[1]) : 4096;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> noise(-0.05f, 0.05f);
  std::vector<Lane> lanes(static_cast<std::size_t>(num_envs));
  for (auto& l : lanes) l = Lane{noise(gen), noise(gen), noise(gen), noise(gen), 0};
  constexpr int kBatches = 8;
  std::vector<std::int32_t> actions(static_cast<std::size_t>(num_envs) * kBatches);
  for (auto& a : actions) a = static_cast<std::int32_t>(gen() & 1u);
  std::vector<float> obs(static_cast<std::size_t>(num_envs) * 4), reward(static_cast<std::size_t>(num_envs));
  std::vector<std::uint8_t> done(static_cast<std::size_t>(num_envs));
  const float gravity = 9.8f, masscart = 1.0f, masspole = 0.1f, total_mass = 1.1f, length = 0.5f;
  const float polemass_length = masspole * length, force_mag = 10.0f, tau = 0.02f;
  const float theta_threshold = 12.0f * 2.0f * 3.14159265f / 360.0f, x_threshold = 2.4f;
  std::vector<double> rates;
  for (int r = 0; r <= repeats; ++r) {
    const double budget = r == 0 ? 0.3 : seconds;
    std::int64_t steps = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < budget) {
      for (int k = 0; k < 64; ++k) {
        const std::int32_t* a = actions.data() + static_cast<std::size_t>((steps + k) % kBatches) * num_envs;
        for (int i = 0; i < num_envs; ++i) {
          Lane& l = lanes[static_cast<std::size_t>(i)];
          const float force = a[i] == 1 ? force_mag : -force_mag;
          const float costheta = std::cos(l.theta), sintheta = std::sin(l.theta);
          const float temp = (force + polemass_length * l.theta_dot * l.theta_dot * sintheta) / total_mass;
          const float thetaacc =
              (gravity * sintheta - costheta * temp) / (length * (4.0f / 3.0f - masspole * costheta * costheta / total_mass));
          const float xacc = temp - polemass_length * thetaacc * costheta / total_mass;
          l.x += tau * l.x_dot;
          l.x_dot += tau * xacc;
          l.theta += tau * l.theta_dot;
          l.theta_dot += tau * thetaacc;
          const bool terminated =
              l.x < -x_threshold || l.x > x_threshold || l.theta < -theta_threshold || l.theta > theta_threshold;
          const bool truncated = ++l.steps >= 500;
          reward[static_cast<std::size_t>(i)] = 1.0f;
          done[static_cast<std::size_t>(i)] = terminated || truncated;
          if (terminated || truncated) l = Lane{noise(gen), noise(gen), noise(gen), noise(gen), 0};
          float* o = obs.data() + static_cast<std::size_t>(i) * 4;
          o[0] = l.x;
          o[1] = l.x_dot;
          o[2] = l.theta;
          o[3] = l.theta_dot;
        }
      }
      steps += 64;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (r > 0) rates.push_back(static_cast<double>(steps) * num_envs / elapsed);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("peer: scalar_cartpole num_envs: %d steps_per_second: %.4g\n", num_envs, rates[rates.size() / 2]);
  return obs[0] == 12345.0f ? 1 : 0;  // keeps the loop's results alive
}
