"""Input checks that turn malformed arrays into :class:`SceneFormatError` naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spatialevo.errors import SceneFormatError


def as_array(
    value: object,
    shape: tuple[int | None, ...],
    field: str,
    *,
    path: str | Path | None = None,
    dtype: type = np.float64,
    finite: bool = True,
) -> np.ndarray:
    """Convert ``value`` to an array of ``shape`` (``None`` = any length) or raise.

    Raises:
        SceneFormatError: naming ``field`` (and ``path``) when the value is not numeric,
            has the wrong shape, or (with ``finite``) holds NaN / inf.
    """
    integer = np.issubdtype(dtype, np.integer)
    try:  # integers are read as floats first so fractions and overflow are caught, not truncated
        arr = np.asarray(value, dtype=np.float64 if integer else dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SceneFormatError(f"expected numbers, got {type(value).__name__} ({exc})", path=path, field=field) from None
    if integer:
        if arr.size and (not np.isfinite(arr).all() or (arr != np.round(arr)).any() or np.abs(arr).max() > 2**62):
            raise SceneFormatError("expected whole numbers", path=path, field=field)
        arr = arr.astype(dtype)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise SceneFormatError(f"expected shape {want}, got {arr.shape}", path=path, field=field)
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise SceneFormatError("contains NaN or infinite values", path=path, field=field)
    return arr


def check_rotation(R: np.ndarray, field: str, *, path: str | Path | None = None, tol: float = 1e-4) -> np.ndarray:
    """Check that ``R`` (3, 3) is a proper rotation (orthonormal, det +1); return it re-orthonormalised.

    A matrix already orthonormal to 1e-12 is returned unchanged (so save → load is exact);
    otherwise the closest rotation (SVD polar factor) is returned, so values read from text files
    with few decimals become orthonormal.
    """
    R = as_array(R, (3, 3), field, path=path)
    if np.abs(R @ R.T - np.eye(3)).max() > tol or np.linalg.det(R) < 0:
        raise SceneFormatError("is not a rotation matrix (must be orthonormal with determinant +1)", path=path, field=field)
    if np.abs(R @ R.T - np.eye(3)).max() <= 1e-12:
        return R
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt


def check_pose(T: object, field: str, *, path: str | Path | None = None) -> np.ndarray:
    """Check a 4x4 rigid transform (rotation block, last row 0 0 0 1); return it as float64."""
    T = as_array(T, (4, 4), field, path=path)
    if np.abs(T[3] - np.array([0.0, 0.0, 0.0, 1.0])).max() > 1e-6:
        raise SceneFormatError("last row of a 4x4 pose must be [0, 0, 0, 1]", path=path, field=field)
    out = T.copy()
    out[:3, :3] = check_rotation(T[:3, :3], field, path=path, tol=1e-3)
    out[3] = (0.0, 0.0, 0.0, 1.0)
    return out


def check_intrinsics(K: object, field: str = "K", *, path: str | Path | None = None) -> np.ndarray:
    """Check a 3x3 pinhole intrinsic matrix in pixels (positive focal lengths)."""
    K = as_array(K, (3, 3), field, path=path)
    if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[2, 2] - 1.0) > 1e-6:
        raise SceneFormatError("intrinsics need fx > 0, fy > 0 and K[2, 2] = 1", path=path, field=field)
    return K
