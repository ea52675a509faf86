"""Scene sources of the self-play round: bundled, a folder, a list, synthetic.

A source is a fixed, ordered list of scenes with **unique names** (the key of every per-scene
cache, record id and image folder: two scans that share a ``scene_id`` or a file stem never mix).
Scenes load lazily; at most ``cache`` loaded scenes are kept (least recently used first out), so a
run that cycles through thousands of scenes keeps its memory flat.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SpatialEvoError
from spatialevo.scene.model import Scene

log = logging.getLogger(__name__)
#: loaded scenes a path-based source keeps (least recently used dropped first)
DEFAULT_CACHE = 32
#: rooms of ``"synthetic"`` (seeds 0 … N-1); ``"synthetic:N"`` chooses N (at most MAX_SYNTHETIC_COUNT)
DEFAULT_SYNTHETIC_COUNT = 100
MAX_SYNTHETIC_COUNT = 1_000_000
#: suffixes of files that are scenes (or meant to be: a corrupt one is reported as skipped)
SCENE_SUFFIXES = frozenset({".npz", ".json"})
_SYNTHETIC_RE = re.compile(r"synthetic(?::(\d+))?")


def unique_names(raw: Sequence[str], alternatives: Sequence[str] | None = None) -> list[str]:
    """``raw`` made unique: a name used more than once takes its alternative (e.g. the file name
    with its suffix instead of the stem), then a ``-2``, ``-3``, … suffix, in list order."""
    counts: dict[str, int] = {}
    for name in raw:
        counts[name] = counts.get(name, 0) + 1
    out: list[str] = []
    used: set[str] = set()
    for i, name in enumerate(raw):
        cand = alternatives[i] if alternatives is not None and counts[name] > 1 else name
        base, k = cand, 1
        while cand in used:
            k += 1
            cand = f"{base}-{k}"
        used.add(cand)
        out.append(cand)
    return out


class SceneSource:
    """A fixed list of scenes, loaded lazily; ``draw(rng)`` picks one uniformly.

    Args:
        paths: scene files or folders (any loader layout).
        scenes: scenes already in memory (kept for the source's lifetime).
        cache: loaded scenes kept from ``paths`` (least recently used dropped first).
        names: names of the scenes a subclass loads itself (:meth:`_load`), instead of paths/scenes
            (or of ``paths``, instead of their stems).
        labels, label_map: the vocabulary scenes from ``paths`` are loaded in, and ScanNet's label
            table (:func:`~spatialevo.scene.loaders.load_scene`).

    Attributes:
        names: unique scene names (file stems, the file name where two stems collide; scene ids
            for in-memory scenes, ``-2``… where two collide).
        skipped: ``(path, reason)`` of scenes that could not be loaded (logged, never raised).
    """

    def __init__(self, paths: Sequence[Path] = (), scenes: Sequence[Scene] = (), *, cache: int = DEFAULT_CACHE,
                 names: Sequence[str] | None = None, labels: str | None = None, label_map: str | Path | None = None):
        self._paths = [Path(p) for p in paths]
        self.labels, self.label_map = labels, label_map
        self._fixed: dict[int, Scene] = dict(enumerate(scenes)) if scenes else {}
        if names is not None:  # a subclass that loads scenes its own way names them
            self.names = unique_names(list(names))
        elif self._paths:
            self.names = unique_names([p.stem for p in self._paths], [p.name for p in self._paths])
        else:
            self.names = unique_names([s.scene_id for s in scenes])
        self.skipped: list[tuple[str, str]] = []
        self._bad: set[int] = set()
        self._loaded: OrderedDict[int, Scene] = OrderedDict()
        self._cache = max(1, int(cache))
        if not self.names:
            raise SpatialEvoError("the scene source is empty")

    def __len__(self) -> int:
        return len(self.names)

    def set_cache_size(self, size: int) -> None:
        """Keep at most ``size`` loaded scenes from now on (least recently used dropped first)."""
        self._cache = max(1, int(size))
        while len(self._loaded) > self._cache:
            self._loaded.popitem(last=False)

    def index_by_id(self) -> dict[str, int]:
        """Scene name and scene id → index, for the scenes that load (a name wins over an id)."""
        out: dict[str, int] = {}
        for i in range(len(self.names)):
            scene = self.get(i)
            if scene is not None:
                out.setdefault(scene.scene_id, i)
        out.update({name: i for i, name in enumerate(self.names) if i not in self._bad})
        return out

    def fingerprint(self) -> list[str]:
        """A cheap content identity per scene, in order: the byte size of a scene file, or of the
        files directly in a scene folder and its number of entries (its sub-folders of frames are
        not walked: a run over thousands of scans would stat millions of images); ``""`` for
        scenes held in memory. Two runs with equal names but other files differ here (a run's
        manifest keeps it)."""
        out = []
        for i in range(len(self.names)):
            path = self._paths[i] if i < len(self._paths) else None
            if path is None or not path.exists():
                out.append("")
                continue
            entries = list(path.iterdir()) if path.is_dir() else [path]
            out.append(f"{sum(p.stat().st_size for p in entries if p.is_file())}:{len(entries)}")
        return out

    def _load(self, i: int) -> Scene:
        from spatialevo.scene.loaders import load_scene

        return load_scene(self._paths[i], labels=self.labels, label_map=self.label_map)

    def get(self, i: int) -> Scene | None:
        """Scene ``i`` (``None`` when it cannot be loaded; the reason is in :attr:`skipped`)."""
        if i in self._bad:
            return None
        scene = self._fixed.get(i)
        if scene is not None:
            return scene
        scene = self._loaded.get(i)
        if scene is not None:
            self._loaded.move_to_end(i)
            return scene
        try:
            scene = self._load(i)
        except (SpatialEvoError, OSError, ValueError) as exc:
            self._bad.add(i)
            where = str(self._paths[i]) if i < len(self._paths) else self.names[i]
            self.skipped.append((where, str(exc)))
            log.warning("skipping scene %s: %s", where, exc)
            return None
        self._loaded[i] = scene
        while len(self._loaded) > self._cache:
            self._loaded.popitem(last=False)
        return scene

    def draw_index(self, rng: np.random.Generator) -> int:
        """Index of a uniformly drawn scene that loads (unloadable ones are skipped)."""
        for _ in range(4 * len(self.names) + 8):
            i = int(rng.integers(len(self.names)))
            if self.get(i) is not None:
                return i
        for i in range(len(self.names)):  # deterministic sweep before giving up
            if self.get(i) is not None:
                return i
        raise SpatialEvoError(f"none of the {len(self.names)} scenes could be loaded: {self.skipped[:3]}")

    def draw(self, rng: np.random.Generator) -> Scene:
        """A uniformly drawn scene that loads."""
        scene = self.get(self.draw_index(rng))
        assert scene is not None
        return scene


class SyntheticSource(SceneSource):
    """``count`` synthetic rooms, seeds ``first_seed …``, generated on first use (LRU-cached).

    Room ``i`` is ``generate_room(first_seed + i)`` (rectangular for even seeds, L-shaped for odd
    ones) with ``n_frames`` frames of ``width`` x ``height``; its name and scene id are
    ``synthetic_<seed>``.
    """

    def __init__(self, count: int = DEFAULT_SYNTHETIC_COUNT, *, first_seed: int = 0, n_frames: int = 12,
                 width: int = 320, height: int = 240, cache: int = 8):
        if not 1 <= int(count) <= MAX_SYNTHETIC_COUNT:
            raise SpatialEvoError(f"a synthetic source holds 1 to {MAX_SYNTHETIC_COUNT:,} rooms, got {count}")
        self.seeds = [int(first_seed) + k for k in range(int(count))]
        self._cfg = (int(n_frames), int(width), int(height))
        super().__init__(cache=cache, names=[f"synthetic_{s}" for s in self.seeds])

    def _load(self, i: int) -> Scene:
        from spatialevo.synthetic import generate_room, room_config

        seed = self.seeds[i]
        n, w, h = self._cfg
        cfg = room_config(shape=("rect", "L")[seed % 2], n_frames=n, width=w, height=h, scene_id=f"synthetic_{seed}")
        return generate_room(seed, cfg)


def make_source(spec: str | Path | Sequence[Scene] | SceneSource, *, labels: str | None = None,
                label_map: str | Path | None = None) -> SceneSource:
    """A source from ``"bundled"``, ``"synthetic"`` / ``"synthetic:N"`` (N rooms, seeds 0 … N-1;
    default 100), a ``spatialevo scene convert`` folder or its ``index.json`` (the scenes it lists,
    under their names), a folder (the scene it is, else each child that is a scene: sub-folders,
    ``.npz`` and ``.json`` files, other files such as pictures are ignored), a scene file, or
    scenes. Scenes read from files are loaded in the vocabulary ``labels`` (``None``: as stored;
    in-memory and synthetic scenes are used as they are).

    Raises:
        SceneFileNotFoundError: the path does not exist.
        SpatialEvoError: an empty name, a folder without scenes.
    """
    if isinstance(spec, (str, Path)) and not str(spec).strip():
        raise SpatialEvoError("the scene source is empty: give 'bundled', 'synthetic[:N]' or a path")
    if isinstance(spec, SceneSource):
        return spec
    if isinstance(spec, (list, tuple)):
        if not all(isinstance(s, Scene) for s in spec):
            raise TypeError("a scene list must hold spatialevo Scene objects")
        return SceneSource(scenes=spec)
    opts = {"labels": labels, "label_map": label_map}
    if spec == "bundled":
        from spatialevo.bundled import bundled_scene_paths

        return SceneSource(paths=bundled_scene_paths(), **opts)
    m = _SYNTHETIC_RE.fullmatch(str(spec)) if isinstance(spec, str) else None
    if m:
        return SyntheticSource(int(m.group(1) or DEFAULT_SYNTHETIC_COUNT))
    path = Path(spec)
    if not path.exists():
        raise SceneFileNotFoundError(path, field="scenes")
    from spatialevo.sceneindex import is_index, read_index

    if is_index(path):
        files, names = read_index(path)
        if not files:
            raise SpatialEvoError(f"the scene index '{path}' lists no converted scene")
        return SceneSource(paths=files, names=names, **opts)
    if not path.is_dir():
        return SceneSource(paths=[path], **opts)
    from spatialevo.scene.loaders import is_scene

    if is_scene(path):
        return SceneSource(paths=[path], **opts)  # the folder itself is one scene
    children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    scenes = [p for p in children if p.is_dir() or p.suffix.lower() in SCENE_SUFFIXES or is_scene(p)]
    if not scenes:
        what = f"{len(children)} file(s), none of them a scene" if children else "nothing"
        raise SpatialEvoError(f"scene folder '{path}' holds {what} (expected scene folders, .npz caches or box-list .json files)")
    ignored = len(children) - len(scenes)
    if ignored:
        log.info("%s: ignoring %d file(s) that are not scenes", path, ignored)
    return SceneSource(paths=scenes, **opts)

