"""SpatialEvo-v0's render modes ("rgb_array", "ansi") and the observation picture behind them."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import spatialevo  # noqa: F401  (registers SpatialEvo-v0)
from spatialevo.env import SpatialEvoEnv
from spatialevo.scene.drawing import font
from spatialevo.selfplay.picture import (
    ELLIPSIS,
    EMPTY_CELL,
    FONT_SIZE,
    GAP,
    MAX_LINES,
    PAD,
    observation_picture,
    observation_text,
    picture_size,
    truncate,
    wrap,
)

SMALL = {"image_size": (24, 32)}
QUESTION = '{"task": "room_size"}'


def _grid_height(env: SpatialEvoEnv) -> int:
    rows = -(-env.max_images // 8)
    return rows * env.image_size[0] + (rows + 1) * GAP


def test_metadata_declares_render_modes_and_fps() -> None:
    assert set(SpatialEvoEnv.metadata["render_modes"]) == {"rgb_array", "ansi"}
    assert SpatialEvoEnv.metadata["render_fps"] > 0


def test_rgb_array_is_a_fixed_size_picture_that_follows_the_turn() -> None:
    env = gym.make("SpatialEvo-v0", render_mode="rgb_array", **SMALL)
    assert env.unwrapped.render_mode == "rgb_array"
    obs, _ = env.reset(seed=0)
    q = env.render()
    size = picture_size(SMALL["image_size"], 16)
    assert isinstance(q, np.ndarray) and q.dtype == np.uint8 and q.shape == (*size, 3)
    grid = _grid_height(env.unwrapped)
    assert q[:grid].std() > 10 and q[grid:].std() > 10  # frames and text, not a flat image
    obs, *_ = env.step(QUESTION)
    assert obs["role"] == 1
    s = env.render()
    assert s.shape == q.shape
    assert np.array_equal(s[:grid], q[:grid])  # the solver sees the questioner's frames
    assert not np.array_equal(s[grid:], q[grid:])  # ... with its own role and prompt
    env.step("<answer>1</answer>")
    over = env.render()
    assert over.shape == q.shape and not np.array_equal(over[grid:], s[grid:])  # "Episode over."
    env.close()


def test_rgb_array_differs_between_scenes() -> None:
    env = gym.make("SpatialEvo-v0", render_mode="rgb_array", task="room_size", **SMALL)
    grids = {}
    for scene in env.unwrapped.source.names[:2]:
        env.reset(seed=0, options={"scene": scene})
        grids[scene] = env.render()[: _grid_height(env.unwrapped)]
    a, b = grids.values()
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_rgb_array_without_observation_images_renders_the_frames_on_demand() -> None:
    with_images = gym.make("SpatialEvo-v0", render_mode="rgb_array", mode="solver", **SMALL)
    without = gym.make("SpatialEvo-v0", render_mode="rgb_array", mode="solver", images=False, **SMALL)
    for seed in (0, 3):
        oa, _ = with_images.reset(seed=seed)
        ob, _ = without.reset(seed=seed)
        assert "images" not in ob and oa["prompt"] == ob["prompt"]
        assert np.array_equal(with_images.render(), without.render())


def test_ansi_is_the_prompt_with_role_and_task() -> None:
    env = gym.make("SpatialEvo-v0", render_mode="ansi", images=False)
    obs, info = env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and obs["prompt"] in text and obs["image_count"] == 0 < len(info["frames"])
    assert text.splitlines()[0] == f"questioner · {info['task']} · {len(info['frames'])} image(s)"
    obs, _, _, _, info = env.step(QUESTION)
    text = env.render()  # the observation's task: the scheduled one, whatever the question's
    assert text.startswith(f"solver · {info['task']} · ") and obs["prompt"] in text and "Question: How large" in text


@pytest.mark.parametrize("render_mode", ["rgb_array", "ansi"])
def test_check_env_with_the_render_check(render_mode: str) -> None:
    env = gym.make("SpatialEvo-v0", render_mode=render_mode, **SMALL).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gymnasium reports a bad render as a warning
        check_env(env)


def test_no_render_mode_renders_none_and_unknown_modes_are_refused() -> None:
    env = gym.make("SpatialEvo-v0", images=False)
    env.reset(seed=0)
    assert env.unwrapped.render_mode is None and env.render() is None
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        SpatialEvoEnv(render_mode="human_readable", images=False)
    with pytest.raises(ValueError, match="render_mode"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns first that the mode is not declared
        gym.make("SpatialEvo-v0", render_mode="depth_array", images=False)
    with pytest.raises(RuntimeError, match="reset"):
        SpatialEvoEnv(render_mode="ansi", images=False).render()


def test_vector_env_renders_each_sub_env() -> None:
    venv = gym.make_vec("SpatialEvo-v0", num_envs=2, vectorization_mode="sync", render_mode="rgb_array", **SMALL)
    venv.reset(seed=[0, 5])
    frames = venv.render()
    assert len(frames) == 2 and all(f.shape == (*picture_size(SMALL["image_size"], 16), 3) for f in frames)
    assert not np.array_equal(frames[0], frames[1])
    venv.close()


def test_picture_places_frames_at_their_size_and_leaves_empty_slots_grey() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (20, 32, 3), dtype=np.uint8)  # wide frame in a 24 x 32 slot
    b = rng.integers(0, 256, (24, 18, 3), dtype=np.uint8)  # tall frame
    pic = observation_picture([a, b], 2, "Role: solver.", 1, 0, slot_size=(24, 32), slots=4)
    assert pic.shape == (*picture_size((24, 32), 4), 3)
    assert np.array_equal(pic[GAP + 2: GAP + 22, GAP: GAP + 32], a)  # centred: (24 - 20) // 2 rows down
    x = GAP + 32 + GAP + (32 - 18) // 2
    assert np.array_equal(pic[GAP: GAP + 24, x: x + 18], b)
    x3 = GAP + 3 * (32 + GAP)
    assert (pic[GAP: GAP + 24, x3: x3 + 32] == EMPTY_CELL).all()  # an unused slot, not zero padding
    assert not (pic[: 24 + 2 * GAP] == 0).all(axis=2).any()  # nothing black: no padding shown
    other = observation_picture([b, a], 2, "Role: solver.", 1, 0, slot_size=(24, 32), slots=4)
    assert other.shape == pic.shape and not np.array_equal(other, pic)


def test_long_prompts_are_cut_with_an_ellipsis_at_a_fixed_height() -> None:
    short = observation_picture([], 0, "Short prompt.", "solver", "room_size", slot_size=(24, 32), slots=2)
    long_words = " ".join(f"word{k}" for k in range(2000))
    one_word = "x" * 3000  # a single unbreakable word
    for prompt in (long_words, one_word):
        pic = observation_picture([], 0, prompt, "solver", "room_size", slot_size=(24, 32), slots=2)
        assert pic.shape == short.shape and not np.array_equal(pic, short)
        last_line = pic.shape[0] - PAD - (FONT_SIZE + 4)
        assert (pic[last_line:] < 128).any()  # the last caption line is used
        width = pic.shape[1] - 2 * PAD - 1
        lines = truncate(wrap(prompt, width, font(FONT_SIZE), MAX_LINES - 1), MAX_LINES - 1, width, font(FONT_SIZE))
        assert len(lines) == MAX_LINES - 1 and lines[-1].endswith(ELLIPSIS)
    fitting = wrap("one two\nthree", 10_000, font(FONT_SIZE))
    assert fitting == ["one two", "three"] and truncate(fitting, 5, 10_000, font(FONT_SIZE)) == fitting


def test_observation_text_names_role_and_task_from_indices() -> None:
    text = observation_text("Question: how big?", 1, 0, 3)
    assert text.startswith("solver · ") and "3 image(s)" in text and "Question: how big?" in text
    with pytest.raises(ValueError, match="role index"):
        observation_text("x", 2, 0, 0)
