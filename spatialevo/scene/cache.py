"""The spatialevo cache format: one uncompressed ``.npz`` file per scene.

The file is a zip of ``.npy`` arrays (``numpy.load`` can open it) written with fixed timestamps,
so the same scene always gives the same bytes. Arrays are stored at full precision, so a
save → load round trip is exact. Frame image paths are stored as given (absolute paths stay
valid; relative ones are resolved against the cache file's folder when loading).

Entries: ``meta.json`` (uint8 JSON: format version, scene id, labels, frame ids and paths, meta),
``obj_ids``, ``box_center``, ``box_extents``, ``box_rotation``, ``obj_point_offsets``,
``obj_points``, ``frame_K``, ``frame_T_wc``, ``frame_size``, ``frame_depth_scale`` and, when
present, ``mesh_vertices``, ``mesh_faces``, ``mesh_face_object_ids``, ``mesh_vertex_colors``,
``points``, ``point_colors``, ``floor_polygon``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import Frame, ObjectInstance, Scene, SceneMesh

FORMAT_NAME = "spatialevo-scene-cache"
FORMAT_VERSION = 1
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"scene.meta value of type {type(value).__name__} is not JSON-serialisable")


def scene_to_arrays(scene: Scene) -> dict[str, np.ndarray]:
    """All of ``scene`` as named arrays (the cache entries, ``meta.json`` as uint8 bytes)."""
    objs = scene.objects
    pts = [o.points if o.points is not None else np.zeros((0, 3)) for o in objs]
    has_pts = [o.points is not None for o in objs]
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "scene_id": scene.scene_id,
        "labels": [o.label for o in objs],
        "has_points": has_pts,
        "frames": [
            {
                "id": f.id,
                **{k: (None if getattr(f, k) is None else str(getattr(f, k))) for k in ("rgb_path", "depth_path", "instance_path")},
            }
            for f in scene.frames
        ],
        "meta": scene.meta,
    }
    arrays: dict[str, np.ndarray] = {
        "meta.json": np.frombuffer(json.dumps(meta, sort_keys=True, default=_json_default).encode(), dtype=np.uint8),
        "obj_ids": np.array([o.id for o in objs], dtype=np.int64),
        "box_center": np.array([o.box.center for o in objs], dtype=np.float64).reshape(-1, 3),
        "box_extents": np.array([o.box.extents for o in objs], dtype=np.float64).reshape(-1, 3),
        "box_rotation": np.array([o.box.rotation for o in objs], dtype=np.float64).reshape(-1, 3, 3),
        "obj_point_offsets": np.concatenate([[0], np.cumsum([len(p) for p in pts])]).astype(np.int64),
        "obj_points": np.concatenate(pts).astype(np.float64) if pts else np.zeros((0, 3)),
        "frame_K": np.array([f.K for f in scene.frames], dtype=np.float64).reshape(-1, 3, 3),
        "frame_T_wc": np.array([f.T_wc for f in scene.frames], dtype=np.float64).reshape(-1, 4, 4),
        "frame_size": np.array([(f.width, f.height) for f in scene.frames], dtype=np.int64).reshape(-1, 2),
        "frame_depth_scale": np.array([f.depth_scale for f in scene.frames], dtype=np.float64),
    }
    if scene.mesh is not None:
        arrays["mesh_vertices"] = scene.mesh.vertices
        arrays["mesh_faces"] = scene.mesh.faces
        arrays["mesh_face_object_ids"] = scene.mesh.face_object_ids
        if scene.mesh.vertex_colors is not None:
            arrays["mesh_vertex_colors"] = scene.mesh.vertex_colors
    for name in ("points", "point_colors", "floor_polygon"):
        if getattr(scene, name) is not None:
            arrays[name] = getattr(scene, name)
    return arrays


def save_cache(scene: Scene, path: str | Path) -> Path:
    """Write ``scene`` to ``path`` (``.npz`` appended if missing) atomically; return the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in scene_to_arrays(scene).items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    tmp.replace(path)
    return path


def is_cache_file(path: str | Path) -> bool:
    """True when ``path`` is a zip whose entries include ``meta.json.npy`` (a spatialevo cache)."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return "meta.json.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_cache(path: str | Path) -> Scene:
    """Read a scene written by :func:`save_cache`.

    Raises:
        SceneFileNotFoundError: the file does not exist.
        SceneFormatError: the file is not a spatialevo cache, has another format version, or an
            entry is missing / inconsistent (the entry is named).
    """
    path = Path(path)
    if not path.is_file():
        raise SceneFileNotFoundError(path, layout="cache")
    try:
        with np.load(path, allow_pickle=False) as npz:
            a = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SceneFormatError(f"not a readable spatialevo cache ({exc})", path=path) from None
    if "meta.json" not in a:
        raise SceneFormatError("missing entry", path=path, field="meta.json")
    try:
        meta = json.loads(a["meta.json"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneFormatError(f"corrupt JSON ({exc})", path=path, field="meta.json") from None
    if not isinstance(meta, dict):
        raise SceneFormatError("expected a JSON object", path=path, field="meta.json")
    if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
        raise SceneFormatError(
            f"unsupported cache format {meta.get('format')!r} version {meta.get('version')!r} "
            f"(this spatialevo reads {FORMAT_NAME} version {FORMAT_VERSION})",
            path=path,
            field="meta.json",
        )

    try:
        return _scene_from_entries(path, meta, a)
    except SceneFormatError as exc:
        if exc.path is None:  # raised by the scene model: add the file
            raise SceneFormatError(exc.problem, path=path, field=exc.field) from None
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise SceneFormatError(f"inconsistent cache content ({type(exc).__name__}: {exc})", path=path, field="meta.json") from None


def _scene_from_entries(path: Path, meta: dict[str, Any], a: dict[str, np.ndarray]) -> Scene:
    """Build the scene from the decoded entries of a cache file (errors are wrapped by the caller)."""

    def need(name: str) -> np.ndarray:
        if name not in a:
            raise SceneFormatError("missing entry", path=path, field=name)
        return a[name]

    offsets = need("obj_point_offsets")
    pts_all = need("obj_points")
    ids, centers, extents, rots = need("obj_ids"), need("box_center"), need("box_extents"), need("box_rotation")
    labels, has_pts = meta["labels"], meta["has_points"]
    if not (len(ids) == len(centers) == len(extents) == len(rots) == len(labels) == len(has_pts) == len(offsets) - 1):
        raise SceneFormatError("object arrays have inconsistent lengths", path=path, field="obj_ids")
    if offsets.ndim != 1 or offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != len(pts_all):
        raise SceneFormatError("offsets must rise from 0 to the number of points", path=path, field="obj_point_offsets")
    objects = [
        ObjectInstance(
            int(ids[i]),
            labels[i],
            OrientedBox(centers[i], extents[i], rots[i]),
            pts_all[offsets[i] : offsets[i + 1]] if has_pts[i] else None,
        )
        for i in range(len(ids))
    ]
    fK, fT, fsize, fscale = need("frame_K"), need("frame_T_wc"), need("frame_size"), need("frame_depth_scale")
    fmeta = meta["frames"]
    if not (len(fK) == len(fT) == len(fsize) == len(fscale) == len(fmeta)):
        raise SceneFormatError("frame arrays have inconsistent lengths", path=path, field="frame_K")

    def resolve(p: str | None) -> Path | None:
        if p is None:
            return None
        q = Path(p)
        return q if q.is_absolute() else path.parent / q

    frames = [
        Frame(
            fm["id"], fK[i], fT[i], int(fsize[i, 0]), int(fsize[i, 1]),
            rgb_path=resolve(fm["rgb_path"]), depth_path=resolve(fm["depth_path"]),
            instance_path=resolve(fm["instance_path"]), depth_scale=float(fscale[i]),
        )
        for i, fm in enumerate(fmeta)
    ]
    mesh = None
    if "mesh_vertices" in a:
        mesh = SceneMesh(a["mesh_vertices"], need("mesh_faces"), need("mesh_face_object_ids"), a.get("mesh_vertex_colors"))
    return Scene(
        meta["scene_id"], objects, frames, mesh,
        points=a.get("points"), point_colors=a.get("point_colors"), floor_polygon=a.get("floor_polygon"),
        meta=meta["meta"],
    )
