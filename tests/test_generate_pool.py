"""``generate --workers N`` (:mod:`spatialevo.genpool`): the same bytes as one process, resumable
after the driver or a worker is killed, errors of a worker named, Ctrl-C leaves no process behind."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import fill_disk_at

from spatialevo import genpool
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import GenerateConfig, generate, merge
from spatialevo.genworker import Worker

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("object_size", "object_counting", "relative_direction_hard", "depth_order_obj_obj", "position_cam_cam")


def config(out: Path, **kw) -> GenerateConfig:
    return GenerateConfig(out=out, tasks=kw.pop("tasks", TASKS), per_task=kw.pop("per_task", 3), chunk=kw.pop("chunk", 7), **kw)


def same_tree(a: Path, b: Path) -> None:
    """Every file of ``a`` and ``b`` (recursively) exists in both with the same bytes."""
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and ".lock" not in p.name)
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and ".lock" not in p.name)
    assert fa == fb
    assert fa, "nothing was written"
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(p) for p in fa], shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    generate(config(out), progress=False)
    merge(out)
    return out


@pytest.fixture(scope="module")
def local6(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local6") / "run"
    generate(config(out, per_task=6), progress=False)
    merge(out)
    return out


def script(out: Path, workers: int, per_task: int = 3) -> list[str]:
    """A python command running ``generate`` of :func:`config` with ``workers`` into ``out``."""
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); from test_generate_pool import config; "
            "from spatialevo.generate import generate, merge; "
            f"generate(config(Path(sys.argv[2]), per_task={per_task}), progress=False, workers={workers}); merge(Path(sys.argv[2]))")
    return [sys.executable, "-c", code, str(Path(__file__).parent), str(out)]


def test_two_workers_write_the_bytes_of_one_process(tmp_path, local) -> None:
    out = tmp_path / "pool"
    res = generate(config(out), progress=False, workers=2)
    merge(out)
    same_tree(local, out)
    one = generate(config(local), progress=False)  # a resume: every part verifies
    assert one["chunks_skipped_as_done"] == one["chunks"] and res["records"] == one["records"] and res["written"] == res["records"]


def test_spawned_workers_write_the_same_bytes(tmp_path, local, monkeypatch) -> None:
    monkeypatch.setattr(genpool, "start_method", lambda: "spawn")
    out = tmp_path / "spawn"
    generate(config(out), progress=False, workers=2)
    merge(out)
    same_tree(local, out)


def test_counts_add_up_as_in_one_process(tmp_path) -> None:
    a = generate(config(tmp_path / "a", per_task=2), progress=False)
    b = generate(config(tmp_path / "b", per_task=2), progress=False, workers=3)
    for key in ("written", "records", "no_question", "repeated", "distinct", "short_scenes", "chunks"):
        assert a[key] == b[key], key


def test_fork_is_chosen_only_without_other_threads(monkeypatch) -> None:
    import threading

    if "fork" not in genpool.mp.get_all_start_methods():
        pytest.skip("this platform cannot fork")
    main = threading.main_thread()
    raster = threading.Thread(name="spatialevo-raster_0")
    user = threading.Thread(name="user-thread")
    for alive, method in (([main], "fork"), ([main, raster], "fork"), ([main, raster, user], "spawn")):
        monkeypatch.setattr(genpool.threading, "enumerate", lambda alive=alive: alive)
        assert genpool.start_method() == method, [t.name for t in alive]


def test_pool_size() -> None:
    cpus = genpool.available_cpus()
    assert genpool.pool_size(0, 1000) == cpus
    assert genpool.pool_size(8, 3) == min(3, cpus) and genpool.pool_size(1000, 10_000) == cpus and genpool.pool_size(5, 0) == 1
    for bad in (-1, 1025, True, 1.5):
        with pytest.raises(SpatialEvoError, match="--workers"):
            genpool.pool_size(bad, 4)  # type: ignore[arg-type]


def test_a_worker_error_names_its_chunk_and_keeps_the_other_parts(tmp_path, local, monkeypatch) -> None:
    real = Worker.chunk

    def broken(self: Worker, c: int):
        if c == 3:
            raise RuntimeError("disk on fire")
        return real(self, c)

    monkeypatch.setattr(genpool, "start_method", lambda: "fork")
    monkeypatch.setattr(Worker, "chunk", broken)  # forked workers inherit the patch
    out = tmp_path / "err"
    with pytest.raises(SpatialEvoError, match=r"chunk 3 failed: RuntimeError: disk on fire"):
        generate(config(out), progress=False, workers=2)
    assert not (out / "parts" / "part-00003.jsonl").exists()
    monkeypatch.setattr(Worker, "chunk", real)
    res = generate(config(out), progress=False, workers=2)
    assert 0 < res["chunks_skipped_as_done"] < res["chunks"]
    merge(out)
    same_tree(local, out)


def test_a_full_disk_stops_the_workers_and_the_rerun_finishes(tmp_path, local, monkeypatch) -> None:
    fill_disk_at(monkeypatch, 3)  # the driver writes the parts: the patch is in this process
    out = tmp_path / "full"
    with pytest.raises(OSError, match="No space left"):
        generate(config(out), progress=False, workers=2)
    assert not [p for p in (out / ".tmp").glob("*")], "a temporary file was left behind"
    monkeypatch.undo()
    generate(config(out), progress=False, workers=2)
    merge(out)
    same_tree(local, out)


def test_an_error_sent_before_the_pipe_broke_is_the_one_reported(tmp_path, monkeypatch) -> None:
    """A worker that fails at once (its scenes unreadable) and exits before the driver sends it a
    chunk: the driver reports the worker's error, not 'Broken pipe'."""
    def unreadable(self, *a, **kw):
        raise SpatialEvoError("the worker sees other scenes")

    real_init = genpool._Pool.__init__

    def slow_driver(self, *a, **kw):
        real_init(self, *a, **kw)
        time.sleep(1.0)  # the workers fail and exit before the first chunk is sent

    monkeypatch.setattr(genpool, "start_method", lambda: "fork")
    monkeypatch.setattr(Worker, "__init__", unreadable)
    monkeypatch.setattr(genpool._Pool, "__init__", slow_driver)
    with pytest.raises(SpatialEvoError, match="a worker process failed: the worker sees other scenes"):
        generate(config(tmp_path / "x"), progress=False, workers=2)


def test_forked_workers_do_not_hold_the_folder_lock(tmp_path, monkeypatch) -> None:
    def report_locks(self, c: int):
        held = [f for f in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{f}").endswith("/.lock")]
        raise RuntimeError(f"lock descriptors open: {len(held)}")

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc on this platform")
    monkeypatch.setattr(genpool, "start_method", lambda: "fork")
    monkeypatch.setattr(Worker, "chunk", report_locks)
    with pytest.raises(SpatialEvoError, match="lock descriptors open: 0"):
        generate(config(tmp_path / "x"), progress=False, workers=2)


def test_workers_and_the_ray_backend_do_not_mix(tmp_path) -> None:
    from spatialevo.cli.main import main
    from spatialevo.raygen import RayOptions

    assert main(["generate", "--out", str(tmp_path / "x"), "--backend", "ray", "--workers", "2"]) == 2
    with pytest.raises(SpatialEvoError, match="workers is for the local backend"):
        generate(config(tmp_path / "y"), progress=False, workers=2, ray=RayOptions())


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job starts with SIGINT ignored


def _wait_for_parts(out: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + 240
    while len(list((out / "parts").glob("part-*.jsonl"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no part appeared"
        time.sleep(0.05)


def _group_gone(pgid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("victim", ["driver", "worker"])
def test_killed_then_resumed_equals_one_process(tmp_path, victim, local6) -> None:
    """SIGKILL the driver (its workers stop on their own) or one worker (the driver stops with an
    error naming the chunk) mid-run; the same command then finishes, the same bytes as one process."""
    out = tmp_path / "run"
    proc = subprocess.Popen(script(out, 2, per_task=6), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_parts(out, proc, 1)
        if victim == "driver":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        else:
            kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            assert kids, "no worker process"
            os.kill(int(kids[0]), signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode != 0 and "was killed by signal 9" in err and "rerun the same command" in err, err
        assert _group_gone(proc.pid), "a worker process outlived the run"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    subprocess.run(script(out, 2, per_task=6), check=True, capture_output=True, timeout=600)
    same_tree(local6, out)


def test_ctrl_c_stops_the_workers(tmp_path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(script(out, 2, per_task=6), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_sigint)
    try:
        _wait_for_parts(out, proc, 1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        proc.communicate(timeout=120)
        assert proc.returncode != 0
        assert _group_gone(proc.pid), "a worker process outlived Ctrl-C"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
