"""The bundled-scene check holds on any machine: last-bit float differences pass, real changes fail."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spatialevo.bundled import ATOL, build_bundled, load_recipes, scenes_dir
from spatialevo.cli.main import main


def _copy_bundled(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    recipes = [r for r in load_recipes() if r.name in names]
    (folder / "recipes.json").write_text(
        '{"scenes": [' + ", ".join(
            f'{{"name": "{r.name}", "seed": {r.seed}, "shape": "{r.shape}", "frames": {r.frames}}}' for r in recipes
        ) + "]}"
    )
    for r in recipes:
        shutil.copy(scenes_dir() / f"{r.name}.npz", folder / f"{r.name}.npz")
    return folder


def _rewrite(path: Path, change) -> None:  # noqa: ANN001 - change(name, array) -> array
    """Rewrite a cache file with each entry passed through ``change`` (same format as save_cache)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(change(name, arr)), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def test_bundled_check_passes_on_the_committed_files():
    assert build_bundled(check=True) == []


def test_last_ulp_differences_pass_the_check(tmp_path):
    folder = _copy_bundled(tmp_path, ["l_shaped"])
    path = folder / "l_shaped.npz"
    original = path.read_bytes()

    def ulp(name: str, a: np.ndarray) -> np.ndarray:
        # what another CPU / BLAS build gives: every float moved by about 1e-15
        return a * (1 + 1e-15) + 1e-15 if a.dtype.kind == "f" else a

    _rewrite(path, ulp)
    assert path.read_bytes() != original  # the bytes differ ...
    assert build_bundled(folder, check=True) == []  # ... and the check still passes
    assert main(["scene", "bundle", "--check", "--dir", str(folder)]) == 0


@pytest.mark.parametrize(
    "entry, change, expect",
    [
        ("box_center", lambda a: a + np.where(np.arange(a.size).reshape(a.shape) == 0, 1e-3, 0.0), "box_center: 1 value(s) differ"),
        ("frame_T_wc", lambda a: a + 1e3 * ATOL, "frame_T_wc"),
        ("obj_ids", lambda a: a[::-1].copy(), "obj_ids"),
        ("mesh_faces", lambda a: a[:-1], "mesh_faces"),
        ("meta.json", lambda a: np.frombuffer(a.tobytes().replace(b'"chair"', b'"stool"', 1), dtype=np.uint8), "metadata"),
    ],
)
def test_real_changes_fail_the_check(tmp_path, entry, change, expect):
    folder = _copy_bundled(tmp_path, ["rect_small"])
    _rewrite(folder / "rect_small.npz", lambda name, a: change(a) if name == entry else a)
    problems = build_bundled(folder, check=True)
    assert len(problems) == 1 and expect in problems[0], problems
    assert main(["scene", "bundle", "--check", "--dir", str(folder)]) == 1


def test_a_missing_bundled_file_is_reported(tmp_path):
    folder = _copy_bundled(tmp_path, ["rect_small"])
    (folder / "rect_small.npz").unlink()
    assert "missing" in build_bundled(folder, check=True)[0]
