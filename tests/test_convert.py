"""``spatialevo scene convert``: a collection of scans to cache files, resumable, parallel, sharded."""

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
from fixtures import write_arkitscenes, write_boxlist, write_scannet, write_scannet_sens
from test_labels import OBJECTS as RAW_OBJECTS
from test_labels import write_tsv

from spatialevo.convert import ConvertConfig, convert
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.labels import SCANNET_TSV
from spatialevo.scene.loaders import load_scene
from spatialevo.sceneindex import read_index
from spatialevo.selfplay.sources import make_source

ROOT = Path(__file__).resolve().parents[1]


def collection(root: Path) -> Path:
    """A download-like tree: ScanNet/scans/<two scans, one with a .sens>, the tsv at the top, an ARKitScenes video, a box list."""
    scans = root / "ScanNet" / "scans"
    write_scannet(scans, "scene0000_00", RAW_OBJECTS)
    write_scannet_sens(scans, "scene0001_00", objects=RAW_OBJECTS)
    write_tsv(root / "ScanNet" / SCANNET_TSV)
    write_arkitscenes(root / "ARKitScenes" / "Validation")
    write_boxlist(root / "lists")
    (root / "notes.txt").write_text("not a scene")
    return root


def files_of(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in (".lock", ".index.lock") and ".tmp" not in p.parts}


def test_convert_writes_caches_and_an_index(tmp_path):
    src = collection(tmp_path / "src")
    out = tmp_path / "out"
    index = convert(ConvertConfig((src,), out, labels="vsibench", frame_step=2), progress=False)
    assert [s["name"] for s in index["scenes"]] == ["41069021", "scene0000_00", "scene0001_00", "room42"]
    assert index["failed"] == [] and index["pending"] == []
    by = {s["name"]: s for s in index["scenes"]}
    assert by["scene0001_00"]["layout"] == "scannet" and by["scene0001_00"]["labels"] == "vsibench"
    assert by["scene0001_00"]["frames"] == 2  # frames 0, 2, 4 of 6, frame 2 invalid
    assert all(s["floor_area_m2"] is None or s["floor_area_m2"] > 0 for s in index["scenes"])
    # the cache is the scan loaded in the vocabulary; frames extracted from the .sens live in out/frames
    for name in ("scene0000_00", "scene0001_00"):
        cached = load_scene(out / "scenes" / f"{name}.npz")
        direct = load_scene(src / "ScanNet" / "scans" / name, labels="vsibench", frame_step=2, extract_dir=tmp_path / "x" / name)
        assert cached.labels() == direct.labels() and cached.meta["labels"] == "vsibench"
        for a, b in zip(cached.objects, direct.objects):
            assert a.box == b.box
        assert [f.id for f in cached.frames] == [f.id for f in direct.frames]
        for fa, fb in zip(cached.frames, direct.frames):
            np.testing.assert_array_equal(fa.K, fb.K)
            assert np.array_equal(cached.frame_images(fa, ("rgb",))["rgb"], direct.frame_images(fb, ("rgb",))["rgb"])
    sens_frames = load_scene(out / "scenes" / "scene0001_00.npz").frames
    assert all(out / "frames" in f.rgb_path.resolve().parents for f in sens_frames)
    # the folder moves with its frames (relative paths)
    moved = tmp_path / "moved"
    out.rename(moved)
    f0 = load_scene(moved / "scenes" / "scene0001_00.npz").frames[0]
    assert f0.rgb_path.is_file() and f0.depth_path.is_file()
    # generate / evolve / eval read the index as --scenes
    src_ = make_source(moved)
    assert src_.names == ["41069021", "scene0000_00", "scene0001_00", "room42"]
    assert make_source(moved / "index.json").names == src_.names
    assert src_.get(2).labels() == load_scene(moved / "scenes" / "scene0001_00.npz").labels()


def test_rerun_skips_done_scenes_and_refuses_other_arguments(tmp_path):
    src = collection(tmp_path / "src")
    out = tmp_path / "out"
    cfg = ConvertConfig((src,), out, labels="vsibench")
    convert(cfg, progress=False)
    before = {p: p.stat().st_mtime_ns for p in (out / "scenes").iterdir()}
    convert(cfg, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (out / "scenes").iterdir()} == before
    with pytest.raises(SpatialEvoError, match="--labels: vsibench there, nyu40 here"):
        convert(ConvertConfig((src,), out, labels="nyu40"), progress=False)
    with pytest.raises(SpatialEvoError, match="--frame-step"):
        convert(ConvertConfig((src,), out, labels="vsibench", frame_step=3), progress=False)


def test_failed_scene_is_reported_and_retried(tmp_path):
    src = collection(tmp_path / "src")
    tsv = src / "ScanNet" / SCANNET_TSV
    tsv.rename(tmp_path / "away.tsv")  # the ScanNet scans cannot be mapped without it
    out = tmp_path / "out"
    index = convert(ConvertConfig((src,), out, labels="vsibench"), progress=False)
    assert sorted(f["name"] for f in index["failed"]) == ["scene0000_00", "scene0001_00"]
    assert all(SCANNET_TSV in f["error"] for f in index["failed"])
    assert [s["name"] for s in index["scenes"]] == ["41069021", "room42"]
    (tmp_path / "away.tsv").rename(tsv)
    index = convert(ConvertConfig((src,), out, labels="vsibench"), progress=False)
    assert index["failed"] == [] and len(index["scenes"]) == 4


def test_workers_and_shards_give_the_same_files(tmp_path):
    src = collection(tmp_path / "src")
    one, two, sharded = tmp_path / "one", tmp_path / "two", tmp_path / "sharded"
    convert(ConvertConfig((src,), one, labels="vsibench", frame_step=2), progress=False)
    convert(ConvertConfig((src,), two, labels="vsibench", frame_step=2, workers=2), progress=False)
    part = convert(ConvertConfig((src,), sharded, labels="vsibench", frame_step=2, shard=(0, 2)), progress=False)
    assert len(part["pending"]) == 2 and len(part["scenes"]) == 2
    convert(ConvertConfig((src,), sharded, labels="vsibench", frame_step=2, shard=(1, 2)), progress=False)
    a = files_of(one)
    assert a == files_of(two)
    assert a == files_of(sharded)


@pytest.mark.slow
def test_killed_conversion_resumes_to_the_same_output(tmp_path):
    """SIGKILL mid-run (after the first scene's entry), resume: the output equals an uninterrupted run's."""
    src = tmp_path / "src"
    for k in range(6):
        write_scannet_sens(src / "scans", f"scene{k:04d}_00", n_frames=40, objects=RAW_OBJECTS)
    write_tsv(src / SCANNET_TSV)
    ref, out = tmp_path / "ref", tmp_path / "out"
    convert(ConvertConfig((src,), ref, labels="vsibench"), progress=False)
    cmd = [sys.executable, "-m", "spatialevo.cli.main", "scene", "convert", str(src), "--out", str(out), "--labels", "vsibench", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((out / "parts").glob("*.json")) and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "parts").glob("*.json")))
    assert 1 <= done < 6, done  # killed mid-run
    assert not (out / "index.json").exists() or json.loads((out / "index.json").read_text())["pending"]
    rc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stderr
    assert files_of(out) == files_of(ref)
    files, names = read_index(out)
    assert len(files) == 6 and names == [f"scene{k:04d}_00" for k in range(6)]


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(SpatialEvoError, match="does not exist"):
        convert(ConvertConfig((tmp_path / "nope",), tmp_path / "out"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpatialEvoError, match="no scene found"):
        convert(ConvertConfig((tmp_path / "empty",), tmp_path / "out"), progress=False)
    with pytest.raises(SpatialEvoError, match="--workers"):
        ConvertConfig((tmp_path,), tmp_path / "out", workers=0)
    with pytest.raises(SpatialEvoError, match="unknown label vocabulary"):
        ConvertConfig((tmp_path,), tmp_path / "out", labels="vsi")
    with pytest.raises(SpatialEvoError, match="--label-map"):
        ConvertConfig((tmp_path,), tmp_path / "out", label_map=tmp_path / "missing.tsv")
    bad = tmp_path / "idx"
    bad.mkdir()
    (bad / "index.json").write_text(json.dumps({"format": "spatialevo-scene-index", "version": 1, "scenes": [{"name": "a", "file": "../x.npz"}]}))
    with pytest.raises(SpatialEvoError, match="outside the folder"):
        make_source(bad)


def test_an_output_folder_inside_the_source_is_not_read_as_scenes(tmp_path):
    src = collection(tmp_path / "src")
    first = convert(ConvertConfig((src,), src / "converted", labels="vsibench"), progress=False)
    again = convert(ConvertConfig((src,), src / "converted", labels="vsibench"), progress=False)
    assert [s["name"] for s in again["scenes"]] == [s["name"] for s in first["scenes"]] and len(first["scenes"]) == 4


def test_cli_convert_then_generate_on_the_index(tmp_path, capsys):
    from spatialevo.cli.main import main

    src = collection(tmp_path / "src")
    out, qa = tmp_path / "conv", tmp_path / "qa"
    assert main(["scene", "convert", str(src), "--out", str(out), "--labels", "vsibench", "--frame-step", "2", "--quiet"]) == 0
    assert "4 scene(s) in" in capsys.readouterr().out
    assert main(["generate", "--scenes", str(out), "--out", str(qa), "--tasks", "object_counting,object_size", "--per-task", "2",
                 "--no-images", "--quiet"]) == 0
    records = [json.loads(line) for line in (qa / "data.jsonl").read_text().splitlines()]
    assert {r["scene"] for r in records} <= {"41069021", "scene0000_00", "scene0001_00", "room42"}
    cats = {o for r in records for o in r["question"]["objects"]}
    assert cats and "couch" not in cats and "trashcan" not in cats  # asked in the VSI-Bench vocabulary
    # the same on the scans directly, relabelled on load
    direct = tmp_path / "qa2"
    assert main(["generate", "--scenes", str(src / "ScanNet" / "scans"), "--labels", "vsibench", "--out", str(direct),
                 "--tasks", "object_size", "--per-task", "2", "--no-images", "--quiet"]) == 0
    labels = {o for line in (direct / "data.jsonl").read_text().splitlines() for o in json.loads(line)["question"]["objects"]}
    assert labels and labels <= {"sofa", "trash bin", "tv", "chair"}


def test_an_unexpected_error_on_one_scene_does_not_stop_the_run_and_leftovers_go(tmp_path, monkeypatch):
    import spatialevo.convert as conv

    src = collection(tmp_path / "src")
    out = tmp_path / "out"
    (out / "frames" / "scene0001_00" / ".step1.partial-x1").mkdir(parents=True)  # left by a killed extraction
    (out / "scenes").mkdir(parents=True)
    (out / "scenes" / "room42.npz.tmp4242").write_bytes(b"half")  # a cache being written when killed
    real = conv._convert

    def flaky(path, name, *args):
        if name == "scene0000_00":
            raise RuntimeError("a library bug")
        return real(path, name, *args)

    monkeypatch.setattr(conv, "_convert", flaky)
    index = convert(ConvertConfig((src,), out, labels="vsibench"), progress=False)
    assert [f["name"] for f in index["failed"]] == ["scene0000_00"] and "RuntimeError: a library bug" in index["failed"][0]["error"]
    assert len(index["scenes"]) == 3
    assert not list((out / "frames").glob("*/.*.partial-*")) and not list((out / "scenes").glob("*.tmp*"))
    monkeypatch.setattr(conv, "_convert", real)
    assert not convert(ConvertConfig((src,), out, labels="vsibench"), progress=False)["failed"]  # retried
