"""Dataset generation: scenes in → verified QA records out (``spatialevo generate``).

Work is a deterministic list of *units* ``(scene, task, k)`` for every scene, task and
``k < per_task``. For each scene and task a *pool* of distinct valid questions is drawn once with a
generator seeded by ``(seed, scene name, task)`` only, and unit ``k`` takes pool entry ``k`` (its
rendering uses a generator seeded by ``(seed, scene name, task, k)``). So a record never depends on
which other units ran, on the order, on sharding, on restarts or on the other scenes of the folder
(but for its ``index``, the unit number in the run, with which :func:`regenerate` makes it again).
Units are grouped in chunks of ``chunk`` units; a chunk is written to
``<out>/parts/part-<c>.jsonl`` atomically (temporary file in ``<out>/.tmp`` + rename) once
complete, its records followed by a trailer line with the chunk, the record count, the SHA-256 of
the records and the run's manifest id, so a truncated, altered or foreign part is detected. A
rerun skips the chunks whose part verifies (a part that does not is regenerated, with a warning),
so killing the command and running it again finishes the rest with no duplicated or missing
record. ``--shard i/n`` processes the chunks with ``c % n == i``; the union of all shards is the
unsharded run. ``--merge`` (default on for unsharded runs) verifies every part and concatenates
their records into ``<out>/data.jsonl``.

``<out>/manifest.json`` holds every argument that changes records (seed, tasks, per_task, chunk,
images, the scene names, the pool limits, a format version). It is created exclusively (hard link
of a complete temporary file) at the start of the first run; every later run, resume or shard
compares its own and refuses a mismatch (same arguments, or another ``--out``). A folder whose
parts hold no record yet may be restarted with other arguments when no other run is using it.

Concurrent runs into one folder are safe: each holds a shared ``flock`` on ``<out>/.lock`` while it
writes, and leftovers of killed runs (``<out>/.tmp``) are removed only under an exclusive,
non-blocking lock (skipped while another run holds the folder). Runs with the same arguments
split the work: a chunk whose part another run has written meanwhile is skipped.

Answers are balanced: for tasks with a fixed option list the pool holds up to
``ceil(per_task / |options|)`` questions per answer and is read round-robin over the answers, so
unit ``k`` has answer ``k mod |options|`` whenever the scene has enough questions with each answer
(answers a scene cannot produce are skipped). Pool entries are uniform draws from the task's valid
questions with that answer, each valid for the frames its record shows (the self-play round's
evidence: a scene task's clip, an image task's frames; counting only labels with at least
``counting_min`` instances). When a scene has fewer distinct valid questions than ``per_task`` (e.g.
``room_size`` has one), it gets fewer records: the pool is reused from the start only up to
``max_repeat_share`` of the scene-task's records (default 0; ``repeated`` and ``capped`` in the
returned counts, with the distinct questions per task, and a warning per task). Images (the
record's frames, at the size the policy sees) are written once per scene and frame as
``<out>/images/<scene>/<frame>.png``, by background threads while the next questions are drawn; a
chunk's part is written only once all the images its records show are on disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialevo.errors import SpatialEvoError
from spatialevo.genconfig import (
    MAX_CHUNK,
    MAX_PER_TASK,
    MAX_SEED,
    GenerateConfig,
    check_config,
    n_valid,
    parse_shard,
    run_manifest,
)
from spatialevo.genpool import pool_chunks, pool_size
from spatialevo.genunits import Units, dump_record, unit_of
from spatialevo.pools import answer_options, build_invalid_pool, build_pool, make_record, records_of
from spatialevo.runfolder import (
    FORMAT,
    PartError,
    atomic_write,
    done_records,
    ensure_manifest,
    lock,
    merge_parts,
    part_bytes,
    part_path,
    read_manifest,
    remove_leftovers,
)
from spatialevo.selfplay import Round, RoundConfig

if TYPE_CHECKING:
    from spatialevo.raygen import RayOptions

__all__ = ["MAX_CHUNK", "MAX_PER_TASK", "MAX_SEED", "GenerateConfig", "PartError", "answer_options", "build_invalid_pool", "build_pool",
           "check_config", "digest", "dump_record", "generate", "make_record", "merge", "n_valid", "parse_shard", "records_of",
           "regenerate", "run_manifest"]
log = logging.getLogger(__name__)


def _check_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise SpatialEvoError(f"--out '{out}' is a file, not a folder")
    return out


def _prepare_out(out: Path) -> Path:
    (_check_out(out) / "parts").mkdir(parents=True, exist_ok=True)
    return out


def generate(cfg: GenerateConfig, *, progress: bool = True, ray: RayOptions | None = None, workers: int = 1) -> dict[str, Any]:
    """Run (or resume) a generation; returns counts (records written now and in the shard's parts,
    units without a question, reused questions, scenes skipped, chunks, parts regenerated).

    ``workers``: processes making the shard's missing chunks (:mod:`spatialevo.genpool`; 0: one
    per CPU; 1: this process; spawned workers, where a fork is not safe, need a calling script's top
    level under ``if __name__ == "__main__":``). ``ray``: run them as Ray tasks
    (:mod:`spatialevo.raygen`) instead (``workers`` must then be 1). Either way the parts, images and
    records are the same bytes.

    Raises:
        SpatialEvoError: a bad argument, a folder holding a run with other arguments, or a shard
            with work that holds no record (every scene skipped, or no valid question).
        OSError: the output folder cannot be written (the parts written so far stay valid).
    """
    check_config(cfg)
    pool_size(workers, 1)  # checks the value
    if ray is not None:
        if workers != 1:
            raise SpatialEvoError("workers is for the local backend; the Ray backend's are RayOptions.workers (--ray-workers)")
        ray.check()
    rnd = Round(cfg.scenes, dataclasses.replace(cfg.round, cache=min(cfg.round.cache, 2)))  # one scene at a time
    source = rnd.source
    out = _prepare_out(Path(cfg.out))
    units = Units(cfg, rnd, out)
    meta = run_manifest(cfg, source.names, source.fingerprint(), units.n_chunks, units.n_units)
    alone = remove_leftovers(out, meta)
    with lock(out, shared=True):
        run = ensure_manifest(out, meta)
        try:
            if ray is None:
                res = _run_chunks(units, run, progress, rotate=not alone, produce=_local_or_pool(workers))
            else:
                from spatialevo.raygen import ray_chunks

                res = _run_chunks(units, run, progress, rotate=not alone,
                                  produce=lambda u, todo, out_, run_: ray_chunks(u, todo, out_, run_, ray))
        finally:
            if units.writer is not None:
                units.writer.close()  # after an error or Ctrl-C: the queued images dropped, those being written finished
    remove_leftovers(out)
    if res["chunks"] and not res["records"]:
        raise SpatialEvoError(f"wrote 0 records: {units.why_empty()}")
    return res


#: ``produce(units, chunks, out, run)`` yields ``(chunk, record lines)`` for each chunk it made, or
#: ``(chunk, None)`` for one another run has finished meanwhile; it writes the chunk's images
#: before yielding it (so a part never exists without its images)
Producer = Callable[["Units", list[int], Path, str], Iterator[tuple[int, "list[str] | None"]]]


def _local_or_pool(workers: int) -> Producer:
    """The producer of ``workers`` processes: this one for a single chunk or ``workers`` 1."""
    def produce(units: Units, todo: list[int], out: Path, run: str) -> Iterator[tuple[int, list[str] | None]]:
        if pool_size(workers, len(todo)) == 1:
            return _local_chunks(units, todo, out, run)
        return pool_chunks(units, todo, out, run, workers)
    return produce


def _local_chunks(units: Units, todo: list[int], out: Path, run: str) -> Iterator[tuple[int, list[str] | None]]:
    """The chunks made one after another in this process. Each is yielded once its images are on
    disk, after the next chunk is made: :attr:`Units.writer` writes a chunk's images in the
    background while this thread draws the next chunk's questions."""
    made: tuple[int, list[str], int] | None = None  # the last chunk made, and the writer's mark after its images
    for c in todo:
        if done_records(out, c, run, warn=False) is not None:  # another run may have written it meanwhile
            yield c, None
            continue
        lines = units.chunk_lines(c)
        if made is not None:
            units.images_done(made[2])
            yield made[0], made[1]
        made = (c, lines, units.writer.mark() if units.writer is not None else 0)
    if made is not None:
        units.images_done(made[2])
        yield made[0], made[1]


def _run_chunks(units: Units, run: str, progress: bool, *, rotate: bool, produce: Producer) -> dict[str, Any]:
    """Write the shard's missing or damaged parts (``rotate``: start at a pid-chosen chunk, so that
    runs sharing the folder work on different chunks until they meet)."""
    cfg, out = units.cfg, units.out
    i, n = cfg.shard
    mine = range(i, units.n_chunks, n)
    records, todo, damaged = 0, [], []
    for c in mine:
        done = done_records(out, c, run, warn=True)
        if done is None:
            todo.append(c)
            damaged += [part_path(out, c).name] if part_path(out, c).exists() else []
        else:
            records += done
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(mine) * cfg.chunk, initial=(len(mine) - len(todo)) * cfg.chunk, unit="QA", desc=f"shard {i}/{n}")
    written = by_others = 0
    start = os.getpid() % len(todo) if rotate and todo else 0
    for c, lines in produce(units, todo[start:] + todo[:start], out, run):
        if lines is None:
            records, by_others = records + (done_records(out, c, run, warn=False) or 0), by_others + 1
        else:
            atomic_write(part_path(out, c), part_bytes(lines, c, run), out)
            written += len(lines)
            records += len(lines)
        if bar is not None:
            bar.update(cfg.chunk)
    if bar is not None:
        bar.close()
    _warn_short(units)
    c = units.counts
    return {"written": written, "records": records, "no_question": c["no_question"], "repeated": c["repeated"], "invalid": c["invalid"],
            "capped": c["capped"], "distinct": units.distinct(), "short_scenes": units.short(),
            "scenes_skipped": units.scenes_skipped(), "chunks": len(mine), "chunks_skipped_as_done": len(mine) - len(todo),
            "chunks_by_other_runs": by_others, "parts_regenerated": damaged}


def _warn_short(units: Units) -> None:
    """Warn, per task, when scenes supplied fewer distinct questions than ``--per-task`` asks for."""
    cfg, distinct = units.cfg, units.distinct()
    for task, n in units.short().items():
        if n:
            what = ("repeating questions up to a share of " + f"{cfg.max_repeat_share:.0%}") if cfg.max_repeat_share else "no repeats written"
            log.warning("%s: %d scene(s) have fewer than --per-task %d distinct valid questions (%d distinct in all; %s; "
                        "--max-repeat-share allows repeats)", task, n, cfg.per_task, distinct[task], what)


def merge(out: Path) -> Path:
    """Verify every part and concatenate their records into ``<out>/data.jsonl`` (atomic).

    Raises:
        SpatialEvoError: no run in ``out``, a chunk not generated yet, or a part that fails
            verification (named; rerunning the same generate command regenerates it).
    """
    out = _check_out(Path(out))
    meta = read_manifest(out)
    if meta.get("format", 1) != FORMAT:
        raise SpatialEvoError(f"'{out}' was written by another spatialevo version (format {meta.get('format', 1)}, "
                              f"this one reads {FORMAT}): generate it again into another --out")
    with lock(out, shared=True):
        merge_parts(out, meta)
    remove_leftovers(out)
    return out / "data.jsonl"


def regenerate(out: Path, index: int, *, scenes: Any) -> dict[str, Any] | None:
    """Record ``index`` (its ``index`` field) of the run in ``out``, made again from the run's
    manifest and ``scenes`` (the run's scenes: checked by name and content); ``None`` for a unit
    that has no record. Writes nothing.

    Raises:
        SpatialEvoError: no run in ``out``, other scenes than the run's, or an index out of range.
    """
    meta = read_manifest(Path(out))
    if meta.get("format") != FORMAT:
        raise SpatialEvoError(f"'{out}' was written by another spatialevo version (format {meta.get('format')}, this one reads {FORMAT})")
    cfg = GenerateConfig(out=Path(out), scenes=scenes, tasks=tuple(meta["tasks"]), per_task=meta["per_task"], seed=meta["seed"],
                         chunk=meta["chunk"], images=meta["images"], draws_per_record=meta["draws_per_record"], patience=meta["patience"],
                         max_repeat_share=meta["max_repeat_share"], invalid_share=meta["invalid_share"],
                         round=RoundConfig(**meta["round"], cache=2))
    rnd = Round(scenes, cfg.round)
    if list(rnd.source.names) != meta["scenes"] or list(rnd.source.fingerprint()) != meta["scene_content"]:
        raise SpatialEvoError(f"the scenes given are not the ones the run in '{out}' was made from")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < meta["units"]:
        raise SpatialEvoError(f"index must be a whole number between 0 and {meta['units'] - 1}, got {index!r}")
    s, task, k = unit_of(index, cfg)
    name = rnd.source.names[s]
    if rnd.cache.entry(name) is None:
        return None
    invalid = build_invalid_pool(rnd, name, task, cfg) if k >= n_valid(cfg) else ()
    return make_record(rnd, name, task, k, build_pool(rnd, name, task, cfg), cfg, index=index, invalid=invalid)


def digest(path: Path) -> str:
    """SHA-256 of a file (to compare runs)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
