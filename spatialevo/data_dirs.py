"""Where the data folders are: ``tasks/``, ``scenes/``, ``configs/``.

Order: an environment variable (``SPATIALEVO_TASKS``, ``SPATIALEVO_SCENES``, ``SPATIALEVO_CONFIGS``),
then the repository's top-level folder (source checkouts and editable installs), then the copy a
built wheel carries in ``spatialevo/_data/``. :func:`user_cache_dir` is where derived files of the
user's scans go.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``name`` (``"tasks"``, ``"scenes"`` or ``"configs"``); see the module docstring."""
    env = os.environ.get(f"SPATIALEVO_{name.upper()}")
    if env:
        return Path(env)
    repo = _PKG.parent / name
    if repo.is_dir():
        return repo
    return _PKG / "_data" / name


def user_cache_dir() -> Path:
    """Where the package keeps what it derives from the user's files (frames extracted from a
    ScanNet ``.sens``): ``SPATIALEVO_CACHE``, else ``$XDG_CACHE_HOME/spatialevo``, else
    ``~/.cache/spatialevo``."""
    env = os.environ.get("SPATIALEVO_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "spatialevo"
