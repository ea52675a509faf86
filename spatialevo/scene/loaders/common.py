"""Helpers shared by the layout loaders: files read with errors that name the file and the field.

Every helper raises :class:`~spatialevo.errors.SceneFileNotFoundError` for a missing file and
:class:`~spatialevo.errors.SceneFormatError` (naming the file and the field) for malformed
content, never a bare ``KeyError`` / ``IndexError`` / numpy error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo import safejson
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import NO_HIT, STRUCTURE_LABELS, ObjectInstance, SceneMesh, normalize_label
from spatialevo.scene.validate import (
    MAX_COORD_M,
    MAX_EXTENT_M,
    MAX_OBJECT_ID,
    as_array,
    bounded_number,
    check_image_size,
    check_points,
)

#: Image suffixes tried when a layout's colour image may be stored as jpg or png.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def require_file(path: Path, *, field: str, layout: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`SceneFileNotFoundError` naming ``field``."""
    if not path.is_file():
        raise SceneFileNotFoundError(path, field=field, layout=layout)
    return path


def read_json(path: Path, *, field: str, layout: str) -> Any:
    """Parse a JSON file (nesting depth bounded by :mod:`spatialevo.safejson`); a missing file,
    invalid or too deeply nested JSON raise errors naming ``path`` and ``field``."""
    require_file(path, field=field, layout=layout)
    try:
        return safejson.load_file(path)
    except ValueError as exc:  # JSONDecodeError, JSONDepthError, UnicodeDecodeError, over-long integers
        raise SceneFormatError(f"malformed JSON ({exc})", path=path, field=field) from None
    except OSError as exc:
        raise SceneFormatError(f"cannot read the file ({exc})", path=path, field=field) from None


def get_field(obj: Any, key: str | tuple[str, ...], *, path: Path, field: str, kind: type | tuple[type, ...] | None = None) -> Any:
    """``obj[key]`` (the first present of several alternative keys) with a clear error.

    Raises:
        SceneFormatError: ``obj`` is not a dict, no key is present, or the value is not ``kind``.
    """
    keys = (key,) if isinstance(key, str) else key
    if not isinstance(obj, dict):
        raise SceneFormatError(f"expected a JSON object, got {type(obj).__name__}", path=path, field=field)
    for k in keys:
        if k in obj:
            value = obj[k]
            if kind is not None and not isinstance(value, kind):
                raise SceneFormatError(f"key {k!r} has type {type(value).__name__}", path=path, field=field)
            return value
    raise SceneFormatError(f"missing key {' or '.join(repr(k) for k in keys)}", path=path, field=field)


def finite_number(value: Any, *, path: Path, field: str) -> float:
    """``value`` as a finite float; bools, strings, ``None``, NaN and inf raise naming ``path`` and ``field``."""
    return bounded_number(value, field, lo=-np.inf, hi=np.inf, path=path)


def check_principal_point(K: np.ndarray, width: int, height: int, *, path: Path, field: str) -> None:
    """Raise unless ``K`` is skew-free and its principal point lies in the central half of a ``width`` x ``height`` image.

    Real pinhole cameras have ``(cx, cy)`` within a few per cent of the image centre; a point far
    off it means the intrinsics belong to another resolution (e.g. full-size ``K`` with downscaled
    images) or the matrix is transposed, which would silently misproject every pixel.
    """
    cx, cy = float(K[0, 2]), float(K[1, 2])
    if max(abs(K[0, 1]), abs(K[1, 0]), abs(K[2, 0]), abs(K[2, 1])) > 1e-6:
        raise SceneFormatError(
            f"expected a pinhole matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {K.tolist()} (transposed?)", path=path, field=field
        )
    if abs(cx - width / 2) > width / 4 or abs(cy - height / 2) > height / 4:
        raise SceneFormatError(
            f"principal point (cx, cy) = ({cx:g}, {cy:g}) is far from the centre of the {width}x{height} image: "
            "the intrinsics are probably for another image resolution",
            path=path, field=field,
        )


def read_numbers(path: Path, *, field: str, layout: str) -> np.ndarray:
    """All whitespace-separated numbers of a text file as a flat float64 array (``inf``/``nan`` allowed)."""
    require_file(path, field=field, layout=layout)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return np.array([float(tok) for tok in text.split()], dtype=np.float64)
    except ValueError as exc:
        raise SceneFormatError(f"expected whitespace-separated numbers ({exc})", path=path, field=field) from None


def read_matrix(path: Path, shape: tuple[int, int], *, field: str, layout: str, finite: bool = True) -> np.ndarray:
    """A matrix of ``shape`` stored as whitespace-separated numbers (row-major) in a text file."""
    nums = read_numbers(path, field=field, layout=layout)
    if nums.size != shape[0] * shape[1]:
        raise SceneFormatError(f"expected {shape[0] * shape[1]} numbers ({shape[0]}x{shape[1]}), got {nums.size}", path=path, field=field)
    return as_array(nums.reshape(shape), shape, field, path=path, finite=finite)


def read_key_value_matrix(path: Path, key: str, *, layout: str) -> np.ndarray | None:
    """The 4x4 row-major matrix on a ``key = 16 numbers`` line of a text file (``None`` if no such line)."""
    require_file(path, field=key, layout=layout)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(rf"\s*{re.escape(key)}\s*=(.*)$", line)
        if m:
            try:
                nums = [float(t) for t in m.group(1).split()]
            except ValueError as exc:
                raise SceneFormatError(f"expected 16 numbers ({exc})", path=path, field=key) from None
            if len(nums) != 16:
                raise SceneFormatError(f"expected 16 numbers (row-major 4x4), got {len(nums)}", path=path, field=key)
            return as_array(np.reshape(nums, (4, 4)), (4, 4), key, path=path)
    return None


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 rigid transform to (N, 3) points (metres); returns (N, 3) float64."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return pts @ T[:3, :3].T + T[:3, 3]


def image_size(path: Path, *, field: str = "image") -> tuple[int, int] | None:
    """(width, height) from an image header, or ``None`` if the file is missing.

    Raises:
        SceneFormatError: the file exists but is not a readable image (naming it and ``field``),
            or its size is beyond the bounds of :func:`~spatialevo.scene.validate.check_image_size`.
    """
    from PIL import Image

    if not path.is_file():
        return None
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SceneFormatError(f"cannot read the image header ({type(exc).__name__}: {exc})", path=path, field=field) from None
    return check_image_size(w, h, path=path, fields=(f"{field}.width", f"{field}.height"))


def find_image(folder: Path, stem: str, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path | None:
    """``folder/stem<suffix>`` for the first suffix that exists, else ``None``."""
    for suf in suffixes:
        p = folder / f"{stem}{suf}"
        if p.is_file():
            return p
    return None


def read_ply_mesh(path: Path, *, layout: str, field: str = "mesh") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a PLY mesh (or point cloud) with trimesh, without merging or reordering vertices.

    Returns:
        ``(vertices (V, 3) float64 in the file's units, faces (F, 3) int64, colors (V, 3) uint8 or None)``.
        A point-cloud PLY (no faces) gives ``F = 0``; the loaders then keep the vertices as
        ``Scene.points`` and set no mesh. Vertices are bounded by ``MAX_COORD_M``.
    """
    import trimesh

    require_file(path, field=field, layout=layout)
    try:
        geom = trimesh.load(path, file_type="ply", process=False, fix_texture=False)
    except Exception as exc:  # trimesh raises many exception types for corrupt files
        raise SceneFormatError(f"cannot read PLY ({type(exc).__name__}: {exc})", path=path, field=field) from None
    if isinstance(geom, trimesh.Scene):
        geoms = list(geom.geometry.values())
        if not geoms:
            raise SceneFormatError("PLY has no vertices", path=path, field=f"{field}.vertices")
        if len(geoms) != 1:
            raise SceneFormatError(f"expected one mesh in the PLY, found {len(geoms)}", path=path, field=field)
        geom = geoms[0]
    colors = None
    if isinstance(geom, trimesh.PointCloud):
        verts = np.asarray(geom.vertices)
        faces = np.zeros((0, 3), dtype=np.int64)
        c = np.asarray(geom.colors) if len(getattr(geom, "colors", [])) else None
        if c is not None and c.shape[0] == len(verts):
            colors = c[:, :3].astype(np.uint8)
    elif isinstance(geom, trimesh.Trimesh):
        verts = np.asarray(geom.vertices)
        faces = np.asarray(geom.faces, dtype=np.int64).reshape(-1, 3)
        if getattr(geom.visual, "kind", None) == "vertex":
            c = np.asarray(geom.visual.vertex_colors)
            if c.shape[0] == len(verts):
                colors = c[:, :3].astype(np.uint8)
    else:
        raise SceneFormatError(f"unsupported PLY content ({type(geom).__name__})", path=path, field=field)
    verts = check_points(verts, f"{field}.vertices", path=path)
    if len(verts) == 0:
        raise SceneFormatError("PLY has no vertices", path=path, field=f"{field}.vertices")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(verts)):
        raise SceneFormatError("face indices out of range", path=path, field=f"{field}.faces")
    return verts.astype(np.float64), faces, colors


def face_ids_majority(faces: np.ndarray, vertex_ids: np.ndarray) -> np.ndarray:
    """(F,) int32 face ids from (V,) per-vertex ids: the id shared by at least two of the three vertices, else ``NO_HIT``."""
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int32)
    a, b, c = (vertex_ids[faces[:, k]] for k in range(3))
    out = np.where((a == b) | (a == c), a, np.where(b == c, b, NO_HIT))
    return out.astype(np.int32)


def segments_to_vertex_ids(
    seg_indices: np.ndarray, groups: list[tuple[int, list[int]]], *, path: Path, field: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex id from per-vertex segment ids and ``(id, [segment ids])`` groups (vectorised).

    A segment listed by several groups belongs to the first one. Returns
    ``(vertex_ids (V,) int64 with NO_HIT for unassigned, group_hits (len(groups),) int64 vertex counts)``.
    """
    seg_indices = np.asarray(seg_indices, dtype=np.int64)
    vertex_ids = np.full(len(seg_indices), NO_HIT, dtype=np.int64)
    if not groups:
        return vertex_ids, np.zeros(0, dtype=np.int64)
    keys = np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1) for _, s in groups])
    vals = np.concatenate([np.full(len(s), gid, dtype=np.int64) for gid, s in groups])
    order = np.concatenate([np.full(len(s), k, dtype=np.int64) for k, (_, s) in enumerate(groups)])
    if len(keys):
        ukeys, first = np.unique(keys, return_index=True)
        uvals = vals[first]
        pos = np.clip(np.searchsorted(ukeys, seg_indices), 0, len(ukeys) - 1)
        hit = ukeys[pos] == seg_indices
        vertex_ids[hit] = uvals[pos[hit]]
        hits_per_group = np.bincount(order[first][pos[hit]], minlength=len(groups))
    else:
        hits_per_group = np.zeros(len(groups), dtype=np.int64)
    return vertex_ids, hits_per_group.astype(np.int64)


def group_points(points: np.ndarray, vertex_ids: np.ndarray) -> dict[int, np.ndarray]:
    """Split (V, 3) points by their non-negative ``vertex_ids`` → {id: (n, 3) points} (one sort, no per-point loop)."""
    keep = vertex_ids >= 0
    ids, pts = vertex_ids[keep], points[keep]
    order = np.argsort(ids, kind="stable")
    ids, pts = ids[order], pts[order]
    uniq, starts = np.unique(ids, return_index=True)
    chunks = np.split(pts, starts[1:]) if len(uniq) else []
    return {int(u): c for u, c in zip(uniq, chunks, strict=True)}


def parse_seg_groups(
    seg_groups: Any, *, path: Path, field: str = "segGroups"
) -> list[tuple[int, str, list[int]]]:
    """Validate ScanNet / ScanNet++ ``segGroups`` → ``[(object id, raw label, segment ids)]``.

    The object id is ``objectId`` (or ``id`` when absent), a whole number in [0, ``MAX_OBJECT_ID``]. An empty or missing ``segments`` list is
    a malformed annotation and raises :class:`SceneFormatError` naming ``segGroups[i].segments``.
    """
    if not isinstance(seg_groups, list):
        raise SceneFormatError(f"expected a list, got {type(seg_groups).__name__}", path=path, field=field)
    out = []
    for i, g in enumerate(seg_groups):
        where = f"{field}[{i}]"
        oid = get_field(g, ("objectId", "id"), path=path, field=f"{where}.objectId")
        if (isinstance(oid, bool) or not isinstance(oid, (int, float)) or not np.isfinite(float(oid) if isinstance(oid, float) else 0.0)
                or int(oid) != oid or not 0 <= oid <= MAX_OBJECT_ID):
            raise SceneFormatError(f"object id must be an integer in [0, {MAX_OBJECT_ID}], got {oid!r}", path=path, field=f"{where}.objectId")
        label = get_field(g, "label", path=path, field=f"{where}.label", kind=str)
        segs = get_field(g, "segments", path=path, field=f"{where}.segments", kind=list)
        if len(segs) == 0:
            raise SceneFormatError(
                f"object {int(oid)} ({label!r}) has an empty segment list, so it has no vertices", path=path, field=f"{where}.segments"
            )
        segs_arr = as_array(segs, (None,), f"{where}.segments", path=path, dtype=np.int64)
        out.append((int(oid), label, segs_arr.tolist()))
    ids = [o[0] for o in out]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SceneFormatError(f"duplicate object ids {dup}", path=path, field=f"{field}[*].objectId")
    return out


def objects_from_segments(
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray | None,
    seg_indices: object,
    groups: list[tuple[int, str, list[int]]],
    *,
    seg_path: Path,
    anno_path: Path,
    ignore_labels: frozenset[str] = frozenset(),
) -> tuple[list[ObjectInstance], SceneMesh | None, list[dict[str, Any]]]:
    """Objects and the labelled mesh of a segment-annotated scan (ScanNet, ScanNet++).

    Args:
        vertices: (V, 3) mesh vertices, world frame (already axis-aligned), metres.
        faces: (F, 3) vertex indices.
        colors: optional (V, 3) uint8 vertex colours.
        seg_indices: (V,) per-vertex segment id (``segIndices`` of ``seg_path``).
        groups: ``(object id, raw label, segment ids)`` from :func:`parse_seg_groups` of ``anno_path``.
        ignore_labels: normalised labels that are neither objects nor structure (their faces get ``NO_HIT``).

    Labels ``wall`` / ``floor`` / ``ceiling`` become the structure codes ``WALL_ID`` / ``FLOOR_ID`` /
    ``CEILING_ID`` on the mesh and are not objects. A face takes the id shared by at least two of its
    three vertices (:func:`face_ids_majority`). Objects whose segments match no vertex are skipped
    and reported in the returned list (``{"id", "label", "reason"}``). Without faces (a point-cloud
    PLY) the returned mesh is ``None``: a mesh without faces is not a mesh.
    """
    seg = as_array(seg_indices, (len(vertices),), "segIndices", path=seg_path, dtype=np.int64)
    structure = {v: k for k, v in STRUCTURE_LABELS.items()}
    labelled: list[tuple[int, str, list[int]]] = []
    id_groups: list[tuple[int, list[int]]] = []
    for oid, raw, segs in groups:
        try:
            label = normalize_label(raw)
        except SceneFormatError as exc:
            raise SceneFormatError(exc.problem, path=anno_path, field=f"label of object {oid}") from None
        if label in ignore_labels:
            continue
        labelled.append((oid, label, segs))
        id_groups.append((structure.get(label, oid), segs))
    vertex_ids, hits = segments_to_vertex_ids(seg, id_groups, path=seg_path, field="segIndices")
    by_id = group_points(vertices, vertex_ids)
    objects: list[ObjectInstance] = []
    skipped: list[dict[str, Any]] = []
    for (oid, label, _), n in zip(labelled, hits, strict=True):
        if label in structure:
            continue
        if n == 0 or oid not in by_id:
            skipped.append({"id": oid, "label": label, "reason": "no mesh vertex carries its segments"})
            continue
        objects.append(ObjectInstance.from_points(oid, label, by_id[oid]))
    mesh = SceneMesh(vertices, faces, face_ids_majority(faces, vertex_ids), colors) if len(faces) else None
    return objects, mesh, skipped


def box_from_obb(obb: Any, *, path: Path, field: str) -> OrientedBox:
    """Box from ``{centroid: [3], axesLengths: [3], normalizedAxes: [9]}`` (world frame, metres).

    ``normalizedAxes`` is a row-major 3x3 whose *rows* are the unit box axes (ARKitScenes and the
    box-list JSON convention); see :meth:`OrientedBox.from_axes`.
    """
    c = as_array(get_field(obb, "centroid", path=path, field=f"{field}.centroid"), (3,), f"{field}.centroid", path=path,
                 max_abs=MAX_COORD_M)
    e = as_array(get_field(obb, "axesLengths", path=path, field=f"{field}.axesLengths"), (3,), f"{field}.axesLengths", path=path)
    ax = as_array(get_field(obb, "normalizedAxes", path=path, field=f"{field}.normalizedAxes"), None, f"{field}.normalizedAxes", path=path)
    if ax.size != 9:
        raise SceneFormatError(f"expected 9 numbers (row-major 3x3), got shape {ax.shape}", path=path, field=f"{field}.normalizedAxes")
    if (e < 0).any() or (e > MAX_EXTENT_M).any():
        raise SceneFormatError(f"box lengths must lie in [0, {MAX_EXTENT_M:g}] m, got {e.tolist()}", path=path, field=f"{field}.axesLengths")
    try:
        return OrientedBox.from_axes(c, e, ax.reshape(3, 3))
    except SceneFormatError as exc:
        raise SceneFormatError(exc.problem, path=path, field=f"{field}.normalizedAxes") from None
