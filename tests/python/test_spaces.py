"""Apiary's own space classes (used when gymnasium is not installed), and the gymnasium branch: with a
minimal fake of Gymnasium 1.x's `gymnasium.spaces` and `gymnasium.vector` in sys.modules (a fresh
interpreter), make_vec builds gymnasium's classes with the arguments Gymnasium documents, subclasses
gymnasium.vector.VectorEnv and tags itself with gymnasium's AutoresetMode (a stand-in without
gymnasium.Env or gymnasium.envs.registration: the single env and the registration do without)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import apiary
from apiary.spaces import Box, Discrete, MultiDiscrete


def test_discrete():
    space = Discrete(3, seed=0, start=-1)
    assert space.n == 3 and space.start == -1 and space.shape == () and space.dtype == np.int64
    samples = {int(space.sample()) for _ in range(200)}
    assert samples == {-1, 0, 1}
    assert isinstance(space.sample(), np.int64)
    assert space.contains(0) and space.contains(np.int32(1)) and not space.contains(2)
    assert not space.contains(0.0) and not space.contains(True) and not space.contains(np.array([0]))
    assert 1 in space
    assert repr(Discrete(2)) == "Discrete(2)" and repr(space) == "Discrete(3, start=-1)"
    assert Discrete(2) == Discrete(2) and Discrete(2) != Discrete(3) and Discrete(2) != Discrete(2, start=1)
    assert [Discrete(5, seed=7).sample() for _ in range(5)] != [Discrete(5, seed=8).sample() for _ in range(5)]
    a, b = Discrete(5, seed=7), Discrete(5, seed=7)
    assert [a.sample() for _ in range(10)] == [b.sample() for _ in range(10)]
    masked = Discrete(4, seed=1)
    assert {int(masked.sample(mask=np.array([0, 1, 0, 1], np.int8))) for _ in range(50)} == {1, 3}
    with pytest.raises(ValueError):
        Discrete(0)


def test_multi_discrete():
    space = MultiDiscrete(np.full(4, 3), seed=0, start=np.full(4, 1))
    assert space.shape == (4,) and space.dtype == np.int64
    for _ in range(50):
        s = space.sample()
        assert s.shape == (4,) and s.dtype == np.int64 and space.contains(s)
        assert ((s >= 1) & (s <= 3)).all()
    assert not space.contains(np.array([0, 1, 1, 1])) and not space.contains(np.array([1, 1, 1]))
    assert not space.contains(np.array([1.0, 1, 1, 1]))
    assert repr(MultiDiscrete([2, 2])) == "MultiDiscrete([2 2])"
    assert MultiDiscrete([2, 3]) == MultiDiscrete(np.array([2, 3]))


def test_box():
    space = Box(low=np.array([-1.0, 0.0, -np.inf, -np.inf], np.float32),
                high=np.array([1.0, np.inf, 2.0, np.inf], np.float32), seed=0)
    assert space.shape == (4,) and space.dtype == np.float32
    assert not space.is_bounded() and space.is_bounded("below") is False
    for _ in range(100):
        s = space.sample()
        assert s.dtype == np.float32 and s.shape == (4,) and space.contains(s)
        assert -1 <= s[0] <= 1 and s[1] >= 0 and s[2] <= 2
    assert not space.contains(np.array([2.0, 0, 0, 0], np.float32))
    assert not space.contains(np.zeros(3, np.float32))
    assert space.contains([0.0, 1.0, 1.0, 5.0])
    bounded = Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
    assert bounded.is_bounded() and bounded.low.shape == (1,)
    assert repr(bounded) == "Box(-2.0, 2.0, (1,), float32)"
    assert bounded == Box(np.array([-2.0], np.float32), np.array([2.0], np.float32))
    assert bounded != Box(-1.0, 2.0, shape=(1,))
    with pytest.raises(ValueError):
        Box(1.0, 0.0, shape=(2,))


def test_make_vec_spaces_are_apiary_spaces_without_gymnasium():
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        env = apiary.make_vec("CartPole-v1", 2)
        assert type(env.single_action_space) is Discrete and type(env.action_space) is MultiDiscrete
        assert type(env.single_observation_space) is Box and type(env.observation_space) is Box
        assert apiary.AutoresetMode.SAME_STEP.value == "SameStep"
    else:
        pytest.skip("gymnasium is installed: test_real_gymnasium.py covers it")


FAKE_GYMNASIUM = textwrap.dedent("""
    import enum, sys, types
    import numpy as np

    calls = []
    gymnasium = types.ModuleType("gymnasium")
    spaces = types.ModuleType("gymnasium.spaces")
    vector = types.ModuleType("gymnasium.vector")

    class Space:
        pass

    class Box(Space):
        def __init__(self, low, high, shape=None, dtype=np.float32, seed=None):
            calls.append(("Box", np.asarray(low).shape, np.asarray(high).shape, shape, np.dtype(dtype)))
            self.low, self.high, self.shape, self.dtype = np.asarray(low), np.asarray(high), shape, np.dtype(dtype)

    class Discrete(Space):
        def __init__(self, n, seed=None, start=0, dtype=np.int64):
            assert np.issubdtype(type(n), np.integer) and np.issubdtype(type(start), np.integer)
            calls.append(("Discrete", int(n), int(start)))
            self.n, self.start, self.shape, self.dtype = n, start, (), np.dtype(dtype)

    class MultiDiscrete(Space):
        def __init__(self, nvec, dtype=np.int64, seed=None, start=None):
            calls.append(("MultiDiscrete", tuple(nvec), np.dtype(dtype), tuple(start)))
            self.nvec, self.start, self.shape, self.dtype = np.asarray(nvec), start, np.shape(nvec), np.dtype(dtype)

    class AutoresetMode(enum.Enum):
        NEXT_STEP = "NextStep"
        SAME_STEP = "SameStep"
        DISABLED = "Disabled"

    class VectorEnv:
        metadata = {}
        closed = False

        def close(self, **kwargs):
            if self.closed:
                return
            self.close_extras(**kwargs)
            self.closed = True

        def close_extras(self, **kwargs):
            pass

    spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.Space = Box, Discrete, MultiDiscrete, Space
    vector.VectorEnv, vector.AutoresetMode = VectorEnv, AutoresetMode
    gymnasium.spaces, gymnasium.vector = spaces, vector
    sys.modules.update({"gymnasium": gymnasium, "gymnasium.spaces": spaces, "gymnasium.vector": vector})

    import apiary
    env = apiary.make_vec("CartPole-v1", 3, seed=0)
    assert isinstance(env, VectorEnv), type(env).__mro__
    assert isinstance(env.single_observation_space, Box) and isinstance(env.observation_space, Box)
    assert isinstance(env.single_action_space, Discrete) and isinstance(env.action_space, MultiDiscrete)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP  # Gymnasium's default
    assert apiary.AutoresetMode is AutoresetMode
    same = apiary.make_vec("CartPole-v1", 3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert ("Box", (4,), (4,), (4,), np.dtype(np.float32)) in calls
    assert ("Box", (3, 4), (3, 4), (3, 4), np.dtype(np.float32)) in calls
    assert ("Discrete", 2, 0) in calls
    assert ("MultiDiscrete", (2, 2, 2), np.dtype(np.int64), (0, 0, 0)) in calls
    cont = apiary.make_vec("Pendulum-v1", 2)
    assert isinstance(cont.action_space, Box) and cont.action_space.shape == (2, 1)
    listed = apiary.envs()
    assert isinstance(listed["LunarLander-v3"]["action_space"], Discrete)
    obs, info = env.reset()
    obs, rewards, terminations, truncations, info = env.step(np.array([0, 1, 0]))
    env.close()
    assert env.closed
    print("gymnasium branch taken")
""")


def test_gymnasium_branch_with_a_fake_gymnasium():
    result = subprocess.run([sys.executable, "-c", FAKE_GYMNASIUM], capture_output=True, text=True,
                            env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "gymnasium branch taken" in result.stdout
