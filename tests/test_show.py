"""Verdict pictures (spatialevo.show), record pictures, `spatialevo show` and generate's pictures."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from spatialevo import DGE, Question, create_dataset, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, TASKS, NoValidQuestionError, make_rng
from spatialevo.dge.geometry import box_box_distance, point_box_distance
from spatialevo.dge.index import SceneIndex
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import ObjectInstance, Scene
from spatialevo.show import MAX_SIZE, explain, explain_record, outline_mask, record_picture, verdict_picture
from spatialevo.showpictures import iter_records, record_at, write_pictures
from spatialevo.showtasks import DRAWERS, closest_points


@pytest.fixture(scope="module")
def dges() -> list[DGE]:
    return [DGE(load_scene(p)) for p in bundled_scene_paths()]


def sampled(dges: list[DGE], task: str, seed: int = 0) -> tuple[DGE, Question]:
    for dge in dges:
        try:
            return dge, dge.sample(task, make_rng(seed, 0))
        except NoValidQuestionError:
            continue
    raise AssertionError(f"no bundled scene has a {task} question")


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB")).astype(np.int16)


def _differs(a: Image.Image, b: Image.Image) -> bool:
    return a.size != b.size or float(np.abs(_arr(a) - _arr(b)).mean()) > 0.5


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_task_has_a_picture_that_follows_the_question(task: str, dges: list[DGE], tmp_path) -> None:
    dge, q = sampled(dges, task)
    pic = explain(dge.scene, q, dge=dge)
    assert pic.verdict.valid
    w, h = pic.image.size
    assert 600 <= w <= MAX_SIZE[0] and 500 <= h <= MAX_SIZE[1]
    arr = _arr(pic.image)
    assert len(np.unique((arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2])) > 50  # frames and drawing, not a blank image
    assert pic.notes and pic.notes[0].startswith(("Drawn:", "The area"))
    scope = TASKS[task].scope
    assert pic.frames == (list(q.frames) if scope != "scene" else pic.frames) and pic.frames
    assert set(pic.frames) <= set(pic.evidence)
    named = {dge.scene.objects[i].ref for inst in dge.task(task).resolve(dge.index, q).objects for i in inst}
    if named and scope == "scene":  # every clip frame drawn shows a named object, and all of them are shown
        assert all(pic.outlined[f] for f in pic.frames)
        assert {r for refs in pic.outlined.values() for r in refs} == named
    if scope == "single_image":
        assert set(pic.outlined[q.frames[0]]) == named
    assert not pic.problems
    path = tmp_path / f"{task}.png"
    pic.image.save(path)
    assert Image.open(path).size == (w, h)
    # another question (or, for room_size's one question, another scene) gives another picture
    if task == "room_size":
        other = verdict_picture(dges[-1].scene, q, dge=dges[-1])
    else:
        q2 = next(q2 for s in range(1, 20) if (q2 := sampled([dge], task, s)[1]).to_json() != q.to_json())
        other = verdict_picture(dge.scene, q2, dge=dge)
    assert _differs(other, pic.image)
    again = explain(dge.scene, q, dge=dge).image
    assert np.array_equal(_arr(again), arr)  # deterministic


def test_every_task_has_a_drawer() -> None:
    assert set(DRAWERS) == set(TASK_NAMES)


def test_invalid_question_is_drawn_with_its_reason(dges: list[DGE]) -> None:
    dge = dges[0]
    pic = explain(dge.scene, {"task": "absolute_distance", "objects": ["unicorn", "sofa"]}, dge=dge)
    assert not pic.verdict.valid and pic.verdict.reason.value == "label_absent"
    assert pic.image.size[0] > 500 and not pic.notes
    chair = explain(dge.scene, '{"task": "object_size", "objects": ["chair"]}', dge=dge)
    assert chair.verdict.reason.value == "ambiguous_label"
    with pytest.raises(SpatialEvoError):
        explain(dge.scene, {"task": "no_such_task"})
    with pytest.raises(SpatialEvoError):
        explain(dge.scene, "not json")
    with pytest.raises(SpatialEvoError):
        explain(dge.scene, {"task": "room_size"}, max_frames=9)


def test_closest_points_attain_the_dge_distance() -> None:
    rng = np.random.default_rng(0)
    objs = []
    for i in range(24):
        yaw = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1.0]])
        objs.append(ObjectInstance(i, "box", OrientedBox(rng.uniform(-2, 2, 3), rng.uniform(0.1, 1.0, 3), rot)))
    index = SceneIndex(Scene("boxes", objs))
    seen_positive = 0
    for i in range(0, 24, 2):
        for j in range(1, 24, 3):
            if i == j:
                continue
            p, q, d = closest_points(index, i, j)
            ref = float(box_box_distance(index.centers[i], index.extents[i], index.rotations[i], index.centers[j], index.extents[j], index.rotations[j]))
            assert d == ref
            assert abs(float(np.linalg.norm(p - q)) - d) < 1e-6
            for k, pt in ((i, p), (j, q)):  # each point lies on (in) its own box
                assert float(point_box_distance(pt[None], index.centers[k], index.extents[k], index.rotations[k])[0]) < 1e-9
            seen_positive += d > 0
    assert seen_positive > 10


def test_outline_mask_is_the_boundary() -> None:
    inst = np.full((10, 12), -1, dtype=np.int32)
    inst[2:8, 3:9] = 5
    m = outline_mask(inst, 5, thickness=1)
    assert m.sum() == 2 * 6 + 2 * 4 and not m[3:7, 4:8].any() and m[2, 3] and m[7, 8]
    assert outline_mask(inst, 7).sum() == 0


# -- records ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def records(tmp_path_factory) -> tuple[list[dict], object]:
    ds = create_dataset(["absolute_distance", "position_cam_obj", "object_counting"], size=3, seed=0)
    recs = list(ds)
    path = tmp_path_factory.mktemp("qa") / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + json.dumps({"spatialevo_part": 2}) + "\n", encoding="utf-8")
    return recs, path


def test_record_picture_finds_the_scene_and_shows_the_answer(records) -> None:
    recs, path = records
    assert [r["id"] for r in iter_records(path)] == [r["id"] for r in recs]  # the part trailer is skipped
    assert record_at(path.parent, 1)["id"] == recs[1]["id"]
    pics = [explain_record(r, "bundled") for r in recs]
    for r, pic in zip(recs, pics):
        assert pic.verdict.valid and pic.verdict.answer_text == r["answer_text"] and not pic.problems
        assert set(pic.frames) <= set(r["frames"])
    assert _differs(pics[0].image, pics[1].image)
    img = record_picture(recs[0], {r["scene"]: load_scene(next(p for p in bundled_scene_paths() if p.stem == r["scene"])) for r in recs[:1]})
    assert img.size == pics[0].image.size
    wrong = dict(recs[0], answer_text="99.9")
    assert "differs" in explain_record(wrong, "bundled").problems[0]
    with pytest.raises(SpatialEvoError):
        explain_record(dict(recs[0], scene="no_such_scene", scene_id="nor_this"), "bundled")
    with pytest.raises(SpatialEvoError):
        explain_record({"task": "room_size"}, "bundled")


def test_write_pictures(records, tmp_path) -> None:
    recs, path = records
    out = write_pictures(path.parent, tmp_path / "pics", 2)
    assert [p.name for p in out] == ["000000-absolute_distance.png", "000002-object_counting.png"]
    sizes = [Image.open(p).size for p in out]
    assert all(w > 600 and h > 500 for w, h in sizes)
    assert _differs(Image.open(out[0]), Image.open(out[1]))
    assert len(write_pictures(recs, tmp_path / "all", 10)) == 3
    with pytest.raises(SpatialEvoError):
        write_pictures(recs, tmp_path / "none", 0)


# -- the command ----------------------------------------------------------------------------------
def _run(argv: list[str]) -> int:
    from spatialevo.cli import show

    ap = argparse.ArgumentParser(prog="spatialevo")
    show.add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


def test_show_command(records, tmp_path, capsys) -> None:
    _, path = records
    q = tmp_path / "q.json"
    q.write_text('{"task": "absolute_distance", "objects": ["tv", "sofa"]}', encoding="utf-8")
    assert _run(["show", str(q), "--scene", "rect_small", "--out", str(tmp_path / "q.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] == "0.4" and out["valid"] and Image.open(tmp_path / "q.png").size == tuple(out["size"])
    inline = '{"task": "room_size"}'
    assert _run(["show", inline, "--scene", str(bundled_scene_paths()[0]), "--out", str(tmp_path / "r.png")]) == 0
    assert "room_size -> 17.6" in capsys.readouterr().out
    assert _run(["show", "--dataset", str(path.parent), "--index", "2", "--out", str(tmp_path / "d.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "object_counting"
    assert _run(["show", str(path), "--index", "1", "--out", str(tmp_path / "j.png"), "--max-frames", "1"]) == 0
    assert _differs(Image.open(tmp_path / "d.png"), Image.open(tmp_path / "j.png"))
    for bad in (["show", inline, "--out", str(tmp_path / "x.png")],  # no --scene
                ["show", "{not json", "--scene", "rect_small"],
                ["show", inline, "--scene", "no_such_scene"],
                ["show", str(path), "--index", "7"],
                ["show"]):
        with pytest.raises(SpatialEvoError):
            _run(bad)


def test_help_shows_defaults_and_examples(capsys) -> None:
    with pytest.raises(SystemExit):
        _run(["show", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "spatialevo show" in text and "``" not in text
    opts = [line for line in text.split("options:")[1].splitlines() if line.strip().startswith("--") and "--help" not in line]
    assert opts and text.count("(default") >= len(opts)


def test_show_imports_no_training_stack() -> None:
    code = ("import sys, spatialevo.show, spatialevo.showpictures, spatialevo.cli.show; "
            "bad = {'gymnasium', 'torch', 'transformers'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_generate_pictures_flag_draws_records_the_dataset_still_loads(tmp_path) -> None:
    from datasets import load_dataset

    from spatialevo.cli.main import main

    out = tmp_path / "qa"
    argv = ["generate", "--out", str(out), "--tasks", "room_size,absolute_distance", "--per-task", "1", "--quiet", "--workers", "1"]
    assert main([*argv, "--pictures", "3"]) == 0
    pics = sorted((out / "pictures").glob("*.png"))
    assert len(pics) == 3 and {p.name.split("-", 1)[1] for p in pics} <= {"room_size.png", "absolute_distance.png"}
    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in pics[:2])
    assert a.shape[0] > 200 and a.shape[1] > 400 and (a.shape != b.shape or np.abs(a.astype(int) - b).mean() > 1)  # two records differ
    ds = load_dataset(str(out), split="train")  # the pictures are not rows
    assert ds.num_rows == sum(1 for _ in open(out / "data.jsonl"))
    assert main([*argv, "--pictures", "-1"]) == 2
