"""The frames shown with a VSI-Bench-format question.

In order of preference:

1. the row's own ``images`` (a spatialevo ``--format vsibench`` folder: PNG bytes in the row, or
   paths relative to the test set's folder);
2. a folder of frames per scene, ``<root>/<dataset>/<scene_name>/`` or ``<root>/<scene_name>/``
   (``.jpg`` / ``.jpeg`` / ``.png``, in natural name order);
3. a video per scene, ``<root>/<dataset>/<scene_name>.mp4`` or ``<root>/<scene_name>.mp4`` (VSI-Bench's
   layout: ``arkitscenes/``, ``scannet/``, ``scannetpp/``), decoded with PyAV (``pip install av``).

From a folder or a video, ``n_frames`` frames are sampled uniformly as the public harness's
models do: indices ``linspace(0, total − 1, n_frames)`` truncated to integers. Decoded scenes are
kept in a small cache (questions of one scene are usually many).
"""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SpatialEvoError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")


def uniform_indices(total: int, n: int) -> list[int]:
    """``n`` frame indices spread uniformly over ``total`` frames (all of them when ``total <= n``)."""
    if total <= n:
        return list(range(total))
    return np.linspace(0, total - 1, n, dtype=int).tolist()


def _natural(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


class SceneFrames:
    """Frames per row of a test set whose media are under ``root``."""

    def __init__(self, root: str | Path, n_frames: int = 16, cache: int = 4):
        if n_frames < 1:
            raise SpatialEvoError(f"--frames must be at least 1, got {n_frames}")
        self.root, self.n_frames, self.size = Path(root), int(n_frames), int(cache)
        self._cache: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, row: dict[str, Any]) -> list[Any]:
        own = row.get("images")
        if own:
            return [self._own(im, row) for im in own]
        key = (str(row.get("dataset") or ""), str(row.get("scene_name") or ""))
        with self._lock:  # rows of one scene share one decode (callers may be threads)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            frames = self._scene(*key)
            self._cache[key] = frames
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
            return frames

    def _own(self, im: Any, row: dict[str, Any]) -> Any:
        from PIL import Image

        try:
            if isinstance(im, dict) and im.get("bytes"):
                return Image.open(io.BytesIO(im["bytes"])).convert("RGB")
            path = im.get("path") if isinstance(im, dict) else im
            return Image.open(self.root / str(path)).convert("RGB")
        except OSError as exc:
            raise SpatialEvoError(f"row {row.get('id')}: image {im.get('path') if isinstance(im, dict) else im} cannot be read ({exc})") from None

    def _scene(self, dataset: str, scene: str) -> list[Any]:
        if not scene:
            raise SpatialEvoError("a test row has no images and no scene_name to find its frames by")
        for base in ([self.root / dataset] if dataset else []) + [self.root]:
            folder = base / scene
            if folder.is_dir():
                return self._folder(folder)
            for suffix in VIDEO_SUFFIXES:
                if (base / f"{scene}{suffix}").is_file():
                    return self._video(base / f"{scene}{suffix}")
        where = f"{self.root / dataset / scene}/ or {self.root / dataset / scene}.mp4" if dataset else f"{self.root / scene}/ or .mp4"
        raise SpatialEvoError(f"no frames for scene {scene!r}: expected {where} (see docs/eval.md for the layout)")

    def _folder(self, folder: Path) -> list[Any]:
        from PIL import Image

        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
        if not files:
            raise SpatialEvoError(f"{folder}: no .jpg / .png frames in it")
        try:
            return [Image.open(files[i]).convert("RGB") for i in uniform_indices(len(files), self.n_frames)]
        except OSError as exc:
            raise SpatialEvoError(f"{folder}: a frame cannot be read ({exc})") from None

    def _video(self, path: Path) -> list[Any]:
        """The sampled frames of a video, decoded twice (count, then keep the chosen ones) so memory
        holds ``n_frames`` frames, not the video."""
        try:
            import av
        except ImportError:
            raise SpatialEvoError(f"{path}: reading videos needs PyAV (pip install av), or extract its frames to "
                                  f"{path.with_suffix('')}/") from None
        try:
            with av.open(str(path)) as container:
                total = sum(1 for _ in container.decode(video=0))
            want = set(uniform_indices(total, self.n_frames))
            with av.open(str(path)) as container:
                frames = [f.to_image().convert("RGB") for i, f in enumerate(container.decode(video=0)) if i in want]
        except (OSError, ValueError, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
            raise SpatialEvoError(f"{path}: cannot decode the video ({exc})") from None
        if not frames:
            raise SpatialEvoError(f"{path}: the video has no frames")
        return frames
