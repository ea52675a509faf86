"""Dataset generation: scenes in → verified QA records out (``spatialevo generate``).

Work is a deterministic list of *units* ``(scene, task, k)`` for every scene, task and
``k < per_task``. For each scene and task a *pool* of distinct valid questions is drawn once with a
generator seeded by ``(seed, scene name, task)`` only, and unit ``k`` takes pool entry ``k`` (its
rendering uses a generator seeded by ``(seed, scene name, task, k)``). So a record never depends on
which other units ran, on the order, on sharding, on restarts or on the other scenes of the folder.
Units are grouped in chunks of ``chunk`` units; a chunk is written to
``<out>/parts/part-<c>.jsonl`` atomically (temporary file + rename) once complete. A rerun skips
the chunks already written, so killing the command and running it again finishes the rest with no
duplicated or missing record. ``--shard i/n`` processes the chunks with ``c % n == i``; the union of
all shards is the unsharded run. ``--merge`` (default on for unsharded runs) concatenates the parts
into ``<out>/data.jsonl``.

Answers are balanced: for tasks with a fixed option list the pool holds up to
``ceil(per_task / |options|)`` questions per answer and is read round-robin over the answers, so
unit ``k`` has answer ``k mod |options|`` whenever the scene has enough questions with each answer
(answers a scene cannot produce are skipped). Pool entries are uniform draws from the task's valid
questions with that answer. When a scene has fewer distinct valid questions than ``per_task`` (e.g.
``room_size`` has one), the pool is reused from the start (``repeated`` in the returned counts).
Images (the question's frames, or context frames for scene tasks) are written once per scene and
frame as ``<out>/images/<scene>/<frame>.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.dge import DGE, TASK_NAMES, TASKS, Question, TemplateError, Verdict, render
from spatialevo.errors import SpatialEvoError
from spatialevo.sources import SceneSource, make_source

log = logging.getLogger(__name__)
FIXED_OPTIONS = {
    "elevation_cam_cam": ("higher", "lower"),
    "visibility_compare": ("image1", "image2", "same", "neither"),
}


@dataclass(frozen=True)
class GenerateConfig:
    """Arguments of :func:`generate` (see ``spatialevo generate --help``)."""

    out: Path
    scenes: str = "bundled"
    tasks: tuple[str, ...] = TASK_NAMES
    per_task: int = 50
    seed: int = 0
    shard: tuple[int, int] = (0, 1)
    chunk: int = 64
    images: bool = True
    #: candidate draws per record allowed when building a pool (rare answers stop being sought after that)
    draws_per_record: int = 60
    #: stop building a pool after this many draws in a row that brought no new question
    patience: int = 300


def _tmp_path(path: Path, out: Path) -> Path:
    """A unique temporary file in ``<out>/.tmp`` (same file system as ``path``, removed by :func:`merge`)."""
    folder = out / ".tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = _tmp_path(path, _out_of(path))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _out_of(path: Path) -> Path:
    """The output folder a written file belongs to (``parts/x`` → its parent's parent)."""
    return path.parent.parent if path.parent.name in ("parts", "images") else path.parent


def answer_options(task: str) -> tuple[str, ...] | None:
    """The fixed answer options a task is balanced over (``None``: open answers)."""
    from spatialevo.dge.geometry import DIRECTIONS_8

    return FIXED_OPTIONS.get(task) or (DIRECTIONS_8 if task.startswith("position_cam") else None)


def _name_key(*parts: str) -> list[int]:
    """Stable 32-bit words from names (seed material independent of scene order and of Python's hash)."""
    h = hashlib.sha256("/".join(parts).encode()).digest()
    return [int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4)]


def build_pool(dge: DGE, scene_name: str, task: str, cfg: GenerateConfig) -> list[tuple[Question, Verdict]]:
    """Distinct valid questions of ``task`` in a scene with their verdicts, in record order.

    Candidates are drawn from the task's question space with a generator seeded by ``(cfg.seed,
    scene_name, task)``; each distinct candidate is evaluated once. Drawing stops when every answer
    bucket holds ``ceil(per_task / |buckets|)`` questions, after ``draws_per_record * per_task``
    draws, or after ``patience`` draws in a row without a new question. The result interleaves the
    buckets round-robin (empty buckets are skipped).
    """
    t = dge.task(task)
    if t.n_frames and not dge.index.frames:
        return []
    rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, *_name_key(scene_name, task)])
    opts = answer_options(task)
    buckets: dict[str | None, list[tuple[Question, Verdict]]] = {o: [] for o in opts} if opts else {None: []}
    want = ceil(cfg.per_task / len(buckets))
    open_buckets = len(buckets)
    seen: set[tuple] = set()
    stale = 0
    for _ in range(cfg.draws_per_record * cfg.per_task):
        q = t.draw(dge.index, rng)
        key = None if q is None else q.key()
        if key is None or key in seen:
            stale += 1
            if stale >= cfg.patience:
                break
            continue
        stale = 0
        seen.add(key)
        v = t.evaluate(dge.index, q)
        if not v.valid:
            continue
        bucket = buckets.get(v.answer_text if opts else None)
        if bucket is None or len(bucket) >= want:
            continue
        bucket.append((q, v))
        if len(bucket) == want:
            open_buckets -= 1
            if open_buckets == 0:
                break
    lists = [b for b in buckets.values() if b]
    return [b[j] for j in range(want) for b in lists if j < len(b)]


def make_record(dge: DGE, scene_name: str, task: str, k: int, pool: list[tuple[Question, Verdict]], cfg: GenerateConfig) -> dict[str, Any] | None:
    """The record of unit ``k`` of a scene and task (``None`` when the pool is empty)."""
    if not pool:
        return None
    q, v = pool[k % len(pool)]
    rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, *_name_key(scene_name, task), k, 1])
    try:
        text = render(q, rng=rng)
    except TemplateError:
        text = q.to_json()
    frames = list(q.frames)
    if not frames and dge.scene.frames:
        ids = [f.id for f in dge.scene.frames]
        frames = [ids[int(rng.integers(len(ids)))]]
    return {
        "id": f"{scene_name}-{task}-{k:06d}",
        "scene_id": dge.scene.scene_id,
        "task": task,
        "frames": frames,
        "images": [f"images/{scene_name}/{fid}.png" for fid in frames] if cfg.images else [],
        "question": q.to_dict(),
        "question_text": text,
        "answer": v.answer,
        "answer_text": v.answer_text,
        "answer_kind": v.answer_kind,
        "unit": v.unit,
        "options": list(v.options) if v.options else None,
        "evidence": v.to_dict()["evidence"],
    }


def _write_images(source: SceneSource, idx: int, name: str, frames: Sequence[str], out: Path) -> None:
    from PIL import Image

    scene = source.get(idx)
    folder = out / "images" / name
    folder.mkdir(parents=True, exist_ok=True)
    for fid in frames:
        path = folder / f"{fid}.png"
        if path.exists():
            continue
        rgb = scene.frame_images(fid, ("rgb",))["rgb"]
        tmp = _tmp_path(path, out)
        Image.fromarray(rgb).save(tmp, format="PNG")
        os.replace(tmp, path)


def generate(cfg: GenerateConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a generation; returns counts (records written, skipped units, scenes skipped)."""
    unknown = [t for t in cfg.tasks if t not in TASKS]
    if unknown:
        raise SpatialEvoError(f"unknown task(s) {unknown}; tasks: {list(TASK_NAMES)}")
    i, n = cfg.shard
    if not (n >= 1 and 0 <= i < n):
        raise SpatialEvoError(f"--shard must be i/n with 0 <= i < n, got {i}/{n}")
    if cfg.per_task < 1 or cfg.chunk < 1:
        raise SpatialEvoError("per_task and chunk must be at least 1")
    source = make_source(cfg.scenes)
    out = Path(cfg.out)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    units = [(s, t, k) for s in range(len(source)) for t in cfg.tasks for k in range(cfg.per_task)]
    n_chunks = (len(units) + cfg.chunk - 1) // cfg.chunk
    mine = [c for c in range(n_chunks) if c % n == i]
    todo = [c for c in mine if not (out / "parts" / f"part-{c:06d}.jsonl").exists()]
    dges: dict[int, DGE] = {}
    pools: dict[tuple[int, str], list[tuple[Question, Verdict]]] = {}
    written = empty = repeated = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(mine) * cfg.chunk, initial=(len(mine) - len(todo)) * cfg.chunk, unit="QA", desc=f"shard {i}/{n}")
    for c in todo:
        lines = []
        for u in range(c * cfg.chunk, min((c + 1) * cfg.chunk, len(units))):
            s, task, k = units[u]
            scene = source.get(s)
            if scene is None:
                empty += 1
                continue
            dge = dges.get(s)
            if dge is None:
                dges.clear()  # one scene's caches at a time
                pools.clear()
                dge = dges[s] = DGE(scene)
            pool = pools.get((s, task))
            if pool is None:
                pool = pools[(s, task)] = build_pool(dge, source.names[s], task, cfg)
            rec = make_record(dge, source.names[s], task, k, pool, cfg)
            if rec is None:
                empty += 1
                continue
            repeated += k >= len(pool)
            if cfg.images and rec["frames"]:
                _write_images(source, s, source.names[s], rec["frames"], out)
            lines.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
        _atomic_write(out / "parts" / f"part-{c:06d}.jsonl", ("\n".join(lines) + "\n" if lines else "").encode())
        written += len(lines)
        if bar is not None:
            bar.update(cfg.chunk)
    if bar is not None:
        bar.close()
    meta = {"chunks": n_chunks, "units": len(units), "seed": cfg.seed, "tasks": list(cfg.tasks), "per_task": cfg.per_task, "scenes": source.names}
    _atomic_write(out / "manifest.json", json.dumps(meta, indent=1, sort_keys=True).encode())
    return {"written": written, "no_question": empty, "repeated": repeated, "scenes_skipped": source.skipped, "chunks": len(mine), "chunks_skipped_as_done": len(mine) - len(todo)}


def merge(out: Path) -> Path:
    """Concatenate all parts into ``<out>/data.jsonl`` (atomic); raises if a chunk is missing."""
    out = Path(out)
    meta = json.loads((out / "manifest.json").read_text())
    parts = [out / "parts" / f"part-{c:06d}.jsonl" for c in range(meta["chunks"])]
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise SpatialEvoError(f"{len(missing)} chunk(s) not generated yet (e.g. {missing[0]}); run the remaining shards first")
    data = b"".join(p.read_bytes() for p in parts)
    _atomic_write(out / "data.jsonl", data)
    shutil.rmtree(out / ".tmp", ignore_errors=True)  # leftovers of killed runs
    return out / "data.jsonl"


def to_hf(out: Path) -> Path:
    """Write ``<out>/hf`` with Hugging Face ``datasets`` (needs the ``train`` extra)."""
    try:
        import datasets
    except ImportError:
        raise SpatialEvoError("the Hugging Face format needs the 'datasets' package: pip install 'spatialevo[train]'") from None
    rows = [json.loads(line) for line in (Path(out) / "data.jsonl").read_text().splitlines() if line]
    for r in rows:
        for key in ("question", "evidence", "answer"):
            r[key] = json.dumps(r[key], sort_keys=True)
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(Path(out) / "hf"))
    return Path(out) / "hf"


def digest(path: Path) -> str:
    """SHA-256 of a file (to compare runs)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    try:
        a, b = text.split("/")
        return int(a), int(b)
    except ValueError:
        raise SpatialEvoError(f"--shard must look like 0/4, got {text!r}") from None



def add_parser(sub: Any) -> None:
    """The ``spatialevo generate`` subcommand."""
    import argparse

    g = sub.add_parser(
        "generate",
        help="turn scenes into a verified QA dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\nDeterministic per seed, sharded, resumable (rerun after a kill to finish).",
        epilog=(
            "examples:\n"
            "  spatialevo generate --out out/qa --per-task 100\n"
            "  spatialevo generate --scenes path/to/scans --out out/qa --tasks object_size,room_size\n"
            "  spatialevo generate --out out/qa --shard 0/4   # on machine 0 of 4; then: --merge-only\n"
            "  spatialevo generate --out out/qa --merge-only --hf"
        ),
    )
    g.add_argument("--out", required=True, help="output folder (records in data.jsonl, images/ beside)")
    g.add_argument("--scenes", default="bundled", help="'bundled', 'synthetic', or a folder of scenes in any layout")
    g.add_argument("--tasks", default=",".join(TASK_NAMES), help="comma-separated task names (default: all sixteen)")
    g.add_argument("--per-task", type=int, default=50, help="questions per task and scene")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--shard", default="0/1", help="i/n: run chunk c when c %% n == i")
    g.add_argument("--chunk", type=int, default=64, help="records per atomically written part file")
    g.add_argument("--no-images", action="store_true", help="do not write frame images")
    g.add_argument("--merge-only", action="store_true", help="only merge finished parts into data.jsonl")
    g.add_argument("--hf", action="store_true", help="also save a Hugging Face dataset to <out>/hf")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_run)


def _run(args: Any) -> int:
    out = Path(args.out)
    shard = parse_shard(args.shard)
    if not args.merge_only:
        cfg = GenerateConfig(
            out=out, scenes=args.scenes, tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
            per_task=args.per_task, seed=args.seed, shard=shard, chunk=args.chunk, images=not args.no_images,
        )
        res = generate(cfg, progress=not args.quiet)
        print(f"wrote {res['written']} records ({res['repeated']} reuse a question: the scene had fewer distinct ones); "
              f"{res['no_question']} units without a valid question; {len(res['scenes_skipped'])} scene(s) skipped")
        for path, reason in res["scenes_skipped"]:
            print(f"  skipped {path}: {reason}")
        if shard[1] > 1:
            return 0
    path = merge(out)
    print(f"merged {path}")
    if args.hf:
        print(f"saved {to_hf(out)}")
    return 0


if __name__ == "__main__":
    import sys

    from spatialevo.cli.main import main

    sys.exit(main(["generate", *sys.argv[1:]]))
