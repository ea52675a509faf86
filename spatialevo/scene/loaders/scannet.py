"""ScanNet raw scene folders (``scene0000_00/``).

Files read (``<scene>`` = the scene id, taken from the ``*_vh_clean_2.ply`` / ``*.aggregation.json``
name, else the folder name):

- ``<scene>_vh_clean_2.ply``: mesh with vertex colours, metres, in the scan's own frame;
- ``<scene>_vh_clean_2.0.010000.segs.json``: ``segIndices``, per-vertex segment id;
- ``<scene>.aggregation.json``: ``segGroups`` = ``[{objectId, label, segments}]``;
- ``<scene>.txt``: ``axisAlignment = 16 numbers`` (row-major 4x4; absent → identity);
- ``pose/<frame>.txt``: 4x4 camera-to-world (OpenCV camera), scan frame; all ``-inf`` → frame skipped;
- ``intrinsic/intrinsic_depth.txt`` (4x4, top-left 3x3 used) and ``intrinsic/intrinsic_color.txt``;
- ``color/<frame>.jpg`` and ``depth/<frame>.png`` (uint16, ``m_depthShift`` of ``_info.txt`` units
  per metre, default 1000 = millimetres);
- or, without ``pose/``, ``<scene>.sens`` (ScanNet's packed stream, :mod:`~spatialevo.scene.loaders.sens`):
  its every k-th frame is extracted once into that layout and read from there.

The world frame is the axis-aligned scan frame (z up, metres): ``axisAlignment`` is applied to the
mesh vertices, the object points and the poses (``T_wc = A @ T_wc_scan``). Frames have the depth
camera's resolution (from the first depth PNG header, default 640x480); the colour JPG is resized to
it when read, so ``Frame.K`` is ``intrinsic_color`` scaled from the size it calibrates (``_info.txt``'s
``m_colorWidth`` x ``m_colorHeight``, else the colour JPGs' own size) to the frame size, and
``Frame.depth_K`` is ``intrinsic_depth`` (the two cameras differ by a few pixels; an unreadable first
image raises).
A PLY without faces gives ``Scene.points`` (its vertices) and no mesh. See ``docs/scenes.md``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from spatialevo.data_dirs import user_cache_dir
from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import (
    IMAGE_SUFFIXES,
    find_image,
    get_field,
    image_size,
    objects_from_segments,
    parse_seg_groups,
    read_json,
    read_key_value_matrix,
    read_matrix,
    read_ply_mesh,
    require_file,
    transform_points,
)
from spatialevo.scene.model import Frame, Scene
from spatialevo.scene.validate import (
    MAX_DEPTH_SCALE,
    MIN_DEPTH_SCALE,
    bounded_number,
    check_image_size,
    check_intrinsics,
    check_pose,
)

log = logging.getLogger(__name__)
LAYOUT = "ScanNet"
DEFAULT_DEPTH_SIZE = (640, 480)


def _scene_id(path: Path) -> str:
    for pattern, suffix in (("*_vh_clean_2.ply", "_vh_clean_2.ply"), ("*.aggregation.json", ".aggregation.json")):
        for p in sorted(path.glob(pattern)):
            if not p.name.endswith("_vh_clean.aggregation.json"):
                return p.name[: -len(suffix)]
    return path.name


def detect(path: Path) -> bool:
    """True for a folder holding a ``*_vh_clean_2.ply`` or ``*.aggregation.json`` (file names only)."""
    try:
        path = Path(path)
        if not path.is_dir():
            return False
        return any(True for _ in path.glob("*_vh_clean_2.ply")) or any(True for _ in path.glob("*.aggregation.json"))
    except OSError:
        return False


def _frame_sort_key(p: Path) -> tuple[int, int | str]:
    return (0, int(p.stem)) if p.stem.isascii() and p.stem.isdigit() else (1, p.stem)


def _read_pose(path: Path) -> np.ndarray | None:
    """4x4 camera-to-world from a pose file; ``None`` for ScanNet's all-``-inf`` invalid frames."""
    T = read_matrix(path, (4, 4), field="pose", layout=LAYOUT, finite=False)
    if not np.isfinite(T).any():
        return None
    if not np.isfinite(T).all():
        raise SceneFormatError("pose contains NaN or infinite values (only an all -inf pose marks an invalid frame)", path=path, field="pose")
    return check_pose(T, "pose", path=path)


def scale_intrinsics(K: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """(3, 3) intrinsics of an image of size ``src`` (w, h) resized to ``dst``, pixels (pixel
    centres aligned, as PIL resizes: ``u' + 0.5 = (u + 0.5) · dst_w / src_w``)."""
    sx, sy = dst[0] / src[0], dst[1] / src[1]
    out = np.array(K, dtype=np.float64, copy=True)
    out[0, 0], out[0, 1], out[1, 1] = K[0, 0] * sx, K[0, 1] * sx, K[1, 1] * sy
    out[0, 2], out[1, 2] = (K[0, 2] + 0.5) * sx - 0.5, (K[1, 2] + 0.5) * sy - 0.5
    return out


def _info(path: Path) -> dict[str, str]:
    """``key = value`` lines of ``_info.txt`` (ScanNet's SensReader writes it; absent → empty)."""
    info = path / "_info.txt"
    if not info.is_file():
        return {}
    out = {}
    for line in info.read_text(encoding="utf-8", errors="replace").splitlines()[:1000]:
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _depth_shift(path: Path, info: dict[str, str]) -> float:
    """Depth units per metre: ``m_depthShift`` of ``_info.txt``, else 1000."""
    if "m_depthShift" not in info:
        return 1000.0
    try:
        return bounded_number(float(info["m_depthShift"]), "m_depthShift", lo=MIN_DEPTH_SCALE, hi=MAX_DEPTH_SCALE)
    except (ValueError, SceneFormatError) as exc:
        raise SceneFormatError(f"bad depth shift {info['m_depthShift']!r} ({exc})", path=path / "_info.txt", field="m_depthShift") from None


def _calibration_size(path: Path, info: dict[str, str]) -> tuple[int, int] | None:
    """The colour image size ``intrinsic_color`` is for: ``m_colorWidth`` x ``m_colorHeight`` of ``_info.txt``."""
    try:
        w, h = int(info["m_colorWidth"]), int(info["m_colorHeight"])
    except KeyError:
        return None
    except ValueError:
        raise SceneFormatError("m_colorWidth / m_colorHeight must be whole numbers", path=path / "_info.txt", field="m_colorWidth") from None
    return check_image_size(w, h, path=path / "_info.txt", fields=("m_colorWidth", "m_colorHeight"))


def _first_size(folder: Path, stems: list[str], field: str, suffixes: tuple[str, ...]) -> tuple[int, int] | None:
    """Image size of the first of ``stems`` that has an image in ``folder`` (an unreadable one raises)."""
    for stem in stems:
        img = find_image(folder, stem, suffixes)
        if img is not None:
            return image_size(img, field=field)
    return None


def _cameras(path: Path, stems: list[str], info: dict[str, str], meta: dict) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """``(K, depth_K, (width, height))`` of the frames: the frame size is the depth image's (default
    640x480); ``K`` is ``intrinsic_color`` scaled from the size it calibrates (``_info.txt``'s
    ``m_colorWidth`` x ``m_colorHeight``, else the colour JPGs' size) to the frame size (the colour JPG
    is resized when read); ``depth_K`` is ``intrinsic_depth``. Without ``intrinsic_color`` or colour
    images — or when its principal point shows it calibrates another size than the JPGs and no
    ``_info.txt`` says which (``meta["intrinsic_color_unused"]``) — both use ``intrinsic_depth``."""
    k_path = path / "intrinsic" / "intrinsic_depth.txt"
    K_depth = check_intrinsics(read_matrix(k_path, (4, 4), field="intrinsic_depth", layout=LAYOUT)[:3, :3], "intrinsic_depth", path=k_path)
    size = _first_size(path / "depth", stems, "depth", (".png",)) or DEFAULT_DEPTH_SIZE
    kc_path = path / "intrinsic" / "intrinsic_color.txt"
    jpg_size = _first_size(path / "color", stems, "color", IMAGE_SUFFIXES)
    if not kc_path.is_file() or jpg_size is None:
        return K_depth, None, size
    K_color = check_intrinsics(read_matrix(kc_path, (4, 4), field="intrinsic_color", layout=LAYOUT)[:3, :3], "intrinsic_color", path=kc_path)
    calib = _calibration_size(path, info)
    if calib is None:
        cx, cy = K_color[0, 2] / jpg_size[0], K_color[1, 2] / jpg_size[1]
        if not (0.25 <= cx <= 0.75 and 0.25 <= cy <= 0.75):  # e.g. 1296x968 intrinsics beside JPGs exported at 640x480
            meta["intrinsic_color_unused"] = (f"its principal point ({K_color[0, 2]:g}, {K_color[1, 2]:g}) is not inside the "
                                              f"{jpg_size[0]}x{jpg_size[1]} colour images and no _info.txt gives its size")
            log.warning("%s: intrinsic_color does not fit the colour images (%s); using intrinsic_depth", path, meta["intrinsic_color_unused"])
            return K_depth, None, size
        calib = jpg_size
    return scale_intrinsics(K_color, calib, size), K_depth, size


def _load_frames(path: Path, A: np.ndarray, meta: dict, frame_step: int = 1) -> list[Frame]:
    pose_dir = path / "pose"
    if not pose_dir.is_dir():
        return []
    pose_files = sorted(pose_dir.glob("*.txt"), key=_frame_sort_key)[::frame_step]
    if not pose_files:
        return []
    info = _info(path)
    K, K_depth, (width, height) = _cameras(path, [p.stem for p in pose_files], info, meta)
    kc_path = path / "intrinsic" / "intrinsic_color.txt"
    if kc_path.is_file():
        meta["intrinsic_color"] = read_matrix(kc_path, (4, 4), field="intrinsic_color", layout=LAYOUT)[:3, :3].tolist()
    depth_dir, color_dir = path / "depth", path / "color"
    depth_scale = _depth_shift(path, info)
    frames, skipped = [], []
    for p in pose_files:
        T = _read_pose(p)
        if T is None:
            skipped.append(p.stem)
            continue
        d = depth_dir / f"{p.stem}.png"
        frames.append(
            Frame(
                p.stem, K, A @ T, width, height,
                rgb_path=find_image(color_dir, p.stem),
                depth_path=d if d.is_file() else None,
                depth_scale=depth_scale, depth_K=K_depth,
            )
        )
    meta["skipped_frames"] = len(skipped)
    meta["skipped_frame_ids"] = skipped
    return frames


def _sens_frames(path: Path, sid: str, frame_step: int, extract_dir: Path | None) -> Path | None:
    """The folder holding the frames of ``<sid>.sens`` extracted (every ``frame_step``-th frame),
    extracting them first unless done before; ``None`` when the scan has no ``.sens``."""
    sens_path = path / f"{sid}.sens"
    if not sens_path.is_file():
        return None
    from spatialevo.scene.loaders import sens

    st = sens_path.stat()
    if extract_dir is None:
        key = hashlib.blake2b(f"{sens_path.absolute()}\n{st.st_size}\n{st.st_mtime_ns}".encode(), digest_size=6).hexdigest()
        extract_dir = user_cache_dir() / "sens" / f"{sid}-{key}"
    out = Path(extract_dir) / f"step{frame_step}"
    sens.extract(sens_path, out, step=frame_step)
    return out


def load(path: Path, frame_step: int = 1, extract_dir: Path | None = None) -> Scene:
    """Load a ScanNet raw scene folder into a :class:`Scene` (world = axis-aligned scan frame, metres, z up).

    Frames: every ``frame_step``-th of the extracted ``pose/`` files, else of ``<scene>.sens``
    (extracted once into ``extract_dir``, default the user cache folder, see :func:`user_cache_dir`).

    Raises:
        SceneFileNotFoundError: the mesh, segmentation, aggregation or (with ``pose/``) intrinsics are missing.
        SceneFormatError: malformed content, naming the file and the field.
    """
    path = Path(path).absolute()
    sid = _scene_id(path)
    mesh_path = require_file(path / f"{sid}_vh_clean_2.ply", field="mesh", layout=LAYOUT)
    seg_path = require_file(path / f"{sid}_vh_clean_2.0.010000.segs.json", field="segIndices", layout=LAYOUT)
    agg_path = require_file(path / f"{sid}.aggregation.json", field="segGroups", layout=LAYOUT)

    txt = path / f"{sid}.txt"
    A = read_key_value_matrix(txt, "axisAlignment", layout=LAYOUT) if txt.is_file() else None
    A = np.eye(4) if A is None else check_pose(A, "axisAlignment", path=txt)

    verts, faces, colors = read_ply_mesh(mesh_path, layout=LAYOUT)
    verts = transform_points(A, verts)
    seg_indices = get_field(read_json(seg_path, field="segIndices", layout=LAYOUT), "segIndices", path=seg_path, field="segIndices", kind=list)
    agg = read_json(agg_path, field="segGroups", layout=LAYOUT)
    groups = parse_seg_groups(get_field(agg, "segGroups", path=agg_path, field="segGroups"), path=agg_path)
    objects, mesh, skipped = objects_from_segments(verts, faces, colors, seg_indices, groups, seg_path=seg_path, anno_path=agg_path)

    meta: dict = {"layout": "scannet", "axis_alignment": A.tolist(), "skipped_objects": skipped}
    frame_dir = path
    if not (path / "pose").is_dir():
        frame_dir = _sens_frames(path, sid, frame_step, extract_dir) or path
        if frame_dir is not path:
            frame_step = 1  # the extraction kept every frame_step-th frame already
    frames = _load_frames(frame_dir, A, meta, frame_step)
    if mesh is None:  # a PLY without faces is a point cloud, not a mesh
        return Scene(sid, objects, frames, None, points=verts, point_colors=colors, meta=meta)
    return Scene(sid, objects, frames, mesh, meta=meta)
