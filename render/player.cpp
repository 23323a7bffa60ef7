#include "render/player.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <thread>

#include "render/controls.h"
#include "render/image_io.h"
#include "render/painters.h"

namespace apiary::render {

namespace fs = std::filesystem;

double native_fps(const std::string& id) {
  if (id == "CartPole-v1" || id == "CarRacing-v3" || id.rfind("LunarLander", 0) == 0 || id.rfind("BipedalWalker", 0) == 0)
    return 50.0;
  if (id == "Acrobot-v1") return 15.0;
  return 30.0;  // MountainCar, MountainCarContinuous, Pendulum (Gymnasium's) and anything else
}

Size frame_size(const envs::VecEnv& env, bool hud) {
  Size s = native_size(env);
  if (hud) {
    s.width += kHudWidth;
    s.height = std::max(s.height, 400);
  }
  return s;
}

Player::Player(envs::VecEnv& env, Display& display, Agent agent, PlayerOptions options, std::ostream& log)
    : env_(env),
      display_(display),
      agent_(std::move(agent)),
      options_(std::move(options)),
      log_(log),
      frame_(frame_size(env, options_.hud).width, frame_size(env, options_.hud).height),
      picture_(native_size(env).width, native_size(env).height),
      fps_(options_.fps > 0 ? options_.fps : native_fps(env.spec().id)),
      human_(options_.start_human) {
  if (env.num_envs() != 1)
    throw std::invalid_argument("play: the env must have one lane, it has " + std::to_string(env.num_envs()));
  if (env.device() != envs::Device::kCpu) throw std::invalid_argument("play: the env must live on the CPU");
  if (options_.episodes < 0) throw std::invalid_argument("--episodes must be 0 (until quit) or more");
  if (!display.realtime() && options_.episodes == 0 && options_.max_steps == 0)
    throw std::invalid_argument("--episodes 0 (until quit) needs a window: give --episodes N with --headless");
  if (!options_.record_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.record_dir, ec);
    if (ec || !fs::is_directory(options_.record_dir))
      throw std::invalid_argument("--record " + options_.record_dir + ": cannot make the folder" +
                                  (ec ? " (" + ec.message() + ")" : std::string()));
  }
  if (!options_.record_gif.empty()) {
    try {
      // Recorded at the play speed (GIF delays are whole hundredths: 50 fps is 2, 30 fps is 3).
      gif_ = std::make_unique<GifRecorder>(options_.record_gif, frame_.width(), frame_.height(), std::min(fps_, 100.0));
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("--record: ") + e.what());
    }
  }
  random_ = std::make_unique<envs::RandomActions>(env.spec(), 1, options_.seed);
  const envs::Space& space = env.spec().action_space;
  hud_.env_id = env.spec().id;
  hud_.agent = options_.agent_name;
  hud_.episodes = options_.episodes;
  hud_.discrete = space.is_discrete();
  hud_.action_names = action_names(hud_.env_id, space);
  hud_.action_low = space.low;
  hud_.action_high = space.high;
  hud_.human_help = human_keys_help(hud_.env_id, space);
}

void Player::start_episode(bool reseed) {
  env_.reset(options_.seed + (reseed ? ++resets_ : 0));
  env_.copy_to_host(host_);
  episode_step_ = 0;
  episode_return_ = 0.0;
  last_action_.clear();
  human_this_episode_ = human_;
  hud_.scores.clear();
  hud_.kind = ScoreKind::kNone;
}

void Player::draw(bool record) {
  const PaintInput in = capture(env_, 0, last_action_);
  paint(in, picture_);
  frame_.clear(colors::kBlack);
  frame_.blit(picture_, 0, 0);
  if (options_.hud) {
    hud_.episode = result_.episodes + 1;
    hud_.step = episode_step_;
    hud_.episode_return = episode_return_;
    hud_.action = last_action_;
    hud_.fps = display_.realtime() ? fps_ : 0.0;
    hud_.paused = paused_;
    hud_.human = human_;
    draw_hud(frame_, picture_.width(), 0, kHudWidth, frame_.height(), hud_);
  }
  display_.show(frame_);
  ++result_.frames;
  if (record && !options_.record_dir.empty()) {
    char name[32];
    std::snprintf(name, sizeof name, "frame_%06lld.png", static_cast<long long>(result_.frames_written));
    save_png(frame_, (fs::path(options_.record_dir) / name).string());
    ++result_.frames_written;
  }
  if (record && gif_ != nullptr) {
    gif_->add(frame_.data(), frame_.width(), frame_.height(), frame_.channels());
    ++result_.frames_written;
  }
}

std::vector<float> Player::choose_action() {
  const envs::EnvSpec& spec = env_.spec();
  const std::vector<float> obs = envs::observation_row(host_, 0, spec.obs_dim());
  AgentDecision decision;
  if (agent_) decision = agent_(obs, /*episode_start=*/episode_step_ == 0);
  hud_.scores = decision.scores;
  hud_.memory_norm = decision.memory_norm;
  hud_.kind = decision.scores.empty() ? ScoreKind::kNone : decision.kind;
  if (human_) {
    human_this_episode_ = true;
    return human_action(spec.id, spec.action_space, display_.held(), digit_, episode_step_);
  }
  if (agent_) {
    if (static_cast<std::int64_t>(decision.action.size()) != spec.action_dim())
      throw std::runtime_error("play: the agent gave " + std::to_string(decision.action.size()) +
                               " action values, " + spec.id + " takes " + std::to_string(spec.action_dim()));
    return decision.action;
  }
  const envs::ActionBatch batch = random_->next();
  if (batch.dtype == envs::DType::kInt32)
    return {static_cast<float>(static_cast<const std::int32_t*>(batch.data)[0])};
  const auto* values = static_cast<const float*>(batch.data);
  return std::vector<float>(values, values + batch.cols);
}

void Player::step_env(const std::vector<float>& action) {
  const envs::EnvSpec& spec = env_.spec();
  if (spec.action_space.is_discrete()) {
    const std::int32_t a = static_cast<std::int32_t>(std::lround(action.at(0)));
    env_.step(envs::ActionBatch::discrete(&a, 1));
  } else {
    env_.step(envs::ActionBatch::continuous(action.data(), 1, static_cast<std::int64_t>(action.size())));
  }
  env_.copy_to_host(host_);
  last_action_ = action;
  ++episode_step_;
  ++result_.steps;
  episode_return_ += static_cast<double>(host_.reward.at(0));
  const bool terminated = host_.terminated.at(0) != 0, truncated = host_.truncated.at(0) != 0;
  if (terminated || truncated) finish_episode(terminated, truncated);
}

void Player::finish_episode(bool terminated, bool truncated) {
  EpisodeSummary s;
  s.episode = result_.episodes + 1;
  s.episode_return = episode_return_;
  s.length = episode_step_;
  s.terminated = terminated;
  s.truncated = truncated;
  s.human = human_this_episode_;
  result_.summaries.push_back(s);
  ++result_.episodes;
  char line[200];
  std::snprintf(line, sizeof line, "episode %d: return %.2f length %lld %s%s", s.episode, s.episode_return,
                static_cast<long long>(s.length), terminated ? "terminated" : "truncated",
                s.human ? " (human control)" : "");
  log_ << line << std::endl;
  // The env has already reset the lane (same-step auto-reset): the next step begins the next episode.
  episode_step_ = 0;
  episode_return_ = 0.0;
  last_action_.clear();
  human_this_episode_ = human_;
}

PlayResult Player::run() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  start_episode(false);
  draw(true);
  auto next_frame = Clock::now();
  while (true) {
    bool step_once = false, changed = false;
    for (const InputEvent& e : display_.poll()) {
      if (e.type == InputEvent::Type::kQuit || e.key == Key::kQ || e.key == Key::kEscape) {
        result_.quit = true;
        break;
      }
      changed = true;
      switch (e.key) {
        case Key::kSpace:
          if (!(human_ && human_fires(env_.spec().id))) paused_ = !paused_;  // else space fires
          break;
        case Key::kN:
          paused_ = true;
          step_once = true;
          break;
        case Key::kPlus: fps_ = std::min(fps_ * 2.0, 960.0); break;
        case Key::kMinus: fps_ = std::max(fps_ / 2.0, 0.5); break;
        case Key::kR: {
          char line[160];
          std::snprintf(line, sizeof line, "episode %d: reset at step %lld (return %.2f)", result_.episodes + 1,
                        static_cast<long long>(episode_step_), episode_return_);
          log_ << line << std::endl;
          start_episode(true);
          break;
        }
        case Key::kH:
          human_ = !human_;
          log_ << "human control " << (human_ ? "on" : "off") << std::endl;
          break;
        case Key::kDigit: digit_ = e.digit; break;
        default: changed = false; break;
      }
    }
    if (result_.quit) break;
    if (paused_ && !step_once) {
      if (changed) draw(false);
      display_.wait(20);
      continue;
    }
    step_env(choose_action());
    draw(true);
    if (options_.episodes > 0 && result_.episodes >= options_.episodes) break;
    if (options_.max_steps > 0 && result_.steps >= options_.max_steps) break;
    if (display_.realtime() && !paused_) {
      // Pace to fps_; after a stall (a slow frame, a paused period) start counting afresh.
      next_frame += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps_));
      const auto now = Clock::now();
      if (next_frame < now - std::chrono::milliseconds(100)) next_frame = now;
      const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_frame - now).count();
      if (wait_ms > 0) display_.wait(static_cast<int>(wait_ms));
    } else {
      next_frame = Clock::now();
    }
  }
  double total = 0.0;
  for (const auto& s : result_.summaries) total += s.episode_return;
  result_.mean_return = result_.episodes > 0 ? total / result_.episodes : std::numeric_limits<double>::quiet_NaN();
  result_.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (gif_ != nullptr) gif_->close();  // the file appears now, whole
  return result_;
}

}  // namespace apiary::render
