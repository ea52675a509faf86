"""Write a generate run's folder as a Hugging Face dataset: Parquet shards and the dataset card.

After ``spatialevo generate --out OUT`` the folder holds, beside the run's own files
(``manifest.json``, ``parts/``, ``data.jsonl``, ``images/``):

* ``data/<split>-00000-of-0000N-<digest>.parquet`` (split ``train``, or ``test`` for ``vsibench``) — the rows of one format (:mod:`spatialevo.hfdata.formats`),
  typed (:data:`~spatialevo.hfdata.formats.COLUMNS`; the ``datasets`` features in each shard's
  metadata), each image's PNG bytes in its row, shards closed at about ``shard_bytes``; the names end
  in a digest of the shards' bytes, because ``datasets`` caches a local folder by its card alone
  (huggingface/datasets#2956): new rows under old names would load the old ones;
* ``README.md`` — the dataset card: ``configs`` (the ``train`` split: the shards, named),
  ``dataset_info.features``, the run's arguments, counts per task, and how to load, score and
  regenerate a record.

So ``datasets.load_dataset(OUT)`` gives the typed rows with PIL images, ``load_dataset("json",
data_files=OUT + "/data.jsonl")`` the records themselves (image paths relative to ``OUT``), and the
folder can be uploaded as it is (``huggingface-cli upload`` / ``HfApi.upload_folder``): no path in
it is absolute. Shards are written under ``<out>/.tmp``, moved into ``data/`` beside the previous
ones, then the card is replaced and the shards it no longer names are removed: an interrupted or
failed write leaves a card whose shards are all there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spatialevo.errors import SpatialEvoError
from spatialevo.hfdata.card import card_text, split_of
from spatialevo.hfdata.features import arrow_schema, arrow_table
from spatialevo.hfdata.formats import COLUMNS, check_format, rows
from spatialevo.runfolder import atomic_write, lock, read_manifest, remove_leftovers, unlink

#: shards close after about this many bytes of rows (images included)
SHARD_BYTES = 256 * 2**20
#: rows per Parquet row group (image rows are large)
ROW_GROUP = 64
#: images kept read while writing (the records of a scene, consecutive, share its frames)
IMAGE_CACHE = 256
DATA = "data"


def read_records(out: Path) -> Iterator[dict[str, Any]]:
    """The records of ``<out>/data.jsonl``, one at a time."""
    path = out / "data.jsonl"
    if not path.is_file():
        raise SpatialEvoError(f"{path} not found: run spatialevo generate (unsharded, or --merge-only) first")
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise SpatialEvoError(f"{path}:{n}: not a JSON record ({exc})") from None


def _image(out: Path, rel: str) -> dict[str, Any]:
    """A record's image (a path relative to ``out``) as stored in a row: its bytes and file name."""
    path = out / rel
    try:
        return {"bytes": path.read_bytes(), "path": rel}
    except OSError as exc:
        raise SpatialEvoError(f"image {rel} of the dataset cannot be read ({exc.strerror or exc}): generate it again") from None


def write_folder(out: Path, fmt: str = "spatialevo", *, shard_bytes: int = SHARD_BYTES) -> dict[str, Any]:
    """Write ``<out>/data/*.parquet`` in ``fmt`` and ``<out>/README.md`` from ``<out>/data.jsonl``;
    returns the row count, the shard names and the rows per task.

    Raises:
        SpatialEvoError: an unknown format, no ``data.jsonl``, a missing image, a record that does
            not fit the columns, or no row (``vsibench`` of tasks VSI-Bench does not have).
    """
    out = Path(out)
    check_format(fmt)
    meta = read_manifest(out)
    with lock(out, shared=True):  # the run's cleanup leaves .tmp alone meanwhile
        work = out / ".tmp" / f"hf-{uuid.uuid4().hex}"
        (work / DATA).mkdir(parents=True)
        try:
            n, shards, per_task = _write_shards(out, fmt, work / DATA, shard_bytes)
            tag = _digest(shards)[:12]  # content-addressed names: datasets' cache of a local folder keys on the card only
            names = [f"{split_of(fmt)}-{i:05d}-of-{len(shards):05d}-{tag}.parquet" for i in range(len(shards))]
            for src, name in zip(shards, names):
                src.rename(work / DATA / name)
            _swap(out, work, card_text(fmt, meta, n, per_task, COLUMNS[fmt], [f"{DATA}/{x}" for x in names]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    remove_leftovers(out)  # an empty .tmp, unless another run holds the folder
    return {"rows": n, "shards": names, "per_task": per_task, "format": fmt}


def _write_shards(out: Path, fmt: str, folder: Path, shard_bytes: int) -> tuple[int, list[Path], dict[str, int]]:
    """Stream the rows of ``fmt`` into Parquet shards in ``folder`` (closed at about ``shard_bytes``)."""
    import pyarrow.parquet as pq

    columns = COLUMNS[fmt]
    schema = arrow_schema(columns)
    shards: list[Path] = []
    per_task: Counter[str] = Counter()
    n, size, batch, writer = 0, 0, [], None
    images: dict[str, dict[str, Any]] = {}  # path → stored image, each file read once while it is in use
    try:
        for row in rows(read_records(out), fmt):
            if writer is None:
                shards.append(folder / f"shard-{len(shards):05d}.parquet")
                writer, size = pq.ParquetWriter(shards[-1], schema, compression="zstd"), 0
            if len(images) > IMAGE_CACHE:
                images.clear()
            row["images"] = [images[p] if p in images else images.setdefault(p, _image(out, p)) for p in row["images"] or []]
            size += sum(len(im["bytes"]) for im in row["images"]) + 1024
            batch.append(row)
            per_task[row["task"]] += 1
            n += 1
            if len(batch) >= ROW_GROUP or size >= shard_bytes:
                writer.write_table(arrow_table(batch, columns, schema), row_group_size=ROW_GROUP)
                batch = []
            if size >= shard_bytes:
                writer.close()
                writer = None
        if batch:
            writer.write_table(arrow_table(batch, columns, schema), row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    if not n:
        raise SpatialEvoError(f"no record of {out / 'data.jsonl'} has a row in the {fmt} format"
                              + (" (VSI-Bench shares only counting, size, distances, directions and room size)" if fmt == "vsibench" else ""))
    return n, shards, dict(sorted(per_task.items()))


def _digest(paths: list[Path]) -> str:
    """SHA-256 of the files' bytes in order."""
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _swap(out: Path, work: Path, card: str) -> None:
    """Put the new shards beside the old ones in ``<out>/data`` (content-addressed names: nothing is
    overwritten), write the card (atomic), then remove the shards it does not name. A kill at any
    point leaves a card whose shards are all there. Writers take turns (an exclusive ``flock``)."""
    from spatialevo.runfolder import fcntl

    folder = out / DATA
    folder.mkdir(exist_ok=True)
    with open(out / ".hfdata.lock", "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        new = sorted((work / DATA).glob("*.parquet"))
        for src in new:
            os.replace(src, folder / src.name)
        atomic_write(out / "README.md", card.encode("utf-8"), out)
        keep = {p.name for p in new}
        for old in folder.glob("*.parquet"):
            if old.name not in keep:
                unlink(old)
