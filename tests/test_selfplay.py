"""The self-play round (issue #13): evidence, one judgement per step, the four adapters agree,
fresh and invalid questions for the solver, a bounded cache."""

from __future__ import annotations

import copy
import gc
import json
import tracemalloc
import weakref

import numpy as np
import pytest
from fixtures import load_benchmark

from spatialevo.dge import DGE, SCENE_TASKS, TASK_NAMES, TASKS, Question, Reason
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene
from spatialevo.selfplay import Round, RoundConfig
from spatialevo.selfplay.curriculum import make_scheduler
from spatialevo.selfplay.evidence import clip
from spatialevo.selfplay.images import fit_size
from spatialevo.selfplay.sources import SceneSource, make_source

_EVIDENCE_BENCH = load_benchmark("evidence_bench")


def test_clip_is_uniform_over_the_trajectory() -> None:
    scene = make_source("bundled").get(1)  # 16 frames
    ids = [f.id for f in scene.frames]
    assert clip(scene, 16) == tuple(ids)
    four = clip(scene, 4)
    assert four == (ids[0], ids[5], ids[10], ids[15])  # round(linspace(0, 15, 4))
    assert clip(scene, 1) == (ids[0],) and clip(Scene("empty", scene.objects, []), 16) == ()


def test_images_keep_their_aspect_under_the_pixel_budget() -> None:
    for h, w in [(240, 320), (968, 1296), (1440, 1920), (480, 640), (100, 1000)]:
        for budget in (3136, 50_176, 200_704, 1_003_520):
            fh, fw = fit_size(h, w, max_pixels=budget)
            assert fh % 28 == 0 and fw % 28 == 0 and 784 <= fh * fw <= budget
            if budget >= 50_176:  # the aspect kept up to one 28-px step (a tiny budget has only a few tiles)
                assert abs(fw / fh - w / h) / (w / h) <= 28 / min(fh, fw) + 28 / max(fh, fw)
    rnd = Round("bundled", RoundConfig(max_pixels=100_000))
    frame = rnd.scene(rnd.names[0]).frames[0]
    img = rnd.images(rnd.names[0], [frame.id])[0]
    assert img.shape == (*fit_size(frame.height, frame.width, max_pixels=100_000), 3) and not img.flags.writeable
    with pytest.raises(ValueError, match="aspect ratio"):
        fit_size(1, 500)


def test_not_in_evidence_for_an_object_outside_every_shown_frame() -> None:
    rnd = Round("bundled", RoundConfig(clip_frames=2))
    name = rnd.names[0]
    dge = rnd.dge(name)
    shown = rnd.evidence(name, "object_size")
    seen = dge.index.seen(shown)
    hidden = [i for i, lab in enumerate(dge.index.labels) if len(dge.index.by_label[lab]) == 1 and seen[i] < 0.05]
    visible = [i for i, lab in enumerate(dge.index.labels) if len(dge.index.by_label[lab]) == 1 and seen[i] >= 0.05]
    assert hidden and visible
    q_hidden = Question("object_size", (dge.index.labels[hidden[0]],))
    assert dge.evaluate(q_hidden).valid  # valid for the whole scene …
    v = rnd.judge(name, q_hidden)  # … but not for the two frames shown with it
    assert not v.valid and v.reason is Reason.NOT_IN_EVIDENCE and v.evidence["object"] == dge.scene.objects[hidden[0]].ref
    assert rnd.judge(name, Question("object_size", (dge.index.labels[visible[0]],))).valid
    # counting needs every instance in a shown frame; the other reasons come first
    many = [lab for lab, inst in dge.index.by_label.items() if len(inst) >= 2 and min(seen[i] for i in inst) < 0.05]
    assert many and dge.evaluate(Question("object_counting", (many[0],))).valid
    assert rnd.judge(name, Question("object_counting", (many[0],))).reason is Reason.NOT_IN_EVIDENCE
    assert rnd.judge(name, Question("object_size", ("nothing-like-it",))).reason is Reason.LABEL_ABSENT
    # an image task's frames must be among the shown ones
    q = dge.sample("distance_cam_obj", 0)
    other = next(f.id for f in dge.scene.frames if f.id != q.frames[0])
    assert rnd.judge(name, q, (other,)).reason is Reason.NOT_IN_EVIDENCE and rnd.judge(name, q).valid
    assert dge.evaluate(q, shown=["no-such-frame"]).reason is Reason.FRAME_MISSING


def test_questioner_is_told_what_it_can_ask_about() -> None:
    rnd = Round("bundled")
    name = rnd.names[0]
    index = rnd.dge(name).index
    for task in TASK_NAMES:
        if not TASKS[task].n_objects[1]:
            continue
        turn = rnd.questioner_turn(name, task, np.random.default_rng(1), images=False)
        ask = rnd.askable(name, task, turn.frames)
        assert ask.unique and f"{', '.join(ask.unique)}." in turn.prompt
        seen = index.seen(turn.frames[:1] if TASKS[task].scope == "single_image" else turn.frames)
        vis = 0.05 if TASKS[task].scope == "scene" else 0.1  # the round's threshold; the image tasks' own
        for lab in ask.unique + ask.several:
            assert max(seen[i] for i in index.by_label[lab]) >= vis  # only labels it can see
        if TASKS[task].scope == "single_image":  # what it lists as askable, the DGE accepts in that frame
            for lab in ask.unique:
                v = rnd.dge(name).evaluate(Question(task, (lab,) * TASKS[task].n_objects[0], turn.frames))
                assert v.reason not in (Reason.NOT_VISIBLE, Reason.AMBIGUOUS_LABEL, Reason.LABEL_ABSENT), (task, lab, v.reason)
        if task == "object_counting":
            assert all(len(index.by_label[lab]) >= 2 for lab in ask.unique)
        elif TASKS[task].scope != "single_image" and TASKS[task].label_rule == "unique":
            assert all(len(index.by_label[lab]) == 1 for lab in ask.unique)
            assert all(len(index.by_label[lab]) > 1 for lab in ask.several)
        hidden = [lab for lab in index.by_label if max(seen[i] for i in index.by_label[lab]) < 0.05]
        assert not any(f" {lab}," in turn.prompt or f" {lab}." in turn.prompt for lab in hidden), (task, hidden)


def _covered(scene: Scene, dge: DGE, rec: dict) -> bool:
    """Every instance a record's question names is visible (≥ 0.05) in one of its frames: the check
    of ``benchmarks/evidence_bench.py`` (the scene's visibility, not the round); a visibility_compare
    record answered "neither" is, by its answer, about an object seen in neither image."""
    return _EVIDENCE_BENCH.covered(scene, dge, rec) is not False


@pytest.mark.parametrize("scenes,per_task", [("bundled", 12), ("synthetic:3", 6)])
def test_generated_records_show_every_object_they_name(tmp_path, scenes, per_task) -> None:
    from spatialevo.generate import GenerateConfig, generate, merge

    generate(GenerateConfig(out=tmp_path / "qa", scenes=scenes, per_task=per_task, images=False), progress=False)
    rows = [json.loads(x) for x in merge(tmp_path / "qa").read_text().splitlines()]
    source = make_source(scenes)
    by_name = {n: source.get(i) for i, n in enumerate(source.names)}
    dges = {n: DGE(s) for n, s in by_name.items()}
    per_task_rows: dict[str, list[bool]] = {}
    for rec in rows:
        per_task_rows.setdefault(rec["task"], []).append(_covered(by_name[rec["scene"]], dges[rec["scene"]], rec))
        if rec["task"] in SCENE_TASKS:
            assert len(rec["frames"]) == min(16, len(by_name[rec["scene"]].frames))  # the clip
    assert set(per_task_rows) == set(TASK_NAMES)
    for task, ok in per_task_rows.items():
        assert sum(ok) / len(ok) >= 0.99, (task, sum(ok), len(ok))
    counts = [r["answer"] for r in rows if r["task"] == "object_counting"]
    assert counts and min(counts) >= 2  # counting asks about labels with at least two instances


def test_env_episodes_and_training_rows_show_every_object_they_name() -> None:
    """The same measure as for datasets, on env episodes (solver mode) and training solver rows."""
    from spatialevo.env import SpatialEvoEnv
    from spatialevo.train.stream import SelfPlayStream

    source = make_source("bundled")
    by_name = {n: source.get(i) for i, n in enumerate(source.names)}
    dges = {n: DGE(s) for n, s in by_name.items()}
    env = SpatialEvoEnv(mode="solver", images=False, scheduler="uniform")
    ok: dict[str, list[bool]] = {}
    for seed in range(400):
        _, info = env.reset(seed=seed)
        v = info["verdict"]
        if v.valid:
            rec = {"question": info["question"].to_dict(), "frames": info["frames"], "answer_text": v.answer_text}
            ok.setdefault(info["task"], []).append(_covered(by_name[info["scene"]], dges[info["scene"]], rec))
    stream = SelfPlayStream(Round("bundled", RoundConfig(max_pixels=3136)), make_scheduler("uniform", TASK_NAMES), roles=("solver",))
    for i in range(200):
        row = stream.row(i)
        q = Question.from_json(row["question"])
        v = stream.round.judge(row["scene"], q, tuple(json.loads(row["frames"])))
        if v.valid:
            rec = {"question": q.to_dict(), "frames": json.loads(row["frames"]), "answer_text": v.answer_text}
            ok.setdefault(q.task, []).append(_covered(by_name[row["scene"]], dges[row["scene"]], rec))
    assert set(ok) == set(TASK_NAMES)
    for task, flags in ok.items():
        assert sum(flags) / len(flags) >= 0.99, (task, sum(flags), len(flags))


def test_env_generate_stream_and_eval_agree(tmp_path) -> None:
    """One (scene, task, seed) gives the same frames, prompt and verdict in all four adapters."""
    from spatialevo.env import SpatialEvoEnv
    from spatialevo.generate import GenerateConfig, generate, merge
    from spatialevo.train.evaluate import record_scenes, record_turn
    from spatialevo.train.stream import SelfPlayStream

    generate(GenerateConfig(out=tmp_path / "qa", per_task=2, images=False), progress=False)
    records = [json.loads(x) for x in merge(tmp_path / "qa").read_text().splitlines()]
    env = SpatialEvoEnv(mode="solver", images=False)
    eval_round = Round("bundled")
    seen_tasks = set()
    for rec in records[::3]:
        seen_tasks.add(rec["task"])
        q = Question.from_dict(rec["question"])
        _, info = env.reset(seed=0, options={"scene": rec["scene"], "question": q})
        stream = SelfPlayStream(Round("bundled"), make_scheduler("uniform", TASK_NAMES), roles=("solver",),
                                questions=[(rec["scene"], q.to_json())])
        row = stream.row(0)
        row_verdict = stream.round.judge(row["scene"], Question.from_json(row["question"]), tuple(json.loads(row["frames"])))
        (name, _), = record_scenes(eval_round.source, [rec])
        turn = record_turn(eval_round, name, rec)
        assert info["frames"] == rec["frames"] == json.loads(row["frames"]) == list(turn.frames)
        assert info["prompt"] == rec["prompt"][0]["content"] == row["prompt"][0]["content"] == turn.prompt and rec["prompt"] == row["prompt"]
        assert info["question_text"] == rec["question_text"] == turn.question_text
        assert info["verdict"].to_dict() == row_verdict.to_dict() == turn.verdict.to_dict()
        assert info["verdict"].answer_text == rec["answer_text"] and info["verdict"].valid
    assert len(seen_tasks) >= 12
    # a seeded episode: the env's own draw replays through the other adapters
    for seed in range(8):
        _, info = env.reset(seed=seed, options={"task": "object_counting"})
        again = Round("bundled").solver_turn(info["scene"], info["question"])
        assert (list(again.frames), again.prompt, again.verdict) == (info["frames"], info["prompt"], info["verdict"])


def _stream(**round_kw):  # noqa: ANN202
    from spatialevo.train.stream import SelfPlayStream

    rnd = Round("bundled", RoundConfig(clip_frames=4, max_pixels=3136, **round_kw))
    return SelfPlayStream(rnd, make_scheduler("uniform", TASK_NAMES), seed=3)


def test_solver_rows_include_invalid_questions_at_the_configured_rate() -> None:
    from spatialevo.train.stream import SelfPlayStream

    for rate in (0.0, 0.1, 0.3):
        rnd = Round("bundled", RoundConfig(clip_frames=4, max_pixels=3136, invalid_rate=rate))
        stream = SelfPlayStream(rnd, make_scheduler("uniform", TASK_NAMES), seed=1, roles=("solver",))
        rows = [stream.row(i) for i in range(300)]
        kinds = [r["kind"] for r in rows]
        share = kinds.count("invalid") / len(rows)
        assert abs(share - rate) <= 4 * np.sqrt(max(rate * (1 - rate), 1e-4) / len(rows)) + 0.01, (rate, share)
        for r in rows:
            v = rnd.judge(r["scene"], Question.from_json(r["question"]), tuple(json.loads(r["frames"])))
            assert v.valid == (r["kind"] != "invalid") and (v.valid or v.reason is not Reason.MALFORMED)


def test_fresh_questions_reach_the_solver_within_one_step() -> None:
    stream = _stream(invalid_rate=0.0)
    q_row = stream.row(0)
    assert q_row["role"] == "questioner" and stream.row(1)["kind"] == "sampled"
    scene, frames = q_row["scene"], tuple(json.loads(q_row["frames"]))
    q = stream.round.sample(scene, q_row["task"], np.random.default_rng(0))
    early = stream.row(3)  # fetched by the data loader before the step ended
    stream.advance(questions=[(scene, q.to_json(), frames)])
    (late,) = stream.resolve([early])  # rebuilt when the trainer generates
    assert late["kind"] == "asked" and late["age"] == 1 and late["question"] == q.to_json()
    assert json.loads(late["frames"]) == list(frames) and late["scene"] == scene  # the questioner's evidence
    assert stream.resolve([q_row]) == [q_row]  # questioner rows are left as they are
    stream.advance()  # a step later the question is two steps old: dropped
    assert stream.row(5)["kind"] == "sampled" and not stream.buffer
    # newest first
    stream = _stream(invalid_rate=0.0, max_question_age=3)
    q1, q2 = (stream.round.sample(scene, "object_size", np.random.default_rng(k)) for k in (1, 2))
    assert q1 != q2
    stream.advance(questions=[(scene, q1.to_json(), frames)])
    stream.advance(questions=[(scene, q2.to_json(), frames)])
    rows = [stream.row(i) for i in (1, 3)]
    assert [r["question"] for r in rows] == [q2.to_json(), q1.to_json()] and [r["age"] for r in rows] == [1, 2]
    state = stream.state_dict()
    other = _stream(invalid_rate=0.0, max_question_age=3)
    other.load_state_dict(json.loads(json.dumps(state)))
    assert [other.row(i)["question"] for i in (1, 3)] == [q2.to_json(), q1.to_json()]


def test_rewards_judge_each_question_once_per_step_and_log_age_and_invalid_share(monkeypatch) -> None:
    import spatialevo.train.rewards as rewards_mod
    from spatialevo.dge.tasks.base import Task
    from spatialevo.train.rewards import SelfPlayRewards

    stream = _stream(invalid_rate=0.0)
    rewards = SelfPlayRewards(stream.round)
    calls = []
    real = Task._task_verdict
    monkeypatch.setattr(Task, "_task_verdict", lambda self, *a: calls.append(self.name) or real(self, *a))
    q_row = stream.row(0)
    scene, frames = q_row["scene"], tuple(json.loads(q_row["frames"]))
    q = stream.round.sample(scene, "object_size", np.random.default_rng(0))
    stream.advance(questions=[(scene, q.to_json(), frames)])
    row = stream.row(1)
    assert row["kind"] == "asked"
    calls.clear()
    cols = {k: [row[k]] * 4 for k in ("role", "scene", "task", "frames", "question", "kind", "age", "row")}
    logged: dict[str, float] = {}
    truth = stream.round.judge(scene, q, frames).answer_text
    out = rewards.solver_reward(prompts=[None] * 4, completions=[f"<answer>{truth}</answer>", "<answer>1</answer>", "x", "<answer>2</answer>"],
                                log_metric=logged.__setitem__, **cols)
    assert out[0] == pytest.approx(1.0) and len(calls) <= 1  # the group of four shares one verdict (judged at most once)
    assert logged["solver/question_age"] == 1.0 and logged["solver/invalid_share"] == 0.0 and logged["solver/asked_share"] == 1.0
    # the questioner's and every GDPO part function read one computation of the parts
    funcs, weights = rewards.functions(split=True)
    qcols = {k: [q_row[k]] for k in ("role", "scene", "task", "frames", "row")}
    reads = []
    real_read = rewards_mod.read_question
    monkeypatch.setattr(rewards_mod, "read_question", lambda *a: reads.append(a) or real_read(*a))
    parts = [f(prompts=[None], completions=[q.to_json()], **qcols, question=[""], kind=[""], age=[-1]) for f in funcs[:-1]]
    assert [p[0] for p in parts] == [w0 * 1.0 for w0 in (1.0, 1.0, float(q.task == q_row["task"]))]
    assert len(reads) == 1 and weights[:3] == [0.2, 0.5, 0.3]  # three part functions, one computation of the parts
    assert rewards.flush()["questions"] == ([(scene, q.to_json(), frames)] if q.task == q_row["task"] else [])


class _Copies(SceneSource):
    """``n`` scenes loaded lazily, each a fresh copy of a template (weak references track them)."""

    def __init__(self, template: Scene, n: int, cache: int):
        self.template, self.loaded = template, weakref.WeakSet()
        super().__init__(names=[f"copy{i}" for i in range(n)], cache=cache)

    def _load(self, i: int) -> Scene:
        scene = copy.deepcopy(self.template)
        self.loaded.add(scene)
        return scene


def test_cycling_through_1000_scenes_stays_within_the_cache_bound() -> None:
    base = make_source("bundled").get(0)
    frameless = Scene("copy", base.objects, [], floor_polygon=base.floor_polygon, points=base.points)
    source = _Copies(frameless, 1000, cache=64)
    rnd = Round(source, RoundConfig(cache=4))
    assert source._cache == 4  # one bound for the source and the round
    rng = np.random.default_rng(0)
    tracemalloc.start()
    try:
        sizes = []
        for i, name in enumerate(rnd.names):
            assert rnd.sampled_solver_turn(name, "object_size", rng) is not None
            rnd.questioner_turn(name, "absolute_distance", rng, images=False)
            if i in (199, 999):
                gc.collect()
                # memory allocated by the package and still held (not the interpreter's own tables: a
                # resize of its interned-string dict, 3.7 MB at once, lands in either window by chance)
                own = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*spatialevo*")])
                sizes.append(sum(t.size for t in own.traces))
                assert len(source.loaded) <= 4 and len(rnd.cache) <= 4
    finally:
        tracemalloc.stop()
    assert sizes[1] - sizes[0] < 2_000_000, sizes  # flat: 800 more scenes cost nothing kept
    # with frames, images and visibility: still the bound
    source = _Copies(base, 40, cache=64)
    rnd = Round(source, RoundConfig(cache=3, clip_frames=4, max_pixels=3136))
    for name in rnd.names:
        rnd.questioner_turn(name, "object_size", rng)
    gc.collect()
    assert len(source.loaded) <= 3


def test_asked_questions_are_shown_as_they_are_worded() -> None:
    """The solver of a questioner's image-pair question sees the images in the question's order
    (its words say "the first image"); instance references are refused; bad frames never crash."""
    from spatialevo.env import SpatialEvoEnv

    rnd = Round("bundled")
    name = rnd.names[0]
    turn = rnd.questioner_turn(name, "elevation_cam_cam", np.random.default_rng(0), images=False)
    assert len(turn.frames) == 2
    q, err = rnd.read(turn, '{"task": "elevation_cam_cam", "frames": [2, 1]}')
    assert not err and q.frames == turn.frames[::-1]
    solver = rnd.solver_turn(name, q, frames=turn.frames, kind="asked")
    assert solver.frames == q.frames and len(solver.images) == 2
    dge = rnd.dge(name)
    z = [dge.scene.frame(f).camera_center[2] for f in solver.frames]
    assert solver.verdict.answer_text == ("higher" if z[1] > z[0] else "lower")  # camera 2 = the second image shown
    q, err = rnd.read(turn, '{"task": "object_size", "objects": ["table#2"]}')
    assert q is None and "instance reference" in err
    bad = rnd.solver_turn(name, Question("distance_cam_obj", ("sofa",), ("no-such-frame",)))
    assert bad.verdict.reason is Reason.FRAME_MISSING and bad.images == ()
    env = SpatialEvoEnv(mode="solver", images=True, image_size=(24, 32))
    with pytest.raises(ValueError, match="unknown task"):
        env.reset(options={"scene": name, "question": {"task": "nope", "objects": []}})
    _, info = env.reset(options={"scene": name, "question": bad.question})
    assert info["verdict"].reason is Reason.FRAME_MISSING and info["ground_truth"] == "frame_missing"


def test_round_config_errors_name_the_option() -> None:
    for bad, msg in [({"clip_frames": 0}, "clip_frames"), ({"clip_frames": 2.5}, "whole number"), ({"invalid_rate": 1.5}, "invalid_rate"),
                     ({"min_pixels": 10}, "min_pixels"), ({"cache": True}, "cache"), ({"nope": 1}, "unknown round option")]:
        with pytest.raises(SpatialEvoError, match=msg):
            RoundConfig.from_dict(bad)
