// The MinAtar games against transitions recorded from the reference (MinAtar 1.0.15, numpy;
// tests/data/minatar/README.md): every recorded random draw is fed back in order, and a game that asks
// for a draw of another kind, with other bounds, or one more or one fewer than the reference did
// fails there; after every reset and step the reward, the terminal flag and all observation bytes
// must equal the recorded ones. Then a few rules checked directly, and the LaneRng adapter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "envs/minatar/minatar.h"
#include "envs/rng.h"

namespace apiary::envs::minatar {
namespace {

struct Draw {
  bool is_int = false;
  int low = 0, high = 0, int_value = 0;  // randint(low, high)
  double value = 0;                      // rand()
};

struct Record {
  bool reset = false;
  int action = 0;
  bool terminal = false;
  int reward = 0;
  std::vector<Draw> draws;
  std::vector<std::uint8_t> obs;  // (10, 10, C), 0/1
};

struct Recording {
  int channels = 0;
  bool ramping = true;
  double sticky_action_prob = 0;
  std::vector<Record> records;
};

// Reads the format tools/minatar_reference.py writes (described there and in the data's README).
class Reader {
 public:
  explicit Reader(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
  }
  template <class T>
  T get() {
    if (pos_ + sizeof(T) > bytes_.size()) throw std::runtime_error("reference file ends early");
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));  // little-endian, as the hosts we build on
    pos_ += sizeof(T);
    return v;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  std::vector<char> bytes_;
  std::size_t pos_ = 0;
};

Recording load(const std::string& game) {
  Reader in(std::string(APIARY_SOURCE_DIR) + "/tests/data/minatar/" + game + ".bin");
  char magic[8];
  for (char& c : magic) c = in.get<char>();
  if (std::string(magic, 8) != "MINATAR1") throw std::runtime_error(game + ".bin: not a MINATAR1 file");
  Recording rec;
  rec.channels = in.get<std::uint8_t>();
  rec.ramping = in.get<std::uint8_t>() != 0;
  in.get<std::uint16_t>();
  rec.sticky_action_prob = in.get<double>();
  const auto count = in.get<std::uint32_t>();
  const std::size_t cells = 100 * static_cast<std::size_t>(rec.channels);
  rec.records.resize(count);
  for (Record& r : rec.records) {
    r.reset = in.get<std::uint8_t>() == 0;
    r.action = in.get<std::uint8_t>();
    r.terminal = in.get<std::uint8_t>() != 0;
    r.reward = in.get<std::int16_t>();
    r.draws.resize(in.get<std::uint16_t>());
    for (Draw& d : r.draws) {
      d.is_int = in.get<std::uint8_t>() == 1;
      if (d.is_int) {
        d.low = in.get<std::int16_t>();
        d.high = in.get<std::int16_t>();
        d.int_value = in.get<std::int16_t>();
      } else {
        d.value = in.get<double>();
      }
    }
    std::vector<std::uint8_t> packed((cells + 7) / 8);
    for (auto& b : packed) b = in.get<std::uint8_t>();
    r.obs.resize(cells);
    for (std::size_t i = 0; i < cells; ++i) r.obs[i] = (packed[i / 8] >> (i % 8)) & 1u;
  }
  if (!in.at_end()) throw std::runtime_error(game + ".bin: trailing bytes");
  return rec;
}

struct DrawMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A random source that hands out one record's draws, in order, and throws on any other request.
class Replay {
 public:
  explicit Replay(const std::vector<Draw>& draws) : draws_(draws) {}

  double rand() { return next(false, 0, 0).value; }
  int randint(int low, int high) { return next(true, low, high).int_value; }
  std::size_t used() const { return next_; }

 private:
  const Draw& next(bool is_int, int low, int high) {
    std::ostringstream asked;
    if (is_int)
      asked << "randint(" << low << ", " << high << ")";
    else
      asked << "rand()";
    if (next_ >= draws_.size())
      throw DrawMismatch("draw " + std::to_string(next_) + ": the game asked for " + asked.str() +
                         ", the reference drew no more");
    const Draw& d = draws_[next_];
    if (d.is_int != is_int || (is_int && (d.low != low || d.high != high))) {
      std::ostringstream os;
      os << "draw " << next_ << ": the game asked for " << asked.str() << ", the reference drew ";
      if (d.is_int)
        os << "randint(" << d.low << ", " << d.high << ")";
      else
        os << "rand()";
      throw DrawMismatch(os.str());
    }
    ++next_;
    return d;
  }

  const std::vector<Draw>& draws_;
  std::size_t next_ = 0;
};

std::string describe_cell(std::size_t i, int channels) {
  const std::size_t cell = i / static_cast<std::size_t>(channels);
  return "(row " + std::to_string(cell / 10) + ", col " + std::to_string(cell % 10) + ", channel " +
         std::to_string(i % static_cast<std::size_t>(channels)) + ")";
}

struct Coverage {
  std::size_t steps = 0, episodes = 0, draws = 0;
  int max_ramp = 0;
};

template <class Game>
int ramp_of(const Game& game) {
  if constexpr (std::is_same_v<Game, Asterix> || std::is_same_v<Game, SpaceInvaders> ||
                std::is_same_v<Game, Seaquest>)
    return game.difficulty_ramp();
  else
    return 0;
}

// Replays the whole recording; stops at the first difference, naming the record.
template <class Game>
Coverage check_against_reference(const std::string& name) {
  Coverage cover;
  const Recording rec = load(name);
  EXPECT_EQ(rec.channels, Game::kChannels);
  EXPECT_FALSE(rec.records.empty());
  EXPECT_TRUE(rec.records.empty() || rec.records.front().reset);
  Environment<Game> env(rec.sticky_action_prob, rec.ramping);
  std::vector<std::uint8_t> obs(100 * Game::kChannels);
  for (std::size_t i = 0; i < rec.records.size(); ++i) {
    const Record& r = rec.records[i];
    const std::string where = name + " record " + std::to_string(i) + (r.reset ? " (reset)" : " (step)");
    Replay draws(r.draws);
    float reward = 0.0f;
    try {
      if (r.reset)
        env.reset(draws);
      else
        reward = env.act(r.action, draws);
    } catch (const DrawMismatch& e) {
      ADD_FAILURE() << where << ": " << e.what();
      return cover;
    }
    if (draws.used() != r.draws.size()) {
      ADD_FAILURE() << where << ": the game made " << draws.used() << " draws, the reference " << r.draws.size();
      return cover;
    }
    if (reward != static_cast<float>(r.reward) || env.terminal() != r.terminal) {
      ADD_FAILURE() << where << ": reward " << reward << " terminal " << env.terminal() << ", the reference "
                    << r.reward << " " << r.terminal;
      return cover;
    }
    env.observe(obs.data());
    for (std::size_t k = 0; k < obs.size(); ++k)
      if (obs[k] != r.obs[k]) {
        ADD_FAILURE() << where << ": observation " << describe_cell(k, Game::kChannels) << " is "
                      << int(obs[k]) << ", the reference's " << int(r.obs[k]);
        return cover;
      }
    cover.draws += r.draws.size();
    (r.reset ? cover.episodes : cover.steps) += 1;
    cover.max_ramp = std::max(cover.max_ramp, ramp_of(env.game()));
  }
  return cover;
}

void report(const char* game, const Coverage& c) {
  std::cout << game << ": " << c.steps << " steps in " << c.episodes << " episodes, " << c.draws
            << " draws, highest difficulty ramp " << c.max_ramp << "\n";
}

TEST(MinAtarParity, Breakout) {
  const Coverage c = check_against_reference<Breakout>("breakout");
  report("Breakout", c);
  EXPECT_GE(c.steps, 3000u);
}

TEST(MinAtarParity, Asterix) {
  const Coverage c = check_against_reference<Asterix>("asterix");
  report("Asterix", c);
  EXPECT_GE(c.steps, 3000u);
  EXPECT_GE(c.max_ramp, 2);  // move speed changes at odd ramps
}

TEST(MinAtarParity, Freeway) {
  const Coverage c = check_against_reference<Freeway>("freeway");
  report("Freeway", c);
  EXPECT_GE(c.steps, 2501u);  // a whole episode, to the time limit
}

TEST(MinAtarParity, SpaceInvaders) {
  const Coverage c = check_against_reference<SpaceInvaders>("space_invaders");
  report("SpaceInvaders", c);
  EXPECT_GE(c.steps, 3000u);
  EXPECT_GE(c.max_ramp, 1);
}

TEST(MinAtarParity, Seaquest) {
  const Coverage c = check_against_reference<Seaquest>("seaquest");
  report("Seaquest", c);
  EXPECT_GE(c.steps, 3000u);
  EXPECT_GE(c.max_ramp, 2);
}

// A source with fixed answers: rand() gives `u`, randint(l, h) gives l + k (clamped below h).
struct FixedDraws {
  double u = 0.5;
  int k = 0;
  int rand_calls = 0;
  double rand() {
    ++rand_calls;
    return u;
  }
  int randint(int low, int high) { return std::min(low + k, high - 1); }
};

template <class Game>
std::vector<std::uint8_t> observe(const Game& game) {
  std::vector<std::uint8_t> obs(100 * Game::kChannels);
  game.observe(obs.data());
  return obs;
}

TEST(MinAtarRules, BreakoutBallMissesAStillPaddleAndBouncesOffAMovedOne) {
  FixedDraws draws;  // randint 0: the ball starts at (row 3, col 0) heading down-right
  Breakout still;
  still.reset(draws);
  for (int t = 1; t <= 5; ++t) {
    still.act(kNoop, draws);
    EXPECT_EQ(still.ball_x(), t);
    EXPECT_EQ(still.ball_y(), 3 + t);
    EXPECT_FALSE(still.terminal());
  }
  still.act(kNoop, draws);  // down to row 9 beside the paddle at column 4
  EXPECT_TRUE(still.terminal());
  EXPECT_EQ(still.ball_y(), 9);

  Breakout moved;
  moved.reset(draws);
  moved.act(kRight, draws);  // the paddle to column 5, under the ball's last cell before the floor
  for (int t = 2; t <= 6; ++t) moved.act(kNoop, draws);
  EXPECT_FALSE(moved.terminal());
  EXPECT_EQ(moved.ball_y(), 8);  // back up from the paddle
  const auto obs = observe(moved);
  EXPECT_EQ(obs[(9 * 10 + 5) * 4 + 0], 1);  // paddle channel
}

TEST(MinAtarRules, BreakoutScoresWhileThePaddleFollowsTheBall) {
  FixedDraws draws;
  Breakout game;
  game.reset(draws);
  float total = 0;
  bool terminal = false;
  for (int t = 0; t < 200 && !terminal; ++t) {
    // Keep the paddle under the ball: it comes back up to the bricks.
    const int target = game.ball_x();
    const int action = target < game.paddle() ? kLeft : (target > game.paddle() ? kRight : kNoop);
    total += game.act(action, draws);
    terminal = game.terminal();
  }
  EXPECT_GT(total, 0.0f);
}

TEST(MinAtarRules, FreewayEndsOnTheStepAfter2500Frames) {
  FixedDraws draws;
  Freeway game;
  game.reset(draws);
  for (int t = 1; t <= Freeway::kTimeLimit; ++t) {
    EXPECT_EQ(game.act(kNoop, draws), 0.0f);
    ASSERT_FALSE(game.terminal()) << "step " << t;
  }
  game.act(kNoop, draws);
  EXPECT_TRUE(game.terminal());
}

TEST(MinAtarRules, StickyActionsDrawEveryStepEvenAtProbabilityZero) {
  FixedDraws draws;
  draws.u = 0.05;  // below 0.1: the previous action repeats
  Environment<SpaceInvaders> sticky(0.1, true);
  sticky.reset(draws);
  sticky.act(kLeft, draws);  // the first previous action is the no-op
  EXPECT_EQ(sticky.last_action(), kNoop);
  Environment<SpaceInvaders> never(0.0, true);
  never.reset(draws);
  const int before = draws.rand_calls;
  for (int t = 0; t < 7; ++t) never.act(kLeft, draws);
  EXPECT_EQ(draws.rand_calls - before, 7);
  EXPECT_EQ(never.last_action(), kLeft);
}

TEST(MinAtarRules, ObservationsAreZeroOrOneWithTheReferenceChannelCounts) {
  EXPECT_EQ(Asterix::kChannels, 4);
  EXPECT_EQ(Breakout::kChannels, 4);
  EXPECT_EQ(Freeway::kChannels, 7);
  EXPECT_EQ(Seaquest::kChannels, 10);
  EXPECT_EQ(SpaceInvaders::kChannels, 6);
  LaneRng rng{7, 3, 0};
  LaneDraws draws{rng};
  Environment<Seaquest> env;
  env.reset(draws);
  std::vector<std::uint8_t> obs(100 * Seaquest::kChannels, 7);
  for (int t = 0; t < 300 && !env.terminal(); ++t) {
    env.act(t % 6, draws);
    env.observe(obs.data());
    for (std::uint8_t b : obs) ASSERT_LE(b, 1);
  }
}

TEST(MinAtarLaneDraws, RandIsInsideTheUnitIntervalAndNeverExactlyAHalf) {
  LaneRng rng{123, 4, 0};
  LaneDraws draws{rng};
  double sum = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    const double u = draws.rand();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_NE(u, 0.5);
    sum += u;
  }
  EXPECT_NEAR(sum / kN, 0.5, 0.01);
  EXPECT_EQ(rng.draws, static_cast<std::uint64_t>(kN));  // one Philox block per draw
  std::set<int> seen;
  for (int i = 0; i < 1000; ++i) {
    const int v = draws.randint(1, 9);
    ASSERT_GE(v, 1);
    ASSERT_LT(v, 9);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(MinAtarLaneDraws, SameStreamSameGame) {
  auto play = [](std::uint64_t seed) {
    LaneRng rng{seed, 0, 0};
    LaneDraws draws{rng};
    Environment<Asterix> env;
    std::vector<std::uint8_t> all, obs(100 * Asterix::kChannels);
    env.reset(draws);
    for (int t = 0; t < 500; ++t) {
      if (env.terminal()) env.reset(draws);
      env.act(t % 5, draws);
      env.observe(obs.data());
      all.insert(all.end(), obs.begin(), obs.end());
    }
    return all;
  };
  EXPECT_EQ(play(11), play(11));
  EXPECT_NE(play(11), play(12));
}

}  // namespace
}  // namespace apiary::envs::minatar
