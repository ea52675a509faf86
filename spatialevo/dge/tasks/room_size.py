"""Task 6 — room_size (scene): floor area in square metres, one decimal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from spatialevo.dge.floor import estimate_floor_area, room_points
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, fmt1, round1
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class RoomSizeConfig:
    """Attributes:
    estimate_cell_m: grid cell of the point-cloud estimate (see :mod:`spatialevo.dge.floor`).
    estimate_close_radius_m: gap-bridging radius of the estimate.
    """

    estimate_cell_m: float = 0.05
    estimate_close_radius_m: float = 0.5


class RoomSize(Task):
    """Answer: the floor polygon's area when known, else a stated room size, else the deterministic
    point-cloud estimate of :mod:`spatialevo.dge.floor`; ``room_unknown`` when none exists."""

    name = "room_size"
    scope = "scene"
    answer_kind = "number"
    unit = "m2"
    n_objects = (0, 0)
    config_cls = RoomSizeConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        cached = getattr(index, "_room_area", None)
        if cached is None:
            cached = self._area(index)
            index._room_area = cached  # type: ignore[attr-defined]
        area, source = cached
        if area is None:
            return self.bad(Reason.ROOM_UNKNOWN, f"scene {index.scene.scene_id} has no floor polygon, room size or points")
        ans = round1(area)
        if ans <= 0:
            return self.bad(Reason.ROOM_UNKNOWN, f"scene {index.scene.scene_id}: the floor estimate is empty")
        return self.ok(ans, fmt1(ans), {"area_m2": area, "source": source})

    def _area(self, index: SceneIndex) -> tuple[float | None, str]:
        scene = index.scene
        if scene.floor_polygon is not None:
            return scene.floor_area, "polygon"
        stated = scene.meta.get("room_size")
        if isinstance(stated, (int, float)) and not isinstance(stated, bool) and np.isfinite(stated) and stated > 0:
            return float(stated), "meta"
        pts = room_points(scene)
        if pts is not None:
            area = estimate_floor_area(pts, cell=self.config.estimate_cell_m, close_radius=self.config.estimate_close_radius_m)
            if area > 0:
                return area, "estimate"
        return None, "unknown"

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """The one question."""
        return iter((Question(self.name),))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return Question(self.name)
