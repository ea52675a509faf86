"""Reading and writing frame images (RGB, metric depth, instance ids) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError

if TYPE_CHECKING:
    from spatialevo.scene.model import Frame


def _open(path: Path, field: str) -> np.ndarray:
    if not path.is_file():
        raise SceneFileNotFoundError(path, field=field)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except (OSError, ValueError) as exc:
        raise SceneFormatError(f"cannot decode image ({exc})", path=path, field=field) from None


def read_rgb(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image file; resized (bilinear) to ``size`` = (width, height)."""
    path = Path(path)
    arr = _open(path, "rgb")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise SceneFormatError(f"expected an RGB image, got shape {arr.shape}", path=path, field="rgb")
    arr = np.ascontiguousarray(arr[:, :, :3]).astype(np.uint8, copy=False)
    if size is not None and (arr.shape[1], arr.shape[0]) != tuple(size):
        arr = np.asarray(Image.fromarray(arr).resize(tuple(size), Image.BILINEAR))
    return arr


def read_depth(path: str | Path, depth_scale: float = 1000.0) -> np.ndarray:
    """(H, W) float32 depth in metres (0 = invalid) from a 16-bit PNG / .npy in units of 1/depth_scale m."""
    path = Path(path)
    arr = _open(path, "depth")
    if arr.ndim != 2:
        raise SceneFormatError(f"expected a single-channel depth image, got shape {arr.shape}", path=path, field="depth")
    depth = arr.astype(np.float32) / np.float32(depth_scale)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def read_instance(path: str | Path) -> np.ndarray:
    """(H, W) int32 instance ids from a 16/32-bit PNG or .npy (negative = structure / no hit)."""
    path = Path(path)
    arr = _open(path, "instance")
    if arr.ndim != 2:
        raise SceneFormatError(f"expected a single-channel instance image, got shape {arr.shape}", path=path, field="instance")
    return arr.astype(np.int32)


def read_frame_image(frame: Frame, kind: str) -> np.ndarray:
    """Read a stored image of ``frame``; ``kind`` is ``rgb``, ``depth`` or ``instance``."""
    path = getattr(frame, f"{kind}_path")
    if kind == "rgb":
        return read_rgb(path, (frame.width, frame.height))
    if kind == "depth":
        return read_depth(path, frame.depth_scale)
    if kind == "instance":
        return read_instance(path)
    raise ValueError(f"unknown image kind {kind!r} (expected rgb, depth or instance)")


def write_png(path: str | Path, array: np.ndarray) -> Path:
    """Write uint8 (H, W[, 3]) or uint16 (H, W) arrays as PNG atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
    tmp.replace(path)
    return path
