"""Dataset generation: deterministic, shardable, resumable after a kill, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spatialevo.dge import DGE, Question
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import GenerateConfig, digest, generate, merge

TASKS = ("object_size", "absolute_distance", "relative_direction_hard", "position_cam_cam", "visibility_compare", "depth_order_obj_obj")


def run(out: Path, **kw) -> Path:
    cfg = GenerateConfig(out=out, tasks=kw.pop("tasks", TASKS), per_task=kw.pop("per_task", 8), chunk=kw.pop("chunk", 10), images=kw.pop("images", False), **kw)
    generate(cfg, progress=False)
    return merge(out) if cfg.shard[1] == 1 else out


def test_deterministic_and_verified(tmp_path) -> None:
    a, b = run(tmp_path / "a", max_repeat_share=1.0), run(tmp_path / "b", max_repeat_share=1.0)
    assert digest(a) == digest(b)
    rows = [json.loads(x) for x in a.read_text().splitlines()]
    assert len(rows) == 4 * len(TASKS) * 8 and len({r["id"] for r in rows}) == len(rows)
    from spatialevo import load_scene
    from spatialevo.bundled import bundled_scene_paths

    dges = {p.stem: DGE(load_scene(p)) for p in bundled_scene_paths()}
    assert all(r["id"].startswith(f"{r['scene']}-{r['task']}-") for r in rows) and {r["scene"] for r in rows} == set(dges)
    for r in rows[::7]:
        v = dges[r["scene"]].evaluate(Question.from_dict(r["question"]))
        assert v.valid and v.answer_text == r["answer_text"]
    assert run(tmp_path / "c", seed=1).read_bytes() != a.read_bytes()


def test_answers_are_balanced(tmp_path) -> None:
    rows = [json.loads(x) for x in run(tmp_path / "a", tasks=("visibility_compare", "position_cam_cam", "elevation_cam_cam")).read_text().splitlines()]
    vis = [r["answer_text"] for r in rows if r["task"] == "visibility_compare"]
    assert {"image1", "image2", "same", "neither"} <= set(vis)
    counts = np.unique([r["answer_text"] for r in rows if r["task"] == "position_cam_cam"], return_counts=True)[1]
    assert counts.max() <= 3 * counts.min()
    # every bundled scene has both elevation answers in plenty: exactly half each, per scene
    for scene in {r["scene_id"] for r in rows}:
        elev = [r["answer_text"] for r in rows if r["task"] == "elevation_cam_cam" and r["scene_id"] == scene]
        assert elev == ["higher", "lower"] * 4


def test_pool_is_distinct_balanced_and_uniform_per_answer() -> None:
    from spatialevo import load_scene
    from spatialevo.bundled import bundled_scene_paths
    from spatialevo.generate import answer_options, build_pool
    from spatialevo.selfplay import Round

    path = bundled_scene_paths()[0]
    rnd = Round([load_scene(path)])
    name = rnd.names[0]
    cfg = GenerateConfig(out=Path("unused"), per_task=24)
    for task in ("position_cam_obj", "visibility_compare", "absolute_distance", "object_counting"):
        pool = build_pool(rnd, name, task, cfg)
        assert 0 < len(pool) <= 24
        assert len({q.key() for q, _ in pool}) == len(pool)  # distinct questions
        for q, v in pool:
            shown = rnd.evidence(name, task, q)
            assert rnd.dge(name).evaluate(q, shown=shown) == v and v.valid  # valid for the frames a record shows
            assert task != "object_counting" or v.answer >= 2  # trivial counts are not asked
        opts = answer_options(task)
        if opts:
            answers = [v.answer_text for _, v in pool]
            head = answers[: len(set(answers))]
            assert len(set(head)) == len(head)  # round-robin over the answers the scene has
    # the pool depends on (seed, scene name, task) only
    a = build_pool(rnd, name, "absolute_distance", cfg)
    assert [q for q, _ in a] == [q for q, _ in build_pool(rnd, name, "absolute_distance", cfg)]
    from spatialevo.selfplay.sources import SceneSource

    other = Round(SceneSource(scenes=[load_scene(path)], names=["other-name"]))
    assert [q for q, _ in a] != [q for q, _ in build_pool(other, "other-name", "absolute_distance", cfg)]


def test_records_do_not_depend_on_other_scenes(tmp_path) -> None:
    from spatialevo.bundled import bundled_scene_paths

    whole = [json.loads(x) for x in run(tmp_path / "all", per_task=4).read_text().splitlines()]
    one = bundled_scene_paths()[2]
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / one.name).write_bytes(one.read_bytes())
    alone = [json.loads(x) for x in run(tmp_path / "alone", scenes=str(folder), per_task=4).read_text().splitlines()]
    mine = [r for r in whole if r["id"].startswith(one.stem + "-")]
    drop = lambda r: {k: v for k, v in r.items() if k != "index"}  # noqa: E731  (index: the unit number in the run)
    assert alone and [drop(r) for r in alone] == [drop(r) for r in mine] and len({m["index"] - a["index"] for m, a in zip(mine, alone)}) == 1


def test_small_question_spaces_never_repeat_silently(tmp_path, caplog) -> None:
    """room_size has one question per scene: by default it is written once, the shortfall is
    reported and warned about; ``max_repeat_share`` bounds the share of repeats."""
    with caplog.at_level("WARNING"):
        res = generate(GenerateConfig(out=tmp_path / "r", tasks=("room_size",), per_task=3, images=False), progress=False)
    assert res["written"] == 4 and res["repeated"] == 0 and res["capped"] == 4 * 2
    assert res["distinct"] == {"room_size": 4} and res["short_scenes"] == {"room_size": 4}
    assert "room_size: 4 scene(s) have fewer than --per-task 3" in caplog.text
    half = generate(GenerateConfig(out=tmp_path / "h", tasks=("room_size",), per_task=3, images=False, max_repeat_share=0.5), progress=False)
    assert half["written"] == 4 * 2 and half["repeated"] == 4  # one repeat per scene: half of its records
    full = generate(GenerateConfig(out=tmp_path / "f", tasks=("room_size",), per_task=3, images=False, max_repeat_share=1.0), progress=False)
    assert full["written"] == 4 * 3 and full["repeated"] == 4 * 2


def test_shard_union_equals_unsharded(tmp_path) -> None:
    whole = run(tmp_path / "whole")
    for i in range(3):
        run(tmp_path / "sharded", shard=(i, 3))
    assert digest(merge(tmp_path / "sharded")) == digest(whole)


def test_merge_refuses_missing_shards(tmp_path) -> None:
    run(tmp_path / "s", shard=(0, 2))
    with pytest.raises(SpatialEvoError, match="not generated yet"):
        merge(tmp_path / "s")


def test_resume_after_kill(tmp_path) -> None:
    ref = run(tmp_path / "ref", images=True, per_task=6, chunk=4)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "6", "--chunk", "4", "--quiet"]
    rng = np.random.default_rng(int(time.time()))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONHASHSEED": "0"})
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "parts").glob("part-*.jsonl"))) < int(rng.integers(2, 20)):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "data.jsonl").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert digest(out / "data.jsonl") == digest(ref)
    assert not (out / ".tmp").exists()
    pngs = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    assert pngs == sorted(p.relative_to(tmp_path / "ref") for p in (tmp_path / "ref").rglob("*.png"))


def test_bad_input(tmp_path) -> None:
    with pytest.raises(SpatialEvoError, match="unknown task"):
        run(tmp_path / "x", tasks=("teleport",))
    with pytest.raises(SpatialEvoError):
        run(tmp_path / "y", scenes=str(tmp_path / "missing"))
    with pytest.raises(SpatialEvoError, match="shard"):
        run(tmp_path / "z", shard=(3, 2))
    for kw, words in [({"tasks": ()}, "no task given"), ({"tasks": ("room_size", "room_size")}, "more than once"),
                      ({"per_task": 10**12}, "--per-task"), ({"chunk": 0}, "--chunk"), ({"seed": -1}, "--seed"),
                      ({"seed": 2**32}, "--seed"), ({"scenes": ""}, "scene source is empty"), ({"scenes": "synthetic:0"}, "synthetic")]:
        with pytest.raises(SpatialEvoError, match=words):
            run(tmp_path / "v", **kw)
    assert not (tmp_path / "v").exists()  # refused before anything is written
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SpatialEvoError, match="is a file"):
        run(tmp_path / "a_file")
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    from spatialevo.bundled import bundled_scene_paths

    (scenes / "good.npz").write_bytes(bundled_scene_paths()[1].read_bytes())
    (scenes / "corrupt.npz").write_bytes(b"garbage")
    res = generate(GenerateConfig(out=tmp_path / "w", scenes=str(scenes), tasks=("object_size",), per_task=3, images=False), progress=False)
    assert res["written"] == 3 and len(res["scenes_skipped"]) == 1 and "corrupt.npz" in res["scenes_skipped"][0][0]
