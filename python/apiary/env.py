"""One Apiary environment as a ``gymnasium.Env`` (``apiary.SingleEnv``), and the registration of every
Apiary env with Gymnasium, so that ``gymnasium.make("apiary/CartPole-v1")`` gives a single env and
``gymnasium.make_vec("apiary/CartPole-v1", 8)`` the batched one (``apiary.make_vec``). See
docs/python.md.

``import apiary`` registers the ids of ``apiary.envs()`` when gymnasium can be imported, as
``apiary/ID`` (a MinAtar id's slash made a dash, ``apiary/MinAtar-Breakout-v1``: Gymnasium's ids have
one slash, after the namespace); ``apiary.load_plugin`` registers a plugin's ids likewise.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import _apiary
from .vector import (AutoresetMode, VectorEnv, _fallback_np_random, _fallback_set_np_random, env_spec,
                     gymnasium_id, make_vec, render_fps)

__all__ = ["SingleEnv", "make_env", "make_vector_env", "register_gymnasium"]


def _gymnasium_core():
    try:
        import gymnasium  # noqa: PLC0415 (optional dependency)

        return gymnasium if isinstance(getattr(gymnasium, "Env", None), type) else None
    except ImportError:
        return None


_gym = _gymnasium_core()

if _gym is not None:
    _Base = _gym.Env
else:

    class _Base:
        """What ``gymnasium.Env`` provides, for when gymnasium is not installed."""

        metadata: dict[str, Any] = {"render_modes": []}
        render_mode = None
        spec = None
        _np_random: np.random.Generator | None = None
        _np_random_seed: int | None = None

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
            if seed is not None:
                self._np_random, self._np_random_seed = np.random.default_rng(seed), int(seed)

        np_random = property(_fallback_np_random, _fallback_set_np_random)

        @property
        def np_random_seed(self) -> int:
            if self._np_random_seed is None:
                _ = self.np_random
            return self._np_random_seed

        @property
        def unwrapped(self):
            return self

        def __enter__(self):
            return self

        def __exit__(self, *args: Any) -> bool:
            self.close()
            return False


class SingleEnv(_Base):
    """One Apiary environment with ``gymnasium.Env``'s interface (a subclass of it when gymnasium can
    be imported): ``reset(seed=, options=) -> (obs, info)``, ``step(action) -> (obs, reward,
    terminated, truncated, info)`` with a float reward and bool flags. A 1-lane :class:`VectorEnv`
    underneath, in DISABLED autoreset mode: after an episode ends, step() raises until reset() (where
    Gymnasium's envs warn and go on in an undefined state). Its options are
    make_vec's (``options=`` or by name: ``SingleEnv("CartPole-v1", gravity=-5.0)``);
    ``max_episode_steps`` is the env's time limit (None: its default)."""

    def __init__(self, env_id: str, render_mode: str | None = None, seed: int | None = None, threads: int = 1,
                 options: dict[str, float] | None = None, max_episode_steps: int | None = None, **env_options: float):
        self.env_id: str = env_id  # first: repr() of a half-made env names it
        options = dict(options or {})
        options.update(env_options)
        if max_episode_steps is not None:
            options["max_episode_steps"] = max_episode_steps
        self._vec = VectorEnv(env_id, 1, seed=seed, threads=threads, options=options, copy=True,
                              episode_stats=False, autoreset_mode=AutoresetMode.DISABLED, render_mode=render_mode)
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space
        self.metadata = {"render_modes": self._vec.metadata["render_modes"], "render_fps": render_fps(env_id)}
        self.render_mode: str | None = render_mode
        self.max_episode_steps: int = self._vec.max_episode_steps
        self.reward_threshold = self._vec.reward_threshold
        self.options: dict[str, float] = self._vec.options
        self.spec = env_spec(env_id, self.max_episode_steps, self.reward_threshold, {"env_id": env_id, **options})
        self._started = self._ended = False
        self._discrete = self.action_space.shape == ()
        self._mask = np.ones(1, np.bool_)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A new episode: with a seed, from that seed (as make_vec's reset(seed)); without, the next one
        of the env's random stream. ``options`` must be empty (env options are set when it is made)."""
        super().reset(seed=seed)
        if options:
            raise ValueError(f"{self.env_id}: reset() takes no options (env options are set when the env is made); "
                             f"got {options!r}")
        if seed is not None or not self._started:
            obs, _ = self._vec.reset(seed=seed)
        else:
            obs, _ = self._vec.reset(options={"reset_mask": self._mask})
        self._started, self._ended = True, False
        return obs[0], {}

    def step(self, action):
        """One step: ``(obs, reward, terminated, truncated, info)``; reward a float, flags bools."""
        if not self._started:
            raise ValueError(f"{self.env_id}: step() before reset(); call reset() first")
        if self._ended:
            raise ValueError(f"{self.env_id}: step() after the episode ended (terminated or truncated); call reset() "
                             "first")
        batch = np.asarray(action)[None] if not self._discrete else _discrete_batch(self.env_id, action)
        obs, reward, terminated, truncated, _ = self._vec.step(batch)
        self._ended = bool(terminated[0] or truncated[0])
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {}

    def render(self) -> np.ndarray | None:
        """The picture as it stands, uint8 [H, W, 3] (render_mode ``"rgb_array"``, as Gymnasium's
        envs: what RecordVideo records); None without a render mode."""
        frames = self._vec.render()
        return None if frames is None else frames[0]

    def close(self) -> None:
        self._vec.close()

    @property
    def closed(self) -> bool:
        return self._vec.closed

    def __repr__(self) -> str:
        return f"apiary.SingleEnv({self.env_id})"

    __str__ = __repr__


def _discrete_batch(env_id: str, action: Any) -> np.ndarray:
    """A Discrete env's one action as a batch of one, refusing what is not one integer."""
    a = np.asarray(action)
    if a.ndim != 0 and a.shape != (1,):
        raise ValueError(f"{env_id}: step() takes one action, got shape {a.shape}")
    return a.reshape(1)


# ---- Gymnasium's registry --------------------------------------------------------------------------

def make_env(env_id: str, max_episode_steps: int | None = None, **kwargs: Any) -> SingleEnv:
    """The entry point ``gymnasium.make("apiary/ID")`` calls. Gymnasium's TimeLimit wrapper, which
    make() adds from the registered max_episode_steps, ends the episodes; the env's own limit is
    lifted (as Gymnasium's CartPole has none: ``gymnasium.make(..., max_episode_steps=-1)`` gives
    endless episodes), unless given here (``gymnasium.make("apiary/ID", max_episode_steps=...)`` is
    make()'s argument and never reaches this function)."""
    if max_episode_steps is None:
        max_episode_steps = _NO_LIMIT
    return SingleEnv(env_id, max_episode_steps=max_episode_steps, **kwargs)


def make_vector_env(env_id: str, num_envs: int = 1, max_episode_steps: int | None = None, **kwargs: Any) -> VectorEnv:
    """The vector entry point ``gymnasium.make_vec("apiary/ID", n)`` calls: ``apiary.make_vec`` with
    make_vec's keywords (seed, threads, copy, episode_stats, autoreset_mode, options, plugins) and
    the env's options by name (``gymnasium.make_vec("apiary/LunarLander-v3", 8, gravity=-5.0)``)."""
    make_keys = ("seed", "threads", "copy", "episode_stats", "autoreset_mode", "plugins")
    make_kwargs = {k: kwargs.pop(k) for k in make_keys if k in kwargs}
    kwargs.pop("vectorization_mode", None)  # gymnasium's own, when it recreates an env from its spec
    render_mode = kwargs.pop("render_mode", None)
    options = dict(kwargs.pop("options", None) or {})
    options.update(kwargs)
    if max_episode_steps is not None:
        options["max_episode_steps"] = max_episode_steps
    return make_vec(env_id, num_envs, options=options, render_mode=render_mode, **make_kwargs)


# The time limit of an env made by gymnasium.make (TimeLimit's job there): the option's largest value.
_NO_LIMIT = 10**9


def _gymnasium_registration():
    try:
        from gymnasium.envs import registration  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    return registration


def register_gymnasium(ids: Iterable[str] | None = None) -> list[str]:
    """Registers Apiary's envs (``ids``; None: every one of ``apiary.envs()``) with Gymnasium as
    ``apiary/ID``, with a single-env entry point (``apiary.env:make_env``) and a vector one
    (``apiary.env:make_vector_env``), the env's time limit and reward threshold; returns the
    Gymnasium ids. Ids registered already are left as they are. Nothing without gymnasium."""
    registration = _gymnasium_registration()
    if registration is None:
        return []
    listed = _apiary.envs()
    out = []
    for env_id in listed if ids is None else ids:
        d = listed[env_id]
        gym_id = gymnasium_id(env_id)
        out.append(gym_id)
        if gym_id in registration.registry:
            continue
        registration.register(id=gym_id, entry_point="apiary.env:make_env",
                              vector_entry_point="apiary.env:make_vector_env",
                              max_episode_steps=d["max_episode_steps"] or None,  # 0: none (MinAtar)
                              reward_threshold=d["reward_threshold"],
                              kwargs={"env_id": env_id})
    return out
