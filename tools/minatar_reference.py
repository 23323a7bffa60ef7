#!/usr/bin/env python3
"""Records reference transitions of the five MinAtar games for Apiary's parity test.

Runs MinAtar itself (kenjyoung/MinAtar, GPL-3.0; not part of Apiary: pass its checkout with --minatar)
with sticky actions (0.1) and difficulty ramping on, as its Environment defaults. The game's
numpy RandomState is wrapped so that every draw it makes is logged (method, arguments, value), and
for each reset and step the file holds the action, the draws, the reward, the terminal flag and the
observation. tests/envs/minatar_test.cpp replays the draws into Apiary's games and compares.

The actions come from a small seeded policy per game (random moves with a bias that keeps the agent
alive long enough to reach the difficulty ramps, clear Breakout's bricks and cross Freeway), and in
every fourth episode from a uniform one (other ways to die); the policies read the game's state but
draw from their own random.Random, never from the game's RandomState.

File format (little-endian), tests/data/minatar/<game>.bin:
  header:  8 bytes b"MINATAR1", u8 channels, u8 ramping, u16 0, f64 sticky_action_prob,
           u32 records
  record:  u8 type (0 reset, 1 step), u8 action (full action index 0..5; 0 for a reset),
           u8 terminal, i16 reward, u16 number of draws, then per draw
             u8 kind 0 (rand): f64 value
             u8 kind 1 (randint): i16 low, i16 high (exclusive), i16 value
           (one draw per element for numpy's sized calls: rand(8) is 8 draws, randint(1, 6, 8) is 8),
           then the observation state() (10, 10, C) flattened in C order and bit-packed, element i in
           byte i // 8, bit i % 8 (least significant first): ceil(100 * C / 8) bytes.
  A reset record starts every episode; the steps after it belong to that episode.
"""
import argparse
import os
import random
import struct
import sys

GAMES = ["breakout", "asterix", "freeway", "space_invaders", "seaquest"]
ACTIONS = ["n", "l", "u", "r", "d", "f"]
N, L, U, R, D, F = range(6)


class RecordingRandom:
    """Stands in for the game's numpy RandomState and logs every value it hands out."""

    def __init__(self, rs, np):
        self._rs, self._np, self.log = rs, np, []

    def rand(self, *size):
        v = self._rs.rand(*size)
        self.log += [(0, float(x)) for x in self._np.ravel(v)]
        return v

    def randint(self, low, high=None, size=None):
        v = self._rs.randint(low, high, size)
        lo, hi = (0, low) if high is None else (low, high)
        self.log += [(1, int(lo), int(hi), int(x)) for x in self._np.ravel(v)]
        return v

    def __getattr__(self, name):
        raise AttributeError("the reference called RandomState." + name + ", which the recorder does not log")


# Policies: (game internals, random.Random) -> full action index.
def breakout_policy(g, rnd):
    if rnd.random() < 0.03:
        return rnd.randrange(6)
    # Follow the ball's next column.
    target = g.ball_x + (1 if g.ball_dir in (1, 2) else -1)
    if target < g.pos:
        return L
    if target > g.pos:
        return R
    return rnd.choice([N, U, D, F])


def asterix_policy(g, rnd):
    if rnd.random() < 0.15:
        return rnd.randrange(6)
    moves = {N: (0, 0), L: (-1, 0), U: (0, -1), R: (1, 0), D: (0, 1)}
    best, best_score = [], None
    for a, (dx, dy) in moves.items():
        x, y = min(9, max(0, g.player_x + dx)), min(8, max(1, g.player_y + dy))
        score = 0.0
        for e in g.entities:
            if e is None or e[1] != y:
                continue
            ahead = x - e[0] if e[2] else e[0] - x  # >= 0: the entity comes towards x
            if e[3]:
                score += 1.0 / (1 + abs(e[0] - x))
            elif -1 <= ahead <= 2:
                score -= 10
        if best_score is None or score > best_score:
            best, best_score = [a], score
        elif score == best_score:
            best.append(a)
    return rnd.choice(best)


def freeway_policy(g, rnd):
    p = rnd.random()
    if p < 0.75:
        return U
    return rnd.randrange(6)


def space_invaders_policy(g, rnd):
    if rnd.random() < 0.05:
        return rnd.randrange(6)

    def safe(c):  # no enemy bullet about to land in column c
        return 0 <= c <= 9 and not g.e_bullet_map[6:10, c].any() and not g.alien_map[9, c]

    cols = [c for c in range(10) if g.alien_map[:, c].any()]
    target = min(cols, key=lambda c: (abs(c - g.pos), c)) if cols else g.pos
    few = g.alien_map.sum() <= 4  # fast aliens: fire whenever ready, they cross the shot
    if (target == g.pos or few) and g.shot_timer == 0 and safe(g.pos):
        return F
    options = [(a, g.pos + d) for a, d in ((L, -1), (R, 1), (N, 0)) if safe(g.pos + d)]
    if not options:
        return rnd.randrange(6)
    return min(options, key=lambda o: (abs(o[1] - target), rnd.random()))[0]


def seaquest_policy(g, rnd):
    divers = g.diver_count
    # Surface when carrying divers and low on oxygen (or full): each surfacing ramps the difficulty.
    if divers > 0 and (g.oxygen < 150 or divers >= 6):
        return U if rnd.random() < 0.9 else rnd.choice([L, R, F])
    threats = [e for e in g.e_fish + g.e_subs + [b + [0] for b in g.e_bullets] if e[1] == g.sub_y]
    if rnd.random() < 0.15:
        a = rnd.randrange(6)
    elif any(abs(e[0] - g.sub_x) <= 2 for e in threats):
        near = min(threats, key=lambda e: abs(e[0] - g.sub_x))
        facing = (near[0] > g.sub_x) == bool(g.sub_or)
        a = F if facing and g.shot_timer == 0 else rnd.choice([U, D])
    elif g.divers:
        d = min(g.divers, key=lambda d: abs(d[1] - g.sub_y) + abs(d[0] - g.sub_x))
        a = D if d[1] > g.sub_y else U if d[1] < g.sub_y else L if d[0] < g.sub_x else R if d[0] > g.sub_x else N
    else:
        a = rnd.choice([N, L, R, D, F, D])
    # Never surface without a diver (that ends the episode); leave the surface at the start.
    if a == U and g.sub_y == 1 and divers <= 0:
        a = D
    if g.sub_y == 0 and divers <= 0:
        a = D
    return a


# Seeds (chosen among 1..6) whose runs reach the rarer rules: Breakout's brick refill and its ball
# passing into a second brick, several difficulty ramps in Asterix, Space Invaders and Seaquest, Space
# Invaders' aliens reaching the bottom row, a Seaquest sub firing in the turn it is removed; and a
# full Freeway episode.
DEFAULT_SEEDS = {"breakout": 3, "asterix": 2, "freeway": 1, "space_invaders": 4, "seaquest": 2}

def uniform_policy(g, rnd):
    return rnd.randrange(6)


POLICIES = {
    "breakout": breakout_policy,
    "asterix": asterix_policy,
    "freeway": freeway_policy,
    "space_invaders": space_invaders_policy,
    "seaquest": seaquest_policy,
}


def record(game, steps, seed, sticky, ramping, np, Environment):
    env = Environment(game, sticky_action_prob=sticky, difficulty_ramping=ramping)
    env.seed(seed)
    rec = RecordingRandom(env.random, np)
    env.random = rec
    env.env.random = rec
    rnd = random.Random(seed * 7919 + GAMES.index(game))
    channels = env.state_shape()[2]
    out = [b"MINATAR1", struct.pack("<BBHdI", channels, int(bool(ramping)), 0, sticky, 0)]
    stats = {"episodes": 0, "lengths": [], "max_ramp": 0, "return": [], "records": 0}

    def put(kind, action, terminal, reward):
        body = [struct.pack("<BBBhH", kind, action, int(bool(terminal)), int(reward), len(rec.log))]
        for d in rec.log:
            if d[0] == 0:
                body.append(struct.pack("<Bd", 0, d[1]))
            else:
                body.append(struct.pack("<Bhhh", 1, d[1], d[2], d[3]))
        state = np.asarray(env.state(), dtype=bool)
        assert state.shape == (10, 10, channels)
        body.append(np.packbits(state.ravel(), bitorder="little").tobytes())
        out.append(b"".join(body))
        rec.log.clear()
        stats["records"] += 1

    done, length, ret = True, 0, 0
    for _ in range(steps):
        if done:
            if length:
                stats["lengths"].append(length)
                stats["return"].append(ret)
            env.reset()
            put(0, 0, False, 0)
            stats["episodes"] += 1
            length, ret = 0, 0
        policy = uniform_policy if stats["episodes"] % 4 == 0 else POLICIES[game]  # every 4th: uniform
        a = policy(env.env, rnd)
        r, done = env.act(a)
        assert r == int(r) and -32768 <= r < 32768
        put(1, a, done, r)
        length += 1
        ret += int(r)
        ramp = env.env.difficulty_ramp()
        if ramp is not None:
            stats["max_ramp"] = max(stats["max_ramp"], ramp)
    stats["lengths"].append(length)  # the last one may be cut short
    stats["return"].append(ret)
    out[1] = struct.pack("<BBHdI", channels, int(bool(ramping)), 0, sticky, stats["records"])
    return b"".join(out), stats


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minatar", required=True, help="a checkout of kenjyoung/MinAtar (the folder holding minatar/)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                                                   "minatar"))
    p.add_argument("--seed", type=int, default=None,
                   help="one seed for every game (default: per game, DEFAULT_SEEDS)")
    p.add_argument("--steps", type=int, default=3000, help="steps per game (Freeway: --freeway-steps)")
    p.add_argument("--freeway-steps", type=int, default=3000)
    p.add_argument("--games", nargs="*", default=GAMES)
    args = p.parse_args()
    sys.path.insert(0, os.path.abspath(args.minatar))
    import numpy as np
    from minatar.environment import Environment

    os.makedirs(args.out, exist_ok=True)
    for game in args.games:
        steps = args.freeway_steps if game == "freeway" else args.steps
        seed = DEFAULT_SEEDS[game] if args.seed is None else args.seed
        data, s = record(game, steps, seed, 0.1, True, np, Environment)
        with open(os.path.join(args.out, game + ".bin"), "wb") as f:
            f.write(data)
        print(f"{game}: seed {seed}, {steps} steps, {s['records']} records, {len(data)} bytes, {s['episodes']} episodes, "
              f"lengths {s['lengths']}, returns {s['return']}, max difficulty ramp {s['max_ramp']}")


if __name__ == "__main__":
    main()
