"""The command line: --help everywhere, inspect / render / top-down on a real-layout fixture, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from fixtures import write_scannet
from PIL import Image

from spatialevo.cli.main import main

HELP_ARGVS = [[], ["scene"], ["scene", "generate"], ["scene", "inspect"], ["scene", "render"], ["scene", "bundle"], ["generate"],
              ["pose"], ["pose", "train"], ["pose", "eval"], ["evolve"], ["eval"], ["demo"]]


@pytest.mark.parametrize("argv", HELP_ARGVS)
def test_help_explains(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: spatialevo" in out and len(out) > 200


def test_every_help_works_without_the_train_extra():
    """Building the parser imports no 'train' extra module: each command imports it when it runs."""
    code = ("import sys\nsys.modules['torch'] = None\nfrom spatialevo.cli.main import main\n"
            f"for argv in {HELP_ARGVS!r}:\n"
            "    try:\n        main([*argv, '--help'])\n    except SystemExit as exc:\n        assert exc.code == 0, argv\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'trl', 'accelerate', 'datasets')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "spatialevo.cli.main", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("spatialevo ")


def test_inspect_and_topdown_on_scannet_fixture(tmp_path, capsys):
    fx = write_scannet(tmp_path / "data")
    png = tmp_path / "top.png"
    assert main(["scene", "inspect", str(fx.path), "--json", "--topdown", str(png)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[: out.rindex("}") + 1])
    assert summary["layout"] == "scannet" and summary["num_objects"] == len(fx.objects)
    img = np.asarray(Image.open(png))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 5  # more than a blank canvas


def test_render_writes_images_and_visibility(tmp_path):
    fx = write_scannet(tmp_path / "data")
    out = tmp_path / "render"
    assert main(["scene", "render", str(fx.path), "--out", str(out)]) == 0
    ids = sorted(p.stem for p in (out / "rgb").glob("*.png"))
    assert ids, "no frame rendered"
    depth = np.asarray(Image.open(out / "depth" / f"{ids[0]}.png"))
    inst = np.load(out / "instance" / f"{ids[0]}.npy")
    assert depth.dtype == np.uint16 and inst.dtype == np.int32 and depth.shape == inst.shape
    assert (depth > 0).any()
    vis = json.loads((out / "visibility.json").read_text())
    assert set(vis) == set(ids)


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["scene", "inspect", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope" in err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "readme.txt").write_text("hello")
    assert main(["scene", "inspect", str(tmp_path / "junk")]) == 2
    assert "not a recognised scene layout" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["scene", "generate", "--frames", "0", "--out", "OUT"], ["scene", "generate", "--seed", "-1", "--out", "OUT"], ["demo", "--every", "0", "--out", "OUT"]])
def test_bad_options_give_an_error_not_a_traceback(tmp_path, capsys, argv):
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_bad_recipes_name_the_field(tmp_path, monkeypatch):
    from spatialevo.bundled import load_recipes
    from spatialevo.errors import SceneFormatError

    (tmp_path / "recipes.json").write_text(json.dumps({"scenes": [{"name": "../x", "seed": 1, "shape": "rect", "frames": 2}]}))
    with pytest.raises(SceneFormatError, match=r"scenes\[0\].name"):
        load_recipes(tmp_path)
    (tmp_path / "recipes.json").write_text(json.dumps({"scenes": [{"name": "x", "seed": "a", "shape": "rect", "frames": 2}]}))
    with pytest.raises(SceneFormatError, match=r"scenes\[0\].seed"):
        load_recipes(tmp_path)


def _last_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines and "Traceback" not in err and sum(x.startswith("error:") for x in lines) == 1, err
    assert lines[-1].startswith("error: "), err
    return lines[-1]


def _read_only(tmp_path, monkeypatch):
    """A folder nobody may write to (as root, where permissions do not stop writes, simulated)."""
    import errno
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:
        real = os.mkdir

        def denied(path, *a, **kw):
            if str(path).startswith(str(ro)):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path, *a, **kw)

        monkeypatch.setattr(os, "mkdir", denied)
    return ro / "qa"


GENERATE_FAILURES = {
    "read-only folder": (["--out", "RO"], ["Permission denied", "ro/qa"]),
    "file as --out": (["--out", "FILE"], ["is a file"]),
    "file above --out": (["--out", "FILE/qa"], ["Not a directory", "FILE"]),
    "--merge-only on an empty folder": (["--out", "EMPTY", "--merge-only"], ["holds no generate run", "manifest.json"]),
    "--merge-only on a missing folder": (["--out", "EMPTY/nothing", "--merge-only"], ["holds no generate run"]),
    "empty --tasks": (["--out", "NEW", "--tasks", ""], ["no task given"]),
    "a file that is no scene": (["--out", "NEW", "--scenes", "README.md"], ["wrote 0 records", "could be loaded", "README.md"]),
    "empty --scenes": (["--out", "NEW", "--scenes", ""], ["scene source is empty"]),
    "empty --out": (["--out", ""], ["--out is empty"]),
    "negative --seed": (["--out", "NEW", "--seed", "-1"], ["--seed"]),
    "task twice": (["--out", "NEW", "--tasks", "room_size,room_size"], ["more than once"]),
}


@pytest.mark.parametrize("case", sorted(GENERATE_FAILURES))
def test_generate_failures_are_one_line_errors(tmp_path, monkeypatch, capsys, case):
    from pathlib import Path

    argv, words = GENERATE_FAILURES[case]
    (tmp_path / "FILE").write_text("a file\n")
    (tmp_path / "EMPTY").mkdir()
    readme = str(Path(__file__).resolve().parents[1] / "README.md")
    where = {"RO": lambda: str(_read_only(tmp_path, monkeypatch)), "README.md": lambda: readme}
    argv = [where[a]() if a in where else (str(tmp_path / a) if a.split("/")[0] in ("FILE", "EMPTY", "NEW") else a) for a in argv]
    rc = main(["generate", "--per-task", "1", "--tasks", "room_size", "--no-images", "--quiet", *argv])
    line = _last_error_line(capsys.readouterr().err)
    assert rc != 0
    for w in words:
        assert w.replace("FILE", str(tmp_path / "FILE")) in line, line


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0, reason="root writes anywhere")
def test_generate_into_a_really_read_only_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["generate", "--out", str(ro / "qa"), "--per-task", "1", "--tasks", "room_size", "--no-images", "--quiet"]) != 0
        assert "Permission denied" in _last_error_line(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


TRAIN_PRELUDE = """
import sys
sys.modules['torch'] = None  # the 'train' extra is not installed
from spatialevo.cli.main import main
rcs = []
for argv in {commands!r}:
    rcs.append(main(argv))
    print('rc', rcs[-1], file=sys.stderr, flush=True)
"""


def test_train_commands_without_the_train_extra(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    commands = [
        ["evolve", "--config", "configs/cpu-smoke.yaml", "--output-dir", str(tmp_path / "ev"), "--max-steps", "1"],
        ["eval", "--model", str(model), "--per-task", "1", "--tasks", "room_size"],
        ["pose", "train", "--synthetic", "0", "--frames", "4", "--steps", "1", "--out", str(tmp_path / "p.pt")],
        ["pose", "eval", "--ckpt", str(tmp_path / "p.pt")],
    ]
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", TRAIN_PRELUDE.format(commands=commands)], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    blocks = re.split(r"^rc (-?\d+)$", done.stderr, flags=re.M)  # [err, rc, err, rc, ..., tail]
    assert len(blocks) == 2 * len(commands) + 1, done.stderr
    for k, argv in enumerate(commands):
        line = _last_error_line(blocks[2 * k])
        assert int(blocks[2 * k + 1]) != 0, (argv, blocks[2 * k])
        assert "pip install 'spatialevo[train]'" in line and "torch" in line and f"'spatialevo {argv[0]}'" in line, line
