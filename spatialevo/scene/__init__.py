"""Scene model, loaders, rendering and synthetic rooms."""

from __future__ import annotations

from typing import Any

from spatialevo.scene.boxes import OrientedBox, minimal_oriented_box, yaw_box
from spatialevo.scene.cache import save_cache
from spatialevo.scene.images import frame_images
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

# The scene's I/O methods. The model holds data and checks only: the image readers, the renderer and
# the cache format import it, so it imports none of them; their entry points become methods here,
# where the package is initialised before any of its modules (the model included) can be imported.
Scene.frame_images = frame_images
Scene.save = save_cache


def _to_trimesh(self: Scene, **kw: Any) -> Any:
    """:func:`spatialevo.scene.meshexport.scene_to_trimesh` (trimesh imported only then)."""
    from spatialevo.scene.meshexport import scene_to_trimesh

    return scene_to_trimesh(self, **kw)


def _to_open3d(self: Scene, **kw: Any) -> dict[str, Any]:
    """:func:`spatialevo.scene.meshexport.scene_to_open3d` (open3d imported only then)."""
    from spatialevo.scene.meshexport import scene_to_open3d

    return scene_to_open3d(self, **kw)


Scene.to_trimesh = _to_trimesh
Scene.to_open3d = _to_open3d

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
