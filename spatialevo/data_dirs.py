"""Where the data folders are: ``tasks/``, ``scenes/``, ``configs/``.

Order: an environment variable (``SPATIALEVO_TASKS``, ``SPATIALEVO_SCENES``, ``SPATIALEVO_CONFIGS``),
then the repository's top-level folder (source checkouts and editable installs), then the copy a
built wheel carries in ``spatialevo/_data/``.
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
