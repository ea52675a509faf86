"""Verdict pictures of dataset records (``spatialevo show`` on a record, ``generate --pictures N``).

A ``spatialevo generate`` folder holds its records in ``<out>/data.jsonl`` (one JSON record per
line, :func:`~spatialevo.dataset.qa_record`), its parts in ``<out>/parts/part-<c>.jsonl`` (records,
then a trailer line ``{"spatialevo_part": …}``) and the round's options in ``<out>/manifest.json``
(the label vocabulary the scenes were loaded in). A record names its scene by the source's unique
name (``scene``), so the scenes the dataset was made from (``--scenes`` of generate) find it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SpatialEvoError

#: pictures :func:`write_pictures` writes at most in one call
MAX_PICTURES = 10_000


def records_file(path: Path) -> Path:
    """The records file of ``path``: ``<path>/data.jsonl`` for a dataset folder, else ``path``."""
    path = Path(path)
    if path.is_dir():
        data = path / "data.jsonl"
        if not data.is_file():
            raise SpatialEvoError(f"{data} not found: '{path}' is not a finished spatialevo generate folder "
                                  "(run generate unsharded, or with --merge-only, first)")
        return data
    if not path.is_file():
        raise SpatialEvoError(f"'{path}' does not exist")
    return path


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a dataset folder or a records JSONL (part files too: their trailer lines are skipped)."""
    data = records_file(path)
    with data.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise SpatialEvoError(f"{data}:{n}: not a JSON record ({exc})") from None
            if isinstance(rec, dict) and "spatialevo_part" not in rec:
                yield rec


def record_at(path: Path, index: int) -> dict[str, Any]:
    """Record number ``index`` (0-based, in file order) of a dataset folder or records JSONL."""
    if index < 0:
        raise SpatialEvoError(f"--index must be 0 or more, got {index}")
    n = -1
    for n, rec in enumerate(iter_records(path)):
        if n == index:
            return rec
    raise SpatialEvoError(f"'{path}' holds {n + 1} record(s); --index {index} is out of range")


def dataset_labels(path: Path) -> tuple[str | None, str | None]:
    """``(labels, label_map)`` the dataset's scenes were loaded in (its ``manifest.json``; ``None`` when unknown)."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    try:
        meta = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    rnd = meta.get("round") if isinstance(meta, dict) else None
    if not isinstance(rnd, dict):
        return None, None
    return rnd.get("labels"), rnd.get("label_map")


def write_pictures(records: Path | str | Iterable[Mapping[str, Any]], out_dir: Path | str, n: int, *, scenes: Any = "bundled",
                   labels: str | None = None, label_map: str | None = None) -> list[Path]:
    """Write the verdict pictures of ``n`` records, evenly spread over the dataset (indices
    ``round(linspace(0, N − 1, n))`` of its N records; all when N ≤ n), as
    ``<out_dir>/<k:06d>-<task>.png`` (``k``: the record's position in the dataset); return the paths.

    Args:
        records: a ``spatialevo generate`` folder, a records JSONL, or the records themselves.
        out_dir: the folder to write (created).
        n: pictures wanted (1 … :data:`MAX_PICTURES`).
        scenes: the scenes the dataset was generated from (:func:`spatialevo.show.find_scene`).
        labels, label_map: their vocabulary (default: the dataset's manifest).

    Raises:
        SpatialEvoError: a bad ``n``, no records, or a record whose scene is not found.
    """
    from spatialevo.selfplay.sources import SceneSource, make_source
    from spatialevo.show import explain_record

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PICTURES:
        raise SpatialEvoError(f"the number of pictures must be a whole number between 1 and {MAX_PICTURES}, got {n!r}")
    if isinstance(records, (str, Path)):
        if labels is None and label_map is None:
            labels, label_map = dataset_labels(Path(records))
        recs = list(iter_records(Path(records)))
    else:
        recs = list(records)
    if not recs:
        raise SpatialEvoError("the dataset holds no record")
    picks = np.unique(np.linspace(0, len(recs) - 1, min(n, len(recs))).round().astype(int)).tolist()
    src = scenes if not isinstance(scenes, (str, Path)) else make_source(scenes, labels=labels, label_map=label_map)
    if isinstance(src, SceneSource):
        src.set_cache_size(2)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in picks:
        rec = recs[k]
        pic = explain_record(rec, src)
        path = out / f"{k:06d}-{rec.get('task', 'record')}.png"
        pic.image.save(path, format="PNG")
        paths.append(path)
    return paths
