"""A trained Apiary policy in your own Python code (docs/python.md): load a checkpoint (or a zoo
entry), run it on a vector env of its environment, and report the episodes' returns.

    python3 python/examples/policy.py runs/cartpole_ppo/checkpoints/best.pt --episodes 20
    python3 python/examples/policy.py zoo:LunarLander-v3
"""

import argparse

import numpy as np

import apiary


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint", help="a checkpoint file, or zoo:NAME / zoo:ENV_ID")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", action="store_true", help="sample actions instead of the deterministic ones")
    args = p.parse_args()

    policy = apiary.Policy.load(args.checkpoint)
    print(policy)
    # Its env, with the options it was trained with; info["episode"] carries the episodes' returns.
    envs = policy.make_vec(args.num_envs, seed=args.seed, episode_stats=True)
    obs, _ = envs.reset()
    returns = []
    while len(returns) < args.episodes:
        actions = policy(obs, deterministic=not args.sample)
        obs, rewards, terminations, truncations, info = envs.step(actions)
        if "episode" in info:
            returns.extend(info["episode"]["r"][info["_episode"]].tolist())
    returns = returns[:args.episodes]
    print(f"env: {policy.env_id} episodes: {len(returns)} mean_return: {np.mean(returns):.3f} "
          f"std: {np.std(returns):.3f}")


if __name__ == "__main__":
    main()
