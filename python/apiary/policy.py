"""``apiary.Policy`` and ``apiary.train``: Apiary's trained policies and training runs from Python.

Both live in the extension module ``_apiary_torch``, the only part of the package that loads LibTorch;
it is imported the first time either is used, so ``import apiary`` stays light.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterable, Mapping

import numpy as np

from . import _apiary
from .spaces import make_space

__all__ = ["Policy", "train"]


def _torch_module():
    try:
        from . import _apiary_torch  # noqa: PLC0415 (LibTorch, loaded on first use)
    except ImportError as e:
        raise ImportError("apiary was built without its LibTorch part (_apiary_torch), which Policy and "
                          f"train need: {e}") from e
    return _apiary_torch


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _zoo_dir() -> str | None:
    """The zoo next to this package, where the `apiary` program finds its own: the build tree's
    (build/python/apiary/ -> build/zoo) or the installed one (PREFIX/share/apiary/zoo)."""
    package = _package_dir()
    candidates = [os.path.join(package, "..", "..", "zoo")]
    parts = package.split(os.sep)
    if "lib" in parts:
        prefix = os.sep.join(parts[:len(parts) - 1 - parts[::-1].index("lib")])
        candidates.append(os.path.join(prefix, "share", "apiary", "zoo"))
    for c in candidates:
        if os.path.isfile(os.path.join(c, "index.tsv")):
            return os.path.realpath(c)
    return None


def _program() -> str:
    """The `apiary` executable, for runs with actor processes: $APIARY_PROGRAM, the build tree's
    (build/python/apiary/ -> build/apiary), the installed one (PREFIX/lib/pythonX/.../apiary/ ->
    PREFIX/bin/apiary), or the first on PATH; "" when there is none."""
    candidates = [os.environ.get("APIARY_PROGRAM", "")]
    package = _package_dir()
    candidates.append(os.path.join(package, "..", "..", "apiary"))
    parts = package.split(os.sep)
    if "lib" in parts:
        prefix = os.sep.join(parts[:len(parts) - 1 - parts[::-1].index("lib")])
        candidates.append(os.path.join(prefix, "bin", "apiary"))
    candidates.append(shutil.which("apiary") or "")
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.realpath(c)
    return ""


class Policy:
    """A trained Apiary policy: ``policy(obs)`` maps a batch of observations to actions.

    Made by :meth:`Policy.load`. Runs on the CPU, one forward pass at a time (calls from several
    threads queue), without the GIL. Pickles (and deep-copies) as its checkpoint's bytes, read when it
    is loaded: the copy is the same network with the same weights, wherever it is unpickled.
    """

    def __init__(self, core, checkpoint: bytes | None = None):
        self._core = core
        # The checkpoint file's bytes, for pickling; read right after the core loaded it.
        self._checkpoint = checkpoint if checkpoint is not None else _read_checkpoint(core.path)
        spec = _apiary.env_spec(core.env_id, dict(core.env_options))
        self.env_id: str = core.env_id
        self.algo: str = core.algo
        self.env_options: dict[str, float] = dict(core.env_options)
        self.path: str = core.path
        self.observation_space = make_space(spec["observation_space"])
        self.action_space = make_space(spec["action_space"])

    @classmethod
    def load(cls, checkpoint_or_zoo_id: str | os.PathLike, env_id: str | None = None) -> "Policy":
        """Loads a checkpoint written by ``apiary train`` / ``apiary.train``
        (``runs/NAME/checkpoints/best.pt``), or a zoo entry (``"zoo:lunarlander_ppo"``,
        ``"zoo:LunarLander-v3"``). With ``env_id``, a checkpoint of another env is refused. The
        plugins a checkpoint's env needs (its config's env.plugins) are loaded."""
        name = os.fspath(checkpoint_or_zoo_id)
        module = _torch_module()
        zoo = _zoo_dir() if name.startswith("zoo:") and not os.environ.get("APIARY_ZOO_DIR") else None
        if zoo is None:
            return cls(module.PolicyCore(name, env_id or ""))
        # The C++ side searches $APIARY_ZOO_DIR first, then next to the running program (python3 here):
        # point it at the zoo next to this package for the call.
        os.environ["APIARY_ZOO_DIR"] = zoo
        try:
            return cls(module.PolicyCore(name, env_id or ""))
        finally:
            del os.environ["APIARY_ZOO_DIR"]

    def __call__(self, obs, deterministic: bool = True):
        """Actions for ``obs`` (``[batch, *obs_shape]``, or one observation ``[*obs_shape]``):
        int64 values of the Discrete space, or float32 ``[batch, *action_shape]`` (unclipped: the env
        clips). ``deterministic=True`` is what ``apiary eval`` uses (argmax, the Gaussian mean, greedy
        Q); ``False`` samples (PPO) or acts epsilon-greedily at the run's final epsilon (DQN), drawing
        from LibTorch's default generator (``Policy.seed``). A recurrent policy needs its state:
        use :meth:`act`."""
        return self._core.act(obs, bool(deterministic))

    def act(self, obs, state=None, episode_start=None, deterministic: bool = True):
        """``policy(obs)``, and for a recurrent policy (``policy.recurrent``) one step of its memory:
        ``actions, state = policy.act(obs, state, episode_start)``. ``state`` is float32
        ``[batch, state_size]`` (start from :meth:`initial_state`), ``episode_start`` a bool per
        observation that begins an episode (those rows of the state are zeroed first; with
        ``make_vec``'s same-step autoreset, the lanes whose last step ended). A policy without memory
        returns just the actions when ``state`` is None, else ``(actions, state)`` unchanged, so one loop
        serves both."""
        if not self.recurrent:
            actions = self._core.act(obs, bool(deterministic))
            return actions if state is None else (actions, state)
        return self._core.act(obs, bool(deterministic), state, episode_start)

    @property
    def recurrent(self) -> bool:
        """Whether the policy has memory (``policy.recurrent`` in its config)."""
        return self._core.state_size > 0

    @property
    def state_size(self) -> int:
        """Elements of one lane's state (0 without memory)."""
        return int(self._core.state_size)

    def initial_state(self, num_envs: int) -> np.ndarray:
        """Each lane's state before its first observation: zeros ``[num_envs, state_size]``."""
        return np.zeros((int(num_envs), self.state_size), dtype=np.float32)

    @property
    def config(self) -> str:
        """The run's resolved config (YAML) stored in the checkpoint."""
        return self._core.config

    def make_vec(self, num_envs: int, **kwargs: Any):
        """``apiary.make_vec`` for this policy's env, with the env options it was trained with."""
        from .vector import make_vec  # noqa: PLC0415

        options = dict(self.env_options)
        options.update(kwargs.pop("options", None) or {})
        return make_vec(self.env_id, num_envs, options=options, **kwargs)

    @staticmethod
    def seed(seed: int) -> None:
        """Seeds LibTorch's default CPU generator, which sampled actions draw from (shared with
        PyTorch when both use the same LibTorch, as Debian's python3-torch does)."""
        _torch_module().manual_seed(int(seed))

    def __getstate__(self) -> dict[str, Any]:
        return {"checkpoint": self._checkpoint, "path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Loads the pickled checkpoint's bytes from a temporary file (LibTorch reads files), which is
        removed once loaded; ``path`` stays the file the policy was first loaded from."""
        module = _torch_module()
        with tempfile.TemporaryDirectory(prefix="apiary_policy_") as folder:
            path = os.path.join(folder, "checkpoint.pt")
            with open(path, "wb") as f:
                f.write(state["checkpoint"])
            core = module.PolicyCore(path, "")
        self.__init__(core, state["checkpoint"])
        self.path = state["path"]

    def __repr__(self) -> str:
        return f"apiary.Policy({self.algo} on {self.env_id}, {self.path})"


def _read_checkpoint(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, float) and not np.isfinite(value):
            return ".nan" if np.isnan(value) else (".inf" if value > 0 else "-.inf")  # YAML's spelling
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a config value")


def train(config_path: str | os.PathLike | None = None, *, overrides: Mapping[str, Any] | Iterable[str] = (),
          resume: str | os.PathLike | None = None, plugins: Iterable[str] = (), quiet: bool = False,
          progress: bool = True, session_steps: int = 0, program: str | None = None,
          **kw_overrides: Any) -> dict[str, Any]:
    """Runs a training run exactly as ``apiary train CONFIG --set ...`` does and returns its
    end-of-run summary.

    Keyword arguments override config keys, with ``__`` for the dots of nested keys:
    ``apiary.train("configs/cartpole_ppo.yaml", seed=2, ppo__learning_rate=3e-4)``; ``overrides``
    takes them as a dict (``{"ppo.learning_rate": 3e-4}``) or ``"key=value"`` strings. ``resume``
    continues a run folder from its latest checkpoint (no config, no overrides). ``plugins`` load env
    plugins first and join the config's env.plugins; ``quiet`` drops the per-evaluation lines,
    ``progress`` the progress line (drawn only when stderr is a terminal); ``session_steps`` ends the
    session, with a checkpoint, after that many env steps.

    The GIL is released while the run trains. Ctrl-C (SIGINT) stops the run cleanly through the
    trainer's stop flag: it ends with a checkpoint in ``RUN_DIR/checkpoints/latest.pt``, and then the
    KeyboardInterrupt reaches the caller. Raises ValueError for a configuration problem (naming the
    file and the key), RuntimeError for the rest.
    """
    assignments = []
    if isinstance(overrides, Mapping):
        assignments += [f"{k}={_yaml_value(v)}" for k, v in overrides.items()]
    else:
        assignments += [str(a) for a in overrides]
    assignments += [f"{k.replace('__', '.')}={_yaml_value(v)}" for k, v in kw_overrides.items()]
    if (config_path is None) == (resume is None):
        raise ValueError("train: give a config file, or resume=RUN_DIR (not both)")
    return _torch_module().train(
        os.fspath(config_path) if config_path is not None else "", assignments,
        os.fspath(resume) if resume is not None else "", [os.fspath(p) for p in plugins], bool(quiet),
        bool(progress), int(session_steps), program if program is not None else _program())
