"""The command line: --help everywhere, inspect / render / top-down on a real-layout fixture, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from fixtures import write_scannet
from PIL import Image

from spatialevo.cli.main import main


@pytest.mark.parametrize("argv", [[], ["scene"], ["scene", "generate"], ["scene", "inspect"], ["scene", "render"], ["demo"]])
def test_help_explains(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: spatialevo" in out and len(out) > 200


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
