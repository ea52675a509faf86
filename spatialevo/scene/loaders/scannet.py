"""ScanNet raw scene folders (``scene0000_00/``).

Files read (``<scene>`` = the scene id, taken from the ``*_vh_clean_2.ply`` / ``*.aggregation.json``
name, else the folder name):

- ``<scene>_vh_clean_2.ply``: mesh with vertex colours, metres, in the scan's own frame;
- ``<scene>_vh_clean_2.0.010000.segs.json``: ``segIndices``, per-vertex segment id;
- ``<scene>.aggregation.json``: ``segGroups`` = ``[{objectId, label, segments}]``;
- ``<scene>.txt``: ``axisAlignment = 16 numbers`` (row-major 4x4; absent → identity);
- ``pose/<frame>.txt``: 4x4 camera-to-world (OpenCV camera), scan frame; all ``-inf`` → frame skipped;
- ``intrinsic/intrinsic_depth.txt`` (4x4, top-left 3x3 used) and ``intrinsic/intrinsic_color.txt``;
- ``color/<frame>.jpg`` and ``depth/<frame>.png`` (uint16 millimetres).

The world frame is the axis-aligned scan frame (z up, metres): ``axisAlignment`` is applied to the
mesh vertices, the object points and the poses (``T_wc = A @ T_wc_scan``). Frames use the depth
camera's resolution (from the first depth PNG header, default 640x480) and ``intrinsic_depth``; the
colour JPG is resized to that size when read (an existing but unreadable first depth PNG raises).
A PLY without faces gives ``Scene.points`` (its vertices) and no mesh. See ``docs/scenes.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import (
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
from spatialevo.scene.validate import check_intrinsics, check_pose

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


def _load_frames(path: Path, A: np.ndarray, meta: dict) -> list[Frame]:
    pose_dir = path / "pose"
    if not pose_dir.is_dir():
        return []
    pose_files = sorted(pose_dir.glob("*.txt"), key=_frame_sort_key)
    if not pose_files:
        return []
    k_path = path / "intrinsic" / "intrinsic_depth.txt"
    K = check_intrinsics(read_matrix(k_path, (4, 4), field="intrinsic_depth", layout=LAYOUT)[:3, :3], "intrinsic_depth", path=k_path)
    kc_path = path / "intrinsic" / "intrinsic_color.txt"
    if kc_path.is_file():
        meta["intrinsic_color"] = read_matrix(kc_path, (4, 4), field="intrinsic_color", layout=LAYOUT)[:3, :3].tolist()
    depth_dir, color_dir = path / "depth", path / "color"
    size = None
    for p in pose_files:
        d = depth_dir / f"{p.stem}.png"
        if d.is_file():
            size = image_size(d, field="depth")  # an existing but unreadable PNG raises, naming it
            break
    width, height = size or DEFAULT_DEPTH_SIZE
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
                depth_scale=1000.0,
            )
        )
    meta["skipped_frames"] = len(skipped)
    meta["skipped_frame_ids"] = skipped
    return frames


def load(path: Path) -> Scene:
    """Load a ScanNet raw scene folder into a :class:`Scene` (world = axis-aligned scan frame, metres, z up).

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
    frames = _load_frames(path, A, meta)
    if mesh is None:  # a PLY without faces is a point cloud, not a mesh
        return Scene(sid, objects, frames, None, points=verts, point_colors=colors, meta=meta)
    return Scene(sid, objects, frames, mesh, meta=meta)
