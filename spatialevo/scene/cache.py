"""The spatialevo cache format: one uncompressed ``.npz`` file per scene.

The file is a zip of ``.npy`` arrays (``numpy.load`` can open it) written with fixed timestamps,
so the same scene always gives the same bytes. Arrays are stored at full precision, so a
save → load round trip is exact. Frame image paths are stored as given (absolute paths stay
valid; relative ones are resolved against the cache file's folder when loading).

Entries: ``meta.json`` (uint8 JSON: format version, scene id, labels, frame ids and paths, meta),
``obj_ids``, ``box_center``, ``box_extents``, ``box_rotation``, ``obj_point_offsets``,
``obj_points``, ``frame_K``, ``frame_T_wc``, ``frame_size``, ``frame_depth_scale`` and, when
present, ``frame_depth_K`` (version 2: (F, 3, 3), all zeros for a frame without depth
intrinsics of its own; a scene without any is written as version 1, readable by earlier
releases), ``mesh_vertices``, ``mesh_faces``, ``mesh_face_object_ids``, ``mesh_vertex_colors``,
``points``, ``point_colors``, ``floor_polygon``.

Reading trusts nothing in the file: every ``.npy`` header's shape × item size is checked against
the zip member's real size *before* anything is allocated (a header claiming ``(10**9, 3)`` is
refused, not allocated), object dtypes are refused, deflated members may not claim more than
:data:`MAX_DEFLATE_RATIO` times their compressed size, ``meta.json`` is parsed with a bounded
nesting depth and every field's type is checked, integer entries must be stored with an integer
dtype, and all values then pass the scene model's checks and physical bounds.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo import safejson
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.imageio import read_npy
from spatialevo.scene.model import Frame, ObjectInstance, Scene, SceneMesh
from spatialevo.scene.validate import as_array

FORMAT_NAME = "spatialevo-scene-cache"
FORMAT_VERSION = 2
#: versions this release reads (1: no ``frame_depth_K``)
READ_VERSIONS = (1, 2)
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
#: Largest uncompressed / compressed size of a deflated member (deflate cannot exceed ~1032).
MAX_DEFLATE_RATIO = 1100
#: Entries holding integers: they must be stored with an integer dtype (a float array would be truncated).
INTEGER_ENTRIES = frozenset(
    {"obj_ids", "obj_point_offsets", "frame_size", "mesh_faces", "mesh_face_object_ids", "mesh_vertex_colors", "point_colors"}
)


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
        "version": FORMAT_VERSION if any(f.depth_K is not None for f in scene.frames) else 1,
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
    if any(f.depth_K is not None for f in scene.frames):
        arrays["frame_depth_K"] = np.array([np.zeros((3, 3)) if f.depth_K is None else f.depth_K for f in scene.frames], dtype=np.float64)
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


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` member as an array, its header checked against the member's size before allocating."""
    name = info.filename[:-4]
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise SceneFormatError(f"unsupported zip compression {info.compress_type}", path=path, field=name)
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise SceneFormatError("stored member with inconsistent sizes", path=path, field=name)
    if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise SceneFormatError(f"member claims {info.file_size} bytes from {info.compress_size} compressed", path=path, field=name)
    with zf.open(info) as fh:
        return read_npy(fh, info.file_size, path=path, field=name)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The ``.npy`` members of a zip (names without ``.npy``), read with bounded memory.

    Raises:
        SceneFormatError: not a readable zip, a member's data beyond the end of the file, or a
            member whose header does not match its size (naming the member).
    """
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            for info in infos:
                if info.header_offset + info.compress_size > size:
                    raise SceneFormatError("member data lies beyond the end of the file", path=path, field=info.filename[:-4])
            return {info.filename[:-4]: _read_member(zf, info, path) for info in infos}
    except SceneFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise SceneFormatError(f"not a readable spatialevo cache ({type(exc).__name__}: {exc})", path=path) from None


def load_cache(path: str | Path) -> Scene:
    """Read a scene written by :func:`save_cache`.

    Raises:
        SceneFileNotFoundError: the file does not exist.
        SceneFormatError: the file is not a spatialevo cache, has another format version, or an
            entry is missing / inconsistent / out of bounds (the entry or ``meta.json`` field is named).
    """
    path = Path(path)
    if not path.is_file():
        raise SceneFileNotFoundError(path, layout="cache")
    a = read_npz(path)
    if "meta.json" not in a:
        raise SceneFormatError("missing entry", path=path, field="meta.json")
    raw = a["meta.json"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise SceneFormatError(f"expected a 1-D uint8 array, got {raw.dtype} {raw.shape}", path=path, field="meta.json")
    try:
        meta = safejson.loads(raw.tobytes().decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, JSONDepthError
        raise SceneFormatError(f"corrupt JSON ({exc})", path=path, field="meta.json") from None
    if not isinstance(meta, dict):
        raise SceneFormatError(f"expected a JSON object, got {type(meta).__name__}", path=path, field="meta.json")
    if meta.get("format") != FORMAT_NAME or meta.get("version") not in READ_VERSIONS:
        raise SceneFormatError(
            f"unsupported cache format {meta.get('format')!r} version {meta.get('version')!r} "
            f"(this spatialevo reads {FORMAT_NAME} versions {', '.join(map(str, READ_VERSIONS))})",
            path=path,
            field="meta.json",
        )
    _check_meta(meta, path)
    try:
        return _scene_from_entries(path, meta, a)
    except SceneFormatError as exc:
        if exc.path is None:  # raised by the scene model: add the file
            raise SceneFormatError(exc.problem, path=path, field=exc.field) from None
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # a guarantee
        raise SceneFormatError(f"inconsistent cache content ({type(exc).__name__}: {exc})", path=path, field="meta.json") from None


def _check_meta(meta: dict[str, Any], path: Path) -> None:
    """Raise unless every field of a decoded ``meta.json`` has the type the reader relies on."""

    def need(key: str, kind: type | tuple[type, ...], what: str) -> Any:
        if key not in meta:
            raise SceneFormatError("missing key", path=path, field=f"meta.json.{key}")
        value = meta[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)) or not isinstance(value, kind):
            raise SceneFormatError(f"expected {what}, got {type(value).__name__}", path=path, field=f"meta.json.{key}")
        return value

    need("scene_id", (str, int), "a string")
    need("meta", dict, "a JSON object")
    for key, kind, what in (("labels", str, "strings"), ("has_points", bool, "booleans")):
        items = need(key, list, "a list")
        for i, v in enumerate(items):
            if not isinstance(v, kind):
                raise SceneFormatError(f"expected {what}, got {v!r}", path=path, field=f"meta.json.{key}[{i}]")
    for i, fm in enumerate(need("frames", list, "a list")):
        if not isinstance(fm, dict):
            raise SceneFormatError(f"expected a JSON object, got {type(fm).__name__}", path=path, field=f"meta.json.frames[{i}]")
        for key in ("id", "rgb_path", "depth_path", "instance_path"):
            if key not in fm:
                raise SceneFormatError("missing key", path=path, field=f"meta.json.frames[{i}].{key}")
            v = fm[key]
            ok = isinstance(v, (str, int)) and not isinstance(v, bool) if key == "id" else (v is None or isinstance(v, str))
            if not ok:
                raise SceneFormatError(f"unexpected value {v!r}", path=path, field=f"meta.json.frames[{i}].{key}")


def _entry(a: dict[str, np.ndarray], name: str, shape: tuple[int | None, ...], path: Path, *, dtype: type = np.float64) -> np.ndarray:
    """A cache entry of ``shape`` (integer entries must be stored with an integer dtype)."""
    if name not in a:
        raise SceneFormatError("missing entry", path=path, field=name)
    arr = a[name]
    if name in INTEGER_ENTRIES and arr.dtype.kind not in "iu":
        raise SceneFormatError(f"integer entry stored as {arr.dtype}", path=path, field=name)
    return as_array(arr, shape, name, path=path, dtype=dtype)


def _scene_from_entries(path: Path, meta: dict[str, Any], a: dict[str, np.ndarray]) -> Scene:
    """Build the scene from the decoded entries of a cache file (model errors get the file added by the caller)."""
    offsets = _entry(a, "obj_point_offsets", (None,), path, dtype=np.int64)
    pts_all = _entry(a, "obj_points", (None, 3), path)
    ids = _entry(a, "obj_ids", (None,), path, dtype=np.int64)
    centers, extents = _entry(a, "box_center", (None, 3), path), _entry(a, "box_extents", (None, 3), path)
    rots = _entry(a, "box_rotation", (None, 3, 3), path)
    labels, has_pts = meta["labels"], meta["has_points"]
    if not (len(ids) == len(centers) == len(extents) == len(rots) == len(labels) == len(has_pts) == len(offsets) - 1):
        raise SceneFormatError("object arrays have inconsistent lengths", path=path, field="obj_ids")
    if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != len(pts_all):
        raise SceneFormatError("offsets must rise from 0 to the number of points", path=path, field="obj_point_offsets")
    objects = [
        ObjectInstance(
            ids[i], labels[i], OrientedBox(centers[i], extents[i], rots[i]),
            pts_all[offsets[i] : offsets[i + 1]] if has_pts[i] else None,
        )
        for i in range(len(ids))
    ]
    fK, fT = _entry(a, "frame_K", (None, 3, 3), path), _entry(a, "frame_T_wc", (None, 4, 4), path)
    fsize = _entry(a, "frame_size", (None, 2), path, dtype=np.int64)
    fscale = _entry(a, "frame_depth_scale", (None,), path)
    fmeta = meta["frames"]
    fdK = _entry(a, "frame_depth_K", (len(fK), 3, 3), path) if "frame_depth_K" in a else np.zeros((len(fK), 3, 3))
    if not (len(fK) == len(fT) == len(fsize) == len(fscale) == len(fmeta)):
        raise SceneFormatError("frame arrays have inconsistent lengths", path=path, field="frame_K")

    def resolve(p: str | None) -> Path | None:
        if p is None:
            return None
        q = Path(p)
        return q if q.is_absolute() else path.parent / q

    frames = [
        Frame(
            fm["id"], fK[i], fT[i], fsize[i, 0], fsize[i, 1],
            rgb_path=resolve(fm["rgb_path"]), depth_path=resolve(fm["depth_path"]),
            instance_path=resolve(fm["instance_path"]), depth_scale=fscale[i],
            depth_K=fdK[i] if fdK[i].any() else None,
        )
        for i, fm in enumerate(fmeta)
    ]
    mesh = None
    if "mesh_vertices" in a:
        faces = _entry(a, "mesh_faces", (None, 3), path, dtype=np.int64)
        face_ids = _entry(a, "mesh_face_object_ids", (len(faces),), path, dtype=np.int32)
        colors = _entry(a, "mesh_vertex_colors", (None, 3), path, dtype=np.uint8) if "mesh_vertex_colors" in a else None
        mesh = SceneMesh(_entry(a, "mesh_vertices", (None, 3), path), faces, face_ids, colors)
    optional = {
        name: _entry(a, name, shape, path, dtype=dt) if name in a else None
        for name, shape, dt in (("points", (None, 3), np.float64), ("point_colors", (None, 3), np.uint8), ("floor_polygon", (None, 2), np.float64))
    }
    return Scene(meta["scene_id"], objects, frames, mesh, meta=meta["meta"], **optional)
