"""The units of a ``spatialevo generate`` run and the records they make (see
:mod:`spatialevo.generate` for the run: chunks, parts, resume). Unit ``u`` is scene
``u // (T·P)``, task ``(u // P) % T``, ``k = u % P`` for ``T`` tasks and ``P = per_task``;
:class:`Units` makes the records of chunks of units, in this process (``--backend local``) or in a
Ray worker (:mod:`spatialevo.raygen`), the same bytes either way."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spatialevo.dge import Question, Verdict
from spatialevo.errors import SpatialEvoError
from spatialevo.genconfig import GenerateConfig, n_valid
from spatialevo.genimages import ImageWriter
from spatialevo.pools import build_invalid_pool, build_pool, make_record
from spatialevo.selfplay import Round


def dump_record(rec: dict[str, Any]) -> str:
    """One JSON line; a value JSON cannot hold (``inf``, ``nan``, an object) is a bug, raised clearly."""
    try:
        return json.dumps(rec, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise SpatialEvoError(f"internal error: record {rec.get('id')!r} holds a value JSON cannot store ({exc}); "
                              "nothing of its part was written; please report this bug") from None


def unit_of(u: int, cfg: GenerateConfig) -> tuple[int, str, int]:
    """Unit ``u`` as ``(scene number, task, k)``."""
    s, r = divmod(u, len(cfg.tasks) * cfg.per_task)
    return s, cfg.tasks[r // cfg.per_task], r % cfg.per_task


class Units:
    """The records of chunks: unit ``u`` is scene ``u // (T·P)``, task ``(u // P) % T``, ``k = u % P``.

    Keeps one scene's pools at a time (the round's cache holds its DGE and images); counts units
    without a question, reused questions and the distinct questions per task. ``images`` receives
    ``(scene name, frame ids)`` of each record with frames (default: :attr:`writer` writes them
    under ``out`` in background threads; wait for a chunk's with :meth:`images_done`).
    A Ray worker runs one of these and sends :meth:`take_stats` back with each chunk; the driver's
    :meth:`add_stats` adds them up.
    """

    def __init__(self, cfg: GenerateConfig, rnd: Round, out: Path | None,
                 images: Callable[[str, Sequence[str]], None] | None = None):
        self.cfg, self.round, self.source, self.out = cfg, rnd, rnd.source, out
        self.per_scene = len(cfg.tasks) * cfg.per_task
        self.n_units = len(self.source) * self.per_scene
        self.n_chunks = (self.n_units + cfg.chunk - 1) // cfg.chunk
        #: writes the images under ``out`` in background threads (``None`` when ``images`` is given)
        self.writer: ImageWriter | None = None
        if images is None:
            if out is None:
                raise ValueError("Units needs an output folder or an images callback")
            self.writer = ImageWriter(rnd, out)
            images = self.writer.submit
        self._images = images
        self.counts = dict.fromkeys(_COUNTS, 0)
        self.pooled: dict[tuple[int, str], int] = {}  # (scene, task) → distinct valid questions in its pool
        self.seen: set[int] = set()
        self.skipped: dict[str, str] = {}  # scenes that could not be loaded (path → reason), here or in workers
        self._scene = -1
        self._ok = False
        self._pools: dict[str, list[tuple[Question, Verdict]]] = {}
        self._invalid: dict[str, list[Question]] = {}
        self._fresh: dict[tuple[int, str], int] = {}

    def _load(self, s: int) -> bool:
        if s != self._scene:
            self.seen.add(s)
            self._scene, self._pools, self._invalid = s, {}, {}
            self._ok = self.round.cache.entry(self.source.names[s]) is not None
        return self._ok

    def _invalid_pool(self, name: str, task: str) -> list[Question]:
        pool = self._invalid.get(task)
        if pool is None:
            pool = self._invalid[task] = build_invalid_pool(self.round, name, task, self.cfg)
        return pool

    def _pool(self, name: str, task: str) -> list[tuple[Question, Verdict]]:
        pool = self._pools.get(task)
        if pool is None:
            pool = self._pools[task] = build_pool(self.round, name, task, self.cfg)
            self.pooled[(self._scene, task)] = self._fresh[(self._scene, task)] = len(pool)
        return pool

    def record(self, u: int) -> dict[str, Any] | None:
        cfg, counts = self.cfg, self.counts
        s, task, k = unit_of(u, cfg)
        name = self.source.names[s]
        if not self._load(s):
            counts["no_question"] += 1
            return None
        pool = self._pool(name, task)
        invalid = self._invalid_pool(name, task) if k >= n_valid(cfg) else ()
        rec = make_record(self.round, name, task, k, pool, cfg, index=u, invalid=invalid)
        if rec is None:
            counts["capped" if pool and k < n_valid(cfg) else "no_question"] += 1
            return None
        counts["repeated"] += len(pool) <= k < n_valid(cfg)
        counts["invalid"] += k >= n_valid(cfg)
        if cfg.images and rec["frames"]:
            self._images(name, rec["frames"])
        return rec

    def images_done(self, mark: int) -> None:
        """Block until the images of the records made before ``mark`` (:meth:`ImageWriter.mark`) are
        on disk, raising the first error writing them (nothing to wait for with an ``images``
        callback: it has written them)."""
        if self.writer is not None:
            self.writer.wait(mark)

    def chunk_lines(self, c: int) -> list[str]:
        recs = (self.record(u) for u in range(c * self.cfg.chunk, min((c + 1) * self.cfg.chunk, self.n_units)))
        return [dump_record(r) for r in recs if r is not None]

    def take_stats(self) -> dict[str, Any]:
        """What this object counted since the last call (counts, new pools, scenes seen, skipped)."""
        out = {"counts": self.counts, "pooled": self._fresh, "seen": sorted(self.seen), "skipped": list(self.source.skipped)}
        self.counts, self._fresh = dict.fromkeys(_COUNTS, 0), {}
        return out

    def add_stats(self, stats: dict[str, Any]) -> None:
        """Add a worker's :meth:`take_stats` (a pool another worker built too is counted once)."""
        for key, n in stats["counts"].items():
            self.counts[key] += n
        self.pooled.update(stats["pooled"])
        self.seen.update(stats["seen"])
        self.skipped.update(dict(stats["skipped"]))

    def scenes_skipped(self) -> list[tuple[str, str]]:
        return list({**dict(self.source.skipped), **self.skipped}.items())

    def distinct(self) -> dict[str, int]:
        """Distinct valid questions per task over the scenes pooled in this run."""
        out = dict.fromkeys(self.cfg.tasks, 0)
        for (_, task), n in self.pooled.items():
            out[task] += n
        return out

    def short(self) -> dict[str, int]:
        """Scenes per task with fewer distinct valid questions than ``per_task`` (but some)."""
        out = dict.fromkeys(self.cfg.tasks, 0)
        for (_, task), n in self.pooled.items():
            out[task] += 0 < n < n_valid(self.cfg)
        return out

    def why_empty(self) -> str:
        """Why the units of this run gave no record (scenes that failed to load, or no valid question)."""
        bad = self.scenes_skipped()
        if not self.seen:
            return "its finished parts (written by an earlier run) hold no record"
        if len(bad) >= len(self.seen):
            more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
            return f"none of its {len(self.seen)} scene(s) could be loaded: {bad[0][0]}: {bad[0][1]}{more}"
        loaded = len(self.seen) - len(bad)
        return f"no valid question of the task(s) {','.join(self.cfg.tasks)} in its {loaded} scene(s)" + (
            f" ({len(bad)} more could not be loaded, e.g. {bad[0][0]})" if bad else "")


_COUNTS = ("no_question", "repeated", "capped", "invalid")
