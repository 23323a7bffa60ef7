#!/usr/bin/env python3
"""Reference observations of CarRacing-v3, drawn by Gymnasium's own code through pygame.

Gymnasium's CarRacing needs Box2D's Python binding, which Debian does not package, so this script runs
its drawing alone: `CarRacing._render("state_pixels")` from car_racing.py and `Car.draw` from
car_dynamics.py, over stand-in bodies that have the poses this script chooses, on tracks built by
`_create_track` from listed draws (as make_tracks.py does). Needs numpy and pygame (python3-pygame).

    python3 make_frames.py PATH/TO/car_racing.py PATH/TO/car_dynamics.py OUTDIR

For each case it writes OUTDIR/frame_K.ppm (the 96x96 RGB observation, binary PPM) and a line of
frames.txt that says what was drawn:
    frame K case C hull x y angle vx vy angular_velocity t T reward R joint J
          omega w0 w1 w2 w3 phase p0 p1 p2 p3 colors road3 bg3 grass3 visited i0 i1 ...
C is the track case of tracks.txt (numpy default_rng(C) draws); the wheels sit at car_dynamics'
WHEELPOS in the hull's frame, the front ones turned by J; `visited` lists tiles drawn in the plain road
colour (touched).
"""
import math
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import numpy as np  # noqa: E402
import pygame  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymnasium_stubs as stubs  # noqa: E402


def main(racing_path, dynamics_path, outdir):
    racing, dynamics = stubs.load_gymnasium(racing_path, dynamics_path)

    # (track case, hull at track point k offset sideways by d metres, t, velocity, omega, phase, joint,
    #  angular velocity, reward, domain colours, visited tiles)
    cases = [
        (0, 0, 0.0, 0.02, (0.0, 0.0), [0, 0, 0, 0], [0, 0, 0, 0], 0.0, 0.0, 0.0, None, [0, 1]),
        (1, 40, 0.0, 2.5, (3.0, 25.0), [45, 46, 50, 49], [0.3, 2.0, 4.0, 5.5], 0.25, 0.8, 123.4, None,
         list(range(0, 41))),
        (2, 100, 4.5, 7.0, (-6.0, 12.0), [20, 22, -18, 25], [1.0, 3.5, 5.0, 0.2], -0.3, -1.5, -37.0,
         ((40.5, 180.2, 15.0), (160.7, 30.2, 90.9), (160.7, 50.2, 90.9)), list(range(90, 101))),
        (3, 200, 14.0, 12.0, (0.0, 0.0), [0, 0, 0, 0], [0.6, 0.6, 0.6, 0.6], 0.0, 0.0, 512.0, None, []),
    ]
    pygame.font.init()
    lines = []
    for k, (case, point, offset, t, velocity, omega, phase, joint, angvel, reward, colors, visited) in \
            enumerate(cases):
        default = ((102, 102, 102), (102, 204, 102), (102, 230, 102))
        road, bg, grass = default if colors is None else colors
        env, ok = stubs.track_env(racing, stubs.case_draws(racing, case), road)
        assert ok, f"case {case}: no track"
        env.bg_color, env.grass_color = np.array(bg), np.array(grass)
        tiles = [color for poly, color in env.road_poly if not isinstance(color, tuple)]
        for i in visited:
            tiles[i][:] = env.road_color  # what the friction detector does to a touched tile

        _, beta, px, py = env.track[point]
        x = px + offset * math.cos(beta)
        y = py + offset * math.sin(beta)
        env.car = stubs.posed_car(dynamics, x, y, beta, velocity, angvel, omega, phase, joint)
        env.t, env.reward, env.screen, env.clock = t, reward, None, None
        env.metadata = racing.CarRacing.metadata
        frame = env._render("state_pixels")
        with open(os.path.join(outdir, f"frame_{k}.ppm"), "wb") as f:
            f.write(b"P6\n96 96\n255\n" + np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        fields = [f"frame {k} case {case}", "hull " + " ".join(repr(float(v)) for v in
                  (x, y, beta, velocity[0], velocity[1], angvel)),
                  f"t {t!r} reward {reward!r} joint {joint!r}",
                  "omega " + " ".join(repr(float(v)) for v in omega),
                  "phase " + " ".join(repr(float(v)) for v in phase),
                  "colors " + " ".join(repr(float(v)) for c in (env.road_color, env.bg_color, env.grass_color)
                                       for v in c),
                  "visited " + " ".join(str(i) for i in visited)]
        lines.append(" ".join(fields))
    with open(os.path.join(outdir, "frames.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
