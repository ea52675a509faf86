"""The images of a ``spatialevo generate`` run: each record's frames as the policy sees them,
written once per scene and frame as ``<out>/images/<scene>/<frame>.png`` (atomically), by
background threads while the run draws the next questions (:class:`ImageWriter`); the Ray backend
encodes them in its workers with the same :func:`png_bytes`."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spatialevo.runfolder import renamed, tmp_path, unlink

if TYPE_CHECKING:
    from spatialevo.selfplay import Round, RoundConfig
    from spatialevo.selfplay.cache import Entry


def png_bytes(img: Any) -> bytes:
    """An image (``(H, W, 3)`` uint8) as PNG bytes (the bytes every backend writes)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(img)).save(buf, format="PNG")
    return buf.getvalue()


def image_relpath(name: str, fid: str) -> str:
    """Where a record's frame image lies in the output folder (relative, ``/``-separated)."""
    return f"images/{name}/{fid}.png"


def write_image(out: Path, rel: str, data: bytes) -> None:
    """Write ``<out>/<rel>`` atomically unless it exists (the bytes of a frame never change in a run)."""
    path = out / rel
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path, out)
    try:
        tmp.write_bytes(data)  # renamed into place whole; not fsynced (parts are), as before: thousands of small files
        os.replace(tmp, path)
    except OSError as exc:
        unlink(tmp)
        raise renamed(exc, path) from exc


#: threads writing images: two frames rendered and encoded at once (numba's kernels, PIL's resize
#: and zlib release the GIL; one thread alone gains little, as it keeps waiting for the GIL behind
#: the thread drawing questions)
IMAGE_THREADS = 2


def write_frame(entry: Entry, fid: str, out: Path, cfg: RoundConfig) -> None:
    """Frame ``fid`` as the policy sees it (:meth:`~spatialevo.selfplay.cache.Entry.image`: aspect
    kept under ``cfg``'s pixel budget) as ``<out>/images/<scene>/<frame>.png``, unless it exists
    (written atomically)."""
    rel = image_relpath(entry.name, fid)
    if not (out / rel).exists():
        write_image(out, rel, png_bytes(entry.image(fid, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)))


class ImageWriter:
    """Writes the records' frames (render, resize, PNG, atomic write) in ``threads`` background
    threads, while the thread that owns the round goes on drawing questions.

    :meth:`submit` runs in the owner's thread: it resolves the scene's cache entry there (the
    background threads never touch the cache's LRU; an entry evicted meanwhile stays valid while
    its frames are pending) and queues the frames neither on disk nor queued yet, one write per
    frame. The writes lag at most one scene behind (a new scene's frames first wait for those of
    the scenes before the last one), so they hold no scene that the round's cache of two does not.
    :meth:`wait` returns once the writes submitted before a :meth:`mark` are done, raising the
    first one's error (the ``OSError`` naming the image path, as a write in the caller's thread
    would). :meth:`close` drops the queued writes and waits for the running ones (each image is
    renamed into place whole).
    """

    def __init__(self, rnd: Round, out: Path, threads: int = IMAGE_THREADS):
        self.round, self.out, self.threads = rnd, out, threads
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: deque[tuple[int, str, Future[None]]] = deque()  # (number, image path, write) not waited for
        self._queued: set[str] = set()  # their image paths
        self._n = 0  # writes submitted
        self._scene, self._group = "", 0  # the scene of the last write, the number of its scene's first write

    def submit(self, name: str, frames: Sequence[str]) -> None:
        """Queue the frames of scene ``name`` that are neither on disk nor queued."""
        todo = [fid for fid in dict.fromkeys(frames)
                if image_relpath(name, fid) not in self._queued and not (self.out / image_relpath(name, fid)).exists()]
        if not todo:
            return
        if name != self._scene:
            self.wait(self._group)  # the writes of the scenes before the last one
            self._scene, self._group = name, self._n
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="spatialevo-images")
        entry = self.round.cache.require(name)
        for fid in todo:
            rel = image_relpath(name, fid)
            self._jobs.append((self._n, rel, self._pool.submit(write_frame, entry, fid, self.out, self.round.config)))
            self._queued.add(rel)
            self._n += 1

    def mark(self) -> int:
        """A mark for :meth:`wait`: the writes submitted so far."""
        return self._n

    def wait(self, mark: int) -> None:
        """Block until the writes submitted before ``mark`` are done; raise the first one's error."""
        while self._jobs and self._jobs[0][0] < mark:
            _, rel, job = self._jobs[0]
            job.result()
            self._jobs.popleft()
            self._queued.discard(rel)

    def close(self) -> None:
        """Drop the queued writes and wait for the running ones (no thread outlives the run)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._jobs.clear()
        self._queued.clear()
