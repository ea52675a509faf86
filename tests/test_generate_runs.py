"""`spatialevo generate` output folders: the manifest guards resumes, concurrent runs, self-verifying
parts, environment errors, scene names in records, and a CLI fuzz that never sees a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from fixtures import fill_disk_at, write_boxlist, write_scannet

from spatialevo.cli.main import main
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import GenerateConfig, PartError, digest, generate, merge
from spatialevo.runfolder import FORMAT, manifest_id, part_path, read_manifest, read_part

TASKS = ("object_size", "room_size", "position_cam_cam")
ROOT = Path(__file__).resolve().parents[1]


def run(out: Path, **kw) -> Path:
    cfg = GenerateConfig(out=out, tasks=kw.pop("tasks", TASKS), per_task=kw.pop("per_task", 4), chunk=kw.pop("chunk", 5),
                         images=kw.pop("images", False), **kw)
    generate(cfg, progress=False)
    return merge(out) if cfg.shard[1] == 1 else out


def cli(*argv: str) -> tuple[int, str, str]:
    """``spatialevo`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


def assert_one_line_error(rc: int, err: str, *words: str) -> None:
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc != 0 and lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err and sum(x.startswith("error:") for x in lines) == 1, err
    for w in words:
        assert w in lines[-1], (w, lines[-1])


def records(path: Path) -> list[dict]:
    def no_constant(c: str) -> None:
        raise ValueError(f"non-JSON constant {c}")

    return [json.loads(x, parse_constant=no_constant) for x in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    """A complete single run (the default arguments of :func:`run`)."""
    return run(tmp_path_factory.mktemp("ref") / "qa")


# --- 1. the manifest ---------------------------------------------------------------------------


def test_resume_with_other_arguments_is_refused(tmp_path, ref) -> None:
    out = tmp_path / "qa"
    data = run(out)
    before = digest(data)
    for kw, words in [({"per_task": 8}, "--per-task: 4 there, 8 here"), ({"seed": 3}, "--seed: 0 there, 3 here"),
                      ({"tasks": ("object_size",)}, "--tasks"), ({"chunk": 7}, "--chunk"), ({"images": True}, "--no-images"),
                      ({"per_task": 8, "shard": (1, 2)}, "--per-task")]:
        with pytest.raises(SpatialEvoError, match="other arguments") as exc:
            run(out, **kw)
        assert words in str(exc.value) and "another --out" in str(exc.value) and "same arguments" in str(exc.value)
    assert digest(merge(out)) == before == digest(ref)
    rc, _, err = cli("generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "5", "--chunk", "5", "--no-images", "--quiet")
    assert_one_line_error(rc, err, "--per-task: 4 there, 5 here")


def test_manifest_is_written_first_and_guards_a_killed_run(tmp_path, monkeypatch, ref) -> None:
    import spatialevo.generate as gen

    real, calls = gen.atomic_write, []

    def die_after_two(path, data, out):
        calls.append(path)
        if len(calls) > 2:
            raise KeyboardInterrupt
        real(path, data, out)

    monkeypatch.setattr(gen, "atomic_write", die_after_two)
    out = tmp_path / "qa"
    with pytest.raises(KeyboardInterrupt):
        run(out)
    monkeypatch.undo()
    meta = read_manifest(out)
    assert (meta["per_task"], meta["seed"], meta["tasks"], meta["chunk"], meta["images"]) == (4, 0, list(TASKS), 5, False)
    assert meta["format"] == FORMAT and len(meta["scenes"]) == 4 and not (out / "data.jsonl").exists()
    with pytest.raises(SpatialEvoError, match="--per-task: 4 there, 8 here"):
        run(out, per_task=8)  # the old code took the two parts as done: 15 duplicated and 15 missing ids
    assert digest(run(out)) == digest(ref)


def test_a_folder_that_holds_no_record_may_restart_with_other_arguments(tmp_path, ref) -> None:
    out = tmp_path / "qa"
    rc, _, err = cli("generate", "--out", str(out), "--scenes", str(ROOT / "README.md"), "--per-task", "2", "--no-images", "--quiet")
    assert_one_line_error(rc, err, "wrote 0 records", "could be loaded", "README.md")
    assert digest(run(out)) == digest(ref)


def test_racing_runs_with_other_arguments_one_manifest_wins(tmp_path) -> None:
    out = tmp_path / "qa"
    base = [sys.executable, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--tasks", "object_size", "--chunk", "3", "--no-images", "--quiet"]
    procs = [subprocess.Popen([*base, "--per-task", str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in (2, 3)]
    results = [(p.communicate(timeout=300)[1], p.returncode)[::-1] for p in procs]
    ok = [i for i, (rc, _) in enumerate(results) if rc == 0]
    assert len(ok) == 1, results
    loser_rc, loser_err = results[1 - ok[0]]
    assert loser_rc == 2 and loser_err.strip().splitlines()[-1].startswith("error:") and "other arguments" in loser_err
    alone = run(tmp_path / "alone", tasks=("object_size",), chunk=3, per_task=(2, 3)[ok[0]])
    assert digest(out / "data.jsonl") == digest(alone)


# --- 2. concurrent runs ------------------------------------------------------------------------


def test_cleanup_skips_temporary_files_while_another_run_holds_the_folder(tmp_path) -> None:
    import fcntl

    out = tmp_path / "qa"
    run(out, shard=(0, 2))
    run(out, shard=(1, 2))
    (out / ".tmp").mkdir(exist_ok=True)
    busy = out / ".tmp" / "part-000003.jsonl.999.abc"  # another live run's file being written
    busy.write_bytes(b"half")
    fd = os.open(out / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        merge(out)
        run(out)
        assert busy.exists(), "merge() deleted a live run's temporary file"
    finally:
        os.close(fd)
    merge(out)
    assert not (out / ".tmp").exists()  # no other run: leftovers go


def test_two_processes_into_one_folder(tmp_path) -> None:
    out = tmp_path / "qa"
    tasks = ("object_size", "position_cam_cam")
    cmd = [sys.executable, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--tasks", ",".join(tasks), "--per-task", "3",
           "--chunk", "1", "--quiet"]
    a = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "parts").glob("part-*.jsonl"))) < 3 and a.poll() is None:
        time.sleep(0.02)
    assert a.poll() is None, "the first run ended before the second started"
    b = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ea, eb = a.communicate(timeout=300)[1], b.communicate(timeout=300)[1]
    assert a.returncode == 0 and b.returncode == 0, (ea, eb)
    alone = run(tmp_path / "alone", tasks=tasks, per_task=3, chunk=1, images=True)
    assert digest(out / "data.jsonl") == digest(alone) and len(records(alone)) == 4 * 2 * 3
    pngs = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    assert pngs and pngs == sorted(p.relative_to(tmp_path / "alone") for p in (tmp_path / "alone").rglob("*.png"))
    assert not (out / ".tmp").exists()


# --- 3. self-verifying parts -------------------------------------------------------------------


def _damage(path: Path, how: str, other: Path) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "no trailer":
        path.write_bytes(data[: data[:-1].rindex(b"\n") + 1])
    elif how == "altered":
        path.write_bytes(data.replace(b'"task": "', b'"task": "X', 1))
    elif how == "line dropped":
        lines = data.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[1:]))
    else:  # a part of another run (other seed)
        shutil.copyfile(other, path)


@pytest.mark.parametrize("how", ["truncated", "no trailer", "altered", "line dropped", "another run"])
def test_damaged_parts_fail_merge_and_are_regenerated(tmp_path, ref, how, caplog) -> None:
    out = tmp_path / "qa"
    run(out)
    other = run(tmp_path / "other", seed=5).parent
    bad = part_path(out, 3)
    _damage(bad, how, part_path(other, 3))
    with pytest.raises(PartError, match="part-000003.jsonl") as exc:
        merge(out)
    assert "regenerate" in str(exc.value)
    with pytest.raises(PartError):
        read_part(bad, 3, manifest_id(read_manifest(out)))
    with caplog.at_level("WARNING"):
        res = generate(GenerateConfig(out=out, tasks=TASKS, per_task=4, chunk=5, images=False), progress=False)
    assert res["parts_regenerated"] == ["part-000003.jsonl"] and res["chunks_skipped_as_done"] == res["chunks"] - 1
    assert "part-000003.jsonl" in caplog.text and "regenerating" in caplog.text
    assert digest(merge(out)) == digest(ref)


def test_parts_carry_count_checksum_and_run(tmp_path) -> None:
    out = tmp_path / "qa"
    run(out)
    run_id = manifest_id(read_manifest(out))
    body = read_part(part_path(out, 0), 0, run_id)
    trailer = json.loads(part_path(out, 0).read_bytes().splitlines()[-1])
    assert trailer["records"] == body.count(b"\n") == 5 and trailer["run"] == run_id and trailer["chunk"] == 0
    with pytest.raises(PartError, match="another run"):
        read_part(part_path(out, 0), 1, run_id)  # a part renamed to another chunk


# --- 4. environment errors (generate level; CLI cases in test_cli.py) --------------------------


def test_disk_full_keeps_finished_parts_and_resumes(tmp_path, monkeypatch, ref) -> None:
    fill_disk_at(monkeypatch, 4)
    out = tmp_path / "qa"
    rc, _, err = cli("generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "4", "--chunk", "5", "--no-images", "--quiet",
                     "--workers", "1")  # chunks in order (with more workers: test_generate_pool.py)
    assert_one_line_error(rc, err, "No space left on device", str(out / "parts" / "part-000002.jsonl"), "rerun")
    assert not list((out / ".tmp").glob("*")), "a temporary file was left behind"
    monkeypatch.undo()
    rc, _, err = cli("generate", "--out", str(out), "--tasks", ",".join(TASKS), "--per-task", "4", "--chunk", "5", "--no-images", "--quiet")
    assert rc == 0, err
    assert digest(out / "data.jsonl") == digest(ref)


# --- 5. scene names ----------------------------------------------------------------------------


def test_synthetic_scenes_and_scene_field(tmp_path) -> None:
    out = tmp_path / "qa"
    rc, _, err = cli("generate", "--scenes", "synthetic:2", "--out", str(out), "--tasks", "object_size,room_size", "--per-task", "2",
                     "--no-images", "--quiet")
    assert rc == 0, err
    rows = records(out / "data.jsonl")
    # object_size 2 per room, room_size 1 (one question per room; repeats are not written by default)
    assert {r["scene"] for r in rows} == {"synthetic_0", "synthetic_1"} and len(rows) == 2 * (2 + 1)
    assert all(r["id"].startswith(r["scene"] + "-") and r["scene_id"] == r["scene"] for r in rows)


def test_topdown_pictures_are_not_scenes(tmp_path) -> None:
    rooms = tmp_path / "rooms"
    assert cli("scene", "generate", "--seed", "0", "--count", "2", "--frames", "3", "--width", "64", "--height", "48",
               "--out", str(rooms), "--topdown")[0] == 0
    assert len(list(rooms.glob("*.png"))) == 2
    res = generate(GenerateConfig(out=tmp_path / "qa", scenes=str(rooms), tasks=("object_size",), per_task=2, images=True), progress=False)
    assert res["scenes_skipped"] == [] and res["no_question"] == 0 and res["written"] == 4
    assert {r["scene"] for r in records(merge(tmp_path / "qa"))} == {"synth_00000", "synth_00001"}


def test_scenes_sharing_a_stem_get_their_own_ids_and_image_folders(tmp_path) -> None:
    from spatialevo.bundled import bundled_scene_paths

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    shutil.copyfile(bundled_scene_paths()[0], scenes / "room.npz")
    write_boxlist(scenes, "room.json")
    write_scannet(scenes, "room")  # a ScanNet folder named like the other two
    res = generate(GenerateConfig(out=tmp_path / "qa", scenes=str(scenes), tasks=("object_size",), per_task=3, images=True,
                                  max_repeat_share=1.0), progress=False)
    assert res["scenes_skipped"] == []
    rows = records(merge(tmp_path / "qa"))
    assert len({r["id"] for r in rows}) == len(rows) == 9
    assert {r["scene"] for r in rows} == {"room", "room.json", "room.npz"}
    folders = {r["scene"]: {Path(p).parent.name for p in r["images"]} for r in rows if r["images"]}
    assert folders == {"room": {"room"}, "room.npz": {"room.npz"}}
    assert all((tmp_path / "qa" / p).is_file() for r in rows for p in r["images"])


# --- 6. records are strict JSON -----------------------------------------------------------------


def test_non_json_values_are_a_clear_error_not_a_record(tmp_path, monkeypatch) -> None:
    import spatialevo.genunits as gen

    real = gen.make_record

    def infinite(*a, **kw):
        rec = real(*a, **kw)
        if rec is not None and rec["task"] == "room_size":
            rec["answer"] = float("inf")
        return rec

    monkeypatch.setattr(gen, "make_record", infinite)
    out = tmp_path / "qa"
    rc, _, err = cli("generate", "--out", str(out), "--tasks", "object_size,room_size", "--per-task", "2", "--no-images", "--quiet")
    assert_one_line_error(rc, err, "internal error", "JSON", "room_size")
    assert all(b"Infinity" not in p.read_bytes() for p in (out / "parts").glob("*.jsonl"))


# --- 8. CLI fuzz -------------------------------------------------------------------------------

FUZZ_EXAMPLES = 600


def _fuzz_paths(base: Path) -> dict[str, str]:
    (base / "box").mkdir(parents=True, exist_ok=True)
    write_boxlist(base / "box", "room42.json")
    (base / "a_file").write_text("not a folder\n")
    ro = base / "read_only"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    return {"BOX": str(base / "box"), "FILE": str(base / "a_file"), "RO": str(ro), "MISSING": str(base / "missing"),
            "README": str(ROOT / "README.md"), "SHARED": str(base / "shared"), "UNDER_FILE": str(base / "a_file" / "out"),
            "RO_OUT": str(ro / "out")}


def _check_outcome(rc: int, err: str, argv: list[str]) -> str:
    """The outcome class of one fuzzed run (asserting it is a clean success or a clean error)."""
    if rc == 2 and "usage: spatialevo" in err and "error:" in err:
        return "usage error (argparse, exit 2)"
    if rc == 0:
        out = Path(argv[argv.index("--out") + 1])
        meta = read_manifest(out)
        merged = "--merge-only" in argv or "--shard" not in argv or argv[argv.index("--shard") + 1] == "0/1"
        if merged:
            rows = records(out / "data.jsonl")
            assert len({r["id"] for r in rows}) == len(rows) > 0
            assert {r["scene"] for r in rows} <= set(meta["scenes"]) and {r["task"] for r in rows} <= set(meta["tasks"])
            return "exit 0, data.jsonl valid"
        return "exit 0, shard parts written"
    assert_one_line_error(rc, err)
    msg = err.strip().splitlines()[-1]
    for key in ("other arguments", "no generate run", "not generated yet", "wrote 0 records", "is a file", "Not a directory",
                "Permission denied", "--out is empty", "scene source is empty", "synthetic source", "scene folder",
                "required file is missing", "unknown task", "no task given", "more than once", "--shard", "--per-task", "--chunk",
                "--seed"):
        if key in msg:
            return f"error: {key}"
    return f"error: unclassified ({msg[:60]})"


#: valid values of each argument, and hostile ones (a run takes at most two hostile values; OMIT drops the flag)
FUZZ_VALID = {"--scenes": ["bundled", "BOX", "BOX", "synthetic:1"], "--out": ["FRESH", "FRESH", "FRESH", "SHARED"],
              "--tasks": ["object_size", "object_size,room_size", "room_size", " room_size , elevation_cam_cam"],
              "--per-task": ["1", "2"], "--chunk": ["1", "3", "64"], "--seed": ["0", "0", "7"],
              "--shard": ["0/1", "0/1", "0/1", "0/2", "1/2", "2/3"]}
FUZZ_HOSTILE = {"--scenes": ["MISSING", "FILE", "README", "RO", "", "synthetic:0", "synthetic:x", "synthetic:99999999999", "OMIT"],
                "--out": ["FILE", "UNDER_FILE", "RO_OUT", "", "OMIT"],
                "--tasks": ["", ",", "teleport", "object_size,object_size", "OBJECT_SIZE", "OMIT"],
                "--per-task": ["0", "-3", "", "abc", "1e3", "99999999999", "3.5", "OMIT"],
                "--chunk": ["0", "-1", "x", "10000000", "99999999999", "OMIT"],
                "--seed": ["-1", "4294967296", "z", "", "1" * 40, "OMIT"],
                "--shard": ["3/2", "a/b", "0/0", "", "1", "-1/2", "1/2/3", "0/99999999999999999999", "2/2", "OMIT"]}


def test_cli_fuzz_never_raises(tmp_path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    paths = _fuzz_paths(tmp_path)
    outcomes: Counter[str] = Counter()
    pick = st.sampled_from

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(valid=st.fixed_dictionaries({k: pick(v) for k, v in FUZZ_VALID.items()}),
           hostile=st.dictionaries(pick(sorted(FUZZ_HOSTILE)), st.integers(0, 99), max_size=2),
           merge_only=pick([False, False, False, True]), fresh=st.integers(0, 10**9))
    def one(valid, hostile, merge_only, fresh):
        args = dict(valid, **{k: FUZZ_HOSTILE[k][i % len(FUZZ_HOSTILE[k])] for k, i in hostile.items()})
        if args["--scenes"] == "bundled" and args.get("--tasks") not in ("object_size", "room_size"):
            args["--tasks"] = "room_size"  # keep runs on the four bundled scenes short
        if args["--out"] == "FRESH":
            args["--out"] = str(tmp_path / f"fresh{fresh}")
        argv = ["generate", "--no-images", "--quiet", *(["--merge-only"] if merge_only else [])]
        for k, v in args.items():
            argv += [] if v == "OMIT" else [k, paths.get(v, v)]
        rc, _, err = cli(*argv)
        outcomes[_check_outcome(rc, err, argv)] += 1

    t0 = time.time()
    one()
    print(f"\nCLI fuzz: {sum(outcomes.values())} runs in {time.time() - t0:.1f} s")
    for k, n in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d}  {k}")
    assert not [k for k in outcomes if k.startswith("error: unclassified")], outcomes
    assert outcomes["exit 0, data.jsonl valid"] > 0 and outcomes["usage error (argparse, exit 2)"] > 0


# --- findings of the review of #12 ------------------------------------------------------------------


def test_shards_over_other_scene_files_with_the_same_names_do_not_mix(tmp_path) -> None:
    from spatialevo.bundled import bundled_scene_paths

    paths = bundled_scene_paths()
    for name, src in (("a", paths[0]), ("b", paths[1])):
        (tmp_path / name).mkdir()
        shutil.copyfile(src, tmp_path / name / "s.npz")
    out = tmp_path / "qa"
    assert cli("generate", "--out", str(out), "--scenes", str(tmp_path / "a"), "--tasks", "object_size", "--per-task", "2",
               "--shard", "0/2", "--no-images", "--quiet")[0] == 0
    rc, _, err = cli("generate", "--out", str(out), "--scenes", str(tmp_path / "b"), "--tasks", "object_size", "--per-task", "2",
                     "--shard", "1/2", "--no-images", "--quiet")
    assert_one_line_error(rc, err, "other scene files")


def test_pools_hold_no_reworded_repeats(ref) -> None:
    """Records of one scene and task cycle through distinct canonical questions: the first n are all
    different and record k asks what record k mod n asks (a swapped symmetric pair is one question)."""
    from spatialevo import DGE, Question, load_scene
    from spatialevo.bundled import bundled_scene_paths

    dges = {p.stem: DGE(load_scene(p)) for p in bundled_scene_paths()}
    out = run(ref.parent.parent / "pools", tasks=("absolute_distance", "elevation_cam_cam", "attribute_measurement"), per_task=12)
    seqs: dict[tuple[str, str], list[str]] = {}
    for r in sorted(records(out), key=lambda r: r["id"]):
        seqs.setdefault((r["scene"], r["task"]), []).append(dges[r["scene"]].canonical(Question.from_dict(r["question"])).to_json())
    for key, seq in seqs.items():
        n = len(set(seq))
        assert len(set(seq[:n])) == n and all(seq[k] == seq[k % n] for k in range(len(seq))), key


def test_a_deeply_nested_part_is_damaged_not_a_crash(tmp_path, ref) -> None:
    out = tmp_path / "qa"
    shutil.copytree(ref.parent, out)
    part = part_path(out, 0)
    part.write_bytes(part.read_bytes() + b"[" * 100_000 + b"\n")
    with pytest.raises(PartError):
        read_part(part, 0, manifest_id(read_manifest(out)))
    run(out)  # the resume regenerates it
    assert digest(out / "data.jsonl") == digest(ref)
