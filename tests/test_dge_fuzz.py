"""Fuzz: 100,000 random structured questions on the bundled scenes → a verdict every time, no exception."""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import REASON_CODES, TASK_NAMES, TASKS, Reason, Verdict

N_TOTAL = 100_000
JUNK = ["", " ", "sofa#1", "Trash_Bin", "ÄÖÜ", "🙂", "x" * 300, "null", "0", "-", "a\nb", "\t", "the sofa", "SOFA", "chair chair"]
PARAMS: list[tuple[str, Any]] = [
    ("level", "easy"), ("level", "medium"), ("level", "hard"), ("level", "HARD"), ("level", "expert"), ("level", 3),
    ("reference", 1), ("reference", 2), ("reference", 0), ("reference", "2"), ("reference", True), ("reference", 2.5),
    ("reference", None), ("colour", "red"), ("level", float("inf")),
]


def random_question(rng: np.random.Generator, labels: list[str], frames: list[str]) -> Any:
    u = rng.random()
    task = TASK_NAMES[rng.integers(len(TASK_NAMES))] if u < 0.95 else ["", "nope", "Object_Size", 7][rng.integers(4)]
    shape_right = isinstance(task, str) and task in TASKS and rng.random() < 0.5
    n_obj = int(rng.integers(TASKS[task].n_objects[0], TASKS[task].n_objects[1] + 1)) if shape_right else int(rng.integers(0, 6))
    objects: list[Any] = []
    for _ in range(n_obj):
        r = rng.random()
        objects.append(labels[rng.integers(len(labels))] if r < 0.85 else JUNK[rng.integers(len(JUNK))] if r < 0.98 else 5)
    n_fr = TASKS[task].n_frames if shape_right else int(rng.integers(0, 4))
    fr: list[Any] = []
    for _ in range(n_fr):
        r = rng.random()
        fr.append(frames[rng.integers(len(frames))] if r < 0.9 else ["missing", "", -1, 3][rng.integers(4)])
    params = dict(PARAMS[i] for i in rng.integers(len(PARAMS), size=int(rng.integers(0, 3))))
    q: dict[str, Any] = {"task": task, "objects": objects, "frames": fr, "params": params}
    if rng.random() < 0.02:
        q["extra"] = 1
    if rng.random() < 0.02:
        q["objects"] = "sofa"
    return q


def check(v: Verdict) -> None:
    assert isinstance(v, Verdict)
    if v.valid:
        assert v.reason is None and v.answer is not None and v.answer_text
        if v.options is not None:
            assert v.answer_text in v.options
    else:
        assert isinstance(v.reason, Reason) and v.reason.value in REASON_CODES and v.message
        assert v.answer is None and v.answer_text == ""


def test_fuzz_structured_questions() -> None:
    paths = bundled_scene_paths()
    per_scene = N_TOTAL // len(paths)
    total, valid = 0, 0
    reasons: set[str] = set()
    for k, path in enumerate(paths):
        scene = load_scene(path)
        dge = DGE(scene)
        labels = sorted(scene.labels())
        frames = [f.id for f in scene.frames]
        rng = np.random.default_rng(k)
        for _ in range(per_scene):
            v = dge.evaluate(random_question(rng, labels, frames))
            check(v)
            total += 1
            valid += v.valid
            if not v.valid:
                reasons.add(v.reason.value)
    assert total == N_TOTAL
    assert valid > 2000  # the fuzzer also reaches valid questions
    assert {"malformed", "label_absent", "ambiguous_label", "frame_missing", "same_object", "not_visible", "near_boundary", "too_close"} <= reasons
