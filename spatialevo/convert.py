"""Convert a collection of scans into spatialevo cache files, in parallel and resumably.

``spatialevo scene convert SRC... --out DIR`` (:func:`convert`) finds every scene under the
sources (a scene folder or file of any layout :func:`~spatialevo.scene.loaders.load_scene` reads,
searched up to :data:`MAX_DEPTH` folders deep; VoteNet-style export folders give one scene per
``*_vert.npy``), loads each in the chosen label vocabulary and writes it as a cache file. Layout of
``DIR``:

- ``convert.json``: the arguments of the conversion (created at the first run; a rerun with other
  arguments into the same folder is refused, naming what differs);
- ``scenes/<name>.npz``: one cache file per scene, written atomically (a killed run never leaves a
  half-written one under its final name);
- ``frames/<name>/``: frames extracted from a ScanNet ``.sens`` (referenced by the cache with
  relative paths, so ``DIR`` can be moved);
- ``parts/<name>.json``: the scene's index entry, written after its cache file: a scene is done
  when its entry exists (a resume skips it; a scene that failed is tried again);
- ``index.json``: the index of scenes (``name``, ``scene_id``, ``file``, ``source``, ``layout``,
  ``labels``, ``objects``, ``frames``, ``floor_area_m2``), in source order, with ``pending`` and
  ``failed`` lists; rewritten at the end of every run from the entries present, so after the last
  shard finishes it lists them all. ``--scenes DIR`` (or ``DIR/index.json``) of ``generate``,
  ``evolve`` and ``eval`` reads it.

Scenes are independent: the output does not depend on ``workers`` or on how the work was split
into ``--shard i/n`` runs (scene ``k`` of the sorted list belongs to shard ``k % n``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError
from spatialevo.runfolder import atomic_write, create_exclusive, lock, unlink
from spatialevo.sceneindex import INDEX, INDEX_FORMAT, INDEX_VERSION

log = logging.getLogger(__name__)
MANIFEST = "convert.json"
#: folders below a source searched for scenes
MAX_DEPTH = 4
#: scenes a single conversion may hold
MAX_SCENES = 1_000_000


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    """Arguments of a conversion (those that change the output are kept in ``convert.json``).

    Attributes:
        sources: scan folders / files, or folders holding them.
        out: the output folder.
        labels: vocabulary (:data:`~spatialevo.scene.labels.VOCABULARIES`; ``None`` keeps the source's labels).
        label_map: ScanNet's ``scannetv2-labels.combined.tsv`` (default: found next to each scan).
        frame_step: keep every k-th frame (a ``.sens`` extracts only those).
        workers: processes converting scenes at once.
        shard: ``(i, n)``: convert scene ``k`` when ``k % n == i``.
    """

    sources: tuple[Path, ...]
    out: Path
    labels: str | None = None
    label_map: Path | None = None
    frame_step: int = 1
    workers: int = 1
    shard: tuple[int, int] = (0, 1)

    def __post_init__(self) -> None:
        from spatialevo.scene.labels import check_vocabulary

        if not self.sources:
            raise SpatialEvoError("give at least one source folder or scene")
        if self.labels is not None:
            check_vocabulary(self.labels)
        if isinstance(self.frame_step, bool) or not isinstance(self.frame_step, int) or not 1 <= self.frame_step <= 100_000:
            raise SpatialEvoError(f"--frame-step must be a whole number from 1 to 100,000, got {self.frame_step!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= 256:
            raise SpatialEvoError(f"--workers must be a whole number from 1 to 256, got {self.workers!r}")
        i, n = self.shard
        if not 0 <= i < n:
            raise SpatialEvoError(f"--shard i/n needs 0 <= i < n, got {i}/{n}")
        if self.label_map is not None and not Path(self.label_map).is_file():
            raise SpatialEvoError(f"--label-map '{self.label_map}' is not a file")


def _walk(path: Path, depth: int) -> Iterator[Path]:
    """Scenes at or under ``path``: a path that is a scene is not searched further."""
    if path.name.startswith(".") and depth > 0:
        return
    if path.is_dir() and any(path.glob("*_vert.npy")):  # a VoteNet / mmdetection3d export: one scene per file
        from spatialevo.scene.loaders.votenet import list_scenes

        yield from list_scenes(path)
        return
    from spatialevo.scene.loaders import is_scene

    if is_scene(path):
        yield path
        return
    if path.is_dir() and depth < MAX_DEPTH:
        for child in sorted(path.iterdir()):
            yield from _walk(child, depth + 1)


def find_scenes(sources: Sequence[Path], exclude: Path | None = None) -> list[Path]:
    """Every scene under ``sources``, in order (sources in the given order, each walked sorted);
    nothing under ``exclude`` (the output folder, when it lies inside a source).

    Raises:
        SpatialEvoError: a source does not exist, holds no scene, or there are more than :data:`MAX_SCENES`.
    """
    out: list[Path] = []
    for src in sources:
        src = Path(src)
        if not src.exists():
            raise SpatialEvoError(f"source '{src}' does not exist")
        found = [p for p in _walk(src, 0) if exclude is None or not p.absolute().is_relative_to(exclude.absolute())]
        if not found:
            raise SpatialEvoError(f"no scene found in '{src}' (searched {MAX_DEPTH} folders deep for ScanNet, ScanNet++, ARKitScenes, "
                                  "Pointcept or VoteNet scans, box lists and caches)")
        out += found
        if len(out) > MAX_SCENES:
            raise SpatialEvoError(f"more than {MAX_SCENES:,} scenes under the sources")
    return out


def scene_names(paths: Sequence[Path]) -> list[str]:
    """Unique output names: the folder / file stem (``_vert`` dropped), the parent folder's name
    prefixed where two collide, then ``-2``, ``-3``."""
    from spatialevo.selfplay.sources import unique_names

    stems = [p.name[: -len("_vert.npy")] if p.name.endswith("_vert.npy") else (p.stem if p.is_file() else p.name) for p in paths]
    return unique_names(stems, [f"{p.parent.name}-{s}" for p, s in zip(paths, stems)])


def _relative_frames(scene: Any, base: Path, out: Path) -> Any:
    """Frame image paths under ``out`` made relative to ``base`` (the cache's folder), so the folder can move."""
    frames = []
    for f in scene.frames:
        changes = {}
        for key in ("rgb_path", "depth_path", "instance_path"):
            p = getattr(f, key)
            if p is not None and Path(p).absolute().is_relative_to(out.absolute()):
                changes[key] = Path(os.path.relpath(Path(p).absolute(), base.absolute()))
        frames.append(dataclasses.replace(f, **changes) if changes else f)
    return dataclasses.replace(scene, frames=frames, _visibility_cache={})


def convert_one(path: Path, name: str, out: Path, labels: str | None, label_map: Path | None, frame_step: int) -> dict[str, Any]:
    """Convert one scene to ``out/scenes/<name>.npz`` and return its index entry (``error`` set
    instead when it cannot be converted: one scene never stops the others)."""
    entry: dict[str, Any] = {"name": name, "source": str(path)}
    t0 = time.perf_counter()
    try:
        entry.update(_convert(path, name, out, labels, label_map, frame_step))
    except (KeyboardInterrupt, SystemExit):
        raise
    except (SpatialEvoError, OSError, ValueError) as exc:
        return dict(entry, error=str(exc))
    except Exception as exc:  # a bug or a library error on one scene: reported with it, the run goes on
        log.exception("converting %s failed", path)
        return dict(entry, error=f"{type(exc).__name__}: {exc}")
    log.debug("converted %s in %.2f s", name, time.perf_counter() - t0)
    return entry


def _convert(path: Path, name: str, out: Path, labels: str | None, label_map: Path | None, frame_step: int) -> dict[str, Any]:
    from spatialevo.dge import DGE
    from spatialevo.dge.question import Question
    from spatialevo.scene.cache import save_cache
    from spatialevo.scene.loaders import load_scene

    scene = load_scene(path, labels=labels, label_map=label_map, frame_step=frame_step, extract_dir=out / "frames" / name)
    scene = _relative_frames(scene, out / "scenes", out)
    save_cache(scene, out / "scenes" / f"{name}.npz")
    area = DGE(scene).evaluate(Question("room_size"))
    return {"scene_id": scene.scene_id, "file": f"scenes/{name}.npz", "layout": scene.meta.get("layout"),
            "labels": scene.meta.get("labels", "raw"), "objects": len(scene.objects), "frames": len(scene.frames),
            "floor_area_m2": round(float(area.evidence["area_m2"]), 3) if area.valid else None}


def _manifest(cfg: ConvertConfig, names: list[str], paths: list[Path]) -> dict[str, Any]:
    digest = None
    if cfg.label_map is not None:
        import hashlib

        digest = hashlib.sha256(Path(cfg.label_map).read_bytes()).hexdigest()[:16]
    return {"format": 1, "labels": cfg.labels, "label_map_sha256": digest, "frame_step": cfg.frame_step,
            "scenes": [[n, str(p.absolute())] for n, p in zip(names, paths)]}


def _check_manifest(out: Path, meta: dict[str, Any]) -> None:
    path = out / MANIFEST
    if not path.exists():
        create_exclusive(path, json.dumps(meta, indent=1, sort_keys=True).encode(), out)
    try:
        old = safejson.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        old = None
    if not isinstance(old, dict):
        raise SpatialEvoError(f"'{path}' is damaged (not a convert manifest): write to another --out")
    diff = [k for k in ("format", "labels", "label_map_sha256", "frame_step") if old.get(k) != meta[k]]
    words = [f"--{k.replace('_sha256', '').replace('_', '-')}: {old.get(k)} there, {meta[k]} here" for k in diff]
    if old.get("scenes") != meta["scenes"]:
        words.append(f"the sources: {len(old.get('scenes') or [])} scene(s) there, {len(meta['scenes'])} here")
    if words:
        raise SpatialEvoError(f"'{out}' holds a conversion with other arguments ({'; '.join(words)}): "
                              "rerun with the same arguments to resume it, or write to another --out")


def _read_entry(path: Path) -> dict[str, Any] | None:
    try:
        entry = safejson.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None


def write_index(out: Path, names: list[str]) -> dict[str, Any]:
    """Rewrite ``out/index.json`` from the entries in ``out/parts`` (in ``names`` order) and return
    it; shards finishing at once take turns (a blocking ``flock`` of ``out/.index.lock``), so the
    last one writes what every shard wrote."""
    from spatialevo.runfolder import fcntl

    fd = os.open(out / ".index.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # a file system without locks: write anyway (the entries are on disk)
                pass
        return _write_index(out, names)
    finally:
        os.close(fd)


def _write_index(out: Path, names: list[str]) -> dict[str, Any]:
    scenes, failed, pending = [], [], []
    for name in names:
        entry = _read_entry(out / "parts" / f"{name}.json")
        if entry is None or entry.get("error") is None and not (out / entry.get("file", "")).is_file():
            pending.append(name)
        elif entry.get("error") is not None:
            failed.append({"name": name, "source": entry.get("source"), "error": entry["error"]})
        else:
            scenes.append({k: entry.get(k) for k in ("name", "scene_id", "file", "source", "layout", "labels", "objects", "frames",
                                                     "floor_area_m2")})
    index = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "scenes": scenes, "failed": failed, "pending": pending}
    atomic_write(out / INDEX, json.dumps(index, indent=1).encode(), out)
    return index


def _run_units(cfg: ConvertConfig, todo: list[tuple[Path, str]], progress: Callable[[dict[str, Any]], None]) -> None:
    out = cfg.out
    args = (cfg.labels, None if cfg.label_map is None else Path(cfg.label_map).absolute(), cfg.frame_step)

    def done(entry: dict[str, Any]) -> None:
        atomic_write(out / "parts" / f"{entry['name']}.json", json.dumps(entry, indent=1, sort_keys=True).encode(), out)
        progress(entry)

    if cfg.workers == 1 or len(todo) < 2:
        for path, name in todo:
            done(convert_one(path, name, out, *args))
        return
    # spawn: workers start clean (no forked threads or open3d state); each converts whole scenes
    pool = ProcessPoolExecutor(max_workers=min(cfg.workers, len(todo)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [(name, str(path), pool.submit(convert_one, path, name, out, *args)) for path, name in todo]
        for name, source, fut in futures:
            try:
                entry = fut.result()
            except BrokenProcessPool as exc:  # a worker died (killed for memory?): that scene failed, the rest stay pending
                entry = {"name": name, "source": source, "error": f"the worker converting it died ({exc})"}
            done(entry)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def convert(cfg: ConvertConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) a conversion; returns the index written at the end (module docstring)."""
    from tqdm import tqdm

    out = cfg.out
    paths = find_scenes(cfg.sources, exclude=out)
    names = scene_names(paths)
    for sub in ("scenes", "parts", "frames"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    i, n = cfg.shard
    mine = [(p, nm) for k, (p, nm) in enumerate(zip(paths, names)) if k % n == i]
    todo = []
    for p, nm in mine:
        entry = _read_entry(out / "parts" / f"{nm}.json")
        if entry is None or entry.get("error") is not None or not (out / str(entry.get("file"))).is_file():
            todo.append((p, nm))
    with lock(out, shared=True):  # held while writing: a cleanup of leftovers waits for every run to end
        _check_manifest(out, _manifest(cfg, names, paths))
        bar = tqdm(total=len(mine), initial=len(mine) - len(todo), desc="convert", unit="scene", disable=not progress)
        failed = 0

        def step(entry: dict[str, Any]) -> None:
            nonlocal failed
            failed += entry.get("error") is not None
            bar.update(1)
            bar.set_postfix(failed=failed, refresh=False)

        try:
            _run_units(cfg, todo, step)
        finally:
            bar.close()
    with lock(out, shared=False) as alone:  # leftovers of killed runs, when no other run is writing
        if alone:
            _remove_leftovers(out)
    return write_index(out, names)


def _remove_leftovers(out: Path) -> None:
    """Temporary files and folders a killed run left: ``.tmp/*``, ``scenes/*.npz.tmp*`` (a cache being
    written) and ``frames/*/.step*.partial-*`` (a ``.sens`` being extracted)."""
    import shutil

    for leftover in [*(out / ".tmp").glob("*"), *(out / "scenes").glob("*.npz.tmp*")]:
        unlink(leftover)
    for partial in (out / "frames").glob("*/.*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
