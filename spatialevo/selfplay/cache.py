"""One bounded cache of scenes, their DGEs and the images the policy sees.

:class:`SceneCache` keeps, for at most ``size`` scenes (least recently used dropped first), the
loaded :class:`~spatialevo.scene.model.Scene`, its :class:`~spatialevo.dge.DGE` (the per-scene
index: pairwise distances, visibility) and the frames resized for the policy. It sets the bound
of the source's own scene cache to the same number, so a run that cycles through thousands of
scenes holds at most ``size`` of them — scenes, indices and images together — at any time.
Scenes are addressed by their unique name in the source (never by ``scene_id``, which two scans
may share).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialevo.dge import DGE
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene
from spatialevo.selfplay.images import fit_box, fit_size, resize
from spatialevo.selfplay.sources import DEFAULT_CACHE, SceneSource


@dataclass
class Entry:
    """A cached scene: the scene, its DGE, and its frames at the policy's size by (frame id, size)."""

    name: str
    scene: Scene
    dge: DGE
    images: dict[tuple[str, tuple[int, int]], np.ndarray] = field(default_factory=dict)

    def image(self, frame_id: str, *, min_pixels: int, max_pixels: int, box: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``frame_id`` as the policy sees it (see :meth:`SceneCache.image`), read or rendered
        once per frame and size.

        May run in other threads than the cache's owner, several at once: it touches this entry and
        its scene's renderer only (the rasteriser shares nothing between calls but caches of pure
        values), never the cache's LRU, and an entry dropped from the cache meanwhile stays valid
        while referenced. Two threads asking for the same frame at once render it twice and keep
        one of the identical arrays.
        """
        frame = self.scene.frame(frame_id)
        if box is None:
            size = fit_size(frame.height, frame.width, min_pixels=min_pixels, max_pixels=max_pixels)
        else:
            size = fit_box(frame.height, frame.width, box)
        key = (frame_id, size)
        img = self.images.get(key)
        if img is None:
            img = self.images[key] = resize(self.scene.frame_images(frame_id, ("rgb",))["rgb"], size)
        return img


class SceneCache:
    """Scenes of a source with their DGEs and policy images, least recently used dropped first.

    Args:
        source: the scenes.
        size: scenes kept (the source's own cache is bounded by the same number).
        dge_config: per-task threshold overrides for every DGE (see :class:`~spatialevo.dge.DGE`).
    """

    def __init__(self, source: SceneSource, size: int = DEFAULT_CACHE, *, dge_config: Mapping[str, Mapping[str, Any]] | None = None):
        if int(size) < 1:
            raise SpatialEvoError(f"the scene cache must hold at least 1 scene, got {size}")
        self.source, self.size = source, int(size)
        source.set_cache_size(self.size)
        self.dge_config = dict(dge_config or {})
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._index = {name: i for i, name in enumerate(source.names)}

    def __len__(self) -> int:
        """Scenes held now (at most :attr:`size`)."""
        return len(self._entries)

    def index(self, name: str) -> int:
        """Position of the scene ``name`` in the source (KeyError naming the problem)."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"scene {name!r} is not in the source ({len(self._index)} scenes)") from None

    def entry(self, name: str) -> Entry | None:
        """The cached scene ``name`` (loaded on first use); ``None`` when it cannot be loaded (the
        source's ``skipped`` says why)."""
        e = self._entries.get(name)
        if e is not None:
            self._entries.move_to_end(name)
            return e
        scene = self.source.get(self.index(name))
        if scene is None:
            return None
        e = Entry(name, scene, DGE(scene, config=self.dge_config or None))
        self._entries[name] = e
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return e

    def require(self, name: str) -> Entry:
        """:meth:`entry`, raising :class:`SpatialEvoError` for a scene that cannot be loaded."""
        e = self.entry(name)
        if e is None:
            raise SpatialEvoError(f"scene {name!r} cannot be loaded: {dict(self.source.skipped).get(name, 'see the log')}")
        return e

    def image(self, name: str, frame_id: str, *, min_pixels: int, max_pixels: int, box: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``frame_id`` of scene ``name`` as the policy sees it: (h, w, 3) uint8, read-only,
        aspect kept under the pixel budget (:func:`~spatialevo.selfplay.images.fit_size`), or the
        largest size of that aspect that fits ``box`` (height, width) when given. Read or rendered
        once per scene, frame and size (:meth:`Entry.image`)."""
        return self.require(name).image(frame_id, min_pixels=min_pixels, max_pixels=max_pixels, box=box)
