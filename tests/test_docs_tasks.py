"""docs/tasks.md: one section per task, every reason code documented, each task's listed reason codes
verified by a fuzz of evaluations, the quick-start example runs, and the worked examples are in sync."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from dge_scenes import analytic_scene, make_frame

from spatialevo import DGE, Question, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import REASON_CODES, TASK_NAMES, make_rng
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import ObjectInstance, Scene

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tasks.md"
SCRIPT = ROOT / "docs" / "make_task_examples.py"

_SHARED = ("malformed", "no_frames", "frame_missing", "label_absent", "ambiguous_label", "same_object", "not_visible")
_POSITION = {"malformed", "no_frames", "frame_missing", "label_absent", "ambiguous_label", "same_object", "not_visible", "too_close", "near_boundary"}
#: the reason codes each task can return (derived from the code paths; the fuzz below confirms every one)
EXPECTED: dict[str, set[str]] = {
    "object_counting": {"malformed", "label_absent"},
    "object_size": {"malformed", "label_absent", "ambiguous_label", "too_close"},
    "absolute_distance": {"malformed", "label_absent", "ambiguous_label", "same_object", "too_close"},
    "relative_distance": {"malformed", "label_absent", "ambiguous_label", "same_object", "near_tie"},
    "relative_direction_hard": {"malformed", "label_absent", "ambiguous_label", "same_object", "too_close", "near_boundary"},
    "room_size": {"malformed", "room_unknown"},
    "single_image_relative_direction": set(_SHARED) | {"too_close", "near_boundary"},
    "distance_cam_obj": set(_SHARED) - {"same_object"} | {"too_close"},
    "depth_order_obj_obj": set(_SHARED) | {"near_tie"},
    "position_cam_cam": {"malformed", "no_frames", "frame_missing", "same_object", "too_close", "near_boundary"},
    "elevation_cam_cam": {"malformed", "no_frames", "frame_missing", "same_object", "no_height_difference"},
    "visibility_compare": set(_SHARED) - {"not_visible"} | {"near_tie"},
    "position_cam_obj": _POSITION,
    "position_cam_reg": _POSITION,
    "motion_camera": {"malformed", "no_frames", "frame_missing", "same_object", "near_boundary", "no_motion"},
    "attribute_measurement": set(_SHARED) | {"near_tie"},
}


# -- the document --------------------------------------------------------------------------------
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Task name → text of its ``## <n>. <task>`` section."""
    heads = list(re.finditer(r"^## \d+\. `?([a-z_]+)`?\s*$", text, re.M))
    return {m.group(1): text[m.end() : (heads[i + 1].start() if i + 1 < len(heads) else len(text))] for i, m in enumerate(heads)}


def documented_codes(section: str) -> set[str]:
    """Codes of the machine-readable ``Reason codes: `a`, `b`, …`` line of a task section."""
    lines = re.findall(r"^Reason codes: (.+)$", section, re.M)
    assert len(lines) == 1, f"expected exactly one 'Reason codes:' line, found {len(lines)}"
    return {c.strip().strip("`").strip() for c in lines[0].split(",")}


def test_doc_has_a_section_per_task_and_mentions_every_reason_code() -> None:
    text = doc_text()
    secs = sections(text)
    assert list(secs) == list(TASK_NAMES), "docs/tasks.md needs one '## <n>. <task>' section per task, in SPEC order"
    for code in REASON_CODES:
        assert f"`{code}`" in text, f"reason code {code} is not documented"
    assert set(EXPECTED) == set(TASK_NAMES)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_doc_reason_codes_match_the_code(task: str) -> None:
    codes = documented_codes(sections(doc_text())[task])
    assert codes <= set(REASON_CODES), f"{task}: unknown codes {sorted(codes - set(REASON_CODES))}"
    assert codes == EXPECTED[task], f"{task}: docs list {sorted(codes)}, the code returns {sorted(EXPECTED[task])}"


# -- the fuzz ------------------------------------------------------------------------------------
def edge_scene() -> Scene:
    """A small box-only scene built to hit the rare reasons (tiny object, camera at a box, object under a camera)."""
    objs = [
        ("crate", (0.0, 1.0, 0.5), (1.0, 2.0, 1.0)),  # the "close" camera stands 3 cm in front of it
        ("pouf", (0.0, -0.1, 0.2), (0.2, 0.2, 0.4)),  # under the "close" camera, seen from "far"
        ("crumb", (0.0, -0.3, 0.002), (0.004, 0.004, 0.004)),  # degenerate (rounds to 0 cm), near the pouf
        ("cup", (-0.8, 0.6, 1.05), (0.1, 0.1, 0.1)),  # cup and saucer: 0.12 m apart
        ("saucer", (-0.8, 0.6, 0.93), (0.15, 0.15, 0.02)),
    ]
    objects = [ObjectInstance(i, lab, OrientedBox(c, e)) for i, (lab, c, e) in enumerate(objs)]
    frames = [
        make_frame("close", (0.0, -0.03, 0.5), 90.0, 0.0),
        make_frame("close_turned", (0.0, -0.03, 0.5), 96.0, 0.0),  # turned 6°: no motion
        make_frame("far", (0.0, -4.0, 1.5), 90.0, -10.0),
        make_frame("side", (3.0, -3.0, 1.2), 135.0, -10.0),
    ]
    return Scene("edge", objects, frames, floor_polygon=np.array([[-3.0, -5.0], [4.0, -5.0], [4.0, 4.0], [-3.0, 4.0]]))


def mutations(q: Question) -> list[Question]:
    """Variants of a drawn question that break one shared rule each."""
    out = [Question(q.task, q.objects, q.frames, {**q.params, "bogus": 1})]
    if q.objects:
        out.append(Question(q.task, (*q.objects[:-1], "unicorn"), q.frames, q.params))
    if len(q.objects) >= 2:
        out.append(Question(q.task, (q.objects[0], q.objects[0], *q.objects[2:]), q.frames, q.params))
    if q.frames:
        out.append(Question(q.task, q.objects, ("no-such-frame", *q.frames[1:]), q.params))
    if len(q.frames) == 2:
        out.append(Question(q.task, q.objects, (q.frames[0], q.frames[0]), q.params))
    return out


def fuzz_reasons(draws: int = 30, small_draws: int = 150) -> dict[str, dict[str, int]]:
    """Task → reason code → how often it was returned: per scene and task, questions drawn from the
    task's whole question space (``Task.draw``, mostly invalid; ``draws`` on each bundled scene,
    ``small_draws`` on each small hand-built one: the analytic scene with and without frames and floor,
    and :func:`edge_scene`) and, for the first three of each, their :func:`mutations`."""
    scenes = [(load_scene(p), draws) for p in bundled_scene_paths()]
    scenes += [(analytic_scene(), small_draws), (analytic_scene(with_frames=False, with_floor=False), 20), (edge_scene(), small_draws)]
    seen: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for k, (scene, n) in enumerate(scenes):
        dge = DGE(scene)
        for t, task in enumerate(TASK_NAMES):
            rng = make_rng(20_251_125 + k, t)
            for i in range(n):
                q = dge.task(task).draw(dge.index, rng)
                if q is None:
                    continue
                for qq in [q, *(mutations(q) if i < 3 else [])]:
                    v = dge.evaluate(qq)
                    if not v.valid:
                        seen[task][v.reason.value] += 1
    return seen


@pytest.fixture(scope="module")
def observed() -> dict[str, dict[str, int]]:
    return fuzz_reasons()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_listed_code_is_returned(task: str, observed: dict[str, dict[str, int]]) -> None:
    got = set(observed[task])
    missing = EXPECTED[task] - got
    assert not missing, f"{task}: listed reason codes never returned by the fuzz: {sorted(missing)} (saw {dict(observed[task])})"
    extra = got - EXPECTED[task]
    assert not extra, f"{task}: the fuzz saw undocumented reason codes {sorted(extra)}"


# -- the runnable example and the worked examples ---------------------------------------------
def test_quick_start_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", doc_text(), re.S)
    assert blocks, "docs/tasks.md has no ```python block"
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_tasks_quick_start"})
    out = capsys.readouterr().out
    assert "True 0.4 0.4 m" in out
    assert "False ambiguous_label" in out


def load_script():
    """docs/make_task_examples.py as a module (registered while it loads: its dataclasses need it)."""
    spec = importlib.util.spec_from_file_location("make_task_examples", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_task_examples"] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.modules.pop("make_task_examples", None)
    return mod


def test_worked_examples_are_in_sync() -> None:
    mod = load_script()
    examples = mod.find_examples()
    text = doc_text()
    blocks = {ex.task: mod.example_block(ex) for ex in examples}
    assert [ex.task for ex in examples] == list(TASK_NAMES)
    assert all(ex.verdict.valid for ex in examples)
    assert mod.update_doc(text, blocks) == text, "docs/tasks.md examples are stale: run .venv/bin/python docs/make_task_examples.py"
    for ex in examples:
        png = ROOT / "docs" / "images" / "tasks" / f"{ex.task}.png"
        assert png.is_file() and png.stat().st_size < 150_000, f"{png} missing or too large"
        pic = mod.explained(ex)
        assert not pic.problems, f"{ex.task}: {pic.problems}"  # e.g. a frame of a scene task's clip showing none of its objects
        assert pic.notes, f"{ex.task}: the picture draws none of the task's geometry"
        why = mod.picture_difference(mod.quantized(pic.image).convert("RGB"), png)
        assert why is None, f"{png.name} is stale ({why}): run .venv/bin/python docs/make_task_examples.py"


def test_picture_check_tolerates_noise_but_not_a_changed_drawing(tmp_path) -> None:
    mod = load_script()
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    path = tmp_path / "p.png"
    Image.fromarray(base).save(path)
    noisy = np.clip(base.astype(int) + rng.integers(-1, 2, base.shape), 0, 255).astype(np.uint8)  # last-bit differences
    assert mod.picture_difference(Image.fromarray(noisy), path) is None
    changed = base.copy()
    changed[100:160, 100:220] = 255 - changed[100:160, 100:220]  # a drawn element moved or added
    assert "pixels differ" in mod.picture_difference(Image.fromarray(changed), path)
    assert "size" in mod.picture_difference(Image.fromarray(base[:-1]), path)
    assert mod.picture_difference(Image.fromarray(base), tmp_path / "missing.png") == "missing"
