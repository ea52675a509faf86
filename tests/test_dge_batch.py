"""``DGE.evaluate_many``: exactly the verdicts of ``evaluate``, each distinct question judged once,
the geometry of a task's questions in one pass, verdicts kept per scene without shared state."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import numpy as np
import pytest
from dge_scenes import analytic_scene
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import SCENE_TASKS, TASK_NAMES, Question, Reason, Verdict
from spatialevo.dge import engine as engine_mod
from spatialevo.dge.engine import make_rng

JUNK_LABELS = ["", " ", "Trash_Bin", "ÄÖÜ", "🙂", "x" * 300, "-", "a\nb", "SOFA", "chair chair", "sofa#99", 5]
PARAMS: list[dict[str, Any]] = [
    {}, {"level": "easy"}, {"level": " HARD "}, {"level": "expert"}, {"level": 1}, {"level": 1.0}, {"level": True},
    {"level": -0.0}, {"level": 0.0}, {"level": None}, {"reference": 2}, {"reference": "2"}, {"reference": 2.0},
    {"colour": "red"},
]
TEXTS = ["{not json", "[]", "null", '{"task": "object_counting"}', '{"task": "nope"}', '{"task": "room_size", "extra": 1}',
         '{"task": ' + "[" * 3000 + "]" * 3000 + "}", "x" * 5000]


@functools.cache
def _scene_dge(name: str) -> tuple[DGE, tuple[Question, ...]]:
    """A DGE of a bundled scene (or the hand-built ``analytic`` one) and a pool of its questions:
    valid samples and random draws of every task."""
    scene = analytic_scene() if name == "analytic" else load_scene({p.stem: p for p in bundled_scene_paths()}[name])
    dge = DGE(scene)
    pool: list[Question] = []
    for t, task in enumerate(TASK_NAMES):
        try:
            pool += [dge.sample(task, make_rng(t, k), max_tries=200) for k in range(4)]
        except Exception:  # noqa: BLE001  (a task this scene cannot ask)
            pass
        rng = make_rng(900 + t)
        pool += [dge.task(task).draw(dge.index, rng) for _ in range(12)]
    return dge, tuple(pool)


def _mutant(q: Question, rng: np.random.Generator, dge: DGE) -> Any:
    """A variant of a question: as JSON text or a dict, with junk labels, instance references,
    wrong counts, frames or parameters (valid or invalid, parsable or not)."""
    d = q.to_dict()
    u = rng.random()
    if u < 0.15 and d["objects"]:
        d["objects"][int(rng.integers(len(d["objects"])))] = JUNK_LABELS[int(rng.integers(len(JUNK_LABELS)))]
    elif u < 0.3 and d["objects"]:
        k = int(rng.integers(len(d["objects"])))
        inst = dge.index.instances(d["objects"][k])
        if inst:
            d["objects"][k] = dge.scene.objects[inst[int(rng.integers(len(inst)))]].ref
    elif u < 0.4:
        d["objects"] = d["objects"] + d["objects"][:1] if rng.random() < 0.5 else d["objects"][1:]
    elif u < 0.5:
        d["params"] = PARAMS[int(rng.integers(len(PARAMS)))]
    elif u < 0.6 and dge.index.frame_ids:
        d["frames"] = [dge.index.frame_ids[int(rng.integers(len(dge.index.frame_ids)))] for _ in range(int(rng.integers(0, 3)))]
    elif u < 0.65:
        d["objects"] = list(reversed(d["objects"]))
    form = rng.random()
    if form < 0.4:
        return json.dumps(d)
    if form < 0.7:
        return d
    try:
        return Question.from_dict(d)
    except ValueError:
        return d


def _batch(name: str, seed: int, n: int = 160) -> list[Any]:
    dge, pool = _scene_dge(name)
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    while len(out) < n:
        u = rng.random()
        q = pool[int(rng.integers(len(pool)))]
        if u < 0.35:
            out.append(q)
        elif u < 0.5:
            out += [q] * int(rng.integers(2, 9))  # a GRPO group asking the same thing
        elif u < 0.9:
            out.append(_mutant(q, rng, dge))
        else:
            out.append(TEXTS[int(rng.integers(len(TEXTS)))])
    rng.shuffle(out)
    return out


def _fields(v: Verdict) -> tuple:
    """Everything a verdict holds, with the types of the answer and the evidence, and the evidence order."""
    return (v.to_json(), repr(v), type(v.answer), type(v.reason), list(v.evidence),
            [(type(x), [type(y) for y in x] if isinstance(x, list) else None) for x in v.evidence.values()])


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["rect_small", "l_dense", "analytic"]), st.integers(0, 2**32 - 1))
def test_evaluate_many_equals_the_loop_of_evaluate_on_random_batches(name: str, seed: int) -> None:
    """Sampled, drawn and mutated questions, JSON texts, dicts, malformed input, duplicates, mixed
    tasks: the batch gives ``evaluate``'s verdict at every position, cold and from the cache."""
    dge, _ = _scene_dge(name)
    batch = _batch(name, seed)
    expected = [_fields(dge.evaluate(q)) for q in batch]
    if seed % 2:
        dge.clear_cache()
    assert [_fields(v) for v in dge.evaluate_many(batch)] == expected
    assert [_fields(v) for v in dge.evaluate_many(batch[::-1])] == expected[::-1]  # now mostly from the cache


def test_each_distinct_question_is_judged_once_and_kept_across_calls(monkeypatch) -> None:
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
    judged: list[str] = []
    for task in dge.tasks.values():
        real = task.evaluate_many
        monkeypatch.setattr(task, "evaluate_many", lambda index, group, real=real: judged.extend(q.task for q in group) or real(index, group))
    got = dge.evaluate_many(batch)
    assert got == expected
    assert len(judged) == len({q.key() for q in qs}) + 1  # each sampled question once, plus the malformed object_counting text
    assert dge.evaluate_many(batch) == expected and len(judged) == len({q.key() for q in qs}) + 1  # the second batch: all kept


def test_verdicts_are_immutable_so_repeats_share_one_object() -> None:
    """A question asked twice gets the same verdict object; nothing in it can be changed, so no
    caller can alter another's verdict or the cache's (pickle and copies still work)."""
    import copy
    import dataclasses
    import pickle

    dge = DGE(load_scene(bundled_scene_paths()[0]))
    q = dge.sample("relative_distance", make_rng(3, 0))
    first = dge.evaluate_many([q, q])
    assert first[0] is first[1] and first[0] == dge.evaluate(q)
    v = first[0]
    dists = v.evidence["distances_m"]
    assert dists == list(dists) and json.loads(v.to_json())["evidence"]["distances_m"] == list(dists)
    for change in (lambda: dists.append(-1.0), lambda: dists.__setitem__(0, -1.0), lambda: dists.sort(), lambda: dists.clear(),
                   lambda: v.evidence.__setitem__("distances_m", []), lambda: v.evidence.clear(), lambda: v.evidence.update(x=1),
                   lambda: v.evidence.pop("distances_m"), lambda: v.evidence.setdefault("y", 1)):
        with pytest.raises(TypeError, match="read-only"):
            change()
    with pytest.raises(AttributeError):
        v.answer = "tv"  # type: ignore[misc]
    assert dge.evaluate_many([q.to_json()])[0] is v == dge.evaluate(q)
    for clone in (pickle.loads(pickle.dumps(v)), copy.deepcopy(v), copy.copy(v)):
        assert clone == v and type(clone.evidence) is type(v.evidence) and type(clone.evidence["distances_m"]) is type(dists)
    mutable = dict(v.evidence)
    mutable["distances_m"] = list(dists) + [-1.0]
    assert v.evidence["distances_m"] == dists and len(mutable["distances_m"]) == len(dists) + 1
    # however a verdict is built, what it holds is frozen, nested values too
    nested = {"distances_m": [1.0, [2.0]], "extents_m": np.arange(3.0), "visible": ([0.5],)}
    for made in (Verdict(True, evidence=nested), dataclasses.replace(v, evidence=nested), Verdict.invalid(Reason.NEAR_TIE, "x", evidence=nested)):
        assert made.evidence == {"distances_m": [1.0, [2.0]], "extents_m": made.evidence["extents_m"], "visible": ([0.5],)}
        with pytest.raises(TypeError, match="read-only"):
            made.evidence["distances_m"][1].append(3.0)
        with pytest.raises(TypeError, match="read-only"):
            made.evidence["visible"][0].append(3.0)
        with pytest.raises(ValueError):
            made.evidence["extents_m"][0] = 9.0
    assert nested["extents_m"][0] == 0.0 and nested["distances_m"][1] == [2.0]  # the caller's data is not changed
    base = np.arange(3.0)
    view = base[:]
    view.setflags(write=False)
    kept = Verdict(True, evidence={"extents_m": view}, options=["a", "b"])
    base[0] = 7.0  # a read-only view of the caller's array: the verdict holds its own copy
    assert kept.evidence["extents_m"][0] == 0.0 and kept.options == ("a", "b")
    assert Verdict.make(True, None, "", "a", "a", ["a", "b"], {}, "t", "choice", None).options == ("a", "b")


def test_parameters_that_compare_equal_are_not_confused() -> None:
    """``1``, ``1.0`` and ``True`` are equal Python keys; the rules tell them apart (and ``-0.0``
    from ``0.0`` in the message), so the cache must too."""
    dge = DGE(analytic_scene())
    qs = [Question("relative_direction_hard", ("sofa", "table", "lamp"), (), {"level": v}) for v in (1, 1.0, True, -0.0, 0.0, "hard")]
    for order in (qs, qs[::-1]):
        assert dge.evaluate_many(order) == [dge.evaluate(q) for q in order]
    assert len({v.message for v in dge.evaluate_many(qs)}) == len(qs)  # "got 1", "got 1.0", "got True", "got -0.0", ...


def test_the_cache_is_bounded_and_replaced_tasks_are_judged_afresh(monkeypatch) -> None:
    monkeypatch.setattr(engine_mod, "VERDICT_CACHE", 50)
    monkeypatch.setattr(engine_mod, "TEXT_CACHE", 20)
    _, pool = _scene_dge("l_dense")
    dge = DGE(load_scene({p.stem: p for p in bundled_scene_paths()}["l_dense"]))
    texts = [json.dumps({**q.to_dict(), "objects": list(q.objects)}) for q in pool]
    dge.evaluate_many(list(pool) + texts + ["y" * 2000])
    assert len(dge._verdicts) <= 50 and len(dge._texts) <= 20
    assert all(len(t) <= engine_mod.CACHE_MAX_CHARS for t in dge._texts)
    q = next(q for q in pool if q.task == "absolute_distance" and dge.evaluate(q).valid)
    before = dge.evaluate_many([q])[0]
    from spatialevo.dge.engine import make_tasks

    dge.tasks["absolute_distance"] = make_tasks({"absolute_distance": {"min_distance_m": 1000.0}})["absolute_distance"]
    after = dge.evaluate_many([q])[0]
    assert before.valid and not after.valid and after == dge.evaluate(q)
    import dataclasses

    task = dge.tasks["absolute_distance"]  # the same task object, its thresholds replaced
    task.config = dataclasses.replace(task.config, min_distance_m=0.1)
    assert dge.evaluate_many([q])[0] == before == dge.evaluate(q)


def test_batched_geometry_is_one_pass_per_task(monkeypatch) -> None:
    """The scene tasks with geometry judge a group with one ``check_many`` call and no ``check``."""
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    batch = [dge.sample(t, make_rng(i, k)) for i, t in enumerate(SCENE_TASKS) for k in range(6)]
    calls: dict[str, int] = {}
    for name in ("object_size", "absolute_distance", "relative_distance", "relative_direction_hard"):
        task = dge.tasks[name]
        monkeypatch.setattr(task, "check", lambda *a, name=name: calls.__setitem__(name + ".check", 1) or None)
        real = task.check_many
        monkeypatch.setattr(task, "check_many", lambda i, q, r, real=real, name=name: calls.__setitem__(name, calls.get(name, 0) + 1) or real(i, q, r))
    verdicts = dge.evaluate_many(batch)
    assert all(v.valid for v in verdicts)
    assert calls == {"object_size": 1, "absolute_distance": 1, "relative_distance": 1, "relative_direction_hard": 1}


def test_batches_are_faster_than_the_loop() -> None:
    """GRPO groups (8 repeats) and distinct questions: the batch beats the one-by-one loop (CPU
    time, best of 5; the margins are wide, see benchmarks/dge_bench.py --batch for the figures)."""
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    qs = [dge.sample(t, make_rng(i, k)) for i, t in enumerate(SCENE_TASKS) for k in range(40)]
    distinct = list({q.key(): q for q in qs}.values())
    group = [q for q in distinct for _ in range(8)]
    dge.evaluate_many(group[:10])

    def best(f) -> float:
        times = []
        for _ in range(5):
            dge.clear_cache()
            t0 = time.process_time()
            f()
            times.append(time.process_time() - t0)
        return min(times)

    loop = best(lambda: [dge.evaluate(q) for q in group])
    many = best(lambda: dge.evaluate_many(group))
    assert many * 2 < loop, (loop, many)
    loop = best(lambda: [dge.evaluate(q) for q in distinct])
    many = best(lambda: dge.evaluate_many(distinct))
    assert many < loop, (loop, many)
