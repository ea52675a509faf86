"""ScanNet exports of VoteNet / mmdetection3d ``scannet/batch_load_scannet_data.py`` (and ScanRefer's variant).

The export folder holds many scenes side by side; one scene is the set of files ``<scene>_*.npy``
(read without unpickling, see :func:`~spatialevo.scene.loaders.pointcept.read_array`):

- ``<scene>_vert.npy``: (N, 6) x y z r g b (rgb in [0, 255]); ScanRefer adds normals, (N, 9). Only
  (N, 3) or (N, >= 6) are accepted; columns beyond the sixth are ignored. Its frame differs by
  exporter: VoteNet writes axis-aligned points; mmdetection3d and ScanRefer write the raw scan frame;
- ``<scene>_axis_align_matrix.npy`` (mmdetection3d): (4, 4) ScanNet ``axisAlignment``, applied here;
- ``<scene>_aligned_vert.npy`` (ScanRefer): the axis-aligned copy of ``_vert.npy``, row for row;
- ``<scene>_sem_label.npy``: (N,) nyu40 class id, ``0`` = unannotated (oneformer3d's ``--scannet200``
  exports store ScanNet200 raw ids instead: refused when an id exceeds 40, not supported);
- ``<scene>_ins_label.npy``: (N,) instance id = ScanNet ``objectId + 1``, ``0`` = none;
- ``<scene>_bbox.npy`` (VoteNet: (K, 7) cx cy cz dx dy dz nyu40-id; ScanRefer: (K, 8), + objectId),
  ``<scene>_aligned_bbox.npy`` / ``<scene>_unaligned_bbox.npy`` (mmdetection3d, (K, 7); ScanRefer's
  later exports, (K, 8)): axis-aligned boxes of the detection classes only. ``_bbox.npy`` and
  ``_unaligned_bbox.npy`` are in the frame of ``_vert.npy``, ``_aligned_bbox.npy`` in the world frame.

World frame = the axis-aligned scan frame (metres, z up): ``_aligned_vert.npy`` when present, else
``_vert.npy`` transformed by the axis-align matrix when present, else ``_vert.npy`` as stored
(VoteNet). An mmdetection3d box file without the matrix (and without ``_aligned_vert.npy``) is
refused: the points' frame would be unknown.

Objects: one per instance (object id = ``ins_label - 1``, i.e. ScanNet's ``objectId``, as the ScanNet
loader), made of its points; label = the majority nyu40 class of its points, named
``category_names("nyu40")[id - 1]``; wall / floor / ceiling are structure, not objects.

The box files are used only to check the frame (``meta["bbox_check"]``): every box must enclose
the axis-aligned bounds of its instance's points (exports may be randomly subsampled, so the
points can fall short of the box); if fewer than half do, the points and boxes are in different
frames and :class:`SceneFormatError` is raised. Objects' boxes always come from the points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.loaders.common import require_file, transform_points
from spatialevo.scene.loaders.pointcept import category_table, objects_from_instances, read_array, read_ids, to_colors
from spatialevo.scene.model import STRUCTURE_LABELS, Scene, normalize_label
from spatialevo.scene.validate import MAX_OBJECT_ID, as_array, check_points, check_pose

LAYOUT = "VoteNet/mmdetection3d"
VERT = "_vert.npy"
ALIGNED_VERT = "_aligned_vert.npy"
MATRIX = "_axis_align_matrix.npy"
NYU40 = "nyu40"
#: Box files: (suffix, field, True if in the world frame else in the frame of ``_vert.npy``).
BOX_FILES = (("_aligned_bbox.npy", "aligned_bbox", True), ("_unaligned_bbox.npy", "unaligned_bbox", False), ("_bbox.npy", "bbox", False))
#: Slack (metres) when checking that a box encloses its instance's points.
BOX_TOL_M = 1e-3


def _names(vocabulary: str) -> list[str]:
    """Category names of ``vocabulary`` in table order (from :mod:`spatialevo.scene.labels`, imported lazily)."""
    from spatialevo.scene.labels import category_names

    return category_names(vocabulary)


def _scene_of(name: str) -> str | None:
    """The scene id of a ``<scene>_vert.npy`` or ``<scene>_aligned_vert.npy`` file name, else ``None``."""
    for suffix in (ALIGNED_VERT, VERT):
        if name.endswith(suffix):
            return name[: -len(suffix)] or None
    return None


def list_scenes(folder: str | Path) -> list[Path]:
    """The ``<scene>_vert.npy`` files of an export folder, sorted (for bulk conversion; ``_aligned_vert.npy`` excluded)."""
    return sorted(p for p in Path(folder).glob(f"*{VERT}") if not p.name.endswith(ALIGNED_VERT) and _scene_of(p.name) and p.is_file())


def detect(path: Path) -> bool:
    """True for a ``*_vert.npy`` file (``_aligned_vert.npy`` included) or a folder holding one (file names only)."""
    try:
        path = Path(path)
        if path.is_file():
            return _scene_of(path.name) is not None
        return path.is_dir() and any(_scene_of(p.name) for p in path.glob(f"*{VERT}"))
    except OSError:
        return False


def _resolve(path: Path) -> Path:
    """The ``<scene>_vert.npy`` file that ``path`` (that file, its ``_aligned_vert.npy``, or a one-scene folder) names."""
    if path.is_dir():
        scenes = list_scenes(path)
        if len(scenes) == 1:
            return scenes[0]
        if not scenes:
            raise SceneFileNotFoundError(path / f"<scene>{VERT}", field="vert", layout=LAYOUT)
        shown = ", ".join(p.name for p in scenes[:3]) + (", ..." if len(scenes) > 3 else "")
        raise SceneFormatError(f"the folder holds {len(scenes)} scenes ({shown}): pass one <scene>{VERT} file "
                               "(votenet.list_scenes(folder) lists them)", path=path, field="vert")
    sid = _scene_of(path.name)
    if sid is None:
        raise SceneFormatError(f"expected a '<scene>{VERT}' file or a folder holding one scene", path=path, field="vert")
    return require_file(path.with_name(sid + VERT), field="vert", layout=LAYOUT)


def _read_vertices(path: Path, field: str, n: int | None = None) -> np.ndarray:
    """(N, C) vertex table with C = 3 or C >= 6; xyz checked finite and within bounds."""
    arr = as_array(read_array(path, field=field, layout=LAYOUT), None, field, path=path, finite=False)
    if arr.ndim != 2 or not (arr.shape[1] == 3 or arr.shape[1] >= 6) or (n is not None and len(arr) != n):
        rows = "N" if n is None else f"N = {n} (as in {VERT})"
        raise SceneFormatError(f"expected shape ({rows}, 6) (x y z r g b), (N, 3) or more columns, got {arr.shape}", path=path, field=field)
    check_points(arr[:, :3], f"{field} xyz", path=path)
    return arr


def _world(raw: np.ndarray, prefix: Path, meta: dict[str, Any]) -> np.ndarray:
    """(N, C) vertex table in the world frame (see the module docstring); records variant and axis alignment in ``meta``."""
    aligned, matrix = prefix.with_name(prefix.name + ALIGNED_VERT), prefix.with_name(prefix.name + MATRIX)
    meta["axis_alignment"] = None
    if aligned.is_file():
        meta.update(variant="scanrefer", points_file=aligned.name)
        return _read_vertices(aligned, "aligned_vert", len(raw))
    if matrix.is_file():
        A = check_pose(as_array(read_array(matrix, field="axis_align_matrix", layout=LAYOUT), (4, 4), "axis_align_matrix", path=matrix),
                       "axis_align_matrix", path=matrix)
        meta.update(variant="mmdet3d", points_file=prefix.name + VERT, axis_alignment=A.tolist())
        out = raw.copy()
        out[:, :3] = transform_points(A, raw[:, :3])
        return out
    if any(prefix.with_name(prefix.name + s).is_file() for s in ("_aligned_bbox.npy", "_unaligned_bbox.npy")):
        raise SceneFileNotFoundError(matrix, field="axis_align_matrix (an mmdetection3d export stores its points unaligned)", layout=LAYOUT)
    meta.update(variant="votenet", points_file=prefix.name + VERT)
    return raw


def _check_boxes(path: Path, field: str, points: np.ndarray, members: dict[int, np.ndarray], skip_ids: list[int]) -> dict[str, Any]:
    """Check that the boxes of ``path`` enclose their objects' points (``points``: in the box file's frame).

    Rows of the nyu40 ids ``skip_ids`` (0: placeholders for instances without points; structure
    classes, which are not objects) are not checked.
    """
    boxes = as_array(read_array(path, field=field, layout=LAYOUT), None, field, path=path)
    if boxes.ndim != 2 or boxes.shape[1] not in (7, 8):
        raise SceneFormatError(f"expected shape (K, 7) or (K, 8) (cx cy cz dx dy dz nyu40-id [objectId]), got {boxes.shape}", path=path, field=field)
    cls = boxes[:, 6]
    if (cls != np.round(cls)).any() or (cls < 0).any() or (cls > 40).any():
        raise SceneFormatError("nyu40 ids (column 6) must be whole numbers in [0, 40]", path=path, field=f"{field}[:, 6]")
    if boxes.shape[1] == 8 and ((boxes[:, 7] != np.round(boxes[:, 7])).any() or (boxes[:, 7] < 0).any()):
        raise SceneFormatError("object ids (column 7) must be whole numbers >= 0", path=path, field=f"{field}[:, 7]")
    boxes = boxes[~np.isin(cls, skip_ids)]
    ids = list(members)
    id_arr = np.array(ids, dtype=np.float64)
    lo = np.array([points[members[i]].min(axis=0) for i in ids]).reshape(-1, 3)
    hi = np.array([points[members[i]].max(axis=0) for i in ids]).reshape(-1, 3)
    matched = exact = 0
    for row in boxes:
        b_lo, b_hi = row[:3] - row[3:6] / 2, row[:3] + row[3:6] / 2
        cand = (id_arr == row[7]) if len(row) == 8 else np.ones(len(ids), dtype=bool)
        inside = cand & (lo >= b_lo - BOX_TOL_M).all(axis=1) & (hi <= b_hi + BOX_TOL_M).all(axis=1)
        same = inside & (np.abs(lo - b_lo).max(axis=1, initial=0) <= BOX_TOL_M) & (np.abs(hi - b_hi).max(axis=1, initial=0) <= BOX_TOL_M)
        matched += bool(inside.any())
        exact += bool(same.any())
    if 2 * matched < len(boxes):
        raise SceneFormatError(f"only {matched} of {len(boxes)} boxes enclose the points of an instance: the boxes and the points "
                               "are in different frames (wrong or missing axis-align matrix?)", path=path, field=field)
    return {"file": path.name, "boxes": len(boxes), "enclosing": matched, "exact": exact}


def load(path: Path) -> Scene:
    """Load one scene of a VoteNet / mmdetection3d / ScanRefer ScanNet export into a :class:`Scene` (points only).

    ``path`` is the scene's ``<scene>_vert.npy`` (or ``_aligned_vert.npy``), or a folder holding
    exactly one scene. ``Scene.points``: (N, 3) world frame (axis-aligned scan frame, metres, z up);
    ``Scene.point_colors``: (N, 3) uint8 (when the table has rgb columns). ``meta``: ``layout``
    ("votenet"), ``variant`` ("votenet" / "mmdet3d" / "scanrefer"), ``points_file``,
    ``axis_alignment`` (4x4 list or ``None``), ``class_table`` ("nyu40"), ``skipped_objects``,
    ``structure_objects``, ``bbox_check`` (one ``{file, boxes, enclosing, exact}`` per box file).

    Raises:
        SceneFileNotFoundError: ``_vert.npy``, ``_sem_label.npy`` or ``_ins_label.npy`` is missing, or
            an mmdetection3d box file is there without ``_axis_align_matrix.npy``.
        SceneFormatError: a folder with several scenes, malformed content (shapes, lengths,
            non-finite coords, pickled arrays, nyu40 id beyond the table), or boxes in another frame.
    """
    vert_path = _resolve(Path(path).absolute())
    sid = vert_path.name[: -len(VERT)]
    prefix = vert_path.with_name(sid)
    raw = _read_vertices(vert_path, "vert")
    n = len(raw)
    sem_path, ins_path = prefix.with_name(sid + "_sem_label.npy"), prefix.with_name(sid + "_ins_label.npy")
    require_file(sem_path, field="sem_label", layout=LAYOUT)
    require_file(ins_path, field="ins_label", layout=LAYOUT)
    names = category_table(_names, NYU40, path=sem_path, field="sem_label")
    sem = read_ids(sem_path, n, field="sem_label", layout=LAYOUT, lo=0, hi=np.iinfo(np.uint32).max)
    if sem.max(initial=0) > len(names):
        raise SceneFormatError(f"nyu40 ids must lie in [0, {len(names)}], got up to {sem.max()} (ScanNet200 exports, "
                               "e.g. oneformer3d's --scannet200, store other ids and are not supported)", path=sem_path, field="sem_label")
    ins = read_ids(ins_path, n, field="ins_label", layout=LAYOUT, lo=0, hi=MAX_OBJECT_ID + 1)
    meta: dict[str, Any] = {"layout": "votenet"}
    world = _world(raw, prefix, meta)
    colors = to_colors(world[:, 3:6], n, path=vert_path.with_name(meta["points_file"]), field="rgb") if world.shape[1] >= 6 else None
    objects, skipped, structure, members = objects_from_instances(
        world[:, :3], ins - 1, sem - 1, names, unlabelled=f"most of its points are unannotated (nyu40 id 0 in {sem_path.name})"
    )
    skip_ids = [0] + [k + 1 for k, name in enumerate(names) if normalize_label(name) in STRUCTURE_LABELS.values()]
    checks = []
    for suffix, field, in_world in BOX_FILES:
        box_path = prefix.with_name(sid + suffix)
        if box_path.is_file():
            checks.append(_check_boxes(box_path, field, world[:, :3] if in_world else raw[:, :3], members, skip_ids))
    meta.update(class_table=NYU40, skipped_objects=skipped, structure_objects=structure, bbox_check=checks)
    return Scene(sid, objects, [], None, points=world[:, :3], point_colors=colors, meta=meta)
