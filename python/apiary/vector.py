"""``apiary.make_vec``: Apiary's batched environments behind Gymnasium 1.x's VectorEnv interface.

Semantics are those of Gymnasium's ``SyncVectorEnv`` (see docs/python.md), in any of its three
autoreset modes (``metadata["autoreset_mode"]``):

- ``NEXT_STEP`` (the default, as Gymnasium's): the step on which a lane's episode ends returns that
  episode's last observation; the lane's next step is a reset step that ignores its action and returns
  the new episode's first observation, reward 0 and both flags false.
- ``SAME_STEP``: a lane whose episode ends is reset within the step; ``obs`` holds the new episode's
  first observation and the last one is in ``info["final_obs"]`` (an object array, None where
  ``info["_final_obs"]`` is false).
- ``DISABLED``: a lane whose episode ended returns its last observation and must be reset with
  ``reset(options={"reset_mask": mask})`` before the next step.

The C++ core (``_apiary.VecCore``) always resets a finished lane in the same step, and can hold lanes
still for a step (``step(actions, hold)``) and start new episodes in chosen lanes (``reset_lanes``);
the other modes are built on those here. The core is made with views (no copies) and this file never
writes into its buffers: they are env state (frame stacking keeps its stack in the observation buffer).
"""

from __future__ import annotations

import dataclasses
import enum
import os
import warnings
from typing import Any, Iterable, Mapping

import numpy as np

from . import _apiary
from .spaces import make_space

__all__ = ["VectorEnv", "AutoresetMode", "EnvSpec", "make_vec", "envs", "load_plugin", "gymnasium_id",
           "MAX_NUM_ENVS"]

# The most lanes one env takes: the command line's --num-envs cap (the C++ core refuses more too).
MAX_NUM_ENVS = 2**24


def _gymnasium():
    try:
        import gymnasium  # noqa: PLC0415 (optional dependency)
        import gymnasium.vector  # noqa: PLC0415, F401 (the VectorEnv base class and AutoresetMode)
    except ImportError:
        return None
    return gymnasium


_gym = _gymnasium()


def _gymnasium_env_spec_class():
    """gymnasium.envs.registration.EnvSpec when it can be imported (not with a partial stand-in)."""
    try:
        from gymnasium.envs.registration import EnvSpec as GymnasiumEnvSpec  # noqa: PLC0415
    except ImportError:
        return None
    return GymnasiumEnvSpec


def _fallback_np_random(self) -> np.random.Generator:
    """``np_random`` of the stand-ins for Gymnasium's base classes (here and in env.py): a generator
    seeded from the system on first use, as Gymnasium's is."""
    if self._np_random is None:
        self._np_random_seed = int(np.random.SeedSequence().entropy % (2**63))
        self._np_random = np.random.default_rng(self._np_random_seed)
    return self._np_random


def _fallback_set_np_random(self, value: np.random.Generator) -> None:
    self._np_random, self._np_random_seed = value, -1


if _gym is not None:
    AutoresetMode = _gym.vector.AutoresetMode
    _Base = _gym.vector.VectorEnv
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

        np_random = property(_fallback_np_random, _fallback_set_np_random)

        @property
        def unwrapped(self):
            return self

        def __del__(self):
            if not getattr(self, "closed", True):
                self.close()


@dataclasses.dataclass
class EnvSpec:
    """The fields of ``gymnasium.envs.registration.EnvSpec`` that describe an env, for ``env.spec``
    when gymnasium is not installed (with gymnasium, ``env.spec`` is gymnasium's own class)."""

    id: str
    entry_point: str | None = None
    reward_threshold: float | None = None
    nondeterministic: bool = False
    max_episode_steps: int | None = None
    order_enforce: bool = True
    disable_env_checker: bool = False
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    vector_entry_point: str | None = None


def gymnasium_id(env_id: str) -> str:
    """The id under which ``import apiary`` registers ``env_id`` with Gymnasium: ``apiary/`` before it,
    and a MinAtar id's slash made a dash (Gymnasium's ids have at most one slash, after the
    namespace): ``"CartPole-v1"`` -> ``"apiary/CartPole-v1"``, ``"MinAtar/Breakout-v1"`` ->
    ``"apiary/MinAtar-Breakout-v1"``."""
    return "apiary/" + env_id.replace("/", "-")


def env_spec(env_id: str, max_episode_steps: int | None, reward_threshold: float | None,
             kwargs: Mapping[str, Any]):
    """``env.spec`` for an Apiary env: gymnasium's EnvSpec when gymnasium is importable, else
    Apiary's; its entry points are those ``import apiary`` registers (apiary/env.py)."""
    cls = _gymnasium_env_spec_class() or EnvSpec
    return cls(id=gymnasium_id(env_id), entry_point="apiary.env:make_env", reward_threshold=reward_threshold,
               max_episode_steps=max_episode_steps or None,  # 0: no time limit (MinAtar); Gymnasium's None
               kwargs=dict(kwargs), vector_entry_point="apiary.env:make_vector_env")


def render_fps(env_id: str) -> int:
    """Gymnasium's metadata["render_fps"] of the env, as `apiary play` paces it (render/player.cpp):
    50 for CartPole, LunarLander, BipedalWalker and CarRacing, 15 for Acrobot, 30 otherwise
    (MountainCar, Pendulum, MinAtar, plugins)."""
    if env_id in ("CartPole-v1", "CarRacing-v3") or env_id.startswith(("LunarLander", "BipedalWalker")):
        return 50
    if env_id == "Acrobot-v1":
        return 15
    return 30


def parse_autoreset_mode(mode: Any) -> AutoresetMode:
    """An AutoresetMode, its value (``"NextStep"``, as Gymnasium accepts) or its name (``"NEXT_STEP"``,
    any case)."""
    if isinstance(mode, AutoresetMode):
        return mode
    if isinstance(mode, enum.Enum):  # another module's AutoresetMode (gymnasium's, Apiary's own)
        mode = mode.value
    if isinstance(mode, str):
        for m in AutoresetMode:
            if mode == m.value or mode.upper() == m.name:
                return m
    raise ValueError(f"autoreset_mode must be one of {', '.join(m.name for m in AutoresetMode)} "
                     f"(an apiary.AutoresetMode or its value), got {mode!r}")


def check_num_envs(env_id: str, num_envs: Any) -> int:
    """num_envs as an int in [1, MAX_NUM_ENVS], or TypeError / ValueError naming the range (before
    anything is allocated; the core also refuses lanes that would not fit in memory)."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
        raise TypeError(f"{env_id}: num_envs must be an int, got {num_envs!r}")
    if not 1 <= num_envs <= MAX_NUM_ENVS:
        raise ValueError(f"{env_id}: num_envs must be in [1, 2**24] ({MAX_NUM_ENVS}, as the command line's "
                         f"--num-envs), got {int(num_envs)}")
    return int(num_envs)


class VectorEnv(_Base):
    """``num_envs`` lanes of one Apiary environment, stepped together in C++.

    Subclasses ``gymnasium.vector.VectorEnv`` when gymnasium can be imported. Made by
    :func:`make_vec`; see there for the arguments and docs/python.md for the semantics.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int | None = None, threads: int = 1,
                 options: Mapping[str, float] | None = None, copy: bool = True, episode_stats: bool = False,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None):
        self.closed = True  # until the core exists, so that __del__ of a half-built env does nothing
        if not isinstance(env_id, str):
            raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
        num_envs = check_num_envs(env_id, num_envs)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise TypeError(f"{env_id}: threads must be an int (0: every core), got {threads!r}")
        mode = parse_autoreset_mode(autoreset_mode)
        options = None if options is None else dict(options)
        # Views of the core's buffers, never copies: the copies this env hands out are made here, once.
        self._core = _apiary.VecCore(env_id, num_envs, seed, int(threads), options, False, bool(episode_stats))
        spec = self._core.spec
        self.env_id: str = env_id
        self.num_envs: int = num_envs
        self.copy: bool = bool(copy)
        self.episode_stats: bool = bool(episode_stats)
        self.autoreset_mode: AutoresetMode = mode
        self.max_episode_steps: int = spec["max_episode_steps"]
        self.reward_threshold: float | None = spec["reward_threshold"]
        self.single_observation_space = make_space(spec["observation_space"])
        self.single_action_space = make_space(spec["action_space"])
        self.observation_space = make_space(spec["observation_space"], num_envs)
        self.action_space = make_space(spec["action_space"], num_envs)
        modes = ["rgb_array"] if self._core.has_picture else []
        if render_mode is not None and render_mode not in modes:
            self._core.close()
            raise ValueError(f"{env_id}: render_mode={render_mode!r}; this env's render modes are {modes} "
                             f"(`apiary play --env {env_id}` shows it in a window)")
        self.metadata = {"autoreset_mode": mode, "render_modes": modes, "render_fps": render_fps(env_id)}
        self.render_mode: str | None = render_mode
        # What made the env (pickling rebuilds it from these), and its options with their defaults.
        self._make_seed = seed
        self._given_options = options or {}
        self.options: dict[str, float] = self._resolve_options(options or {})
        kwargs: dict[str, Any] = {"env_id": env_id, **(options or {}), "num_envs": num_envs,
                                  "vectorization_mode": "vector_entry_point"}
        kwargs.update({k: v for k, v in (("seed", seed), ("threads", int(threads)), ("copy", self.copy),
                                         ("episode_stats", self.episode_stats), ("autoreset_mode", mode.value),
                                         ("render_mode", render_mode))
                       if v != _MAKE_DEFAULTS[k]})
        self.spec = env_spec(env_id, self.max_episode_steps, self.reward_threshold, kwargs)
        # Lanes whose episode ended on the last step and whose next episode the core already began (it
        # resets in the same step): NEXT_STEP shows that episode on their next step, holding them still
        # meanwhile; DISABLED refuses to step until reset(options={"reset_mask": ...}) covers them. A
        # bool array [num_envs], or None when there is none.
        self._waiting: np.ndarray | None = None
        self._final_obs: np.ndarray | None = None  # the core's final-observation rows of the waiting lanes
        # A whole observation row as one numpy element, so that rows are patched under a mask in one
        # call; the core's two observation buffers seen that way (their views are made once).
        self._row = np.dtype((np.void, self.single_observation_space.dtype.itemsize
                              * int(np.prod(self.single_observation_space.shape, dtype=np.int64))))
        self._obs_view = self._obs_rows = self._final_view = self._final_rows = None
        # copy=False: the arrays handed out every call (the core's own views where nothing is patched).
        self._reward_out = np.zeros(num_envs, np.float64)
        self._obs_out = self._terminated_out = self._truncated_out = None
        if mode is not AutoresetMode.SAME_STEP and not self.copy:
            self._obs_out = np.zeros(self.observation_space.shape, self.single_observation_space.dtype)
            self._obs_out_rows = self._obs_out.reshape(num_envs, -1).view(self._row).reshape(num_envs)
            self._terminated_out = np.zeros(num_envs, np.bool_)
            self._truncated_out = np.zeros(num_envs, np.bool_)
        self.closed = False

    def _resolve_options(self, given: Mapping[str, float]) -> dict[str, float]:
        """Every option of the env with its value: the given ones, else the defaults."""
        listed = _apiary.envs().get(self.env_id, {}).get("options", {})
        # The defaults are the env's float32 parameters: the shortest decimal that is each (9.8, not
        # 9.800000190734863), as the Gymnasium env's attribute reads.
        out = {name: float(str(np.float32(d["default"]))) for name, d in listed.items()}
        out.update({k: float(v) for k, v in given.items()})
        out["max_episode_steps"] = self.max_episode_steps
        return out

    # ---- reset and step ------------------------------------------------------------------------

    def reset(self, *, seed: int | list | tuple | None = None, options: dict[str, Any] | None = None):
        """Resets every lane, or with ``options={"reset_mask": mask}`` the lanes where ``mask`` is
        true; returns ``(obs, info)``. Lane i's random stream is derived from (seed, i). Without a
        seed: make_vec's seed on the first reset, a new seed drawn from the previous one afterwards
        (fresh episodes, reproducible from the first seed). A list of per-lane seeds is taken only
        where it means one seed (see docs/python.md)."""
        seed = self._batch_seed(seed)
        options = dict(options) if options else {}
        if "reset_mask" in options:
            mask = self._reset_mask(options.pop("reset_mask"))
            if seed is not None:
                raise ValueError(f"{self.env_id}: reset(seed=..., options={{'reset_mask': ...}}): the masked lanes "
                                 "go on with their own random streams; a seed resets every lane (reset(seed=...))")
            if options:
                raise ValueError(f"{self.env_id}: reset() takes no options besides reset_mask (env options are "
                                 f"set by make_vec(options=...)); got {options!r}")
            return self._reset_lanes(mask)
        obs, info = self._core.reset(seed, options)  # checks the seed and the options
        if seed is not None:
            self._np_random, self._np_random_seed = np.random.default_rng(seed), int(seed)
        self._waiting = self._final_obs = None
        return self._obs_copy(obs), info

    def _reset_lanes(self, mask: np.ndarray):
        """The masked lanes begin new episodes. A waiting lane's next episode is already under way in
        the core (it reset when the last one ended), so only the others are reset; a waiting lane
        left out of the mask keeps showing its episode's last observation, and keeps waiting."""
        if self._core.seed is None and not self._core.closed:
            raise ValueError(f"{self.env_id}: reset(options={{'reset_mask': ...}}) before reset(); call reset() first")
        waiting = self._waiting
        fresh = mask if waiting is None else mask & ~waiting
        obs, info = self._core.reset_lanes(fresh)  # all lanes' rows; the unmasked ones as they were
        out = self._obs_copy(obs)
        if waiting is not None:
            still = waiting & ~mask
            if still.any():
                self._put_rows(out, self._final_obs, still)
                self._waiting = still
            else:
                self._waiting = self._final_obs = None
        return out, info

    def step(self, actions):
        """Steps every lane; returns ``(obs, rewards, terminations, truncations, info)``."""
        if (actions.ndim if type(actions) is np.ndarray else np.ndim(actions)) == 0:
            raise TypeError(f"{self.env_id}: step() takes a batch of {self.num_envs} actions, one per lane "
                            f"(each in {self.single_action_space}), got the scalar {actions!r}")
        waiting = self._waiting
        mode = self.autoreset_mode
        if waiting is not None and mode is AutoresetMode.DISABLED:
            lanes = np.flatnonzero(waiting)
            raise ValueError(f"{self.env_id}: step() with lane(s) {_lanes_text(lanes)} ended and not reset: with "
                             "autoreset_mode DISABLED, reset them first with reset(options={'reset_mask': mask})")
        if self.copy and mode is not AutoresetMode.SAME_STEP:  # the common case, in one C++ pass
            obs, reward, terminated, truncated, info, ended, final_obs = self._core.step_next(actions, waiting)
            self._waiting, self._final_obs = ended, final_obs
            return obs, reward, terminated, truncated, info
        obs, reward, terminated, truncated, info = self._core.step(actions, waiting)
        if mode is AutoresetMode.SAME_STEP:
            if self.copy:
                obs, terminated, truncated = obs.copy(), terminated.copy(), truncated.copy()
                reward = reward.astype(np.float64)
            else:
                reward = self._float64_rewards(reward)
            if info:
                info = self._same_step_info(info)
            return obs, reward, terminated, truncated, info

        # NEXT_STEP and DISABLED with copy=False (copies took step_next above): the output arrays are
        # reused. A held lane's observation row is the one of the step where its episode ended, already
        # the new episode's first (the core began it then), and the core reports its reward and flags as
        # 0. Lanes that ended on this step show their episode's last observation (from the core's
        # final-observation buffer), and wait.
        ended = info["_final_obs"] if info else None
        if ended is None:
            out = self._copy_into(self._obs_out, obs)
        else:
            obs_rows, final_rows = self._core_rows(obs, info["final_obs"])
            np.putmask(self._copy_into(self._obs_out_rows, obs_rows), ended, final_rows)
            out = self._obs_out
        reward = self._float64_rewards(reward)
        terminated = self._copy_into(self._terminated_out, terminated)
        truncated = self._copy_into(self._truncated_out, truncated)
        self._waiting = ended
        if ended is None:
            self._final_obs = None
            return out, reward, terminated, truncated, info
        self._final_obs = info["final_obs"]
        if self.episode_stats:
            return out, reward, terminated, truncated, {"episode": info["episode"], "_episode": info["_episode"]}
        return out, reward, terminated, truncated, {}

    # ---- the pieces of reset and step ----------------------------------------------------------

    def _obs_copy(self, obs: np.ndarray) -> np.ndarray:
        """What reset() hands out for the core's observation view: a fresh copy (copy=True), the view
        itself (copy=False, SAME_STEP: nothing is ever patched), or the env's own output array."""
        if self.copy:
            return obs.copy()
        if self._obs_out is None:
            return obs
        np.copyto(self._obs_out, obs)
        return self._obs_out

    def _as_rows(self, a: np.ndarray) -> np.ndarray:
        """A C-contiguous [num_envs, ...] array as a 1-D array of whole rows (a view)."""
        return a.reshape(self.num_envs, -1).view(self._row).reshape(self.num_envs)

    def _core_rows(self, obs: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """_as_rows of the core's observation and final-observation buffers, made once: the core hands
        out the same two arrays every call."""
        if obs is not self._obs_view:
            self._obs_view, self._obs_rows = obs, self._as_rows(obs)
        if final is not self._final_view:
            self._final_view, self._final_rows = final, self._as_rows(final)
        return self._obs_rows, self._final_rows

    def _put_rows(self, out: np.ndarray, rows: np.ndarray, mask: np.ndarray) -> None:
        """out[i] = rows[i] where mask[i]."""
        np.putmask(self._as_rows(out), mask, self._as_rows(rows))

    @staticmethod
    def _copy_into(out: np.ndarray, a: np.ndarray) -> np.ndarray:
        """copy=False: a's values in the env's own output array."""
        np.copyto(out, a)
        return out

    def _float64_rewards(self, reward: np.ndarray) -> np.ndarray:
        """copy=False: the rewards in the env's own float64 array (SyncVectorEnv's dtype)."""
        np.copyto(self._reward_out, reward)
        return self._reward_out

    def _same_step_info(self, info: dict) -> dict:
        """The core's same-step info in Gymnasium's layout: final_obs an object array holding each
        finished lane's last observation (its own array) and None elsewhere; the dense array stays as
        final_obs_dense (a copy with copy=True, the env's buffer with copy=False). One array object per
        finished lane is made here: on wide envs where many lanes finish each step, final_obs_dense is
        the cheaper read."""
        dense = info["final_obs"]
        lanes = np.flatnonzero(info["_final_obs"])
        final = np.full(self.num_envs, None, dtype=object)
        for lane, row in zip(lanes.tolist(), dense[lanes]):
            final[lane] = row
        info["final_obs"] = final
        info["final_obs_dense"] = dense.copy() if self.copy else dense
        return info

    def _batch_seed(self, seed: Any) -> int | None:
        """reset()'s seed as the one int the core takes. A sequence of per-lane seeds (SyncVectorEnv's
        form) is taken where it means one seed: all None (no seed), or seed, seed + 1, ...,
        seed + num_envs - 1 (what SyncVectorEnv makes of the int seed); any other is refused."""
        if isinstance(seed, np.integer):
            return int(seed)
        if seed is None or not isinstance(seed, (list, tuple, np.ndarray)):
            return seed
        seeds = list(seed.tolist() if isinstance(seed, np.ndarray) else seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"{self.env_id}: if seeds are passed as a list the length must match num_envs="
                             f"{self.num_envs} but got length={len(seeds)}")
        if all(s is None for s in seeds):
            return None
        first = seeds[0]
        if (isinstance(first, (int, np.integer)) and not isinstance(first, bool)
                and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s == first + i
                        for i, s in enumerate(seeds))):
            return int(first)
        raise TypeError(f"{self.env_id}: reset(seed=[...]) with a seed per lane is not supported: one int seeds the "
                        "whole batch, lane i's random stream being derived from (seed, i). Pass seed=int (a list "
                        "seed, seed + 1, ..., as SyncVectorEnv makes of an int, is taken as that int)")

    def _reset_mask(self, mask: Any) -> np.ndarray:
        """options["reset_mask"], checked as SyncVectorEnv checks it."""
        if not isinstance(mask, np.ndarray):
            raise TypeError(f"`options['reset_mask']` must be a numpy array, got {type(mask)}")
        if mask.shape != (self.num_envs,):
            raise ValueError(f"`options['reset_mask']` must have shape `({self.num_envs},)`, got {mask.shape}")
        if mask.dtype != np.bool_:
            raise TypeError(f"`options['reset_mask']` must have `dtype=np.bool_`, got {mask.dtype}")
        if not mask.any():
            raise ValueError("`options['reset_mask']` must contain a boolean array with at least one True value, "
                             f"got reset_mask={mask}")
        return mask

    # ---- Gymnasium's VectorEnv methods for the sub-environments -----------------------------------

    def _lane_attr(self, name: str) -> Any:
        """What SyncVectorEnv's get_attr(name) reads from each sub-environment, for one lane: an env
        option, a single space, or an attribute the lanes share."""
        if not isinstance(name, str):
            raise TypeError(f"{self.env_id}: attribute names are strings, got {name!r}")
        if name in self.options:
            return self.options[name]
        if name == "observation_space":
            return self.single_observation_space
        if name == "action_space":
            return self.single_action_space
        if name in _LANE_ATTRIBUTES:
            return getattr(self, name)
        raise AttributeError(f"{self.env_id}: the lanes have no attribute {name!r}; they have the env options "
                             f"({', '.join(self.options)}) and {', '.join(_LANE_ATTRIBUTES)}")

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """A tuple of the attribute's value in each lane (SyncVectorEnv.get_attr): an env option
        (``get_attr("gravity")``), ``observation_space`` / ``action_space`` (the single spaces),
        ``spec``, ``metadata``, ``render_mode``, ``max_episode_steps``, ``reward_threshold``,
        ``env_id``. Every lane of an Apiary env has the same options."""
        if name == "np_random_seed":
            return self.np_random_seed
        return (self._lane_attr(name),) * self.num_envs

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """SyncVectorEnv.call: the attribute of each lane, called with the arguments when it is
        callable. Apiary's lanes have attributes (get_attr's) and no methods of their own."""
        values = self.get_attr(name)
        if callable(values[0]):
            return tuple(v(*args, **kwargs) for v in values)
        if args or kwargs:
            raise TypeError(f"{self.env_id}: {name!r} is not callable")
        return values

    def set_attr(self, name: str, values: Any) -> None:
        """Refused: an Apiary env's options are fixed when it is made (one set of options for all
        lanes, compiled into the core); make a new env with ``make_vec(options={name: value})``."""
        if isinstance(values, (list, tuple)) and len(values) != self.num_envs:
            raise ValueError("Values must be a list or tuple with length equal to the number of environments. "
                             f"Got `{len(values)}` values for {self.num_envs} environments.")
        if name in self.options:
            raise AttributeError(f"{self.env_id}: env options are fixed when the env is made; set_attr cannot change "
                                 f"{name!r}. Make a new env: apiary.make_vec({self.env_id!r}, {self.num_envs}, "
                                 f"options={{{name!r}: ...}})")
        raise AttributeError(f"{self.env_id}: the lanes have no settable attribute {name!r} (env options are fixed "
                             "when the env is made)")

    def get_wrapper_attr(self, name: str) -> Any:
        """The attribute of this env (the innermost: an Apiary env is never a wrapper), as
        gymnasium.Env.get_wrapper_attr gives it."""
        return getattr(self, name)

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        """One seed per lane, as SyncVectorEnv gives them: the batch seed of the last reset (lane i's
        stream is derived from it and i); None before the first reset."""
        return (self._core.seed,) * self.num_envs

    # ---- pickling: the constructor's arguments and the lanes' state ---------------------------------

    def __getstate__(self) -> dict[str, Any]:
        if self.closed:
            raise TypeError(f"{self.env_id}: cannot pickle a closed env")
        origin = _apiary.envs().get(self.env_id, {}).get("origin", "builtin")
        seed = self._core.seed
        return {
            "make": {"env_id": self.env_id, "num_envs": self.num_envs, "seed": self._make_seed,
                     "threads": self._core.threads, "options": dict(self._given_options), "copy": self.copy,
                     "episode_stats": self.episode_stats, "autoreset_mode": self.autoreset_mode.value},
            "plugin": None if origin == "builtin" else origin,
            # None before the first reset: the env then has no lanes' state to keep.
            "snapshot": None if seed is None else self._core.snapshot(),
            "seed": seed,
            "waiting": None if self._waiting is None else self._waiting.copy(),
            "final_obs": None if self._waiting is None else np.array(self._final_obs),
            "spaces": (self.single_observation_space, self.single_action_space, self.observation_space,
                       self.action_space),
            "np_random": (self._np_random, self._np_random_seed),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state["plugin"] is not None:
            load_plugin(state["plugin"])
        self.__init__(**state["make"])
        if state["snapshot"] is not None:
            self._core.load_snapshot(state["snapshot"], state["seed"])
        self._waiting, self._final_obs = state["waiting"], state["final_obs"]
        (self.single_observation_space, self.single_action_space, self.observation_space,
         self.action_space) = state["spaces"]
        self._np_random, self._np_random_seed = state["np_random"]

    # ---- the rest ------------------------------------------------------------------------------

    def close_extras(self, **kwargs: Any) -> None:
        core = getattr(self, "_core", None)
        if core is not None:
            core.close()  # every later call raises the core's "the env is closed"
        self._waiting = self._final_obs = None

    def render(self) -> np.ndarray | None:
        """Every lane's picture as it stands, uint8 [num_envs, H, W, 3] at the native size
        (``render_size``), drawn on the env's threads, with render_mode ``"rgb_array"``; None (as
        Gymnasium, with a warning) without a render mode. A lane that just ended shows its next
        episode's first state (the core resets lanes in the step that ends them)."""
        if self.render_mode is None:
            warnings.warn(f"{self.env_id}: render() without a render mode; make the env with render_mode='rgb_array'",
                          stacklevel=2)
            return None
        width, height = self._core.picture_size
        return self._core.render(height, width)

    @property
    def render_size(self) -> tuple[int, int]:
        """(width, height) of render()'s pictures: the env's native picture (Gymnasium's window)."""
        return tuple(self._core.picture_size)

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


# The attributes get_attr reads from the lanes besides the env options and the single spaces.
_LANE_ATTRIBUTES = ("spec", "metadata", "render_mode", "max_episode_steps", "reward_threshold", "env_id")

# make_vec's defaults, left out of env.spec.kwargs.
_MAKE_DEFAULTS = {"seed": None, "threads": 1, "copy": True, "episode_stats": False, "autoreset_mode": "NextStep",
                  "render_mode": None}


def _lanes_text(lanes: np.ndarray, most: int = 8) -> str:
    shown = ", ".join(str(i) for i in lanes[:most].tolist())
    return shown + (f", ... ({len(lanes)} lanes)" if len(lanes) > most else "")


def make_vec(env_id: str, num_envs: int, seed: int | None = None, threads: int = 1,
             options: Mapping[str, float] | None = None, plugins: Iterable[str] = (), copy: bool = True,
             episode_stats: bool = False, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
             render_mode: str | None = None) -> VectorEnv:
    """A vector env of ``num_envs`` lanes of ``env_id`` (Gymnasium 1.x VectorEnv interface).

    Args:
        env_id: a registered id (``apiary.envs()``), e.g. ``"CartPole-v1"``.
        num_envs: number of lanes, 1 to 2**24.
        seed: the seed of the first ``reset()`` given none (None: drawn from the system).
        threads: CPU threads stepping the lanes (0: every core).
        options: env parameters by name, e.g. ``{"gravity": -5.0, "max_episode_steps": 200}``.
        plugins: env plugin libraries to load first (``load_plugin``).
        copy: True (default, as Gymnasium): step() and reset() return fresh arrays every call. False:
            the same arrays every call, overwritten by the next step() or reset() (faster; keep a
            result with np.copy, and never write into them).
        episode_stats: write ``info["episode"]`` as Gymnasium's RecordEpisodeStatistics does (off by
            default, so that the env can be wrapped in that wrapper, which refuses an info that has
            the key already).
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default, as Gymnasium), ``SAME_STEP`` or
            ``DISABLED``, or their values (``"NextStep"``, ...).
        render_mode: None, or ``"rgb_array"``: ``render()`` returns every lane's picture, a uint8
            array [num_envs, H, W, 3] at the env's native size (Gymnasium's window, e.g. 600 x 400).
    """
    for path in plugins if not isinstance(plugins, str) else (plugins,):
        load_plugin(path)
    return VectorEnv(env_id, num_envs, seed=seed, threads=threads, options=options, copy=copy,
                     episode_stats=episode_stats, autoreset_mode=autoreset_mode, render_mode=render_mode)


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
    returns the ids it registered; with gymnasium, they are registered there too (``apiary/ID``).
    Loading the same file again does nothing."""
    ids = list(_apiary.load_plugin(os.fspath(path)))
    from .env import register_gymnasium  # noqa: PLC0415 (apiary/env.py imports this module)

    register_gymnasium(ids)
    return ids
