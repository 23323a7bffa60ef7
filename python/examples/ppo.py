"""PPO in PyTorch on apiary.make_vec, written the way CleanRL's ppo.py is (docs/python.md).

    python3 python/examples/ppo.py --env-id CartPole-v1 --total-timesteps 100000

Everything about the env is Gymnasium's vector API: reset(), step(), the batched spaces,
info["episode"] for returns and info["final_obs"] to bootstrap through time-limit truncations. The env
is asked for same-step autoreset (a finished lane is reset within the step, so the returned obs is
already the next episode's first: no step is spent on resets) and for Apiary's own episode statistics;
make_vec's defaults are Gymnasium's (next-step autoreset, no info["episode"])."""

import argparse
import time

import numpy as np
import torch
from torch import nn

import apiary


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--env-id", default="CartPole-v1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=100_000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=128, help="steps per lane per rollout")
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    return p.parse_args()


def layer(in_size, out_size, std=np.sqrt(2)):
    linear = nn.Linear(in_size, out_size)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.constant_(linear.bias, 0.0)
    return linear


class Agent(nn.Module):
    def __init__(self, obs_dim, num_actions):
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, std=1.0))
        self.actor = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                   layer(64, num_actions, std=0.01))

    def get_value(self, x):
        return self.critic(x).squeeze(-1)

    def get_action_and_value(self, x, action=None):
        dist = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.get_value(x)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    envs = apiary.make_vec(args.env_id, args.num_envs, seed=args.seed, autoreset_mode=apiary.AutoresetMode.SAME_STEP,
                           episode_stats=True)
    obs_dim = envs.single_observation_space.shape[0]
    agent = Agent(obs_dim, int(envs.single_action_space.n))
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    T, N = args.num_steps, args.num_envs
    obs = torch.zeros((T, N, obs_dim))
    actions = torch.zeros((T, N), dtype=torch.long)
    logprobs, rewards, dones, values = (torch.zeros((T, N)) for _ in range(4))
    batch_size = T * N
    minibatch_size = batch_size // args.num_minibatches
    num_iterations = args.total_timesteps // batch_size

    returns_seen = []
    global_step, start = 0, time.time()
    next_obs, _ = envs.reset()
    next_obs = torch.tensor(next_obs)
    next_done = torch.zeros(N)
    for iteration in range(1, num_iterations + 1):
        for group in optimizer.param_groups:  # linear learning-rate annealing
            group["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate

        for step in range(T):
            global_step += N
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            actions[step], logprobs[step], values[step] = action, logprob, value
            next_obs, reward, terminations, truncations, info = envs.step(action.numpy())
            reward = torch.tensor(reward, dtype=torch.float32)
            # Bootstrap through truncation: a lane cut by the time limit would have gone on from its
            # final observation, so its reward gets gamma * V(final_obs).
            cut = truncations & ~terminations
            if cut.any():
                with torch.no_grad():
                    final_values = agent.get_value(torch.tensor(np.stack(info["final_obs"][cut])))
                reward[torch.from_numpy(cut)] += args.gamma * final_values
            rewards[step] = reward
            next_obs = torch.tensor(next_obs)
            next_done = torch.tensor(terminations | truncations, dtype=torch.float32)
            if "episode" in info:
                returns_seen.extend(info["episode"]["r"][info["_episode"]].tolist())

        with torch.no_grad():  # generalized advantage estimation
            next_value = agent.get_value(next_obs)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(T)):
                nextnonterminal = 1.0 - (next_done if t == T - 1 else dones[t + 1])
                nextvalues = next_value if t == T - 1 else values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs, b_actions, b_logprobs = obs.reshape(-1, obs_dim), actions.reshape(-1), logprobs.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        for _ in range(args.update_epochs):
            for mb in torch.randperm(batch_size).split(minibatch_size):
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions[mb])
                ratio = (newlogprob - b_logprobs[mb]).exp()
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio,
                                    -mb_adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)).mean()
                v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -args.clip_coef, args.clip_coef)
                v_loss = 0.5 * torch.max((newvalue - b_returns[mb]) ** 2, (v_clipped - b_returns[mb]) ** 2).mean()
                loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        recent = returns_seen[-20:]
        print(f"iteration {iteration}/{num_iterations} global_step {global_step} "
              f"mean_return(last 20) {np.mean(recent) if recent else float('nan'):.1f} "
              f"steps_per_second {global_step / (time.time() - start):.0f}", flush=True)
    envs.close()
    recent = returns_seen[-20:]
    print(f"episodes: {len(returns_seen)} mean_return_last_20: {np.mean(recent):.3f} steps: {global_step} "
          f"wall_seconds: {time.time() - start:.1f}")


if __name__ == "__main__":
    main()
