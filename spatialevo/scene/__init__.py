"""Scene model, loaders, rendering and synthetic rooms."""

from __future__ import annotations

from spatialevo.scene.boxes import OrientedBox, minimal_oriented_box, yaw_box
from spatialevo.scene.model import (
    CEILING_ID,
    FLOOR_ID,
    NO_HIT,
    STRUCTURE_LABELS,
    WALL_ID,
    Frame,
    ObjectInstance,
    Scene,
    SceneMesh,
    normalize_label,
)

__all__ = [
    "CEILING_ID",
    "FLOOR_ID",
    "NO_HIT",
    "STRUCTURE_LABELS",
    "WALL_ID",
    "Frame",
    "ObjectInstance",
    "OrientedBox",
    "Scene",
    "SceneMesh",
    "minimal_oriented_box",
    "normalize_label",
    "yaw_box",
]
