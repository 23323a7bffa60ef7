"""``apiary.make_vec``: Apiary's batched environments behind Gymnasium 1.x's VectorEnv interface.

Semantics are those of Gymnasium's vector envs in same-step autoreset mode
(``metadata["autoreset_mode"] == AutoresetMode.SAME_STEP``): a lane whose episode ends is reset in
the same step; the observation returned is the new episode's first one and the last observation of
the episode that ended is in ``info["final_obs"]`` (mask ``info["_final_obs"]``). See docs/python.md.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable, Mapping

import numpy as np

from . import _apiary
from .spaces import make_space

__all__ = ["VectorEnv", "AutoresetMode", "make_vec", "envs", "load_plugin"]


def _gymnasium_vector():
    try:
        from gymnasium import vector  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    return vector


_gym_vector = _gymnasium_vector()

if _gym_vector is not None:
    AutoresetMode = _gym_vector.AutoresetMode
    _Base = _gym_vector.VectorEnv
else:

    class AutoresetMode(enum.Enum):
        """Gymnasium's ``gymnasium.vector.AutoresetMode``, for when gymnasium is not installed."""

        NEXT_STEP = "NextStep"
        SAME_STEP = "SameStep"
        DISABLED = "Disabled"

    class _Base:
        """What Gymnasium's ``VectorEnv`` base class provides, for when gymnasium is not installed."""

        metadata: dict[str, Any] = {}
        spec = None
        render_mode = None
        closed = False
        _np_random: np.random.Generator | None = None
        _np_random_seed: int | None = None

        def close(self, **kwargs: Any) -> None:
            if self.closed:
                return
            self.close_extras(**kwargs)
            self.closed = True

        def close_extras(self, **kwargs: Any) -> None:
            pass

        @property
        def np_random(self) -> np.random.Generator:
            if self._np_random is None:
                self._np_random_seed = int(np.random.SeedSequence().entropy % (2**63))
                self._np_random = np.random.default_rng(self._np_random_seed)
            return self._np_random

        @np_random.setter
        def np_random(self, value: np.random.Generator) -> None:
            self._np_random, self._np_random_seed = value, -1

        @property
        def np_random_seed(self) -> int | None:
            if self._np_random_seed is None:
                _ = self.np_random
            return self._np_random_seed

        @property
        def unwrapped(self):
            return self

        def __del__(self):
            if not getattr(self, "closed", True):
                self.close()


class VectorEnv(_Base):
    """``num_envs`` lanes of one Apiary environment, stepped together in C++.

    Subclasses ``gymnasium.vector.VectorEnv`` when gymnasium can be imported. Made by
    :func:`make_vec`; see there for the arguments and docs/python.md for the buffers' lifetime.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int | None = None, threads: int = 1,
                 options: Mapping[str, float] | None = None, copy: bool = False, episode_stats: bool = True):
        self.closed = True  # until the core exists, so that __del__ of a half-built env does nothing
        if not isinstance(env_id, str):
            raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"{env_id}: num_envs must be an int >= 1, got {num_envs!r}")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise TypeError(f"{env_id}: threads must be an int (0: every core), got {threads!r}")
        self._core = _apiary.VecCore(env_id, int(num_envs), seed, int(threads),
                                     None if options is None else dict(options), bool(copy), bool(episode_stats))
        spec = self._core.spec
        self.env_id: str = env_id
        self.num_envs: int = int(num_envs)
        self.copy: bool = bool(copy)
        self.max_episode_steps: int = spec["max_episode_steps"]
        self.reward_threshold: float | None = spec["reward_threshold"]
        self.single_observation_space = make_space(spec["observation_space"])
        self.single_action_space = make_space(spec["action_space"])
        self.observation_space = make_space(spec["observation_space"], self.num_envs)
        self.action_space = make_space(spec["action_space"], self.num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}
        self.render_mode = None
        self.closed = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Resets every lane; returns ``(obs, info)``. Lane i's random stream is derived from
        (seed, i). Without a seed: make_vec's seed on the first reset, a new seed drawn from the
        previous one afterwards (fresh episodes, reproducible from the first seed)."""
        result = self._core.reset(seed, options)  # checks the seed and the options
        if seed is not None:
            self._np_random, self._np_random_seed = np.random.default_rng(seed), int(seed)
        return result

    def step(self, actions):
        """Steps every lane; returns ``(obs, rewards, terminations, truncations, info)``."""
        return self._core.step(actions)

    def close_extras(self, **kwargs: Any) -> None:
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()

    def render(self):
        raise NotImplementedError(f"{self.env_id}: render() is not supported from Python; "
                                  f"`apiary play --env {self.env_id}` draws the env")

    @property
    def threads(self) -> int:
        """CPU threads that step the lanes (settable; 0 means every core)."""
        return self._core.threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._core.threads = value

    @property
    def seed(self) -> int | None:
        """The seed the last reset() used."""
        return self._core.seed

    def __repr__(self) -> str:
        return f"apiary.VectorEnv({self.env_id}, num_envs={self.num_envs})"


def make_vec(env_id: str, num_envs: int, seed: int | None = None, threads: int = 1,
             options: Mapping[str, float] | None = None, plugins: Iterable[str] = (), copy: bool = False,
             episode_stats: bool = True) -> VectorEnv:
    """A vector env of ``num_envs`` lanes of ``env_id`` (Gymnasium 1.x VectorEnv interface).

    Args:
        env_id: a registered id (``apiary.envs()``), e.g. ``"CartPole-v1"``.
        num_envs: number of lanes.
        seed: the seed of the first ``reset()`` given none (None: drawn from the system).
        threads: CPU threads stepping the lanes (0: every core).
        options: env parameters by name, e.g. ``{"gravity": -5.0, "max_episode_steps": 200}``.
        plugins: env plugin libraries to load first (``load_plugin``).
        copy: False (default): step() and reset() return numpy views of the env's buffers, which the
            next step() overwrites; True: fresh copies every call.
        episode_stats: write ``info["episode"]`` as Gymnasium's RecordEpisodeStatistics does (turn
            off to wrap the env in that wrapper, which refuses an info that has the key already).
    """
    for path in plugins if not isinstance(plugins, str) else (plugins,):
        load_plugin(path)
    return VectorEnv(env_id, num_envs, seed=seed, threads=threads, options=options, copy=copy,
                     episode_stats=episode_stats)


def envs() -> dict[str, dict[str, Any]]:
    """Registered env ids, each with its spaces, time limit, reward threshold, options (default,
    range, meaning), devices and origin ("builtin" or the plugin that registered it)."""
    out = {}
    for env_id, d in _apiary.envs().items():
        d["observation_space"] = make_space(d["observation_space"])
        d["action_space"] = make_space(d["action_space"])
        out[env_id] = d
    return out


def load_plugin(path: str) -> list[str]:
    """Loads an env plugin (a shared library built with apiary_add_plugin, docs/custom-envs.md) and
    returns the ids it registered. Loading the same file again does nothing."""
    import os  # noqa: PLC0415

    return list(_apiary.load_plugin(os.fspath(path)))
