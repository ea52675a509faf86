"""A process that makes chunks of a ``spatialevo generate`` run for a driver that writes them:
used by the local process pool (:mod:`spatialevo.genpool`, ``--workers N``) and by the Ray actors
(:mod:`spatialevo.raygen`, ``--backend ray``).

A :class:`Worker` owns a :class:`~spatialevo.genunits.Units` of its own over the run's scenes and
returns, per chunk, the record lines, the PNG bytes of the images they show that it has not sent
before, and its counts; the driver writes the images, then the part. Records depend only on their
unit (see :mod:`spatialevo.generate`), so the bytes are those of a run in one process.

Chunks are handed out in contiguous runs, one per worker (:func:`lanes`: a worker builds each of
its scenes' question pools once); a worker that is done takes over the tail of the longest run
left (:func:`next_chunk`).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialevo.errors import SpatialEvoError

if TYPE_CHECKING:
    from spatialevo.genunits import Units
    from spatialevo.selfplay.sources import SceneSource

#: what :meth:`Worker.chunk` returns: chunk, record lines, (relative path, PNG bytes) of new images, counts
ChunkResult = tuple[int, list[str], list[tuple[str, bytes]], dict[str, Any]]


class Worker:
    """Makes chunks of the run ``cfg`` (its ``out`` unused): scenes from ``cfg.scenes``, checked
    against the driver's ``names`` and ``content`` (:meth:`SceneSource.fingerprint`), or from
    ``source`` when given (the Ray object-store mode)."""

    def __init__(self, cfg: Any, names: Sequence[str], content: Sequence[str], source: SceneSource | None = None):
        from spatialevo.genimages import image_relpath, png_bytes
        from spatialevo.genunits import Units
        from spatialevo.selfplay import Round

        self._relpath, self._png = image_relpath, png_bytes
        round_cfg = dataclasses.replace(cfg.round, cache=min(cfg.round.cache, 2))
        rnd = Round(source if source is not None else cfg.scenes, round_cfg)
        if source is None and (list(rnd.source.names) != list(names) or list(rnd.source.fingerprint()) != list(content)):
            import socket

            raise SpatialEvoError(f"the worker on {socket.gethostname()} sees other scenes at {cfg.scenes!r} than the driver "
                                  "(names or file sizes differ): put them on a path every node reads, or use --ray-scenes object-store")
        self.units = Units(cfg, rnd, None, images=self._collect)
        self._sent: set[tuple[str, str]] = set()
        self._images: list[tuple[str, bytes]] = []

    def _collect(self, name: str, frames: Sequence[str]) -> None:
        todo = [fid for fid in frames if (name, fid) not in self._sent]
        for fid, img in zip(todo, self.units.round.images(name, todo)):
            self._images.append((self._relpath(name, fid), self._png(img)))
            self._sent.add((name, fid))

    def chunk(self, c: int) -> ChunkResult:
        """Chunk ``c``: its record lines, the images they show (not sent before), the counts."""
        lines = self.units.chunk_lines(c)
        images, self._images = self._images, []
        return c, lines, images, self.units.take_stats()

def lanes(todo: Sequence[int], n: int) -> list[deque[int]]:
    """``todo`` cut into ``n`` contiguous runs of near-equal length (in order)."""
    size, extra = divmod(len(todo), n)
    out, at = [], 0
    for k in range(n):
        step = size + (k < extra)
        out.append(deque(todo[at:at + step]))
        at += step
    return out


def next_chunk(mine: deque[int], all_lanes: list[deque[int]]) -> int | None:
    """The next chunk of a worker: the head of its own run, else the tail of the longest run."""
    if mine:
        return mine.popleft()
    longest = max(all_lanes, key=len)
    return longest.pop() if longest else None


def claim(w: int, all_lanes: list[deque[int]], out: Path, run: str) -> tuple[int | None, list[int]]:
    """The next chunk worker ``w`` should make (:func:`next_chunk`), skipping those whose part
    another run sharing the folder has written meanwhile: ``(chunk or None when no work is left,
    the chunks skipped)``."""
    from spatialevo.runfolder import done_records

    skipped = []
    while (c := next_chunk(all_lanes[w], all_lanes)) is not None:
        if done_records(out, c, run, warn=False) is None:
            return c, skipped
        skipped.append(c)
    return None, skipped


def scenes_of(units: Units, c: int) -> list[int]:
    """The scene numbers chunk ``c``'s units belong to."""
    first, last = c * units.cfg.chunk, min((c + 1) * units.cfg.chunk, units.n_units) - 1
    return list(range(first // units.per_scene, last // units.per_scene + 1))
