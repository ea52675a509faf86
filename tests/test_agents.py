"""Scripted agents: formats, oracle correctness, skill growth."""

from __future__ import annotations

import re

import pytest

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, Question
from spatialevo.selfplay.agents import NoisyOracleSolver, OracleQuestioner, RandomAnswerer


@pytest.fixture(scope="module")
def verdicts():
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    return dge, [dge.evaluate(dge.sample(t, i)) for t in TASK_NAMES for i in range(5)]


def inner(text: str) -> str:
    m = re.fullmatch(r"<answer>(.*)</answer>", text)
    assert m, text
    return m.group(1)


def test_perfect_oracle_is_always_right(verdicts) -> None:
    _, vs = verdicts
    o = NoisyOracleSolver(TASK_NAMES, skill=1.0, max_skill=1.0)
    assert all(inner(o.answer(v)) == v.answer_text for v in vs)


def test_random_answers_have_the_task_format(verdicts) -> None:
    _, vs = verdicts
    r = RandomAnswerer(3)
    for v in vs:
        a = inner(r.answer(v))
        if v.options:
            assert a in v.options
        elif v.answer_kind in ("number", "integer"):
            assert float(a) > 0
        else:
            assert set(a.replace("turn-", "turn_").split("-")) <= {"up", "down", "front", "back", "left", "right", "turn_left", "turn_right"}


def test_skill_grows_with_practice(verdicts) -> None:
    _, vs = verdicts
    o = NoisyOracleSolver(TASK_NAMES, skill=0.1, rate=0.1)
    before = dict(o.skill)
    for v in vs:
        o.answer(v)
    assert all(o.skill[t] > before[t] for t in TASK_NAMES)
    assert o.mean_skill() < 0.95


def test_oracle_questioner_proposes_valid_json(verdicts) -> None:
    dge, _ = verdicts
    q = OracleQuestioner(1)
    for t in TASK_NAMES:
        assert dge.evaluate(Question.from_json(q.propose(dge, t))).valid
