"""The output folder of a ``spatialevo generate`` run: atomic writes, the run lock, the manifest, and
self-verifying part files (see :mod:`spatialevo.generate` for the layout and the rules).

Layout of ``<out>``: ``manifest.json`` (created exclusively at the start of the first run),
``parts/part-<c>.jsonl`` (records, then a trailer line ``{"spatialevo_part": 2, "chunk", "records",
"run", "sha256"}``), ``.lock`` (``flock``: shared while a run writes, exclusive for cleanups),
``.tmp/`` (temporary files, renamed into place), ``data.jsonl`` (the merged records).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError

try:
    import fcntl
except ImportError:  # no flock (Windows): runs into one folder must not overlap; leftovers stay
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
#: version of the manifest and part format (a folder of another version is refused)
FORMAT = 4
MANIFEST = "manifest.json"
#: manifest keys that change records (compared on every resume and shard)
ARG_KEYS = ("format", "seed", "tasks", "per_task", "chunk", "images", "draws_per_record", "patience", "max_repeat_share", "invalid_share",
            "round", "scenes", "scene_content")
_FLAGS = {"max_repeat_share": "--max-repeat-share", "invalid_share": "--invalid-share", "per_task": "--per-task", "images": "--no-images", "scenes": "--scenes", "seed": "--seed", "tasks": "--tasks", "chunk": "--chunk",
          "scene_content": "--scenes"}
_PART_KEY = "spatialevo_part"


class PartError(SpatialEvoError):
    """A part file that does not verify (truncated, altered, or written by another run)."""


def tmp_path(path: Path, out: Path) -> Path:
    """A unique temporary file in ``<out>/.tmp`` (same file system as ``path``)."""
    folder = out / ".tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}"


def write_file(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (bytes, or chunks of bytes streamed in order) to ``path`` and sync it."""
    with open(path, "wb") as f:
        for chunk in (data,) if isinstance(data, bytes) else data:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def renamed(exc: OSError, path: Path) -> OSError:
    """``exc`` naming the final ``path`` instead of its temporary file."""
    return OSError(exc.errno, exc.strerror, str(path)) if exc.strerror else exc


def atomic_write(path: Path, data: bytes | Iterable[bytes], out: Path) -> None:
    """Write ``path`` all or nothing: ``data`` (bytes, or chunks streamed in order) goes to a
    temporary file in ``<out>/.tmp``, synced and renamed into place; the temporary file is removed
    on any failure (an error while producing the chunks, Ctrl-C included)."""
    tmp = tmp_path(path, out)
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
    except OSError as exc:
        unlink(tmp)
        raise renamed(exc, path) from exc
    except BaseException:
        unlink(tmp)
        raise


def create_exclusive(path: Path, data: bytes, out: Path) -> None:
    """Create ``path`` holding ``data`` unless it exists, all or nothing (a racing creator loses)."""
    tmp = tmp_path(path, out)
    try:
        write_file(tmp, data)
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK):
            raise renamed(exc, path) from exc
        try:  # no hard links on this file system: exclusive create
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    finally:
        unlink(tmp)


#: descriptors of the ``.lock`` files this process holds open (a forked worker closes its copies,
#: so that a worker outliving a killed command does not keep the folder locked)
HELD_LOCKS: set[int] = set()


@contextmanager
def lock(out: Path, *, shared: bool) -> Iterator[bool]:
    """``flock`` of ``<out>/.lock``: shared (blocking) or exclusive (non-blocking); yields whether held."""
    if fcntl is None:
        yield shared
        return
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    HELD_LOCKS.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        except OSError as exc:  # a file system without locks
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            log.warning("%s: no file locks here; do not run two generate commands into it at once", out)
            held = shared
        yield held
    finally:
        HELD_LOCKS.discard(fd)
        os.close(fd)


def remove_leftovers(out: Path, meta: dict[str, Any] | None = None) -> bool:
    """Unless another run holds the folder: remove ``<out>/.tmp`` (temporary files of killed runs)
    and, given this run's manifest ``meta``, restart a folder whose earlier run wrote no record
    (:func:`restart_if_empty`). Returns whether the folder was free."""
    with lock(out, shared=False) as alone:
        if alone:
            shutil.rmtree(out / ".tmp", ignore_errors=True)
            if meta is not None:
                restart_if_empty(out, meta)
    return alone


def manifest_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, indent=1, sort_keys=True).encode()


def manifest_id(meta: dict[str, Any]) -> str:
    """Short hash of a manifest (stored in every part, so a part of another run never passes)."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]


def read_manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    try:
        meta = safejson.loads(path.read_bytes())
    except FileNotFoundError:
        raise SpatialEvoError(f"'{out}' holds no generate run (no {MANIFEST}): run spatialevo generate --out '{out}' first") from None
    except (ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("chunks"), int):
        raise SpatialEvoError(f"'{path}' is damaged (not a generate manifest): write to another --out")
    return meta


def manifest_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The arguments that differ between a folder's manifest and this run's, in words."""
    if old.get("format", 1) != new["format"]:
        return [f"format {old.get('format', 1)} there, {new['format']} here (another spatialevo version)"]
    out = []
    for key in ARG_KEYS:
        a, b = old.get(key), new[key]
        if a == b:
            continue
        flag = _FLAGS.get(key, key)
        if key == "scenes":
            gone = [x for x in a or [] if x not in b]
            new_names = [x for x in b if x not in (a or [])]
            out.append(f"{flag}: {len(a or [])} scene(s) there, {len(b)} here ({len(gone)} only there, {len(new_names)} only here)")
        elif key == "tasks":
            out.append(f"{flag}: {','.join(a or [])} there, {','.join(b)} here")
        elif key == "scene_content":
            changed = [n for n, x, y in zip(new["scenes"], a or [], b) if x != y] if a and len(a) == len(b) else new["scenes"]
            out.append(f"{flag}: other scene files under the same names ({', '.join(changed[:3])}{', …' if len(changed) > 3 else ''})")
        elif key == "images":
            out.append(f"{flag}: images {'on' if a else 'off'} there, {'on' if b else 'off'} here")
        elif key == "round" and isinstance(a, dict):
            out += [f"{k} (round option): {a.get(k)} there, {b.get(k)} here" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            out.append(f"{flag}: {a} there, {b} here")
    out += [f"{k}: {old.get(k)} there, {new[k]} here" for k in sorted(set(new) - set(ARG_KEYS)) if old.get(k) != new[k]]
    return out


def ensure_manifest(out: Path, meta: dict[str, Any]) -> str:
    """Create ``<out>/manifest.json`` (exclusively) or check it matches; returns its id."""
    path = out / MANIFEST
    if not path.exists():
        create_exclusive(path, manifest_bytes(meta), out)
    old = read_manifest(out)
    diff = manifest_diff(old, meta)
    if diff:
        raise SpatialEvoError(f"'{out}' holds a run with other arguments ({'; '.join(diff)}): "
                              "rerun with the same arguments to resume it, or write to another --out")
    return manifest_id(old)


def holds_no_record(out: Path) -> bool:
    data = out / "data.jsonl"
    if data.exists() and data.stat().st_size:
        return False
    for p in (out / "parts").glob("part-*.jsonl"):
        if p.stat().st_size and (_trailer(p.read_bytes()) or {}).get("records") != 0:
            return False
    return True


def restart_if_empty(out: Path, meta: dict[str, Any]) -> None:
    """Under the exclusive lock: drop the manifest (and empty parts) of another run that wrote no record."""
    if not (out / MANIFEST).exists():
        return
    try:
        old = read_manifest(out)
    except SpatialEvoError:
        return  # reported by ensure_manifest
    if manifest_diff(old, meta) and holds_no_record(out):
        log.warning("%s: its earlier run wrote no record; starting over with these arguments", out)
        for p in (out / "parts").glob("part-*.jsonl"):
            p.unlink()
        unlink(out / "data.jsonl")
        shutil.rmtree(out / "images", ignore_errors=True)  # pictures of the other run's scenes
        (out / MANIFEST).unlink()


def part_path(out: Path, c: int) -> Path:
    return Path(out) / "parts" / f"part-{c:06d}.jsonl"


def part_bytes(lines: Sequence[str], c: int, run: str) -> bytes:
    """A part file: one record per line, then the trailer (chunk, count, SHA-256, run id)."""
    body = "".join(line + "\n" for line in lines).encode()
    trailer = {_PART_KEY: FORMAT, "chunk": c, "records": len(lines), "run": run, "sha256": hashlib.sha256(body).hexdigest()}
    return body + (json.dumps(trailer, sort_keys=True) + "\n").encode()


def _split(data: bytes) -> tuple[bytes, bytes]:
    head, sep, last = data[:-1].rpartition(b"\n")
    return data[: len(head) + len(sep)], last


def _trailer(data: bytes) -> dict[str, Any] | None:
    if not data.endswith(b"\n"):
        return None
    try:
        t = safejson.loads(_split(data)[1])
    except (ValueError, UnicodeDecodeError):
        return None
    return t if isinstance(t, dict) and _PART_KEY in t else None


def read_part(path: Path, c: int, run: str) -> bytes:
    """The record lines of part ``c`` after checking its trailer.

    Raises:
        PartError: truncated, altered, or not written by the run ``run``.
    """
    data = path.read_bytes()
    t = _trailer(data)
    name = f"{path.parent.name}/{path.name}"
    if t is None:
        raise PartError(f"{name} is truncated or damaged (no valid trailer line)")
    body = _split(data)[0]
    count = body.count(b"\n")
    problem = None
    if t.get(_PART_KEY) != FORMAT or t.get("chunk") != c or t.get("run") != run:
        problem = "written by another run"
    elif t.get("records") != count:
        problem = f"holds {count} record line(s), its trailer says {t.get('records')}"
    elif t.get("sha256") != hashlib.sha256(body).hexdigest():
        problem = "its records do not match their SHA-256"
    if problem:
        raise PartError(f"{name} is damaged: {problem}")
    return body


def done_records(out: Path, c: int, run: str, *, warn: bool) -> int | None:
    """Records of a finished part ``c`` (``None``: missing, or failing verification)."""
    path = part_path(out, c)
    if not path.exists():
        return None
    try:
        return read_part(path, c, run).count(b"\n")
    except (PartError, FileNotFoundError) as exc:
        if warn:
            log.warning("%s: %s; regenerating it", out, exc)
        return None


def merge_parts(out: Path, meta: dict[str, Any]) -> None:
    parts = [part_path(out, c) for c in range(meta["chunks"])]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise SpatialEvoError(f"{len(missing)} chunk(s) not generated yet (e.g. {missing[0]}); run the remaining shards first")
    run = manifest_id(meta)
    try:
        atomic_write(out / "data.jsonl", (read_part(p, c, run) for c, p in enumerate(parts)), out)
    except PartError as exc:
        raise PartError(f"cannot merge '{out}': {exc}; rerun the same generate command to regenerate it") from None
