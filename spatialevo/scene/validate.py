"""Input checks that turn malformed values into :class:`SceneFormatError` naming the file and the field.

Physical bounds (the one place they are defined; ``docs/scenes.md`` states them). Every scene
model constructor (:class:`~spatialevo.scene.boxes.OrientedBox`, ``ObjectInstance``, ``Frame``,
``SceneMesh``, ``Scene``) enforces them, so every loader and the cache go through them. They are
far outside any real indoor scan, yet small enough that squares, products and sums of the values
(distances, areas, volumes, projections) stay finite in float64 with margin to spare:

- :data:`MAX_COORD_M` = 1e4 m: |coordinate| of any world point (box centre, object / mesh /
  cloud point, camera centre, floor vertex). The largest indoor scans are ~100 m across; 10 km
  still holds a campus in one metric frame, and float64 keeps ~2e-12 m resolution there.
- :data:`MAX_EXTENT_M` = 1e3 m: a box side (>= 0). The largest real indoor objects (halls,
  hangars) are ~300 m.
- :data:`MAX_ROOM_SIZE_M2` = 1e6 m²: a stated floor area, in (0, 1e6] (1 km², beyond any building
  floor; the largest single halls are ~2e5 m²).
- :data:`MAX_IMAGE_SIDE_PX` = 32768 px per side and :data:`MAX_IMAGE_PIXELS` = 2**27 (134 MP)
  per image: above every camera sensor (100 MP medium format is 11648x8736), while one rendered
  frame of that size still fits in memory (~3 GiB of rays).
- focal lengths in [:data:`MIN_FOCAL_PX`, :data:`MAX_FOCAL_PX`] = [1e-2, 1e6] px: 1e6 px on a
  32768 px image is a 1.9° field of view (beyond any telephoto); below ~1 px a pinhole would see
  almost 180°. |principal point| <= :data:`MAX_FOCAL_PX` px.
- ``depth_scale`` in [:data:`MIN_DEPTH_SCALE`, :data:`MAX_DEPTH_SCALE`] = [1e-3, 1e6] stored
  units per metre (a unit of 1 km down to 1 µm; real sensors store mm, i.e. 1000).
- object ids: integers in [0, :data:`MAX_OBJECT_ID`] = [0, 2**31 - 1], since mesh face ids and
  instance images are int32.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFormatError

MAX_COORD_M = 1e4
MAX_EXTENT_M = 1e3
MAX_ROOM_SIZE_M2 = 1e6
MAX_IMAGE_SIDE_PX = 32768
MAX_IMAGE_PIXELS = 2**27
MIN_FOCAL_PX = 1e-2
MAX_FOCAL_PX = 1e6
MIN_DEPTH_SCALE = 1e-3
MAX_DEPTH_SCALE = 1e6
MAX_OBJECT_ID = 2**31 - 1

_EYE3 = np.eye(3)
_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])
#: Python element types accepted as numbers in lists (bool is an int subclass and is excluded by identity).
_NUMBER_TYPES = (int, float, np.integer, np.floating)


def _element_types(value: object) -> set[type]:
    """Types of the scalars of a (nested) list / tuple, one level at a time (C-speed ``map``).

    A level mixing lists with scalars reports ``list`` among the types (rejected as non-numeric).
    """
    items: Any = value
    while isinstance(items, (list, tuple)) and items and isinstance(items[0], (list, tuple)):
        try:
            items = list(chain.from_iterable(items))
        except TypeError:  # a scalar among the lists: ragged
            return {list}
    if not isinstance(items, (list, tuple)):
        items = [items]
    return set(map(type, items))


def _reject_non_numbers(value: object, field: str, path: str | Path | None) -> np.ndarray:
    """``value`` as a numeric ndarray of its own dtype; bools, strings, complex, ``None`` or objects raise.

    Lists are checked element by element first (``np.asarray`` would read ``true`` as 1 and
    ``"1.5"`` as a string array that converts to 1.5).
    """
    if isinstance(value, np.ndarray) and value.dtype == object:
        value = value.tolist()
    if not isinstance(value, np.ndarray):
        kinds = _element_types(value)
        bad = [t for t in kinds if t is bool or t is np.bool_ or not issubclass(t, _NUMBER_TYPES)]
        if bad:
            names = ", ".join(sorted("null" if t is type(None) else t.__name__ for t in bad))
            raise SceneFormatError(f"expected numbers, got values of type {names}", path=path, field=field)
        try:
            value = np.asarray(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SceneFormatError(f"expected numbers in a regular (non-ragged) array ({exc})", path=path, field=field) from None
        if value.dtype == object:  # Python ints beyond the int64 / float64 range
            raise SceneFormatError("number out of range", path=path, field=field)
    if value.dtype.kind not in "iuf":
        raise SceneFormatError(f"expected real numbers, got an array of dtype {value.dtype}", path=path, field=field)
    return value


def as_array(
    value: object,
    shape: tuple[int | None, ...] | None,
    field: str,
    *,
    path: str | Path | None = None,
    dtype: type = np.float64,
    finite: bool = True,
    max_abs: float | None = None,
) -> np.ndarray:
    """Convert ``value`` to an array of ``shape`` (``None`` = any length; ``shape=None``: any shape) and ``dtype``, or raise.

    Only real numbers are accepted: bools, strings, complex numbers, ``None`` and other objects
    raise (for lists, whatever the mix of element types). An integer ``dtype`` takes whole numbers
    within that dtype's range (no truncation, no wrap-around). ``max_abs`` bounds ``|value|``.

    Raises:
        SceneFormatError: naming ``field`` (and ``path``) when the value is not numeric, has the
            wrong shape, is out of range, or (with ``finite``) holds NaN / inf.
    """
    src = _reject_non_numbers(value, field, path)
    if shape is not None and (src.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, src.shape))):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise SceneFormatError(f"expected shape {want}, got {src.shape}", path=path, field=field)
    if np.issubdtype(dtype, np.integer):
        arr = _to_integer(src, np.dtype(dtype), field, path)
    else:
        arr = src if src.dtype == dtype else src.astype(dtype)
        if finite and arr.size and not np.isfinite(arr).all():
            raise SceneFormatError("contains NaN or infinite values", path=path, field=field)
    if max_abs is not None and arr.size:
        big = np.abs(arr).max()  # NaN (allowed only without ``finite``) never exceeds the bound
        if big > max_abs:
            raise SceneFormatError(f"value {big:g} exceeds the bound |x| <= {max_abs:g}", path=path, field=field)
    return arr


def _to_integer(src: np.ndarray, dtype: np.dtype, field: str, path: str | Path | None) -> np.ndarray:
    """``src`` (real array) as ``dtype``: whole numbers only, inside the dtype's range."""
    info = np.iinfo(dtype)
    if src.size == 0:
        return src.astype(dtype)
    if src.dtype.kind == "f":
        if not np.isfinite(src).all() or (src != np.round(src)).any():
            raise SceneFormatError("expected whole numbers", path=path, field=field)
        # float(info.max) may round up to 2**63: compare against the exclusive bound info.max + 1
        lo, hi = float(src.min()), float(src.max())
        if lo < info.min or hi >= float(info.max) + 1.0:
            raise SceneFormatError(f"values must lie in [{info.min}, {info.max}] ({dtype})", path=path, field=field)
        return src.astype(dtype)
    lo, hi = int(src.min()), int(src.max())
    if lo < info.min or hi > info.max:
        raise SceneFormatError(f"values must lie in [{info.min}, {info.max}] ({dtype}), got {lo}..{hi}", path=path, field=field)
    return src.astype(dtype, copy=False)


def as_int(value: Any, field: str, *, lo: int, hi: int, path: str | Path | None = None, whole_floats: bool = True) -> int:
    """``value`` as a Python int in ``[lo, hi]``; bools, strings, ``None`` and fractions raise.

    With ``whole_floats`` a float with a whole value (``640.0``) is accepted; ``3.5`` is never
    truncated.
    """
    ok = isinstance(value, (int, np.integer)) or (whole_floats and isinstance(value, (float, np.floating)))
    if isinstance(value, (bool, np.bool_)) or not ok:
        raise SceneFormatError(f"expected an integer, got {value!r}", path=path, field=field)
    if isinstance(value, (float, np.floating)) and (not np.isfinite(value) or value != round(value)):
        raise SceneFormatError(f"expected a whole number, got {value!r}", path=path, field=field)
    out = int(value)
    if not lo <= out <= hi:
        raise SceneFormatError(f"expected an integer in [{lo}, {hi}], got {value!r}", path=path, field=field)
    return out


def bounded_number(value: Any, field: str, *, lo: float, hi: float, path: str | Path | None = None, lo_open: bool = False) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); bools, strings, ``None`` raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SceneFormatError(f"expected a finite number, got {value!r}", path=path, field=field)
    try:
        v = float(value)
    except OverflowError:
        v = float("inf")
    if not np.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
        interval = f" in {'(' if lo_open else '['}{lo:g}, {hi:g}]" if np.isfinite(lo) or np.isfinite(hi) else ""
        raise SceneFormatError(f"expected a finite number{interval}, got {value!r}", path=path, field=field)
    return v


def check_image_size(width: Any, height: Any, *, path: str | Path | None = None,
                     fields: tuple[str, str] = ("width", "height")) -> tuple[int, int]:
    """``(width, height)`` as whole pixel counts in [1, :data:`MAX_IMAGE_SIDE_PX`], at most
    :data:`MAX_IMAGE_PIXELS` in all (whole floats such as ``640.0`` are read as ints; bools,
    fractions and non-numbers raise, naming ``path`` and the field of ``fields``)."""
    out = []
    for value, field in zip((width, height), fields, strict=True):
        v = bounded_number(value, field, lo=-np.inf, hi=np.inf, path=path)
        value = value.item() if isinstance(value, np.generic) else value
        if v != round(v) or v <= 0:
            raise SceneFormatError(f"image size must be a positive whole number of pixels, got {value!r}", path=path, field=field)
        if v > MAX_IMAGE_SIDE_PX:
            raise SceneFormatError(f"image side {value!r} exceeds {MAX_IMAGE_SIDE_PX} pixels", path=path, field=field)
        out.append(int(v))
    if out[0] * out[1] > MAX_IMAGE_PIXELS:
        raise SceneFormatError(f"image of {out[0]}x{out[1]} pixels exceeds {MAX_IMAGE_PIXELS} pixels", path=path, field="/".join(fields))
    return out[0], out[1]


def check_rotation(R: np.ndarray, field: str, *, path: str | Path | None = None, tol: float = 1e-4) -> np.ndarray:
    """Check that ``R`` (3, 3) is a proper rotation (orthonormal, det +1); return it re-orthonormalised.

    A matrix already orthonormal to 1e-12 is returned unchanged (so save → load is exact);
    otherwise the closest rotation (SVD polar factor) is returned, so values read from text files
    with few decimals become orthonormal.
    """
    R = as_array(R, (3, 3), field, path=path)
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.abs(R @ R.T - _EYE3).max()
    # "not <=" also catches NaN: entries such as ±1e308 overflow R @ R.T to inf - inf
    if not err <= tol or np.linalg.det(R) < 0:
        raise SceneFormatError("is not a rotation matrix (must be orthonormal with determinant +1)", path=path, field=field)
    if err <= 1e-12:
        return R
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt


def check_pose(T: object, field: str, *, path: str | Path | None = None) -> np.ndarray:
    """Check a 4x4 rigid transform (rotation block, last row 0 0 0 1, |translation| <= :data:`MAX_COORD_M` m)."""
    T = as_array(T, (4, 4), field, path=path)
    if not np.abs(T[3] - _LAST_ROW).max() <= 1e-6:
        raise SceneFormatError("last row of a 4x4 pose must be [0, 0, 0, 1]", path=path, field=field)
    if np.abs(T[:3, 3]).max() > MAX_COORD_M:
        raise SceneFormatError(f"translation {T[:3, 3].tolist()} exceeds the bound |x| <= {MAX_COORD_M:g} m", path=path, field=f"{field} translation")
    out = T.copy()
    out[:3, :3] = check_rotation(T[:3, :3], field, path=path, tol=1e-3)
    out[3] = (0.0, 0.0, 0.0, 1.0)
    return out


def check_intrinsics(K: object, field: str = "K", *, path: str | Path | None = None) -> np.ndarray:
    """Check a 3x3 pinhole intrinsic matrix in pixels: fx, fy in [:data:`MIN_FOCAL_PX`, :data:`MAX_FOCAL_PX`], K[2, 2] = 1."""
    K = as_array(K, (3, 3), field, path=path, max_abs=MAX_FOCAL_PX)
    if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[2, 2] - 1.0) > 1e-6:
        raise SceneFormatError("intrinsics need fx > 0, fy > 0 and K[2, 2] = 1", path=path, field=field)
    if min(K[0, 0], K[1, 1]) < MIN_FOCAL_PX:
        raise SceneFormatError(f"focal lengths must be >= {MIN_FOCAL_PX:g} px, got {K[0, 0]:g}, {K[1, 1]:g}", path=path, field=field)
    return K


def check_points(points: object, field: str, *, path: str | Path | None = None, dims: int = 3) -> np.ndarray:
    """(N, dims) finite float64 world coordinates (metres) with |x| <= :data:`MAX_COORD_M`."""
    return as_array(points, (None, dims), field, path=path, max_abs=MAX_COORD_M)
