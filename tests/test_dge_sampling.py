"""``sample()``: 100 % valid on every bundled scene, and it reaches the whole answer space."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from spatialevo import DGE, Question, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, NoValidQuestionError, make_rng
from spatialevo.dge.tasks.relative_direction_hard import LEVEL_OPTIONS

N = 400
PATHS = bundled_scene_paths()


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, list]]:
    """scene name → task → [(question, verdict)] of N samples each."""
    out: dict[str, dict[str, list]] = {}
    for path in PATHS:
        dge = DGE(load_scene(path))
        out[path.stem] = {}
        for t, name in enumerate(TASK_NAMES):
            qs = [dge.sample(name, make_rng(1000 * t + 7, i)) for i in range(N)]
            out[path.stem][name] = list(zip(qs, dge.evaluate_many(qs)))
    return out


def test_every_sample_is_valid(samples) -> None:
    for scene, per_task in samples.items():
        for task, pairs in per_task.items():
            bad = [(q, v.reason, v.message) for q, v in pairs if not v.valid]
            assert not bad, (scene, task, bad[:3])
            assert all(q.task == task for q, _ in pairs)


def test_sampling_is_seeded(samples) -> None:
    dge = DGE(load_scene(PATHS[0]))
    for t, name in enumerate(TASK_NAMES):
        assert dge.sample(name, make_rng(1000 * t + 7, 3)) == samples[PATHS[0].stem][name][3][0]


def test_samples_are_diverse(samples) -> None:
    for path in PATHS:
        labels = load_scene(path).labels()
        for task, pairs in samples[path.stem].items():
            distinct = len({q for q, _ in pairs})
            if task == "object_counting":  # every label is drawn
                assert distinct == len(labels), (path.stem, task, distinct)
            elif task == "object_size":  # every label with one instance is drawn
                assert distinct == sum(n == 1 for n in labels.values()), (path.stem, task, distinct)
            elif task != "room_size":
                assert distinct >= 20, (path.stem, task, distinct)


def test_every_option_is_sometimes_the_answer(samples) -> None:
    """Over the bundled scenes, each fixed option of every multiple-choice task is drawn as the answer,
    each option *position* of label-choice tasks too, and every direction component appears."""
    answers: dict[str, Counter] = {t: Counter() for t in TASK_NAMES}
    positions: dict[str, Counter] = {t: Counter() for t in TASK_NAMES}
    for per_task in samples.values():
        for task, pairs in per_task.items():
            for q, v in pairs:
                key = f"{q.params['level']}:{v.answer_text}" if task == "relative_direction_hard" else v.answer_text
                answers[task][key] += 1
                if v.options is not None:
                    positions[task][v.options.index(v.answer_text)] += 1
    from spatialevo.dge.geometry import DIRECTIONS_8

    fixed = {
        "position_cam_cam": DIRECTIONS_8,
        "position_cam_obj": DIRECTIONS_8,
        "position_cam_reg": DIRECTIONS_8,
        "elevation_cam_cam": ("higher", "lower"),
        "visibility_compare": ("image1", "image2", "same", "neither"),
        "relative_direction_hard": tuple(f"{lv}:{o}" for lv, opts in LEVEL_OPTIONS.items() for o in opts),
    }
    for task, options in fixed.items():
        missing = [o for o in options if answers[task][o] == 0]
        assert not missing, (task, missing, answers[task])
    for task, n_pos in {"relative_distance": 4, "depth_order_obj_obj": 3, "attribute_measurement": 2}.items():
        assert all(positions[task][i] > 0 for i in range(n_pos)), (task, positions[task])
    assert answers["depth_order_obj_obj"]["same"] > 0
    for task, comps in {
        "single_image_relative_direction": ("up", "down", "front", "back", "left", "right"),
        "motion_camera": ("up", "down", "front", "back", "left", "right", "turn-left", "turn-right"),
    }.items():
        seen = {c for a in answers[task] for c in ([a] if a.startswith("turn") else a.split("-"))}
        assert set(comps) <= seen, (task, set(comps) - seen)
    assert len(answers["object_counting"]) >= 2 and len(answers["object_size"]) >= 10


def exhaustive(dge: DGE, task: str) -> set[str]:
    """Every answer some valid question of ``task`` has (camera-pair tasks and relative direction)."""
    frames = list(dge.index.frames)
    labels = sorted(dge.index.by_label)
    if task == "relative_direction_hard":
        qs = [Question(task, trip, (), {"level": lv}) for trip in itertools.permutations(labels, 3) for lv in LEVEL_OPTIONS]
    else:
        qs = [Question(task, (), pair, {"reference": r}) for pair in itertools.permutations(frames, 2) for r in (1, 2)]
    return {(f"{q.params.get('level')}:" if task == "relative_direction_hard" else "") + v.answer_text for q, v in zip(qs, dge.evaluate_many(qs)) if v.valid}


@pytest.mark.parametrize("task", ["position_cam_cam", "elevation_cam_cam", "motion_camera", "relative_direction_hard"])
def test_sampler_reaches_every_reachable_answer(samples, task: str) -> None:
    """Per scene: every answer that any valid question has is drawn within N samples."""
    for path in PATHS:
        dge = DGE(load_scene(path))
        reachable = exhaustive(dge, task)
        drawn = {(f"{q.params['level']}:" if task == "relative_direction_hard" else "") + v.answer_text for q, v in samples[path.stem][task]}
        assert drawn <= reachable
        rare = reachable - drawn
        assert not rare, (path.stem, task, rare)


def test_no_valid_question_is_a_clear_error() -> None:
    from spatialevo.scene.boxes import OrientedBox
    from spatialevo.scene.model import ObjectInstance, Scene

    dge = DGE(Scene("one", [ObjectInstance(0, "sofa", OrientedBox((0, 0, 0.4), (2, 1, 0.8)))]))
    with pytest.raises(NoValidQuestionError, match="absolute_distance"):
        dge.sample("absolute_distance", 0, max_tries=50)
    with pytest.raises(NoValidQuestionError, match="no valid position_cam_cam"):
        dge.sample("position_cam_cam", 0, max_tries=50)
    assert dge.evaluate(dge.sample("object_size", 0)).answer_text == "200"
