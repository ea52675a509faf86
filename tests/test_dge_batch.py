"""``DGE.evaluate_many``: the verdicts ``evaluate`` gives, each distinct question judged once."""

from __future__ import annotations

import time

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES
from spatialevo.dge.engine import make_rng


def test_evaluate_many_equals_evaluate_and_judges_each_question_once(monkeypatch) -> None:
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    qs = []
    for i, task in enumerate(TASK_NAMES):
        try:
            qs.append(dge.sample(task, make_rng(i, 0)))
        except Exception:  # noqa: BLE001  (a task this scene cannot ask)
            continue
    batch = [q for q in qs for _ in range(8)]  # a GRPO group: 8 completions per question
    batch += [qs[0].to_json()] * 3 + [qs[1].to_dict(), "{not json", {"task": "nope"}, '{"task": "object_counting"}']
    expected = [dge.evaluate(q) for q in batch]
    calls = []
    real = dge.evaluate
    monkeypatch.setattr(dge, "evaluate", lambda q, **kw: calls.append(q) or real(q, **kw))
    got = dge.evaluate_many(batch)
    assert [(v.valid, v.reason, v.answer, v.answer_text, v.evidence) for v in got] == [
        (v.valid, v.reason, v.answer, v.answer_text, v.evidence) for v in expected]
    assert len(calls) == len({q.key() for q in qs}) + 2  # each sampled question once, plus the two parsable unknown-task extras
    assert got[0] is got[7]  # copies share the verdict


def test_batches_of_repeated_questions_are_faster_than_the_loop() -> None:
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    qs = [dge.sample("object_size", make_rng(0, k)) for k in range(16)]
    batch = [q for q in qs for _ in range(8)] * 20
    dge.evaluate_many(batch[:10])
    t0 = time.perf_counter()
    loop = [dge.evaluate(q) for q in batch]
    t1 = time.perf_counter()
    many = dge.evaluate_many(batch)
    t2 = time.perf_counter()
    assert [v.answer for v in many] == [v.answer for v in loop]
    assert (t2 - t1) * 2 < (t1 - t0), (t1 - t0, t2 - t1)
