"""Pictures from Python: make_vec(..., render_mode="rgb_array") and VectorEnv.render() give every lane's
picture as uint8 [N, H, W, 3] (drawn by the envs themselves on their threads); SingleEnv.render() gives
one [H, W, 3] frame, what Gymnasium's RecordVideo records."""
import warnings

import numpy as np
import pytest

import apiary
from actions import random_actions


def test_vector_render_gives_every_lanes_picture():
    env = apiary.make_vec("CartPole-v1", 3, seed=5, render_mode="rgb_array")
    assert env.render_mode == "rgb_array" and env.metadata["render_modes"] == ["rgb_array"]
    assert env.render_size == (600, 400)
    env.reset(seed=5)
    frames = env.render()
    assert frames.shape == (3, 400, 600, 3) and frames.dtype == np.uint8
    assert frames.min() < 100 < frames.max()  # a picture, not a blank
    # The same env made twice draws the same bytes; its lanes (their own states) draw different ones.
    twin = apiary.make_vec("CartPole-v1", 3, seed=5, render_mode="rgb_array")
    twin.reset(seed=5)
    np.testing.assert_array_equal(twin.render(), frames)
    assert not np.array_equal(frames[0], frames[1])
    # Stepping moves the pictures.
    for actions in random_actions(env, 10, np.random.default_rng(1)):
        env.step(actions)
        twin.step(actions)
    moved = env.render()
    assert not np.array_equal(moved, frames)
    np.testing.assert_array_equal(twin.render(), moved)


def test_every_bundled_family_renders():
    for env_id in ("Acrobot-v1", "MountainCarContinuous-v0", "Pendulum-v1", "LunarLander-v3", "BipedalWalker-v3",
                   "MinAtar/Breakout-v1", "CarRacing-v3"):
        env = apiary.make_vec(env_id, 2, seed=1, render_mode="rgb_array")
        env.reset(seed=1)
        frames = env.render()
        width, height = env.render_size
        assert frames.shape == (2, height, width, 3) and frames.dtype == np.uint8, env_id
        assert len(np.unique(frames[0].reshape(-1, 3), axis=0)) >= 2, env_id


def test_without_a_render_mode_render_warns_and_gives_none():
    env = apiary.make_vec("CartPole-v1", 2, seed=1)
    env.reset(seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert env.render() is None
    assert any("render_mode" in str(w.message) for w in caught)


def test_unknown_render_modes_are_refused_naming_the_modes():
    with pytest.raises(ValueError, match=r"render_mode='human'.*\['rgb_array'\]"):
        apiary.make_vec("CartPole-v1", 2, render_mode="human")
    with pytest.raises(ValueError, match="render_mode='rgb'"):
        apiary.SingleEnv("Pendulum-v1", render_mode="rgb")


def test_single_env_renders_one_frame_as_gymnasiums_envs_do():
    env = apiary.SingleEnv("CarRacing-v3", render_mode="rgb_array", seed=2)
    assert env.metadata == {"render_modes": ["rgb_array"], "render_fps": 50} and env.render_mode == "rgb_array"
    obs, _ = env.reset(seed=2)
    assert obs.shape == (96, 96, 3) and obs.dtype == np.uint8  # the observation is the small picture
    first = env.render()
    assert first.shape == (400, 600, 3) and first.dtype == np.uint8
    for _ in range(30):
        env.step(np.array([0.0, 1.0, 0.0], np.float32))
    assert not np.array_equal(env.render(), first)
    # The picture follows the car: its red hull stays at the same place of the frame, facing up.
    red = np.argwhere((env.render() == [204, 0, 0]).all(axis=-1))
    assert len(red) > 50
    assert abs(red[:, 1].mean() - 300) < 8 and abs(red[:, 0].mean() - 300) < 15


def test_pixel_observations_are_the_envs_own_pictures():
    # options={"pixels": True}: the env observes its picture (84x84 grayscale here, stacked 4 deep), a
    # uint8 Box that numpy and Gymnasium see as such; True / False are the flags YAML's true / false are.
    env = apiary.make_vec("CartPole-v1", 2, seed=3, render_mode="rgb_array",
                          options={"pixels": True, "pixels_grayscale": False, "pixels_width": 60,
                                   "pixels_height": 40})
    assert env.single_observation_space.shape == (40, 60, 3)
    assert env.single_observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=3)
    assert obs.dtype == np.uint8 and obs.shape == (2, 40, 60, 3)
    plain = apiary.make_vec("CartPole-v1", 2, seed=3, render_mode="rgb_array")
    plain.reset(seed=3)
    np.testing.assert_array_equal(obs, plain._core.render(40, 60))  # the core draws any size: the same bytes
    stacked = apiary.make_vec("CartPole-v1", 2, seed=3, options={"pixels": True, "frame_stack": 4})
    assert stacked.single_observation_space.shape == (84, 84, 4)
    obs, _ = stacked.reset(seed=3)
    for _ in range(30):
        obs, _, terminated, truncated, info = stacked.step(np.array([1, 1]))
        assert obs.dtype == np.uint8 and obs.shape == (2, 84, 84, 4)
    assert obs.min() < 200 < obs.max()  # the cart and pole on a white ground
    with pytest.raises(ValueError, match="need 'pixels': true"):
        apiary.make_vec("CartPole-v1", 1, options={"pixels_width": 64})
    with pytest.raises(TypeError, match="option 'pixels' must be a number"):
        apiary.make_vec("CartPole-v1", 1, options={"pixels": "yes"})
