"""Apiary from Python: its batched environments as Gymnasium 1.x vector envs, its trained policies
and its training runs. See docs/python.md.

    import apiary
    envs = apiary.make_vec("CartPole-v1", num_envs=64, seed=0)
    obs, info = envs.reset()
    obs, rewards, terminations, truncations, info = envs.step(envs.action_space.sample())

    policy = apiary.Policy.load("runs/cartpole_ppo/checkpoints/best.pt")
    actions = policy(obs)
    summary = apiary.train("configs/cartpole_ppo.yaml", seed=2)

With gymnasium installed, importing apiary registers its envs with Gymnasium:
``gymnasium.make("apiary/CartPole-v1")``, ``gymnasium.make_vec("apiary/CartPole-v1", 8)``.
"""

from . import spaces
from .env import SingleEnv, register_gymnasium
from .policy import Policy, train
from .vector import AutoresetMode, EnvSpec, VectorEnv, envs, gymnasium_id, load_plugin, make_vec

__version__ = "0.7.0"

__all__ = ["make_vec", "VectorEnv", "SingleEnv", "AutoresetMode", "EnvSpec", "envs", "load_plugin", "gymnasium_id",
           "Policy", "train", "spaces", "__version__"]

register_gymnasium()
