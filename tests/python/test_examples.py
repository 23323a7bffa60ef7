"""The examples of docs/python.md: the code the page shows is the examples' code, and the CleanRL-style
PPO on apiary.make_vec learns CartPole (skipped where PyTorch for Python is not installed). The policy
example runs in test_policy_train.py, on the checkpoint its training run writes."""

import os
import re
import subprocess
import sys

import pytest

SOURCE = os.environ.get("APIARY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(SOURCE, "docs", "python.md")
PPO = os.path.join(SOURCE, "python", "examples", "ppo.py")
POLICY = os.path.join(SOURCE, "python", "examples", "policy.py")


def doc_blocks(language):
    with open(DOC) as f:
        return re.findall(r"```" + language + r"\n(.*?)```", f.read(), re.S)


@pytest.mark.parametrize("example, marker", [
    (PPO, "envs.step(action.numpy())"),
    (POLICY, "policy.make_vec(args.num_envs"),
])
def test_the_page_shows_the_examples_code(example, marker):
    with open(example) as f:
        lines_of_example = [line.rstrip() for line in f]
    shown = [b for b in doc_blocks("python") if marker in b]
    assert len(shown) == 1
    # Each shown line is in the example; within each stretch between "..." lines, with the example's
    # relative indentation.
    for segment in re.split(r"\n\s*\.\.\.\n", shown[0]):
        indent = None
        for line in (x for x in segment.splitlines() if x.strip()):
            matches = [e for e in lines_of_example if e.strip() == line.strip()]
            assert matches, f"docs/python.md shows a line {os.path.basename(example)} does not have: {line!r}"
            offsets = {len(e) - len(e.lstrip()) - (len(line) - len(line.lstrip())) for e in matches}
            indent = min(offsets) if indent is None else indent
            assert indent in offsets, f"indentation of {line!r} differs from {os.path.basename(example)}"


def test_ppo_example_learns_cartpole():
    pytest.importorskip("torch")
    result = subprocess.run([sys.executable, PPO, "--total-timesteps", "60000", "--seed", "1"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    mean_return = float(re.search(r"mean_return_last_20: ([-0-9.]+)", summary).group(1))
    # A random policy averages about 22 on CartPole-v1; after 60k steps PPO is far above it.
    assert mean_return > 100, summary
