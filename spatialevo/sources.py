"""Scene sources for the environment and dataset generation: bundled, a folder, a list, synthetic."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SpatialEvoError
from spatialevo.scene.model import Scene

log = logging.getLogger(__name__)


class SceneSource:
    """A fixed list of scenes, loaded lazily and cached; ``draw(rng)`` picks one uniformly.

    Attributes:
        names: scene names (file stems or scene ids).
        skipped: ``(path, reason)`` of scenes that could not be loaded (logged, never raised).
    """

    def __init__(self, paths: Sequence[Path] = (), scenes: Sequence[Scene] = ()):
        self._paths = list(paths)
        self._scenes: dict[int, Scene] = dict(enumerate(scenes)) if scenes else {}
        self.names = [p.stem for p in self._paths] if self._paths else [s.scene_id for s in scenes]
        self.skipped: list[tuple[str, str]] = []
        self._bad: set[int] = set()
        if not self.names:
            raise SpatialEvoError("the scene source is empty")

    def __len__(self) -> int:
        return len(self.names)

    def index_by_id(self) -> dict[str, int]:
        """Scene id (and, where different, scene name) → index, for the scenes that load."""
        out: dict[str, int] = {}
        for i, name in enumerate(self.names):
            scene = self.get(i)
            if scene is not None:
                out[scene.scene_id] = i
                out.setdefault(name, i)
        return out

    def get(self, i: int) -> Scene | None:
        """Scene ``i`` (``None`` when it cannot be loaded; the reason is in :attr:`skipped`)."""
        if i in self._bad:
            return None
        scene = self._scenes.get(i)
        if scene is None:
            from spatialevo.scene.loaders import load_scene

            try:
                scene = load_scene(self._paths[i])
            except (SpatialEvoError, OSError, ValueError) as exc:
                self._bad.add(i)
                self.skipped.append((str(self._paths[i]), str(exc)))
                log.warning("skipping scene %s: %s", self._paths[i], exc)
                return None
            self._scenes[i] = scene
        return scene

    def draw(self, rng: np.random.Generator) -> Scene:
        for _ in range(4 * len(self.names) + 8):
            scene = self.get(int(rng.integers(len(self.names))))
            if scene is not None:
                return scene
        for i in range(len(self.names)):  # deterministic sweep before giving up
            scene = self.get(i)
            if scene is not None:
                return scene
        raise SpatialEvoError(f"none of the {len(self.names)} scenes could be loaded: {self.skipped[:3]}")


class SyntheticSource(SceneSource):
    """Synthetic rooms generated on the fly (seed drawn from the caller's generator), cached by seed."""

    def __init__(self, n_frames: int = 12, width: int = 320, height: int = 240, cache: int = 8):
        self.names = ["synthetic"]
        self.skipped = []
        self._cfg = (n_frames, width, height)
        self._cache: dict[int, Scene] = {}
        self._max = cache

    def draw(self, rng: np.random.Generator) -> Scene:
        from spatialevo.synthetic import generate_room, room_config

        seed = int(rng.integers(2**31))
        scene = self._cache.get(seed)
        if scene is None:
            n, w, h = self._cfg
            shape = ("rect", "L")[seed % 2]
            scene = generate_room(seed, room_config(shape=shape, n_frames=n, width=w, height=h, scene_id=f"synthetic_{seed}"))
            if len(self._cache) >= self._max:
                self._cache.pop(next(iter(self._cache)))
            self._cache[seed] = scene
        return scene


def make_source(spec: str | Path | Sequence[Scene] | SceneSource) -> SceneSource:
    """``"bundled"``, ``"synthetic"``, a folder (every child a scene in any layout), a scene file, or scenes."""
    if isinstance(spec, SceneSource):
        return spec
    if isinstance(spec, (list, tuple)):
        if not all(isinstance(s, Scene) for s in spec):
            raise TypeError("a scene list must hold spatialevo Scene objects")
        return SceneSource(scenes=spec)
    if spec == "bundled":
        from spatialevo.bundled import bundled_scene_paths

        return SceneSource(paths=bundled_scene_paths())
    if spec == "synthetic":
        return SyntheticSource()
    path = Path(spec)
    if not path.exists():
        raise SceneFileNotFoundError(path, field="scenes")
    if path.is_dir():
        from spatialevo.scene.loaders import detect_layout

        try:
            detect_layout(path)
            return SceneSource(paths=[path])  # the folder itself is one scene
        except SpatialEvoError:
            pass
        children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        if not children:
            raise SpatialEvoError(f"scene folder '{path}' is empty")
        return SceneSource(paths=children)
    return SceneSource(paths=[path])
