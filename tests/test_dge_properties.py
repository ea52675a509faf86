"""Metamorphic properties of the DGE on a synthetic scene (hypothesis).

The scene is the first bundled room without its mesh, so visibility is the exact frustum test of
box-surface samples (ray-cast occlusion would add float noise at the tolerance edge).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialevo import DGE, Question, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, make_rng
from spatialevo.scene.transform import rotation_z, transform_scene

SWAP_LR = {"left": "right", "right": "left", "turn-left": "turn-right", "turn-right": "turn-left"}
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up", "front": "back", "back": "front"}
MIRRORED_TASKS = {"relative_direction_hard", "single_image_relative_direction", "position_cam_cam", "position_cam_obj", "position_cam_reg", "motion_camera"}
SCALED_EVIDENCE = {"absolute_distance": "distance_m", "distance_cam_obj": "distance_m", "object_size": "longest_edge_m"}


def swap_components(text: str, table: dict[str, str]) -> str:
    from spatialevo.dge.tasks.image_rules import join_components

    parts = set()
    for p in text.split("-") if not text.startswith("turn") else [text]:
        parts.add(table.get(p, p))
    return join_components(parts) if not text.startswith("turn") else table.get(text, text)


@pytest.fixture(scope="module")
def base():
    scene = load_scene(bundled_scene_paths()[0])
    scene = dataclasses.replace(scene, mesh=None, _visibility_cache={})
    dge = DGE(scene)
    questions: list[Question] = []
    for t, name in enumerate(TASK_NAMES):
        for i in range(6):
            questions.append(dge.sample(name, make_rng(t, i)))
        rng = make_rng(100 + t)
        questions += [dge.task(name).draw(dge.index, rng) for _ in range(6)]
    return scene, questions, dge.evaluate_many(questions)


@settings(max_examples=15, deadline=None)
@given(st.floats(0, 360), st.floats(-50, 50), st.floats(-50, 50), st.floats(-2, 2))
def test_rotation_about_z_and_translation_change_nothing(base, angle, tx, ty, tz) -> None:
    scene, questions, before = base
    moved = DGE(transform_scene(scene, R=rotation_z(angle), t=np.array([tx, ty, tz])))
    for q, v0, v1 in zip(questions, before, moved.evaluate_many(questions)):
        assert (v0.valid, v0.reason, v0.answer_text) == (v1.valid, v1.reason, v1.answer_text), q


@settings(max_examples=10, deadline=None)
@given(st.floats(0.5, 3.0))
def test_uniform_scaling_scales_distances(base, s) -> None:
    scene, questions, before = base
    scaled = DGE(transform_scene(scene, scale=s))
    checked = 0
    for q, v0 in zip(questions, before):
        if not v0.valid:
            continue
        v1 = scaled.evaluate(q)
        if q.task in SCALED_EVIDENCE:
            key = SCALED_EVIDENCE[q.task]
            assert v1.evidence[key] == pytest.approx(v0.evidence[key] * s, rel=1e-9)
            checked += 1
        elif q.task == "room_size":
            assert v1.evidence["area_m2"] == pytest.approx(v0.evidence["area_m2"] * s * s, rel=1e-9)
        elif q.task == "relative_direction_hard" and v1.valid:
            assert v1.answer_text == v0.answer_text
            assert v1.evidence["angle_deg"] == pytest.approx(v0.evidence["angle_deg"], abs=1e-9)
    assert checked >= 12


def test_swapping_a_and_b(base) -> None:
    scene, questions, before = base
    dge = DGE(scene)
    n = 0
    for q, v0 in zip(questions, before):
        if not v0.valid or q.task not in {"absolute_distance", "attribute_measurement", "depth_order_obj_obj", "single_image_relative_direction", "elevation_cam_cam"}:
            continue
        if q.task == "elevation_cam_cam":
            v1 = dge.evaluate(q.with_params(reference=3 - int(q.params.get("reference", 1))))
            assert v1.answer_text == {"higher": "lower", "lower": "higher"}[v0.answer_text]
        else:
            v1 = dge.evaluate(Question(q.task, q.objects[::-1], q.frames, q.params))
            if q.task == "single_image_relative_direction":
                assert v1.answer_text == swap_components(v0.answer_text, OPPOSITE)
            else:
                assert v1.answer_text == v0.answer_text
        n += 1
    assert n >= 20


def test_mirror_image_swaps_left_and_right(base) -> None:
    scene, questions, before = base
    mirrored = DGE(transform_scene(scene, mirror_x=True))
    swapped = 0
    for q, v0, v1 in zip(questions, before, mirrored.evaluate_many(questions)):
        assert (v0.valid, v0.reason) == (v1.valid, v1.reason), q
        if not v0.valid:
            continue
        if q.task in MIRRORED_TASKS:
            assert v1.answer_text == swap_components(v0.answer_text, SWAP_LR), q
            swapped += v1.answer_text != v0.answer_text
        else:
            assert v1.answer_text == v0.answer_text, q
    assert swapped >= 10
