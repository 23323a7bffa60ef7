#!/usr/bin/env python3
"""Reference tracks of CarRacing-v3, made by Gymnasium's own track generator.

Runs `CarRacing._create_track` from Gymnasium's car_racing.py (give its path: a checkout of
Farama-Foundation/Gymnasium, gymnasium/envs/box2d/car_racing.py) with Box2D, pygame and the rest of
Gymnasium replaced by stand-ins (gymnasium_stubs.py), and with its random draws taken from a list, so
that Apiary's generator can be fed the same numbers. Needs only numpy.

    python3 make_tracks.py PATH/TO/car_racing.py > tracks.txt

Output, one block per case (the draws come from numpy's default_rng(case)):
    case K
    draws d0 ... d23            noise0 rad0 noise1 rad1 ... as _create_track draws them
    tiles N                     0 where the generator fails for these draws
    kerbs M                     tiles with a red-white border
    point I alpha beta x y      track points 0, N/2 and N-1
    tile I x0 y0 ... x3 y3      tile polygons 0 and N/2
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymnasium_stubs as stubs  # noqa: E402


def main(path):
    racing, _ = stubs.load_gymnasium(path, stub_pygame=True)
    for case in range(8):
        draws = stubs.case_draws(racing, case)
        env, ok = stubs.track_env(racing, draws)
        print(f"case {case}")
        print("draws " + " ".join(repr(d) for d in draws))
        if not ok:
            print("tiles 0")
            continue
        track = env.track
        n = len(track)
        print(f"tiles {n}")
        print(f"kerbs {len(env.road_poly) - n}")
        for i in (0, n // 2, n - 1):
            print(f"point {i} " + " ".join(repr(float(v)) for v in track[i]))
        tiles = [poly for poly, color in env.road_poly if not isinstance(color, tuple)]
        for i in (0, n // 2):
            print(f"tile {i} " + " ".join(repr(float(c)) for corner in tiles[i] for c in corner))


if __name__ == "__main__":
    main(sys.argv[1])
