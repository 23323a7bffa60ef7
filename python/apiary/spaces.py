"""Observation and action spaces.

When gymnasium can be imported, Apiary hands out ``gymnasium.spaces`` objects. Otherwise it uses the
small classes below, which have the attributes and methods of Gymnasium 1.x's ``Box``, ``Discrete``
and ``MultiDiscrete`` that training code reads (``low``, ``high``, ``shape``, ``dtype``, ``n``,
``start``, ``nvec``, ``sample()``, ``contains()``, ``seed()``), so gymnasium is never required.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Space", "Box", "Discrete", "MultiDiscrete", "gymnasium_spaces"]


def _import_gymnasium_spaces():
    try:
        from gymnasium import spaces  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    return spaces


# Decided once, when apiary is imported (as the VectorEnv base class is, apiary/vector.py).
_GYMNASIUM_SPACES = _import_gymnasium_spaces()


def gymnasium_spaces():
    """``gymnasium.spaces`` if gymnasium could be imported when apiary was, else None."""
    return _GYMNASIUM_SPACES


class Space:
    """The part every space shares: shape, dtype and a random generator for sample()."""

    def __init__(self, shape: tuple[int, ...], dtype, seed: int | np.random.Generator | None = None):
        self._shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self._np_random: np.random.Generator | None = None
        if seed is not None:
            self.seed(seed)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def np_random(self) -> np.random.Generator:
        if self._np_random is None:
            self.seed()
        return self._np_random

    def seed(self, seed: int | np.random.Generator | None = None) -> int | None:
        """Seeds sample()'s generator; returns the seed (None when given a Generator)."""
        if isinstance(seed, np.random.Generator):
            self._np_random = seed
            return None
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._np_random = np.random.default_rng(int(seed))
        return int(seed)

    def __contains__(self, x: Any) -> bool:
        return self.contains(x)

    def contains(self, x: Any) -> bool:  # pragma: no cover - every space overrides it
        raise NotImplementedError


def _as_integer(x: Any):
    """x as a numpy integer scalar or array, or None if it is not integral."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return np.int64(x)
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer):
        return x
    return None


class Discrete(Space):
    """Integers ``start, ..., start + n - 1`` (gymnasium.spaces.Discrete)."""

    def __init__(self, n: int, seed: int | np.random.Generator | None = None, start: int = 0, dtype=np.int64):
        if not np.issubdtype(type(n), np.integer) or n <= 0:
            raise ValueError(f"Discrete needs a positive integer n, got {n!r}")
        super().__init__((), dtype, seed)
        if not np.issubdtype(self.dtype, np.integer):
            raise ValueError(f"Discrete needs an integer dtype, got {self.dtype}")
        self.n = self.dtype.type(n)
        self.start = self.dtype.type(start)

    def sample(self, mask=None, probability=None):
        if mask is not None or probability is not None:
            weights = np.asarray(mask if mask is not None else probability, dtype=np.float64)
            if weights.shape != (int(self.n),) or weights.sum() <= 0:
                raise ValueError(f"sample(): mask or probability must be of shape ({int(self.n)},) with a positive sum")
            index = self.np_random.choice(int(self.n), p=weights / weights.sum())
        else:
            index = self.np_random.integers(int(self.n))
        return self.dtype.type(self.start + index)

    def contains(self, x: Any) -> bool:
        v = _as_integer(x)
        if v is None or np.shape(v) != ():
            return False
        return bool(self.start <= v < self.start + self.n)

    def __repr__(self) -> str:
        return f"Discrete({int(self.n)})" if self.start == 0 else f"Discrete({int(self.n)}, start={int(self.start)})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Discrete) and self.n == other.n and self.start == other.start

    __hash__ = None


class MultiDiscrete(Space):
    """One Discrete per element: element i takes ``start[i], ..., start[i] + nvec[i] - 1``
    (gymnasium.spaces.MultiDiscrete). The batched action space of a Discrete env."""

    def __init__(self, nvec, dtype=np.int64, seed: int | np.random.Generator | None = None, start=None):
        self.nvec = np.array(nvec, dtype=dtype, copy=True)
        if self.nvec.size == 0 or (self.nvec <= 0).any():
            raise ValueError(f"MultiDiscrete needs positive sizes, got {nvec!r}")
        self.start = np.zeros_like(self.nvec) if start is None else np.array(start, dtype=dtype, copy=True)
        if self.start.shape != self.nvec.shape:
            raise ValueError(f"MultiDiscrete: start of shape {self.start.shape} for nvec of shape {self.nvec.shape}")
        super().__init__(self.nvec.shape, dtype, seed)

    def sample(self, mask=None, probability=None):
        if mask is not None or probability is not None:
            raise NotImplementedError("apiary.spaces.MultiDiscrete.sample() takes no mask; install gymnasium for it")
        return (self.np_random.random(self.nvec.shape) * self.nvec).astype(self.dtype) + self.start

    def contains(self, x: Any) -> bool:
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        if not isinstance(x, np.ndarray) or x.shape != self.shape or not np.issubdtype(x.dtype, np.integer):
            return False
        return bool(((self.start <= x) & (x < self.start + self.nvec)).all())

    def __repr__(self) -> str:
        if (self.start == 0).all():
            return f"MultiDiscrete({self.nvec})"
        return f"MultiDiscrete({self.nvec}, start={self.start})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, MultiDiscrete) and np.array_equal(self.nvec, other.nvec)
                and np.array_equal(self.start, other.start))

    __hash__ = None


class Box(Space):
    """An array of ``shape`` (float32, or uint8 for images) with each element in ``[low, high]``
    (gymnasium.spaces.Box)."""

    def __init__(self, low, high, shape=None, dtype=np.float32, seed: int | np.random.Generator | None = None):
        dtype = np.dtype(dtype)
        if shape is None:
            shape = np.shape(low) if np.shape(low) != () else np.shape(high)
        shape = tuple(int(d) for d in shape)
        self.low = np.broadcast_to(np.asarray(low, dtype=dtype), shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=dtype), shape).copy()
        if (self.low > self.high).any():
            raise ValueError("Box: low > high somewhere")
        super().__init__(shape, dtype, seed)
        self.bounded_below = np.isfinite(self.low)
        self.bounded_above = np.isfinite(self.high)

    def is_bounded(self, manner: str = "both") -> bool:
        below, above = bool(self.bounded_below.all()), bool(self.bounded_above.all())
        if manner == "both":
            return below and above
        if manner == "below":
            return below
        if manner == "above":
            return above
        raise ValueError(f"manner must be 'both', 'below' or 'above', got {manner!r}")

    def sample(self, mask=None, probability=None):
        """Uniform where both bounds are finite, exponential from a finite bound, normal where
        unbounded: Gymnasium's rule."""
        if mask is not None or probability is not None:
            raise ValueError("Box.sample() takes no mask or probability")
        rng = self.np_random
        sample = np.empty(self.shape, dtype=np.float64)
        both = self.bounded_below & self.bounded_above
        lower = self.bounded_below & ~self.bounded_above
        upper = ~self.bounded_below & self.bounded_above
        neither = ~self.bounded_below & ~self.bounded_above
        sample[neither] = rng.normal(size=neither[neither].shape)
        sample[lower] = rng.exponential(size=lower[lower].shape) + self.low[lower]
        sample[upper] = self.high[upper] - rng.exponential(size=upper[upper].shape)
        sample[both] = rng.uniform(low=self.low[both], high=self.high[both], size=both[both].shape)
        return np.clip(sample, self.low, self.high).astype(self.dtype)

    def contains(self, x: Any) -> bool:
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x, dtype=self.dtype)
            except (ValueError, TypeError):
                return False
        return bool(np.can_cast(x.dtype, self.dtype) and x.shape == self.shape
                    and (x >= self.low).all() and (x <= self.high).all())

    def __repr__(self) -> str:
        def bound(a):
            return str(a.flat[0]) if a.size and (a == a.flat[0]).all() else str(a)
        return f"Box({bound(self.low)}, {bound(self.high)}, {self.shape}, {self.dtype})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, Box) and self.shape == other.shape and self.dtype == other.dtype
                and np.array_equal(self.low, other.low) and np.array_equal(self.high, other.high))

    __hash__ = None


def make_space(desc: dict, num_envs: int | None = None):
    """A space from _apiary's description ({"kind": "discrete", "n", "start"} or {"kind": "box",
    "low", "high", "shape"}); with num_envs, the batched space Gymnasium's batch_space builds."""
    spaces = gymnasium_spaces()
    Box_ = spaces.Box if spaces else Box
    Discrete_ = spaces.Discrete if spaces else Discrete
    MultiDiscrete_ = spaces.MultiDiscrete if spaces else MultiDiscrete
    if desc["kind"] == "discrete":
        n, start = np.int64(desc["n"]), np.int64(desc["start"])
        if num_envs is None:
            return Discrete_(n, start=start)
        return MultiDiscrete_(np.full((num_envs,), n, dtype=np.int64), dtype=np.int64,
                              start=np.full((num_envs,), start, dtype=np.int64))
    low, high, shape = desc["low"], desc["high"], tuple(desc["shape"])
    dtype = np.dtype(desc.get("dtype", "float32"))  # uint8 for image observations
    low, high = np.asarray(low).astype(dtype), np.asarray(high).astype(dtype)
    if dtype.kind == "f":
        # The C++ spaces write an unbounded element as the dtype's largest value; Gymnasium 1.x's
        # spaces have +-inf there (CartPole's velocities), so that Box == Box holds.
        big = np.finfo(dtype).max
        low, high = np.where(low <= -big, -np.inf, low).astype(dtype), np.where(high >= big, np.inf, high).astype(dtype)
    if num_envs is None:
        return Box_(low=low, high=high, shape=shape, dtype=dtype)
    batched = (num_envs,) + shape
    return Box_(low=np.broadcast_to(low, batched).copy(), high=np.broadcast_to(high, batched).copy(),
                shape=batched, dtype=dtype)
