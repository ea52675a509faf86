"""Pointcept scene folders: the ScanNet / ScanNet200 and ScanNet++ preprocessing output of Pointcept.

One folder per scene (``<root>/train/scene0000_00/`` ...), written by Pointcept's
``pointcept/datasets/preprocessing/scannet/preprocess_scannet.py`` and
``.../scannetpp/preprocess_scannetpp.py``. Files read (``.npy``, never unpickled: object dtypes are
refused before any data is read, see :func:`read_array`):

- ``coord.npy``: (N, 3) float32 point positions, metres (the vertices of ScanNet's
  ``*_vh_clean_2.ply`` / ScanNet++'s ``mesh_aligned_0.05.ply``);
- ``color.npy``: (N, 3) RGB in [0, 255] (uint8 in Pointcept's output); optional here;
- ``segment200.npy`` / ``segment20.npy`` (ScanNet): (N,) class index into the ScanNet200 / ScanNet20
  benchmark class list (``category_names("scannet200")`` / ``("scannet20")``), ``-1`` = ignored;
- ``segment.npy`` (ScanNet++): (N,) or (N, 3) class index into the ScanNet++ top-100 semantic
  classes (``category_names("scannetpp")``), ``-1`` = ignored. With 3 columns a point carries up
  to three (instance, class) pairs; column 0 is the smallest instance;
- ``instance.npy``: (N,) or (N, 3), the same shape as the segment file: instance id, ``-1`` = none
  (ScanNet's ``segGroups[].id``, ScanNet++'s ``objectId``; wall and floor are instances too);
- ``<scene>.txt`` (optional, copied from the raw ScanNet scan): ``axisAlignment = 16 numbers``.
- ``normal.npy`` is not read.

Labels come from the first present of ``segment200.npy``, ``segment20.npy``, ``segment.npy``
(one file for the whole scene, so the scene's labels share one vocabulary).

Frames: Pointcept's ScanNet script stores the raw scan frame (its axis-alignment block is
commented out): z up, metres, but not aligned with the room's walls. When ``<scene>.txt`` holds an
``axisAlignment`` it is applied to the points (world = axis-aligned scan frame, as the ScanNet
loader); otherwise the coords are used as given (``meta["axis_alignment"]`` is ``None``).
ScanNet++ coords are already in ScanNet++'s aligned, z-up frame.

Objects: one per instance id >= 0, made of every point carrying that id (in any column), its box
the minimal oriented box of those points; its label the majority class of those points. Instances
labelled wall / floor / ceiling are structure (``meta["structure_objects"]``), not objects;
instances whose points mostly have no class go to ``meta["skipped_objects"]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError
from spatialevo.scene.imageio import read_npy
from spatialevo.scene.loaders.common import read_key_value_matrix, require_file, transform_points
from spatialevo.scene.model import STRUCTURE_LABELS, ObjectInstance, Scene, normalize_label
from spatialevo.scene.validate import MAX_OBJECT_ID, as_array, check_points, check_pose

LAYOUT = "Pointcept"
#: Label files in order of preference, with the vocabulary of their class indices.
SEGMENT_FILES = (("segment200.npy", "scannet200"), ("segment20.npy", "scannet20"), ("segment.npy", "scannetpp"))
#: Most (instance, class) pairs per point (ScanNet++'s top-3 labels).
MAX_LABEL_COLUMNS = 3
_STRUCTURE = frozenset(STRUCTURE_LABELS.values())


def _names(vocabulary: str) -> list[str]:
    """Category names of ``vocabulary`` in table order (from :mod:`spatialevo.scene.labels`, imported lazily)."""
    from spatialevo.scene.labels import category_names

    return category_names(vocabulary)


# -- helpers shared with the VoteNet loader ---------------------------------------------------------
def read_array(path: Path, *, field: str, layout: str) -> np.ndarray:
    """The array stored in a ``.npy`` file, read without unpickling.

    Raises:
        SceneFileNotFoundError: the file is missing.
        SceneFormatError: not a ``.npy`` array, object dtype (a pickle), or a header that does not
            match the file size (see :func:`~spatialevo.scene.imageio.read_npy`), naming ``field``.
    """
    require_file(path, field=field, layout=layout)
    try:
        with open(path, "rb") as fh:
            return read_npy(fh, os.fstat(fh.fileno()).st_size, path=path, field=field)
    except OSError as exc:
        raise SceneFormatError(f"cannot read the file ({exc})", path=path, field=field) from None


def read_ids(path: Path, n: int, *, field: str, layout: str, lo: int, hi: int, max_columns: int = 1) -> np.ndarray:
    """Integer per-point labels as an (N, K) int64 array (a stored (N,) array gives K = 1), each in [lo, hi].

    Raises:
        SceneFormatError: not whole numbers, not one row per point (``n``), more than
            ``max_columns`` columns, or a value outside [lo, hi] (naming ``path`` and ``field``).
    """
    arr = as_array(read_array(path, field=field, layout=layout), None, field, path=path, dtype=np.int64)
    cols = arr[:, None] if arr.ndim == 1 else arr
    if cols.ndim != 2 or len(cols) != n or not 1 <= cols.shape[1] <= max_columns:
        want = "(N,)" if max_columns == 1 else f"(N,) or (N, K) with K <= {max_columns}"
        raise SceneFormatError(f"expected shape {want} with one row per point (N = {n}), got {arr.shape}", path=path, field=field)
    if cols.size and (cols.min() < lo or cols.max() > hi):
        raise SceneFormatError(f"values must lie in [{lo}, {hi}], got {cols.min()}..{cols.max()}", path=path, field=field)
    return cols


def to_colors(values: Any, n: int, *, path: Path, field: str) -> np.ndarray:
    """(N, 3) RGB values in [0, 255] (integers or floats, rounded) as uint8."""
    arr = as_array(values, (n, 3), field, path=path)
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise SceneFormatError(f"colours must lie in [0, 255], got {arr.min():g}..{arr.max():g}", path=path, field=field)
    return np.rint(arr).astype(np.uint8)


def category_table(names_of: Callable[[str], list[str]], vocabulary: str, *, path: Path, field: str) -> list[str]:
    """``names_of(vocabulary)`` checked to be a non-empty list of non-empty names.

    Raises:
        SceneFormatError: the vocabulary is unknown (a ``SpatialEvoError``, ``LookupError`` or
            ``ValueError`` from ``names_of``) or the list is malformed, naming the label file
            ``path`` and ``field`` (errors about a malformed table file pass through unchanged).
    """
    try:
        names = names_of(vocabulary)
    except SceneFormatError:  # a malformed table file: the error names that file
        raise
    except (SpatialEvoError, LookupError, ValueError) as exc:
        raise SceneFormatError(f"no category table for vocabulary {vocabulary!r} ({exc})", path=path, field=field) from None
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(s, str) and s.strip() for s in names):
        raise SceneFormatError(f"category table {vocabulary!r} is not a non-empty list of names", path=path, field=field)
    return list(names)


def _majority(classes: np.ndarray) -> int:
    """Most frequent value of ``classes`` (ties: a class >= 0 over -1, then the smallest)."""
    values, counts = np.unique(classes, return_counts=True)
    return int(values[np.argmax(2 * counts + (values >= 0))])


def objects_from_instances(
    points: np.ndarray, instance: np.ndarray, classes: np.ndarray, names: list[str], *, unlabelled: str
) -> tuple[list[ObjectInstance], list[dict[str, Any]], list[dict[str, Any]], dict[int, np.ndarray]]:
    """Objects from per-point instance ids and class indices (one sort, no per-point loop).

    Args:
        points: (N, 3) points, world frame, metres.
        instance: (N, K) instance ids; negative = no instance. A point may carry K instances.
        classes: (N, K) index into ``names`` of the class of the instance in the same cell; negative = no class.
        names: category names in table order.
        unlabelled: reason recorded for an instance whose points mostly have no class.

    Returns:
        ``(objects by id, skipped [{"id", "label", "reason"}], structure [{"id", "label"}],
        {object id: (n,) indices of its points})``.
    """
    rows, cols = np.nonzero(instance >= 0)
    ids, cls = instance[rows, cols], classes[rows, cols]
    order = np.argsort(ids, kind="stable")
    ids, rows, cls = ids[order], rows[order], cls[order]
    uniq, starts = np.unique(ids, return_index=True)
    ends = np.append(starts[1:], len(ids)).astype(np.int64) if len(ids) else starts  # no instance at all: no object
    objects, skipped, structure, members = [], [], [], {}
    for oid, a, b in zip(uniq.tolist(), starts.tolist(), ends.tolist(), strict=True):
        k = _majority(cls[a:b])
        if k < 0:
            skipped.append({"id": oid, "label": None, "reason": unlabelled})
            continue
        label = normalize_label(names[k])
        if label in _STRUCTURE:
            structure.append({"id": oid, "label": label})
            continue
        members[oid] = np.unique(rows[a:b])
        objects.append(ObjectInstance.from_points(oid, label, points[members[oid]]))
    return objects, skipped, structure, members


# -- the Pointcept layout ---------------------------------------------------------------------------
def detect(path: Path) -> bool:
    """True for a folder holding ``coord.npy`` and ``instance.npy`` (file names only)."""
    try:
        path = Path(path)
        return path.is_dir() and (path / "coord.npy").is_file() and (path / "instance.npy").is_file()
    except OSError:
        return False


def _segment_file(path: Path) -> tuple[Path, str]:
    for name, vocabulary in SEGMENT_FILES:
        if (path / name).is_file():
            return path / name, vocabulary
    wanted = ", ".join(name for name, _ in SEGMENT_FILES)
    raise SceneFileNotFoundError(path / SEGMENT_FILES[0][0], field=f"segment (one of {wanted})", layout=LAYOUT)


def _axis_alignment(path: Path) -> np.ndarray | None:
    """The 4x4 ``axisAlignment`` of ``<scene>.txt`` in the folder, or ``None`` (no file, or no such line)."""
    txt = path / f"{path.name}.txt"
    if not txt.is_file():
        return None
    A = read_key_value_matrix(txt, "axisAlignment", layout=LAYOUT)
    return None if A is None else check_pose(A, "axisAlignment", path=txt)


def load(path: Path) -> Scene:
    """Load a Pointcept scene folder into a :class:`Scene` (points only: no mesh, no frames).

    ``Scene.points`` is ``coord.npy`` ((N, 3), metres; axis-aligned when ``<scene>.txt`` is
    there, see the module docstring), ``Scene.point_colors`` ``color.npy`` as uint8. The scene id is
    the folder name. ``meta``: ``layout`` ("pointcept"), ``segment`` (the label file's name),
    ``class_table`` (the class table of its indices), ``dataset`` ("scannetpp" for ScanNet++ exports, else
    "scannet"), ``axis_alignment`` (4x4 list or ``None``), ``skipped_objects``, ``structure_objects``.

    Raises:
        SceneFileNotFoundError: ``coord.npy``, ``instance.npy`` or every segment file is missing.
        SceneFormatError: malformed content (shapes, lengths, non-finite coords, pickled arrays,
            class index beyond the vocabulary), naming the file and the field.
    """
    path = Path(path).absolute()
    coord_path = path / "coord.npy"
    coord = check_points(read_array(coord_path, field="coord", layout=LAYOUT), "coord", path=coord_path)
    n = len(coord)
    instance = read_ids(path / "instance.npy", n, field="instance", layout=LAYOUT, lo=-1, hi=MAX_OBJECT_ID,
                        max_columns=MAX_LABEL_COLUMNS)
    seg_path, vocabulary = _segment_file(path)
    field = seg_path.stem
    names = category_table(_names, vocabulary, path=seg_path, field=field)
    segment = read_ids(seg_path, n, field=field, layout=LAYOUT, lo=-1, hi=len(names) - 1, max_columns=MAX_LABEL_COLUMNS)
    if segment.shape != instance.shape:
        raise SceneFormatError(f"has {segment.shape[1]} label column(s) but instance.npy has {instance.shape[1]}", path=seg_path, field=field)
    A = _axis_alignment(path)
    points = coord if A is None else transform_points(A, coord)
    color_path = path / "color.npy"
    colors = None
    if color_path.is_file():
        colors = to_colors(read_array(color_path, field="color", layout=LAYOUT), n, path=color_path, field="color")
    objects, skipped, structure, _ = objects_from_instances(
        points, instance, segment, names, unlabelled=f"most of its points have no {vocabulary} class (-1 in {seg_path.name})"
    )
    meta = {
        "layout": "pointcept", "segment": seg_path.name, "class_table": vocabulary,
        "dataset": "scannetpp" if vocabulary == "scannetpp" else "scannet",
        "axis_alignment": None if A is None else A.tolist(), "skipped_objects": skipped, "structure_objects": structure,
    }
    return Scene(path.name, objects, [], None, points=points, point_colors=colors, meta=meta)
