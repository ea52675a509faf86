"""Fuzz (hypothesis, fixed budgets): questioner outputs and structured questions against the DGE.

Every output ends in one of three classes — *no question* (a one-line error says why), *invalid
verdict* (a reason code and a one-line message), *valid verdict* (a finite answer) — and nothing
raises. The counts per class are printed with ``pytest -s`` and recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from dge_scenes import analytic_scene
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialevo import DGE
from spatialevo.dge import TASK_NAMES, TASKS, Verdict
from spatialevo.selfplay.prompts import read_question
from spatialevo.selfplay.rewards import QuestionerReward

FRAMES = ["f0", "f1"]
OUTCOMES: dict[str, Counter] = {"questioner outputs": Counter(), "structured questions": Counter()}
DGE_ = DGE(analytic_scene())
LABELS = sorted(DGE_.index.by_label) + [o.ref for o in DGE_.scene.objects]
HOSTILE_SCALARS = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1, 2, 2.0, 1e308, -1e308, "1", "2", " HARD ", "easy", "medium", "", "🙂", "sofá",
                     "x" * 300, "nan", "Infinity"]),
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False), st.text(max_size=8),
)
LABEL = st.one_of(st.sampled_from(LABELS), st.sampled_from(["", " ", "TV", "Trash_Bin", "tv#99", "#5", "sofa#", "chair#2.0", "椅子"]),
                  st.text(max_size=6))
JSONISH = st.recursive(HOSTILE_SCALARS, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                       max_leaves=8)


@st.composite
def well_formed(draw: st.DrawFn) -> dict:
    """A question of the right shape: real labels and frames, allowed parameters (often valid)."""
    task = draw(st.sampled_from(TASK_NAMES))
    cls = TASKS[task]
    lo, hi = cls.n_objects
    q: dict = {"task": task, "objects": draw(st.lists(st.sampled_from(LABELS), min_size=lo, max_size=hi))}
    if cls.n_frames:
        pool = FRAMES if draw(st.booleans()) else sorted(DGE_.index.frames)  # the shown images, or any
        q["frames"] = draw(st.lists(st.sampled_from(pool), min_size=cls.n_frames, max_size=cls.n_frames))
    q["params"] = {k: draw(st.sampled_from(allowed)) for k, (allowed, _) in cls.param_space.items() if draw(st.booleans())}
    return q


@st.composite
def hostile(draw: st.DrawFn) -> dict:
    """Anything shaped roughly like a question: wrong types, counts, labels, parameters, extra keys."""
    task = draw(st.one_of(st.sampled_from(TASK_NAMES), st.sampled_from(["", "nope", "Object_Size"]), HOSTILE_SCALARS))
    lo, hi = TASKS[task].n_objects if task in TASKS else (0, 3)
    q: dict = {"task": task, "objects": draw(st.lists(LABEL | HOSTILE_SCALARS, min_size=max(0, lo - 1), max_size=hi + 1))}
    if draw(st.booleans()):
        q["frames"] = draw(st.lists(st.sampled_from([*FRAMES, 1, 2, "image1", "3", "", "f9"]) | HOSTILE_SCALARS, max_size=3))
    if draw(st.booleans()):
        q["params"] = draw(st.dictionaries(st.sampled_from(["level", "reference", "colour"]), HOSTILE_SCALARS, max_size=2))
    if draw(st.integers(0, 9)) == 0:
        q[draw(st.sampled_from(["extra", "objects", "params"]))] = draw(JSONISH)
    return q


@st.composite
def questions(draw: st.DrawFn) -> dict:
    return draw(well_formed()) if draw(st.integers(0, 9)) < 6 else draw(hostile())


@st.composite
def outputs(draw: st.DrawFn) -> str:
    q = draw(questions())
    text = json.dumps(q, ensure_ascii=draw(st.booleans()), allow_nan=True)
    form = draw(st.integers(0, 9))  # 0, 7-9: the JSON alone
    if form == 1:
        text = f"Here is my question: {text} Is it good?"
    elif form == 2:
        text = text[: draw(st.integers(0, len(text)))]  # cut off
    elif form == 3:
        depth = draw(st.integers(1, 400))
        text = '{"task": "room_size", "params": ' + "[" * depth + "]" * depth + "}"
    elif form == 4:
        text = draw(st.text(max_size=200))
    elif form == 5:
        text = text + " " + text  # two objects
    elif form == 6:
        text = "```json\n" + text + "\n```\nHow far apart are the sofa and the table?"
    return text


def _one_line(message: str) -> bool:
    return bool(message) and "\n" not in message.strip() and "Traceback" not in message


def _check_verdict(v: Verdict) -> str:
    if v.valid:
        if isinstance(v.answer, (int, float)):
            assert math.isfinite(v.answer)
        return "valid verdict"
    assert v.reason is not None and _one_line(v.message), v.message
    return "invalid verdict"


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(outputs())
def test_questioner_outputs(text):
    q, err = read_question(text, FRAMES)
    if q is None:
        assert _one_line(err), err
        OUTCOMES["questioner outputs"]["no question (error)"] += 1
        return
    v = DGE_.evaluate(q)
    OUTCOMES["questioner outputs"][_check_verdict(v)] += 1
    canon = DGE_.canonical(q)
    assert DGE_.canonical(canon) == canon and DGE_.evaluate(canon).valid == v.valid
    reward, parts = QuestionerReward()("analytic", str(q.task), canon, v)
    assert 0.0 <= reward <= 1.0 and all(0.0 <= x <= 1.0 for x in parts.values())


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(questions())
def test_structured_questions(q):
    v = DGE_.evaluate(q)
    OUTCOMES["structured questions"][_check_verdict(v)] += 1
    assert isinstance(json.dumps(v.to_dict(), allow_nan=False), str)  # a verdict is always plain JSON


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    for name, counts in OUTCOMES.items():
        if counts:
            print(f"\n{name}: {sum(counts.values())} tried, " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
