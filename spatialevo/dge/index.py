"""Per-scene precomputation shared by every question about one scene.

:class:`SceneIndex` holds the objects' boxes as arrays, the label → instances map, the exact
solid-box distances (per object row, on first use, in chunked vectorised calls, so memory stays
linear in the object count; the whole matrix only when asked for) and per-frame visibility (depth-tested surface samples, cached on the scene). Building one is cheap; the DGE
keeps one per scene.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spatialevo.dge.geometry import box_distance_row, box_distances, pairwise_box_distances
from spatialevo.scene.model import Frame, Scene, normalize_label
from spatialevo.scene.visibility import visible_fractions, visible_samples

#: distance rows an index keeps (each N floats)
ROW_CACHE = 256
#: ``warm()`` computes the whole distance matrix up to this many objects
WARM_MAX_OBJECTS = 512


class SceneIndex:
    """Arrays and caches of one scene (world frame, metres).

    Attributes:
        scene: the scene.
        centers, extents: (N, 3) box centres and full edge lengths of ``scene.objects``, metres.
        rotations: (N, 3, 3) box axes as columns.
        longest: (N,) longest box edge, metres.
        by_label: normalised label → indices into ``scene.objects``.
        by_ref: instance reference ``"label#id"`` → index into ``scene.objects``.
        frames: frame id → :class:`Frame`.
    """

    def __init__(self, scene: Scene):
        self.scene = scene
        objs = scene.objects
        self.centers = np.array([o.box.center for o in objs], dtype=np.float64).reshape(-1, 3)
        self.extents = np.array([o.box.extents for o in objs], dtype=np.float64).reshape(-1, 3)
        self.rotations = np.array([o.box.rotation for o in objs], dtype=np.float64).reshape(-1, 3, 3)
        self.longest = self.extents.max(axis=1) if len(objs) else np.zeros(0)
        self.labels = [o.label for o in objs]
        self.by_label: dict[str, list[int]] = {}
        for i, lab in enumerate(self.labels):
            self.by_label.setdefault(lab, []).append(i)
        #: instance references "label#id" → index (``ObjectInstance.ref``)
        self.by_ref: dict[str, int] = {o.ref: i for i, o in enumerate(objs)}
        self.frames: dict[str, Frame] = {f.id: f for f in scene.frames}
        #: the labels, sorted, and the frame ids in scene order (what the draws choose from)
        self.label_list: tuple[str, ...] = tuple(sorted(self.by_label))
        self.frame_ids: tuple[str, ...] = tuple(self.frames)
        self._dist: np.ndarray | None = None
        self._rows: dict[int, np.ndarray] = {}
        self._catmin: dict[int, np.ndarray] = {}
        self._label_order: tuple[np.ndarray, np.ndarray, dict[str, int]] | None = None
        self._norm_cache: dict[str, str | None] = {}
        self._vis: dict[str, np.ndarray] = {}
        self._seen: dict[tuple[str, ...], np.ndarray] = {}

    # -- labels ---------------------------------------------------------------------------------
    def norm(self, label: str) -> str | None:
        """Normalised label (``None`` when it cannot be a label, e.g. only punctuation)."""
        out = self._norm_cache.get(label, "")
        if out == "":
            try:
                out = normalize_label(label)
            except ValueError:
                out = None
            if len(self._norm_cache) < 100_000:
                self._norm_cache[label] = out
        return out

    def instances(self, label: str) -> list[int]:
        """Indices of the instances of ``label`` (normalised; empty list if absent)."""
        lab = self.norm(label)
        return self.by_label.get(lab, []) if lab is not None else []

    # -- geometry -------------------------------------------------------------------------------
    @property
    def distances(self) -> np.ndarray:
        """(N, N) exact minimal distances between the objects' solid boxes, metres (cached). O(N²):
        the tasks read rows (:meth:`distance_row`), which a scene of thousands of objects affords."""
        if self._dist is None:
            self._dist = pairwise_box_distances(self.centers, self.extents, self.rotations)
            self._dist.setflags(write=False)
        return self._dist

    def distance_row(self, i: int) -> np.ndarray:
        """(N,) exact distances (metres) from object ``i`` to every object: a row of :attr:`distances`
        (the same floats), computed alone when the matrix is not, at most :data:`ROW_CACHE` kept."""
        if self._dist is not None:
            return self._dist[i]
        row = self._rows.get(i)
        if row is None:
            row = box_distance_row(i, self.centers, self.extents, self.rotations)
            row.setflags(write=False)
            if len(self._rows) >= ROW_CACHE:
                self._rows.pop(next(iter(self._rows)))
            self._rows[i] = row
        return row

    def distances_from(self, i: int, js: Sequence[int]) -> np.ndarray:
        """(k,) exact distances (metres) from object ``i`` to the objects ``js``: ``distance_row(i)[js]``,
        the same floats. A scene of more than :data:`WARM_MAX_OBJECTS` objects whose row of ``i`` is
        not kept computes only these pairs (memory and time linear in k, not in the object count)."""
        if self._dist is not None:
            return self._dist[i, js]
        if self.row_is_cheap(i):
            return self.distance_row(i)[js]
        return self.pair_distances(np.full(len(js), int(i)), np.asarray(js, dtype=np.int64))

    def row_is_cheap(self, i: int) -> bool:
        """Whether :meth:`distance_row` of ``i`` is at hand or cheap: the matrix or the row is kept, or
        the scene has at most :data:`WARM_MAX_OBJECTS` objects."""
        return self._dist is not None or i in self._rows or len(self.labels) <= WARM_MAX_OBJECTS

    def pair_distances(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """(P,) exact distances (metres) of the object pairs ``(i[k], j[k])``: ``distance_row(i[k])[j[k]]``,
        the same floats, from the matrix or the kept rows where they are, the other pairs computed
        alone (:func:`~spatialevo.dge.geometry.box_distances`, memory linear in P)."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        if self._dist is not None:
            return self._dist[i, j]
        out = np.empty(len(i))
        todo = np.ones(len(i), dtype=bool)
        if self._rows:
            for k, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
                row = self._rows.get(a)
                if row is None:
                    row = self._rows.get(b)
                    a, b = b, a
                if row is not None:
                    out[k] = row[b]
                    todo[k] = False
        if todo.any():
            out[todo] = box_distances(i[todo], j[todo], self.centers, self.extents, self.rotations)
        return out

    def category_min(self, i: int) -> np.ndarray:
        """(L,) smallest distance (metres) from object ``i`` to an instance of each label of
        :attr:`label_list` (the same floats as ``distance_row(i)[instances].min()``); at most
        :data:`ROW_CACHE` kept."""
        out = self._catmin.get(i)
        if out is None:
            order, starts, _ = self.label_order()
            out = np.minimum.reduceat(self.distance_row(i)[order], starts) if len(order) else np.zeros(0)
            out.setflags(write=False)
            if len(self._catmin) >= ROW_CACHE:
                self._catmin.pop(next(iter(self._catmin)))
            self._catmin[i] = out
        return out

    def label_order(self) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """``(order, starts, position)``: object indices grouped by label in :attr:`label_list` order,
        where each label's group starts, and label → its position in :attr:`label_list`."""
        if self._label_order is None:
            pos = {lab: k for k, lab in enumerate(self.label_list)}
            groups = [self.by_label[lab] for lab in self.label_list]
            order = np.array([i for g in groups for i in g], dtype=np.int64)
            starts = np.cumsum([0] + [len(g) for g in groups[:-1]]).astype(np.int64) if groups else np.zeros(0, dtype=np.int64)
            self._label_order = (order, starts, pos)
        return self._label_order

    def seen(self, frame_ids: Sequence[str]) -> np.ndarray:
        """(N,) best visible fraction of every object over the frames ``frame_ids`` (the evidence a
        role is shown; cached per frame set). Empty ``frame_ids``: all zero."""
        key = tuple(frame_ids)
        out = self._seen.get(key)
        if out is None:
            n = len(self.labels)
            out = np.max([self.visible(f) for f in key], axis=0) if key else np.zeros(n)
            out.setflags(write=False)
            if len(self._seen) >= 64:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = out
        return out

    def visible(self, frame_id: str) -> np.ndarray:
        """(N,) visible fraction of every object in a frame (cached on the scene)."""
        out = self._vis.get(frame_id)
        if out is None:
            out = self._vis[frame_id] = visible_fractions(self.scene, self.frames[frame_id])
        return out

    def visible_depths(self, frame_id: str, obj: int) -> np.ndarray:
        """Camera-frame depths z (metres) of the visible surface samples of object ``obj`` in a frame."""
        key = ("depths", frame_id)
        per_frame = self.scene._visibility_cache.get(key)
        if per_frame is None:
            _, owner, vis, z = visible_samples(self.scene, self.frames[frame_id])
            order = np.argsort(owner[vis], kind="stable")
            zs, own = z[vis][order], owner[vis][order]
            bounds = np.searchsorted(own, np.arange(len(self.labels) + 1))
            per_frame = (zs, bounds)
            self.scene._visibility_cache[key] = per_frame
        zs, bounds = per_frame
        return zs[bounds[obj] : bounds[obj + 1]]

    def warm(self, frame_ids: list[str] | None = None) -> None:
        """Compute pairwise distances (up to :data:`WARM_MAX_OBJECTS` objects; larger scenes compute
        the rows their questions need) and the visibility of the given frames (default: all) now."""
        if len(self.labels) <= WARM_MAX_OBJECTS:
            _ = self.distances
        for fid in self.frames if frame_ids is None else frame_ids:
            if fid in self.frames:
                self.visible(fid)
