"""The index of scenes a ``spatialevo scene convert`` folder holds (``index.json``), read by the
scene sources (``--scenes DIR``); the conversion itself is :mod:`spatialevo.convert`."""

from __future__ import annotations

import logging
from pathlib import Path

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError

log = logging.getLogger(__name__)
INDEX = "index.json"
INDEX_FORMAT = "spatialevo-scene-index"
INDEX_VERSION = 1


def read_index(path: str | Path) -> tuple[list[Path], list[str]]:
    """``(cache files, names)`` of a conversion's index (``DIR`` or ``DIR/index.json``), in order.

    Raises:
        SpatialEvoError: not an index, or an entry's file is outside the folder or missing.
    """
    path = Path(path)
    file = path / INDEX if path.is_dir() else path
    try:
        index = safejson.loads(file.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SpatialEvoError(f"'{file}' is not a readable scene index ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not isinstance(index.get("scenes"), list):
        raise SpatialEvoError(f"'{file}' is not a spatialevo scene index")
    base = file.parent.absolute()
    files, names = [], []
    for k, entry in enumerate(index["scenes"]):
        rel = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or not isinstance(entry.get("name"), str):
            raise SpatialEvoError(f"'{file}': scene {k} has no file / name")
        target = (base / rel).resolve()
        if not target.is_relative_to(base.resolve()):
            raise SpatialEvoError(f"'{file}': scene {k} points outside the folder ({rel!r})")
        if not target.is_file():
            raise SpatialEvoError(f"'{file}': scene {entry['name']!r} is listed but '{target}' is missing")
        files.append(target)
        names.append(entry["name"])
    if index.get("pending"):
        log.warning("%s: %d scene(s) are not converted yet (a shard still running?)", file, len(index["pending"]))
    return files, names


def is_index(path: Path) -> bool:
    """Whether ``path`` is a conversion's folder (holding ``index.json``) or its ``index.json``."""
    file = path / INDEX if path.is_dir() else path
    if file.name != INDEX or not file.is_file():
        return False
    try:
        head = file.read_bytes()[:4096]
    except OSError:
        return False
    return INDEX_FORMAT.encode() in head
