"""Whole-scene transforms: rigid motion, uniform scaling, mirror image (world frame, metres).

Objects, points, mesh, floor polygon and camera poses move together, so every geometric question
about the result has a predictable answer (the DGE's metamorphic tests rely on this). Stored image
paths are dropped from the frames (images are re-rendered from the mesh when needed), since a
scaled or mirrored scene no longer matches them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import Frame, ObjectInstance, Scene, SceneMesh

_FLIP_X = np.diag([-1.0, 1.0, 1.0])


def transform_scene(scene: Scene, *, R: np.ndarray | None = None, t: np.ndarray | None = None, scale: float = 1.0, mirror_x: bool = False) -> Scene:
    """The scene mapped by ``p ↦ R · (s · M p) + t`` (M = reflection x → −x when ``mirror_x``).

    Args:
        scene: source scene (unchanged).
        R: (3, 3) proper rotation (default identity); t: (3,) translation in metres (default 0).
        scale: uniform scale factor (> 0).
        mirror_x: reflect the scene in the plane x = 0 first. Boxes stay boxes (one axis flipped
            to keep a proper rotation); cameras flip their x (right) axis, so images are mirrored.

    Returns:
        A new :class:`Scene` (same ids, labels and frame ids).
    """
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    R = np.eye(3) if R is None else np.asarray(R, dtype=np.float64)
    t = np.zeros(3) if t is None else np.asarray(t, dtype=np.float64)
    M = _FLIP_X if mirror_x else np.eye(3)
    A = R @ M * scale  # linear part

    def pts(p: np.ndarray) -> np.ndarray:
        return p @ A.T + t

    def rot(Rb: np.ndarray) -> np.ndarray:
        out = R @ M @ Rb
        return out @ _FLIP_X if mirror_x else out  # flip the first box / camera axis back to det +1

    objects = [
        ObjectInstance(
            o.id,
            o.label,
            OrientedBox(pts(o.box.center[None])[0], o.box.extents * scale, rot(o.box.rotation)),
            None if o.points is None else pts(o.points),
        )
        for o in scene.objects
    ]
    frames = []
    for f in scene.frames:
        T = np.eye(4)
        T[:3, :3] = rot(f.T_wc[:3, :3])
        T[:3, 3] = pts(f.T_wc[:3, 3][None])[0]
        frames.append(Frame(f.id, f.K.copy(), T, f.width, f.height, depth_scale=f.depth_scale,
                            depth_K=None if f.depth_K is None else f.depth_K.copy()))
    mesh = None
    if scene.mesh is not None:
        faces = scene.mesh.faces[:, ::-1].copy() if mirror_x else scene.mesh.faces.copy()
        mesh = SceneMesh(pts(scene.mesh.vertices), faces, scene.mesh.face_object_ids.copy(), scene.mesh.vertex_colors)
    poly = None
    if scene.floor_polygon is not None:
        p3 = np.c_[scene.floor_polygon, np.zeros(len(scene.floor_polygon))]
        poly = pts(p3)[:, :2]
    meta = dict(scene.meta)
    if isinstance(meta.get("room_size"), (int, float)):
        meta["room_size"] = float(meta["room_size"]) * scale * scale
    return dataclasses.replace(
        scene,
        objects=objects,
        frames=frames,
        mesh=mesh,
        points=None if scene.points is None else pts(scene.points),
        point_colors=scene.point_colors,
        floor_polygon=poly,
        meta=meta,
        _visibility_cache={},
    )


def rotation_z(deg: float) -> np.ndarray:
    """(3, 3) rotation by ``deg`` degrees about the world z axis (counter-clockwise seen from above)."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
