"""The scene model: objects, frames, mesh, floor polygon.

Conventions (SPEC §1): world frame in metres, right-handed, z up, floor at z ≈ 0. Cameras use the
OpenCV convention (x right, y down, z forward); ``Frame.T_wc`` is the 4x4 camera-to-world pose and
``Frame.K`` the 3x3 intrinsics in pixels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.boxes import OrientedBox, minimal_oriented_box
from spatialevo.scene.validate import (
    MAX_DEPTH_SCALE,
    MAX_OBJECT_ID,
    MAX_ROOM_SIZE_M2,
    MIN_DEPTH_SCALE,
    as_array,
    as_int,
    bounded_number,
    check_image_size,
    check_intrinsics,
    check_points,
    check_pose,
)

#: Values of ``SceneMesh.face_object_ids`` (and instance images) that are not object ids.
NO_HIT = -1
FLOOR_ID = -2
CEILING_ID = -3
WALL_ID = -4
STRUCTURE_LABELS = {FLOOR_ID: "floor", CEILING_ID: "ceiling", WALL_ID: "wall"}


def normalize_label(label: str) -> str:
    """Lower-case, single-spaced category name (SPEC §1: ``"Trash_Bin"`` → ``"trash bin"``)."""
    if not isinstance(label, str) or not label.strip():
        raise SceneFormatError(f"object label must be a non-empty string, got {label!r}", field="label")
    return " ".join(label.replace("_", " ").strip().lower().split())


@dataclass(eq=False)
class ObjectInstance:
    """One object instance.

    Attributes:
        id: non-negative integer instance id, unique in the scene (``"chair#3"`` refers to id 3).
        label: normalised category name (lower case, singular by convention of the source).
        box: solid oriented box, world frame, metres.
        points: optional (N, 3) surface points, world frame, metres.
    """

    id: int
    label: str
    box: OrientedBox
    points: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.id = as_int(self.id, "object.id", lo=0, hi=MAX_OBJECT_ID, whole_floats=False)
        self.label = normalize_label(self.label)
        if not isinstance(self.box, OrientedBox):
            raise SceneFormatError(f"object {self.id}: box must be an OrientedBox, got {type(self.box).__name__}", field="object.box")
        if self.points is not None:
            self.points = check_points(self.points, f"object {self.id} points")

    @classmethod
    def from_points(cls, id: int, label: str, points: np.ndarray) -> ObjectInstance:
        """Object whose box is the minimal oriented box of ``points`` (N, 3), world frame, metres.

        Raises:
            SceneFormatError: if ``points`` is empty, wrongly shaped or non-finite.
        """
        pts = check_points(points, f"object {id} ({label}) points")
        if len(pts) == 0:
            raise SceneFormatError(f"object {id} ({label}) has no points", field="points")
        try:
            box = minimal_oriented_box(pts)
        except SceneFormatError as exc:  # e.g. points spanning more than MAX_EXTENT_M
            raise SceneFormatError(f"object {id} ({label}): {exc.problem}", field=exc.field) from None
        return cls(id, label, box, pts)

    @property
    def ref(self) -> str:
        """Unambiguous reference ``"label#id"``."""
        return f"{self.label}#{self.id}"


_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def safe_name(value: str, field: str) -> str:
    """``value`` if it can name a file: frame and scene ids become file and folder names (images,
    dataset records), so ``/``, ``\\``, control characters, ``.``, ``..`` and names over 255
    characters are refused (:class:`SceneFormatError` naming ``field``)."""
    if _UNSAFE_NAME.search(value) or value in (".", "..") or len(value) > 255:
        raise SceneFormatError(f"{value[:60]!r} cannot name a file (no '/', '\\', control characters, '.' or '..'; at most 255 characters)",
                               field=field)
    return value


def frame_id(value: object) -> str:
    """A frame id as a string: a non-empty string (kept as is) or an integer (``7`` → ``"7"``), that
    can name a file (:func:`safe_name`).

    ``None``, bools, floats, blank strings and unsafe names raise :class:`SceneFormatError` (field ``frame.id``).
    """
    if isinstance(value, str) and value.strip():
        return safe_name(value, "frame.id")
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    raise SceneFormatError(f"frame id must be a non-empty string or an integer, got {value!r}", field="frame.id")


@dataclass(eq=False)
class Frame:
    """One camera frame.

    Attributes:
        id: frame identifier (unique in the scene), e.g. ``"000120"``: a non-empty string, or an
            integer stored as its decimal string.
        K: (3, 3) pinhole intrinsics, pixels, of the colour image as the frame gives it
            (``width`` x ``height``; a loader that resizes a colour image scales its intrinsics).
        T_wc: (4, 4) camera-to-world pose (OpenCV camera: x right, y down, z forward), metres.
        width, height: image size in pixels (whole numbers, each in [1, ``MAX_IMAGE_SIDE_PX``]).
        rgb_path / depth_path / instance_path: optional stored images, read lazily by
            :meth:`Scene.frame_images` (RGB resized to ``width`` x ``height`` when it differs).
        depth_scale: stored depth units per metre (1000 for millimetre PNGs), in
            [``MIN_DEPTH_SCALE``, ``MAX_DEPTH_SCALE``].
        depth_K: optional (3, 3) intrinsics, pixels, of the stored depth image at its own
            resolution, when the depth camera differs from the colour one (ScanNet: 640x480 depth
            beside 1296x968 colour, with its own principal point). ``None``: the depth image is the
            colour camera's, scaled to the depth image's size. Same pose ``T_wc`` either way.
    """

    id: str
    K: np.ndarray
    T_wc: np.ndarray
    width: int
    height: int
    rgb_path: Path | None = None
    depth_path: Path | None = None
    instance_path: Path | None = None
    depth_scale: float = 1000.0
    depth_K: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.id = frame_id(self.id)
        self.K = check_intrinsics(self.K, f"frame {self.id} K")
        if self.depth_K is not None:
            self.depth_K = check_intrinsics(self.depth_K, f"frame {self.id} depth_K")
        self.T_wc = check_pose(self.T_wc, f"frame {self.id} T_wc")
        try:
            self.width, self.height = check_image_size(self.width, self.height)
        except SceneFormatError as exc:
            raise SceneFormatError(exc.problem, field=f"frame {self.id} width/height") from None
        for name in ("rgb_path", "depth_path", "instance_path"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (str, Path)) or not str(value) or "\x00" in str(value):
                    raise SceneFormatError(f"expected a path, got {value!r}", field=f"frame {self.id} {name}")
                setattr(self, name, Path(value))
        self.depth_scale = bounded_number(self.depth_scale, f"frame {self.id} depth_scale", lo=MIN_DEPTH_SCALE, hi=MAX_DEPTH_SCALE)

    @property
    def camera_center(self) -> np.ndarray:
        """(3,) camera centre, world frame, metres."""
        return self.T_wc[:3, 3].copy()

    @property
    def T_cw(self) -> np.ndarray:
        """(4, 4) world-to-camera transform."""
        R, t = self.T_wc[:3, :3], self.T_wc[:3, 3]
        out = np.eye(4)
        out[:3, :3] = R.T
        out[:3, 3] = -R.T @ t
        return out

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points (metres) → (N, 3) camera-frame points (metres)."""
        R, t = self.T_wc[:3, :3], self.T_wc[:3, 3]
        return (np.asarray(points, dtype=np.float64) - t) @ R

    def project(self, points: np.ndarray, K: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) world points (metres) to pixels of the colour image (``K``: other
        intrinsics of the same camera pose, e.g. :attr:`depth_K`).

        Returns ``(uv, depth)``: (N, 2) pixel coordinates (u right, v down; integers are pixel
        centres) and (N,) camera-frame z in metres (points with depth <= 0 are behind the camera
        and their uv is meaningless).
        """
        K = self.K if K is None else K
        pc = self.world_to_camera(points)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (pc[:, :2] / z[:, None]) * np.diag(K)[:2] + K[:2, 2]
        return uv, z


@dataclass(eq=False)
class SceneMesh:
    """Triangle mesh of the scene, world frame, metres.

    Attributes:
        vertices: (V, 3) float64 positions.
        faces: (F, 3) int64 vertex indices.
        face_object_ids: (F,) int32 object id per face; negative values are structure
            (``FLOOR_ID``, ``CEILING_ID``, ``WALL_ID``) or ``NO_HIT`` for unlabelled surface.
        vertex_colors: optional (V, 3) uint8 RGB.
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_object_ids: np.ndarray
    vertex_colors: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = check_points(self.vertices, "mesh.vertices")
        self.faces = as_array(self.faces, (None, 3), "mesh.faces", dtype=np.int64)
        self.face_object_ids = as_array(self.face_object_ids, (len(self.faces),), "mesh.face_object_ids", dtype=np.int32)
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise SceneFormatError("face indices out of range of the vertex array", field="mesh.faces")
        if len(self.faces) and self.face_object_ids.min() < min(STRUCTURE_LABELS):
            raise SceneFormatError(
                f"face ids must be object ids (>= 0) or the codes {sorted(STRUCTURE_LABELS)} / NO_HIT = {NO_HIT}, "
                f"got {int(self.face_object_ids.min())}",
                field="mesh.face_object_ids",
            )
        if self.vertex_colors is not None:
            self.vertex_colors = as_array(self.vertex_colors, (len(self.vertices), 3), "mesh.vertex_colors", dtype=np.uint8)


@dataclass(eq=False)
class Scene:
    """A 3D scene: objects, optional mesh / point cloud / floor polygon, and camera frames.

    Attributes:
        scene_id: identifier (e.g. ``"scene0000_00"``).
        objects: object instances, ids unique.
        frames: camera frames, ids unique, in capture order.
        mesh: optional triangle mesh (world, metres) with per-face object ids.
        points: optional (N, 3) point cloud (world, metres); ``point_colors`` (N, 3) uint8.
        floor_polygon: optional (M, 2) floor outline in the world xy plane (metres), counter-clockwise.
        meta: free-form metadata dict (``layout``, ``room_size`` in m² when the source states it,
            checked to lie in (0, ``MAX_ROOM_SIZE_M2``], ...).

    Reading, rendering and saving live above this module (they import it, so it cannot import
    them): the methods ``frame_images`` (:func:`spatialevo.scene.images.frame_images`, stored or
    rendered images of a frame) and ``save`` (:func:`spatialevo.scene.cache.save_cache`, write the
    cache file) are bound to the class by :mod:`spatialevo.scene`, whose ``__init__`` always runs
    before this module can be imported.
    """

    scene_id: str
    objects: list[ObjectInstance] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    mesh: SceneMesh | None = None
    points: np.ndarray | None = None
    point_colors: np.ndarray | None = None
    floor_polygon: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _visibility_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    #: ``scene.frame_images(frame, kinds=("rgb", "depth", "instance")) -> {kind: image}`` (bound by :mod:`spatialevo.scene`).
    frame_images: ClassVar[Callable[..., dict[str, np.ndarray]]]
    #: ``scene.save(path) -> Path``: write the cache file (bound by :mod:`spatialevo.scene`).
    save: ClassVar[Callable[..., Path]]
    #: ``scene.to_trimesh(**kw) -> trimesh.Scene``: world frame, metres, z up; ``"mesh"`` or ``"points"``,
    #: ``"box/<label#id>"`` and ``"camera/<frame id>"`` wireframes
    #: (:func:`spatialevo.scene.meshexport.scene_to_trimesh`; bound by :mod:`spatialevo.scene`).
    to_trimesh: ClassVar[Callable[..., Any]]
    #: ``scene.to_open3d(**kw) -> {name: geometry}``: ``TriangleMesh`` / ``PointCloud``, a ``LineSet`` per box
    #: and camera (:func:`spatialevo.scene.meshexport.scene_to_open3d`; bound by :mod:`spatialevo.scene`).
    to_open3d: ClassVar[Callable[..., dict[str, Any]]]

    def __post_init__(self) -> None:
        if isinstance(self.scene_id, (bool, np.bool_)) or not isinstance(self.scene_id, (str, int, np.integer)) or not str(self.scene_id).strip():
            raise SceneFormatError(f"scene id must be a non-empty string or an integer, got {self.scene_id!r}", field="scene_id")
        self.scene_id = safe_name(str(self.scene_id), "scene_id")
        if not isinstance(self.meta, dict):
            raise SceneFormatError(f"scene meta must be a dict, got {type(self.meta).__name__}", field="meta")
        if self.meta.get("room_size") is not None:
            self.meta["room_size"] = bounded_number(self.meta["room_size"], "room_size", lo=0.0, hi=MAX_ROOM_SIZE_M2, lo_open=True)
        ids = [o.id for o in self.objects]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise SceneFormatError(f"duplicate object ids {dup}", field="objects")
        fids = [f.id for f in self.frames]
        if len(set(fids)) != len(fids):
            raise SceneFormatError("duplicate frame ids", field="frames")
        if self.points is not None:
            self.points = check_points(self.points, "points")
        if self.point_colors is not None:
            self.point_colors = as_array(self.point_colors, (len(self.points) if self.points is not None else None, 3), "point_colors", dtype=np.uint8)
        if self.floor_polygon is not None:
            poly = check_points(self.floor_polygon, "floor_polygon", dims=2)
            if len(poly) < 3:
                raise SceneFormatError("floor polygon needs at least 3 vertices", field="floor_polygon")
            area2 = np.sum(poly[:, 0] * np.roll(poly[:, 1], -1) - np.roll(poly[:, 0], -1) * poly[:, 1])
            self.floor_polygon = poly if area2 >= 0 else poly[::-1].copy()

    # -- lookup -----------------------------------------------------------------------------
    def object(self, object_id: int) -> ObjectInstance:
        """The object with id ``object_id`` (KeyError naming the id if absent)."""
        for o in self.objects:
            if o.id == object_id:
                return o
        raise KeyError(f"scene {self.scene_id} has no object with id {object_id}")

    def frame(self, frame_id: str) -> Frame:
        """The frame with id ``frame_id`` (KeyError naming the id if absent)."""
        for f in self.frames:
            if f.id == str(frame_id):
                return f
        raise KeyError(f"scene {self.scene_id} has no frame '{frame_id}'")

    def labels(self) -> dict[str, int]:
        """Instance count per label, sorted by label."""
        out: dict[str, int] = {}
        for o in self.objects:
            out[o.label] = out.get(o.label, 0) + 1
        return dict(sorted(out.items()))

    def objects_with_label(self, label: str) -> list[ObjectInstance]:
        """All instances of ``label`` (normalised before matching)."""
        lab = normalize_label(label)
        return [o for o in self.objects if o.label == lab]

    @property
    def floor_area(self) -> float | None:
        """Area of the floor polygon in m² (``None`` when the polygon is unknown)."""
        if self.floor_polygon is None:
            return None
        x, y = self.floor_polygon[:, 0], self.floor_polygon[:, 1]
        return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))

    def bounds(self) -> np.ndarray:
        """(2, 3) axis-aligned bounds (min, max) of all geometry, world frame, metres."""
        chunks = [o.box.corners() for o in self.objects]
        if self.mesh is not None and len(self.mesh.vertices):
            chunks.append(self.mesh.vertices)
        if self.points is not None and len(self.points):
            chunks.append(self.points)
        if self.floor_polygon is not None:
            chunks.append(np.c_[self.floor_polygon, np.zeros(len(self.floor_polygon))])
        if not chunks:
            raise SceneFormatError(f"scene {self.scene_id} has no geometry", field="objects")
        allp = np.concatenate(chunks)
        return np.stack([allp.min(0), allp.max(0)])

    def summary(self) -> dict[str, Any]:
        """Plain-data summary (id, counts, labels, floor area, bounds) for printing or JSON."""
        b = self.bounds()
        return {
            "scene_id": self.scene_id,
            "layout": self.meta.get("layout"),
            "num_objects": len(self.objects),
            "num_frames": len(self.frames),
            "labels": self.labels(),
            "has_mesh": self.mesh is not None,
            "mesh_faces": 0 if self.mesh is None else len(self.mesh.faces),
            "floor_area_m2": None if self.floor_area is None else round(self.floor_area, 3),
            "bounds_min": np.round(b[0], 3).tolist(),
            "bounds_max": np.round(b[1], 3).tolist(),
        }
