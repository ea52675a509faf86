"""``spatialevo generate --backend ray`` against ``--backend local`` on a real local Ray cluster.

Needs the ``ray`` extra (``make test-ray`` installs it into its own ``.venv-ray`` and runs this file);
without it the Ray tests skip with that reason. The pure parts (scene packing, lanes) run everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_scannet

from spatialevo.errors import SpatialEvoError
from spatialevo.genworker import lanes
from spatialevo.raygen import RayOptions, pack_scene, unpack_scene

HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'spatialevo[ray]'; make test-ray runs these)")
ARGS = ("--per-task", "4", "--tasks", "object_size,absolute_distance,relative_direction_hard,distance_cam_obj,position_cam_cam,room_size",
        "--chunk", "4")


def gen(out: Path, *extra: str, scenes: str = "bundled", check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--scenes", scenes, "--quiet", *ARGS, *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def start_ray_run(out: Path, parts: int, **popen: object) -> subprocess.Popen:
    """A ``--backend ray`` run into ``out`` on the test cluster, returned once ``parts`` parts exist
    (or it ended)."""
    cmd = [sys.executable, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--scenes", "bundled", "--quiet", *ARGS,
           "--backend", "ray", "--ray-address", "auto", "--ray-workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(list((out / "parts").glob("part-*.jsonl"))) < parts:
        time.sleep(0.01)
    return proc


def tree(out: Path) -> dict[str, bytes]:
    """Every file a run leaves (parts, images, data.jsonl, Parquet, card), by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_pack_scene_carries_the_frame_files(tmp_path) -> None:
    from spatialevo.scene.loaders import load_scene

    fx = write_scannet(tmp_path / "scans")
    scene = load_scene(fx.path)
    packed = pack_scene(scene)
    shipped = {p for f in scene.frames for p in (f.rgb_path, f.depth_path) if p is not None}
    assert shipped and set(packed[1]) == {str(p) for p in shipped}
    moved = tmp_path / "scans"
    shutil.move(str(moved), tmp_path / "gone")  # the worker cannot read the driver's files
    back = unpack_scene(packed, tmp_path / "worker")
    for f, g in zip(scene.frames, back.frames):
        assert g.rgb_path.parent == tmp_path / "worker" and g.rgb_path.read_bytes() == packed[1][str(f.rgb_path)]
        assert np.array_equal(g.T_wc, f.T_wc) and np.array_equal(g.K, f.K)
    assert [o.id for o in back.objects] == [o.id for o in scene.objects]


def test_lanes_are_contiguous_and_cover_the_work() -> None:
    todo = list(range(3, 20))
    got = lanes(todo, 4)
    assert [x for lane in got for x in lane] == todo and max(map(len, got)) - min(map(len, got)) <= 1
    assert [len(x) for x in lanes([1, 2], 4)] == [1, 1, 0, 0]


def test_options_are_checked() -> None:
    with pytest.raises(SpatialEvoError, match="--ray-scenes"):
        RayOptions(scenes="nfs")
    with pytest.raises(SpatialEvoError, match="--ray-workers"):
        RayOptions(workers=-1)


@pytest.mark.skipif(HAVE_RAY, reason="ray is installed: the missing-extra message cannot be seen here")
def test_without_ray_the_backend_says_which_extra(tmp_path) -> None:
    res = gen(tmp_path / "out", "--backend", "ray", check=False)
    assert res.returncode != 0 and "pip install 'spatialevo[ray]'" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "out" / "manifest.json").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``ray start --head --num-cpus 2`` (what the docs show), stopped afterwards."""
    if not HAVE_RAY:
        pytest.skip("ray is not installed (pip install 'spatialevo[ray]'; make test-ray runs these)")
    tmp = tmp_path_factory.mktemp("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    env = {**os.environ, "RAY_TMPDIR": str(tmp)}
    subprocess.run([str(ray_bin), "start", "--head", "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
                    f"--temp-dir={tmp}"], check=True, capture_output=True, env=env, timeout=180)
    os.environ["RAY_ADDRESS"] = "auto"
    yield tmp
    os.environ.pop("RAY_ADDRESS", None)
    subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, env=env, timeout=180)


@needs_ray
def test_ray_killed_and_resumed_equals_local(tmp_path, cluster) -> None:
    local, dist = tmp_path / "local", tmp_path / "ray"
    gen(local)
    proc = start_ray_run(dist, 3, start_new_session=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_parts = len(list((dist / "parts").glob("part-*.jsonl")))
    total = len(list((local / "parts").glob("part-*.jsonl")))
    assert 3 <= n_parts < total, f"the kill came too late ({n_parts} of {total} parts written)"
    assert not (dist / "data.jsonl").exists()
    res = gen(dist, "--backend", "ray", "--ray-address", "auto", "--ray-workers", "2")
    resumed = int(re.match(r"wrote (\d+) records \((\d+) in", res.stdout).group(1))
    assert 0 < resumed < len((local / "data.jsonl").read_text().splitlines())  # only the missing chunks were made again
    assert tree(dist) == tree(local)


@needs_ray
def test_object_store_sends_scan_files_the_workers_cannot_read(tmp_path, cluster) -> None:
    """A ScanNet folder (frames are JPG/PNG files) through the object store equals the local run."""
    write_scannet(tmp_path / "scans", "scene0000_00")
    write_scannet(tmp_path / "scans", "scene0001_00")
    scenes = str(tmp_path / "scans")
    local, dist = tmp_path / "local", tmp_path / "ray"
    gen(local, scenes=scenes)
    gen(dist, "--backend", "ray", "--ray-workers", "2", "--ray-scenes", "object-store", scenes=scenes)
    assert tree(dist) == tree(local)
    assert any(p.startswith("images/") for p in tree(local))


@needs_ray
def test_ray_python_api_reports_the_counts_of_local(tmp_path, cluster) -> None:
    from spatialevo.generate import GenerateConfig, generate

    kw = {"tasks": ("object_counting", "room_size", "motion_camera"), "per_task": 3, "chunk": 5, "images": False}
    a = generate(GenerateConfig(out=tmp_path / "a", **kw), progress=False)
    b = generate(GenerateConfig(out=tmp_path / "b", **kw), progress=False, ray=RayOptions(workers=2))
    same = ("written", "records", "no_question", "repeated", "capped", "invalid", "distinct", "short_scenes", "chunks")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    again = generate(GenerateConfig(out=tmp_path / "b", **kw), progress=False, ray=RayOptions(workers=2))
    assert again["written"] == 0 and again["chunks_skipped_as_done"] == again["chunks"]


@needs_ray
def test_workers_killed_mid_run_are_replaced(tmp_path, cluster) -> None:
    """SIGKILL every Ray worker once, mid-run: their chunks are retried on new workers, and the
    finished folder equals the local run."""
    local, dist = tmp_path / "local", tmp_path / "ray"
    gen(local)
    proc = start_ray_run(dist, 2, text=True)
    killed = subprocess.run(["pkill", "-9", "-f", "ray::RayWorker"], capture_output=True).returncode == 0
    out, err = proc.communicate(timeout=600)
    assert killed, "no Ray worker process was found to kill"
    assert proc.returncode == 0, err[-3000:]
    assert "its Ray worker died; retrying it on a new worker" in err
    assert tree(dist) == tree(local)


def test_a_worker_keeps_the_files_of_its_last_scenes_only(tmp_path) -> None:
    """object-store: a worker's disk holds the frame files of its last ``KEEP_FILES`` scenes."""
    from spatialevo.raygen import KEEP_FILES, ShippedSource
    from spatialevo.scene.loaders import load_scene

    fx = write_scannet(tmp_path / "scans")
    packed = pack_scene(load_scene(fx.path))
    names = [f"s{k}" for k in range(KEEP_FILES + 4)]
    src = ShippedSource(names, tmp_path / "worker")
    for i in range(len(names)):
        src.give([i], [packed])
        assert src.get(i) is not None
    kept = sorted(p.name for p in (tmp_path / "worker").iterdir())
    assert kept == [f"{i:06d}" for i in range(len(names) - KEEP_FILES, len(names))]


@needs_ray
def test_more_workers_than_cpus_runs_on_the_cpus_there_are(tmp_path, cluster) -> None:
    """``--ray-workers 8`` on the 2-CPU cluster: 2 workers run (the others could never start)."""
    from spatialevo.generate import GenerateConfig, generate

    kw = {"tasks": ("object_size", "room_size"), "per_task": 2, "chunk": 3, "images": False}
    a = generate(GenerateConfig(out=tmp_path / "a", **kw), progress=False)
    b = generate(GenerateConfig(out=tmp_path / "b", **kw), progress=False, ray=RayOptions(workers=8))
    assert a["records"] == b["records"] > 0
    assert tree(tmp_path / "a" / "parts") == tree(tmp_path / "b" / "parts")
