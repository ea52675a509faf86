"""ScanNet ``.sens`` files: a streaming reader, a small writer (for fixtures) and an extractor.

Layout (ScanNet's SensReader ``sensorData.h`` / ``SensorData.py``, little-endian): uint32 version (4);
uint64 n + n bytes sensor name; row-major 4x4 float32 intrinsic_color, extrinsic_color,
intrinsic_depth, extrinsic_depth; int32 colour and depth compression (:data:`COLOR_COMPRESSION`,
:data:`DEPTH_COMPRESSION`); uint32 colour width, height, depth width, height; float32 depth shift
(units per metre); uint64 frame count; per frame: 4x4 float32 camera-to-world, uint64 colour and depth
timestamps and payload sizes, the two payloads. Trailing IMU data is ignored.

Every size is checked against the bytes left in the file before anything is read or allocated: a
hostile or truncated file raises :class:`~spatialevo.errors.SceneFormatError` naming the file and
the field, and at most one frame's payload is in memory at a time. No pickle is involved.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from spatialevo import safejson
from spatialevo.errors import SceneFormatError
from spatialevo.scene.imageio import write_png
from spatialevo.scene.validate import (
    MAX_COORD_M,
    MAX_DEPTH_SCALE,
    MAX_FOCAL_PX,
    MIN_DEPTH_SCALE,
    as_array,
    as_int,
    bounded_number,
    check_image_size,
    check_intrinsics,
    check_pose,
)

SENS_VERSION = 4
MAX_SENSOR_NAME_BYTES = 1024
COLOR_COMPRESSION = {-1: "unknown", 0: "raw", 1: "png", 2: "jpeg"}
DEPTH_COMPRESSION = {-1: "unknown", 0: "raw_ushort", 1: "zlib_ushort", 2: "occi_ushort"}
SUPPORTED_COLOR = ("raw", "png", "jpeg")
SUPPORTED_DEPTH = ("raw_ushort", "zlib_ushort")
FRAME_HEADER_BYTES = 16 * 4 + 4 * 8
#: file written last into an extracted folder: the source's size / mtime and the step it was made with
MARKER_NAME = "_sens_extract.json"
#: the entries extract writes into its folder (any others found there are kept on a rebuild)
OWNED_ENTRIES = frozenset({"color", "depth", "pose", "intrinsic", "_info.txt", MARKER_NAME})
_MAGIC = {"jpeg": b"\xff\xd8", "png": b"\x89PNG\r\n\x1a\n"}  # first bytes of a stored colour payload
_SLACK = 1 << 20  # compressed payloads may exceed the raw size a little (headers, incompressible data)


@dataclass
class SensHeader:
    """The header of a ``.sens`` file.

    ``K_color`` / ``K_depth``: (3, 3) float64 pinhole intrinsics in pixels of the colour / depth image
    (top-left block of ``intrinsic_color`` / ``intrinsic_depth``, the (4, 4) matrices as stored).
    ``extrinsic_color`` / ``extrinsic_depth``: (4, 4) float64 sensor-to-rig transforms (metres; identity
    in ScanNet). Sizes are (width, height) pixels; ``depth_shift`` = stored depth units per metre
    (1000 = millimetres); ``frames_offset`` = byte offset of frame 0.
    """

    version: int
    sensor_name: str
    K_color: np.ndarray
    K_depth: np.ndarray
    intrinsic_color: np.ndarray
    intrinsic_depth: np.ndarray
    extrinsic_color: np.ndarray
    extrinsic_depth: np.ndarray
    color_compression: str
    depth_compression: str
    color_size: tuple[int, int]
    depth_size: tuple[int, int]
    depth_shift: float
    num_frames: int
    frames_offset: int


@dataclass
class SensFrame:
    """One frame of a ``.sens`` file.

    ``T_wc``: (4, 4) float64 camera-to-world (OpenCV camera, scan frame, metres), the stored float32
    values; ``valid`` is False (and ``T_wc`` holds the stored -inf / NaN) for ScanNet's invalid poses.
    ``color_bytes``: the stored colour payload, not decoded (JPEG / PNG file bytes, or raw (H, W, 3)
    uint8 RGB for ``raw``). ``depth``: (H, W) uint16 depth in stored units (``depth_shift`` per metre,
    0 = no measurement). Timestamps are as stored (microseconds in ScanNet).
    """

    index: int
    T_wc: np.ndarray
    valid: bool
    timestamp_color: int
    timestamp_depth: int
    color_bytes: bytes
    depth: np.ndarray


def _read(fh: BinaryIO, n: int, path: Path, field: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise SceneFormatError(f"truncated file: {field} needs {n} bytes, {len(data)} left", path=path, field=field)
    return data


def _unpack(fh: BinaryIO, fmt: str, path: Path, field: str) -> tuple:
    return struct.unpack("<" + fmt, _read(fh, struct.calcsize("<" + fmt), path, field))


def _matrix(fh: BinaryIO, path: Path, field: str) -> np.ndarray:
    """A stored (4, 4) float32 matrix as float64: finite, |x| <= MAX_FOCAL_PX (intrinsics) / MAX_COORD_M."""
    M = np.frombuffer(_read(fh, 64, path, field), dtype="<f4").astype(np.float64).reshape(4, 4)
    bound = MAX_FOCAL_PX if field.startswith("intrinsic") else MAX_COORD_M
    return as_array(M, (4, 4), field, path=path, max_abs=bound)


def _compression(value: int, names: dict[int, str], supported: tuple[str, ...], path: Path, field: str) -> str:
    name = names.get(value)
    if name is None:
        raise SceneFormatError(f"unknown compression type {value}", path=path, field=field)
    if name not in supported:
        raise SceneFormatError(f"unsupported compression {name!r} (supported: {', '.join(supported)})", path=path, field=field)
    return name


def _sensor_name(fh: BinaryIO, path: Path) -> str:
    (n,) = _unpack(fh, "Q", path, "sensor_name length")
    if n > MAX_SENSOR_NAME_BYTES:
        raise SceneFormatError(f"sensor name of {n} bytes exceeds {MAX_SENSOR_NAME_BYTES}", path=path, field="sensor_name")
    try:
        name = _read(fh, n, path, "sensor_name").decode("utf-8")
    except UnicodeDecodeError:
        raise SceneFormatError("sensor name is not UTF-8 text", path=path, field="sensor_name") from None
    if not name.isprintable():
        raise SceneFormatError("sensor name holds control characters", path=path, field="sensor_name")
    return name


def _read_header(fh: BinaryIO, path: Path, file_size: int) -> SensHeader:
    (version,) = _unpack(fh, "I", path, "version")
    if version != SENS_VERSION:
        raise SceneFormatError(f"unsupported .sens version {version} (expected {SENS_VERSION})", path=path, field="version")
    name = _sensor_name(fh, path)
    mats = {f: _matrix(fh, path, f) for f in ("intrinsic_color", "extrinsic_color", "intrinsic_depth", "extrinsic_depth")}
    K = {f: check_intrinsics(mats[f"intrinsic_{f}"][:3, :3], f"intrinsic_{f}", path=path) for f in ("color", "depth")}
    color_c = _compression(_unpack(fh, "i", path, "color_compression_type")[0], COLOR_COMPRESSION, SUPPORTED_COLOR, path, "color_compression_type")
    depth_c = _compression(_unpack(fh, "i", path, "depth_compression_type")[0], DEPTH_COMPRESSION, SUPPORTED_DEPTH, path, "depth_compression_type")
    cw, ch, dw, dh = _unpack(fh, "4I", path, "image sizes")
    color_size = check_image_size(cw, ch, path=path, fields=("color_width", "color_height"))
    depth_size = check_image_size(dw, dh, path=path, fields=("depth_width", "depth_height"))
    (shift,) = _unpack(fh, "f", path, "depth_shift")
    shift = bounded_number(float(shift), "depth_shift", lo=MIN_DEPTH_SCALE, hi=MAX_DEPTH_SCALE, path=path)
    (num_frames,) = _unpack(fh, "Q", path, "num_frames")
    offset = fh.tell()
    if num_frames > (file_size - offset) // FRAME_HEADER_BYTES:
        raise SceneFormatError(
            f"{num_frames} frames claimed but the {file_size - offset} bytes left hold at most "
            f"{(file_size - offset) // FRAME_HEADER_BYTES} frame headers", path=path, field="num_frames",
        )
    return SensHeader(
        version, name, K["color"], K["depth"], mats["intrinsic_color"], mats["intrinsic_depth"],
        mats["extrinsic_color"], mats["extrinsic_depth"], color_c, depth_c, color_size, depth_size,
        shift, int(num_frames), offset,
    )


def read_header(path: str | Path) -> SensHeader:
    """The validated header of the ``.sens`` file ``path`` (reads only the header).

    Raises:
        SceneFormatError: naming ``path`` and the field (``version``, ``sensor_name``,
            ``intrinsic_color``, ``depth_compression_type``, ``num_frames``, ...).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        return _read_header(fh, path, os.fstat(fh.fileno()).st_size)


def _decode_depth(data: bytes, header: SensHeader, path: Path, field: str) -> np.ndarray:
    """(H, W) uint16 from a raw or zlib payload; zlib output is bounded to the expected size."""
    w, h = header.depth_size
    expected = w * h * 2
    if header.depth_compression == "zlib_ushort":
        d = zlib.decompressobj()
        try:
            data = d.decompress(data, expected)
            # a full buffer before the end of the stream: probe for one more byte (bounded, unlike flush())
            if len(data) == expected and not d.eof and d.decompress(d.unconsumed_tail, 1):
                raise SceneFormatError(f"zlib depth decompresses to more than {w}x{h}x2 = {expected} bytes", path=path, field=field)
        except zlib.error as exc:
            raise SceneFormatError(f"corrupt zlib depth ({exc})", path=path, field=field) from None
        if not d.eof:
            raise SceneFormatError(f"truncated zlib depth ({len(data)} of {expected} bytes)", path=path, field=field)
    if len(data) != expected:
        raise SceneFormatError(f"depth holds {len(data)} bytes, expected {w}x{h}x2 = {expected}", path=path, field=field)
    return np.frombuffer(data, dtype="<u2").reshape(h, w).astype(np.uint16)


def _check_payload_sizes(i: int, color_n: int, depth_n: int, header: SensHeader, left: int, path: Path) -> None:
    (cw, ch), (dw, dh) = header.color_size, header.depth_size
    caps = {
        "color": cw * ch * 3 if header.color_compression == "raw" else 2 * cw * ch * 3 + _SLACK,
        "depth": dw * dh * 2 if header.depth_compression == "raw_ushort" else 2 * dw * dh * 2 + _SLACK,
    }
    for name, n, room in (("color", color_n, left), ("depth", depth_n, left - color_n)):
        field = f"frame {i} {name}_size_bytes"
        if n > room:
            raise SceneFormatError(f"payload of {n} bytes but only {max(room, 0)} bytes are left in the file", path=path, field=field)
        if n > caps[name]:
            raise SceneFormatError(f"payload of {n} bytes exceeds {caps[name]} for the image size", path=path, field=field)


def _frame(fh: BinaryIO, i: int, header: SensHeader, path: Path, left: int, wanted: bool) -> tuple[SensFrame | None, int]:
    """Frame ``i`` (``None`` when not ``wanted``: its payload is skipped by seeking) and the bytes it took."""
    raw = _read(fh, FRAME_HEADER_BYTES, path, f"frame {i}")
    T = np.frombuffer(raw[:64], dtype="<f4").astype(np.float64).reshape(4, 4)
    ts_color, ts_depth, color_n, depth_n = struct.unpack("<4Q", raw[64:])
    _check_payload_sizes(i, color_n, depth_n, header, left - FRAME_HEADER_BYTES, path)
    used = FRAME_HEADER_BYTES + color_n + depth_n
    if not wanted:
        fh.seek(color_n + depth_n, os.SEEK_CUR)
        return None, used
    valid = bool(np.isfinite(T).all())
    if valid:
        check_pose(T, f"frame {i} camera_to_world", path=path)  # validation only: T keeps the stored values
    color, kind, (cw, ch) = _read(fh, color_n, path, f"frame {i} color"), header.color_compression, header.color_size
    if not color.startswith(_MAGIC.get(kind, b"")) or (kind == "raw" and color_n != cw * ch * 3):
        raise SceneFormatError(f"colour payload is not a {cw}x{ch} {kind} image", path=path, field=f"frame {i} color")
    depth = _decode_depth(_read(fh, depth_n, path, f"frame {i} depth"), header, path, f"frame {i} depth")
    return SensFrame(i, T, valid, ts_color, ts_depth, color, depth), used


def iter_frames(path: str | Path, step: int = 1, start: int = 0) -> Iterator[SensFrame]:
    """Frames ``start, start + step, ...`` of the ``.sens`` file ``path``, streamed one at a time.

    Only the 96-byte header of a skipped frame is read (its payload is skipped by seeking); at most
    one frame's payload is in memory at once. Frames with a non-finite pose are yielded with
    ``valid=False``.

    Raises:
        SceneFormatError: naming ``path`` and the field (e.g. ``frame 12 color_size_bytes``,
            ``frame 3 depth``), raised when the bad frame is reached.
    """
    path = Path(path)
    step = as_int(step, "step", lo=1, hi=2**62)
    start = as_int(start, "start", lo=0, hi=2**62)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        header = _read_header(fh, path, size)
        pos = header.frames_offset
        stop = start + (header.num_frames - 1 - start) // step * step + 1 if start < header.num_frames else 0
        for i in range(stop):  # frames after the last wanted one are not read
            frame, used = _frame(fh, i, header, path, size - pos, i >= start and (i - start) % step == 0)
            pos += used
            if frame is not None:
                yield frame


def _mat4(M: np.ndarray | None, default: np.ndarray | None = None) -> np.ndarray:
    M = default if M is None else np.asarray(M, dtype=np.float64)
    if M.shape == (3, 3):
        M = np.block([[M, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]])
    if M.shape != (4, 4):
        raise ValueError(f"expected a (3, 3) or (4, 4) matrix, got shape {M.shape}")
    return M


def _encode_color(color: bytes | np.ndarray, compression: str, size: tuple[int, int], quality: int) -> bytes:
    if isinstance(color, (bytes, bytearray)):
        return bytes(color)
    arr = np.ascontiguousarray(color, dtype=np.uint8)
    if arr.shape != (size[1], size[0], 3):
        raise ValueError(f"colour image of shape {arr.shape}, expected {(size[1], size[0], 3)}")
    if compression == "raw":
        return arr.tobytes()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG" if compression == "jpeg" else "PNG", quality=quality)
    return buf.getvalue()


def write_sens(
    path: str | Path, frames: Iterable[tuple], *, K_color: np.ndarray, K_depth: np.ndarray,
    color_size: tuple[int, int], depth_size: tuple[int, int], depth_shift: float = 1000.0,
    sensor_name: str = "StructureSensor", extrinsic_color: np.ndarray | None = None, extrinsic_depth: np.ndarray | None = None,
    color_compression: str = "jpeg", depth_compression: str = "zlib_ushort", jpeg_quality: int = 90,
) -> Path:
    """Write a ``.sens`` file (for fixtures and tests); frames are streamed, not held in memory.

    ``frames``: ``(T_wc, color, depth)`` or ``(T_wc, color, depth, timestamp_color, timestamp_depth)``
    with ``T_wc`` (4, 4) camera-to-world in metres (stored as float32; -inf marks an invalid frame),
    ``color`` an (H, W, 3) uint8 RGB array (encoded per ``color_compression``: ``jpeg``, ``png`` or
    ``raw``) or bytes stored verbatim, ``depth`` an (H, W) uint16 array in units of 1/``depth_shift`` m
    (``zlib_ushort`` or ``raw_ushort``). Default timestamps: 33333 µs per frame. ``K_*``: (3, 3) or
    (4, 4) intrinsics in pixels; sizes are (width, height). Returns ``path``.
    """
    path = Path(path)
    color_code = {v: k for k, v in COLOR_COMPRESSION.items()}[color_compression]
    depth_code = {v: k for k, v in DEPTH_COMPRESSION.items()}[depth_compression]
    name = sensor_name.encode("utf-8")
    mats = [_mat4(K_color), _mat4(extrinsic_color, np.eye(4)), _mat4(K_depth), _mat4(extrinsic_depth, np.eye(4))]
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IQ", SENS_VERSION, len(name)) + name)
        fh.write(b"".join(np.asarray(M, dtype="<f4").tobytes() for M in mats))
        fh.write(struct.pack("<ii4If", color_code, depth_code, *color_size, *depth_size, depth_shift))
        count_at = fh.tell()
        fh.write(struct.pack("<Q", 0))
        n = 0
        for n, frame in enumerate(frames, start=1):
            T, color, depth, *stamps = frame
            ts = stamps or [(n - 1) * 33333, (n - 1) * 33333]
            d = np.ascontiguousarray(depth, dtype="<u2")
            if d.shape != (depth_size[1], depth_size[0]):
                raise ValueError(f"depth image of shape {d.shape}, expected {(depth_size[1], depth_size[0])}")
            c = _encode_color(color, color_compression, color_size, jpeg_quality)
            z = zlib.compress(d.tobytes()) if depth_compression == "zlib_ushort" else d.tobytes()
            fh.write(np.asarray(T, dtype="<f4").reshape(4, 4).tobytes() + struct.pack("<4Q", *ts, len(c), len(z)) + c + z)
        fh.seek(count_at)
        fh.write(struct.pack("<Q", n))
    return path


def _fmt(values: np.ndarray) -> str:
    """Numbers as the shortest text that reads back to the same float32 (``-inf`` / ``nan`` as such)."""
    return " ".join(np.format_float_positional(np.float32(v), trim="-") for v in np.ravel(values))


def _matrix_text(M: np.ndarray) -> str:
    return "".join(_fmt(row) + "\n" for row in np.asarray(M).reshape(4, 4))


def info_text(header: SensHeader) -> str:
    """The ``_info.txt`` of ScanNet's C++ SensReader for ``header`` (``key = value`` lines)."""
    lines = [
        f"m_versionNumber = {header.version}", f"m_sensorName = {header.sensor_name}",
        f"m_colorWidth = {header.color_size[0]}", f"m_colorHeight = {header.color_size[1]}",
        f"m_depthWidth = {header.depth_size[0]}", f"m_depthHeight = {header.depth_size[1]}",
        f"m_depthShift = {_fmt([header.depth_shift])}",
        f"m_calibrationColorIntrinsic = {_fmt(header.intrinsic_color)}",
        f"m_calibrationColorExtrinsic = {_fmt(header.extrinsic_color)}",
        f"m_calibrationDepthIntrinsic = {_fmt(header.intrinsic_depth)}",
        f"m_calibrationDepthExtrinsic = {_fmt(header.extrinsic_depth)}",
        f"m_frames.size = {header.num_frames}",
    ]
    return "\n".join(lines) + "\n"


def _write_frame(folder: Path, frame: SensFrame, header: SensHeader) -> None:
    i = frame.index
    if header.color_compression == "jpeg":
        (folder / "color" / f"{i}.jpg").write_bytes(frame.color_bytes)
    elif header.color_compression == "png":
        (folder / "color" / f"{i}.png").write_bytes(frame.color_bytes)
    else:
        w, h = header.color_size
        write_png(folder / "color" / f"{i}.png", np.frombuffer(frame.color_bytes, dtype=np.uint8).reshape(h, w, 3))
    write_png(folder / "depth" / f"{i}.png", frame.depth)
    T = frame.T_wc if frame.valid else np.full((4, 4), -np.inf)
    (folder / "pose" / f"{i}.txt").write_text(_matrix_text(T))


def _reusable(out_dir: Path, stamp: dict, info: str) -> dict | None:
    """The stored summary when ``out_dir`` is a complete extract of the same source and step, else ``None``."""
    try:
        marker = safejson.load_file(out_dir / MARKER_NAME)
        same_info = (out_dir / "_info.txt").read_text(encoding="utf-8") == info
    except (OSError, ValueError):
        return None
    if not same_info or not isinstance(marker, dict) or marker.get("stamp") != stamp or not isinstance(marker.get("summary"), dict):
        return None
    return dict(marker["summary"], out_dir=str(out_dir), reused=True)


def _build(tmp: Path, path: Path, header: SensHeader, step: int, progress: Callable[[int, int], None] | None) -> dict:
    """Write the frames, intrinsics and ``_info.txt`` of ``path`` into ``tmp``; the summary of :func:`extract`."""
    for sub in ("color", "depth", "pose", "intrinsic"):
        (tmp / sub).mkdir()
    for name in ("intrinsic_color", "intrinsic_depth", "extrinsic_color", "extrinsic_depth"):
        (tmp / "intrinsic" / f"{name}.txt").write_text(_matrix_text(getattr(header, name)))
    total, written, invalid = -(-header.num_frames // step), 0, 0
    for frame in iter_frames(path, step=step):
        _write_frame(tmp, frame, header)
        written, invalid = written + 1, invalid + (not frame.valid)
        if progress is not None:
            progress(written, total)
    (tmp / "_info.txt").write_text(info_text(header), encoding="utf-8")
    return {
        "source": str(path), "frames_total": header.num_frames, "frames_written": written, "invalid_frames": invalid,
        "step": step, "color_size": list(header.color_size), "depth_size": list(header.depth_size),
        "depth_shift": header.depth_shift, "color_compression": header.color_compression, "reused": False,
    }


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the complete ``tmp`` to ``out_dir``; a previous ``out_dir`` is moved aside, its entries
    not in :data:`OWNED_ENTRIES` (e.g. a mesh put next to the frames) moved into ``tmp``, the rest deleted."""
    try:
        os.replace(tmp, out_dir)
        return
    except OSError:
        if not out_dir.is_dir():  # not "a folder is in the way"
            raise
    trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, trash / "old")
    for entry in (trash / "old").iterdir():
        if entry.name not in OWNED_ENTRIES:
            os.replace(entry, tmp / entry.name)
    os.replace(tmp, out_dir)
    shutil.rmtree(trash, ignore_errors=True)


def extract(path: str | Path, out_dir: str | Path, step: int = 1, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the extracted ScanNet layout of the ``.sens`` file ``path`` into ``out_dir``.

    Writes ``color/<i>.jpg`` (stored JPEG bytes verbatim; ``.png`` for png / raw colour),
    ``depth/<i>.png`` (16-bit, stored units = ``depth_shift`` per metre), ``pose/<i>.txt`` (4x4
    camera-to-world; invalid poses written as all ``-inf``, which the ScanNet loader skips),
    ``intrinsic/{intrinsic,extrinsic}_{color,depth}.txt`` (4x4), ``_info.txt`` (C++ SensReader
    format) and :data:`MARKER_NAME`, for frames ``0, step, 2 * step, ...`` (``<i>`` = frame index).

    Built in a temporary sibling folder renamed into place at the end: an interrupted run leaves no
    ``out_dir``. A complete extract of the same source (size, mtime) and ``step`` is left alone (its
    summary is returned with ``reused=True``); any other ``out_dir`` is rebuilt, keeping its entries
    not in :data:`OWNED_ENTRIES`. ``progress(n_done, n_total)`` is called after each frame.

    Returns ``{"source", "out_dir", "frames_total", "frames_written", "invalid_frames", "step",
    "color_size", "depth_size", "depth_shift", "color_compression", "reused"}``. Raises
    SceneFormatError for a malformed ``.sens`` (nothing is left behind), FileExistsError when
    ``out_dir`` is a file.
    """
    path, out_dir = Path(path), Path(out_dir)
    step = as_int(step, "step", lo=1, hi=2**62)
    header = read_header(path)
    st = path.stat()
    stamp = {"format": 1, "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns, "step": step}
    summary = _reusable(out_dir, stamp, info_text(header))
    if summary is not None:
        return summary
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"'{out_dir}' exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        summary = _build(tmp, path, header, step, progress)  # the marker names no output path: the folder may move
        (tmp / MARKER_NAME).write_text(json.dumps({"stamp": stamp, "summary": summary}, indent=1), encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the extract is an ordinary folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    again = _reusable(out_dir, stamp, info_text(header)) if out_dir.is_dir() else None
    if again is not None:  # another process finished the same extraction meanwhile: keep its folder (in use)
        shutil.rmtree(tmp, ignore_errors=True)
        return again
    _swap_into_place(tmp, out_dir)  # outside the cleanup above: kept entries may already sit in tmp
    return dict(summary, out_dir=str(out_dir))
