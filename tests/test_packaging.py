"""A built wheel carries the data folders (task specs, bundled scenes, run configs)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_tasks_scenes_configs(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("spatialevo-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("tasks", "scenes", "configs"):
        shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert shipped and {f"spatialevo/_data/{x}" for x in shipped} <= names, folder
    tables = {p.name for p in (ROOT / "spatialevo" / "scene" / "labels").glob("*.tsv")}
    assert tables and {f"spatialevo/scene/labels/{t}" for t in tables} <= names  # the label vocabularies
    assert "spatialevo/dge/engine.py" in names and "spatialevo/train/launcher.py" in names


def test_data_dirs_fall_back_to_the_wheel_copy(tmp_path, monkeypatch) -> None:
    import spatialevo.data_dirs as res

    fake_pkg = tmp_path / "site" / "spatialevo"
    (fake_pkg / "_data" / "tasks").mkdir(parents=True)
    monkeypatch.setattr(res, "_PKG", fake_pkg)
    monkeypatch.delenv("SPATIALEVO_TASKS", raising=False)
    assert res.data_dir("tasks") == fake_pkg / "_data" / "tasks"  # no repository folder beside the package
    monkeypatch.setenv("SPATIALEVO_TASKS", str(tmp_path))
    assert res.data_dir("tasks") == tmp_path
