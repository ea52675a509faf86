"""Reading and writing frame images (RGB, metric depth, instance ids) with clear errors."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.validate import as_array


def read_npy(fh: BinaryIO, size: int, *, path: Path, field: str) -> np.ndarray:
    """Read one ``.npy`` array of ``size`` bytes from ``fh``, checking its header before allocating.

    The header's shape × item size must equal the bytes that follow it (a header claiming
    ``(10**9, 3)`` in a small file is refused, never allocated); object dtypes and negative
    dimensions are refused.

    Raises:
        SceneFormatError: naming ``path`` and ``field``.
    """
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise SceneFormatError(f"unsupported .npy format version {version}", path=path, field=field)
    except ValueError as exc:
        raise SceneFormatError(f"not a .npy array ({exc})", path=path, field=field) from None
    if any(d < 0 for d in shape):
        raise SceneFormatError(f"negative dimension in shape {shape}", path=path, field=field)
    if dtype.hasobject or dtype.itemsize == 0:
        raise SceneFormatError(f"unsupported dtype {dtype}", path=path, field=field)
    count = math.prod(shape)
    available = size - fh.tell()
    if count * dtype.itemsize != available:
        raise SceneFormatError(
            f".npy header claims shape {shape} of {dtype} ({count * dtype.itemsize} bytes) but {available} bytes follow it",
            path=path, field=field,
        )
    arr = np.empty(count, dtype=dtype)
    got = fh.readinto(memoryview(arr).cast("B")) if count else 0  # for a zip member, reaching the end checks the CRC
    if got != available:
        raise SceneFormatError(f"truncated array ({got} of {available} bytes)", path=path, field=field)
    return arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)


def _open(path: Path, field: str) -> np.ndarray:
    if not path.is_file():
        raise SceneFileNotFoundError(path, field=field)
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as fh:
                return read_npy(fh, path.stat().st_size, path=path, field=field)
        with Image.open(path) as im:
            return np.asarray(im)
    except SceneFormatError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise SceneFormatError(f"cannot decode image ({type(exc).__name__}: {exc})", path=path, field=field) from None


def read_rgb(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an image file; resized (bilinear) to ``size`` = (width, height)."""
    path = Path(path)
    arr = _open(path, "rgb")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise SceneFormatError(f"expected an RGB image, got shape {arr.shape}", path=path, field="rgb")
    arr = as_array(np.ascontiguousarray(arr[:, :, :3]), None, "rgb", path=path, dtype=np.uint8)  # no wrap-around
    if size is not None and (arr.shape[1], arr.shape[0]) != tuple(size):
        arr = np.asarray(Image.fromarray(arr).resize(tuple(size), Image.BILINEAR))
    return arr


def read_depth(path: str | Path, depth_scale: float = 1000.0) -> np.ndarray:
    """(H, W) float32 depth in metres (0 = invalid) from a 16-bit PNG / .npy in units of 1/depth_scale m."""
    path = Path(path)
    arr = _open(path, "depth")
    if arr.ndim != 2:
        raise SceneFormatError(f"expected a single-channel depth image, got shape {arr.shape}", path=path, field="depth")
    arr = as_array(arr, None, "depth", path=path, finite=False)  # real numbers only (no bool / complex)
    with np.errstate(invalid="ignore", over="ignore"):
        depth = (arr / float(depth_scale)).astype(np.float32)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def read_instance(path: str | Path) -> np.ndarray:
    """(H, W) int32 instance ids from a 16/32-bit PNG or .npy (negative = structure / no hit)."""
    path = Path(path)
    arr = _open(path, "instance")
    if arr.ndim != 2:
        raise SceneFormatError(f"expected a single-channel instance image, got shape {arr.shape}", path=path, field="instance")
    return as_array(arr, None, "instance", path=path, dtype=np.int32)  # whole numbers in the int32 range


@lru_cache(maxsize=1)
def _umask() -> int:
    """This process's umask (read from /proc where it can be; ``os.umask`` set-and-restore else)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` only once the ``with`` block succeeds: written under a
    unique temporary name in the same folder (two writers never share one), given the permissions
    an ordinary new file gets (0666 less the umask), renamed into place; removed on any error or
    Ctrl-C, so nothing partial is left and an existing ``path`` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_png(path: str | Path, array: np.ndarray) -> Path:
    """Write uint8 (H, W[, 3]) or uint16 (H, W) arrays as PNG atomically (:func:`atomic_file`)."""
    with atomic_file(path) as fh:
        Image.fromarray(np.ascontiguousarray(array)).save(fh, format="PNG")
    return Path(path)
