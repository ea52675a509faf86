"""Ship the repository's data folders inside the wheel.

``tasks/`` (task specs), ``scenes/`` (bundled sample scenes) and ``configs/`` (training run
configs) live at the top of the repository, where users edit them. An editable install reads them
there; a built wheel gets a copy under ``spatialevo/_data/`` (``spatialevo.data_dirs`` finds either).
Everything else is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("tasks", "scenes", "configs")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "spatialevo" / "_data"
        for name in DATA:
            src = root / name
            if src.is_dir():
                shutil.copytree(src, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.tmp"))


setup(cmdclass={"build_py": BuildPyWithData})
