"""ScanNet++ scene folders (``<scene_id>/`` with ``scans/`` and ``iphone/`` or ``dslr/``).

Files read:

- ``scans/mesh_aligned_0.05.ply``: mesh (z up, metres, the world frame);
- ``scans/segments.json``: ``segIndices``, per-vertex segment id;
- ``scans/segments_anno.json``: ``segGroups`` = ``[{objectId | id, label, segments}]``;
- cameras, iPhone preferred: ``iphone/pose_intrinsic_imu.json`` = ``{frame: {intrinsic 3x3,
  aligned_pose 4x4 camera-to-world}}`` with ``iphone/rgb/<frame>.jpg`` and ``iphone/depth/<frame>.png``
  (uint16 mm); else DSLR ``dslr/nerfstudio/transforms_undistorted.json`` (preferred) or
  ``transforms.json`` (``fl_x, fl_y, cx, cy, w, h``, ``frames[].file_path / transform_matrix``,
  OpenGL camera-to-world, converted to OpenCV with ``T @ diag(1, -1, -1, 1)``).

iPhone frames take the RGB resolution (from the first JPG header, default 1920x1440) and the
intrinsics as given for RGB; the stored depth (typically 256x192) is read at its own resolution.
Only ``aligned_pose`` is used: the raw ``pose`` is ARKit's own (unaligned) world frame and the
release holds no transform from it to the mesh frame, so a frame without ``aligned_pose`` is an
error, never a silent fallback. DSLR cameras must be pinhole: the distorted ``transforms.json``
(OPENCV_FISHEYE in the release) is accepted only with a pinhole ``camera_model`` and zero
distortion. Labels ``wall`` / ``floor`` / ``ceiling`` become mesh structure ids; the
annotation-tool labels ``remove`` and ``split`` are ignored. See ``docs/scenes.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import (
    check_principal_point,
    find_image,
    finite_number,
    get_field,
    image_size,
    objects_from_segments,
    parse_seg_groups,
    read_json,
    read_ply_mesh,
    require_file,
)
from spatialevo.scene.model import Frame, Scene
from spatialevo.scene.validate import as_array, check_image_size, check_intrinsics, check_pose

LAYOUT = "ScanNet++"
MESH = Path("scans") / "mesh_aligned_0.05.ply"
SEGS = Path("scans") / "segments.json"
ANNO = Path("scans") / "segments_anno.json"
IPHONE_POSES = Path("iphone") / "pose_intrinsic_imu.json"
DSLR_UNDISTORTED = Path("dslr") / "nerfstudio" / "transforms_undistorted.json"
DSLR_DISTORTED = Path("dslr") / "nerfstudio" / "transforms.json"
#: ``camera_model`` values (upper-cased) that describe pinhole images when all distortion is zero.
PINHOLE_MODELS = frozenset({"PINHOLE", "SIMPLE_PINHOLE", "OPENCV"})
#: nerfstudio / COLMAP lens-distortion coefficients (radial k*, tangential p*).
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2")
#: Camera keys that nerfstudio also allows per frame; the loader supports one camera per file.
CAMERA_KEYS = ("camera_model", "fl_x", "fl_y", "cx", "cy", "w", "h", *DISTORTION_KEYS)
UNDISTORT_HINT = (
    "only pinhole cameras are supported: undistort the DSLR images first with the ScanNet++ toolkit "
    "(python -m dslr.undistort dslr/configs/undistort.yml), which writes "
    "dslr/nerfstudio/transforms_undistorted.json"
)
DEFAULT_RGB_SIZE = (1920, 1440)
IGNORED_LABELS = frozenset({"remove", "split"})
#: OpenGL (x right, y up, z back) → OpenCV (x right, y down, z forward) camera axes.
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def detect(path: Path) -> bool:
    """True for a folder with ``scans/mesh_aligned_0.05.ply`` or ``scans/segments_anno.json``."""
    try:
        path = Path(path)
        return path.is_dir() and ((path / MESH).is_file() or (path / ANNO).is_file())
    except OSError:
        return False


def _iphone_frames(path: Path) -> list[Frame]:
    jpath = path / IPHONE_POSES
    data = read_json(jpath, field="frames", layout=LAYOUT)
    if not isinstance(data, dict):
        raise SceneFormatError(f"expected a JSON object frame → camera, got {type(data).__name__}", path=jpath, field="frames")
    names = sorted(data)
    for name in names:
        if not isinstance(data[name], dict):
            raise SceneFormatError(f"expected a JSON object, got {type(data[name]).__name__}", path=jpath, field=name)
    if names and not any("aligned_pose" in data[n] for n in names):
        raise SceneFormatError(
            "no frame has 'aligned_pose'; the raw ARKit 'pose' is in the iPhone's own unaligned frame and ScanNet++ "
            "provides no transform from it to the aligned mesh frame, so it cannot be used",
            path=jpath, field="aligned_pose",
        )
    rgb_dir, depth_dir = path / "iphone" / "rgb", path / "iphone" / "depth"
    size = None
    for name in names:
        rgb = find_image(rgb_dir, name)
        if rgb is not None:
            size = image_size(rgb, field="rgb")  # an existing but unreadable JPG raises, naming it
            break
    width, height = size or DEFAULT_RGB_SIZE
    frames = []
    for name in names:
        entry = data[name]
        field = f"{name}.intrinsic"
        K = check_intrinsics(as_array(get_field(entry, "intrinsic", path=jpath, field=field), (3, 3), field, path=jpath), field, path=jpath)
        check_principal_point(K, width, height, path=jpath, field=field)
        if "aligned_pose" not in entry:
            raise SceneFormatError(
                "missing: other frames have it, and the raw 'pose' is in ARKit's unaligned frame, not the mesh frame",
                path=jpath, field=f"{name}.aligned_pose",
            )
        T = check_pose(entry["aligned_pose"], f"{name}.aligned_pose", path=jpath)
        depth = depth_dir / f"{name}.png"
        frames.append(
            Frame(name, K, T, width, height, rgb_path=find_image(rgb_dir, name), depth_path=depth if depth.is_file() else None)
        )
    return frames


def _check_pinhole(data: Any, tpath: Path, *, distorted: bool) -> None:
    """Raise unless the nerfstudio camera of ``tpath`` is pinhole with zero lens distortion.

    The undistorted file may omit ``camera_model`` (its name says pinhole); the distorted
    ``transforms.json`` must state a pinhole model (the release writes ``OPENCV_FISHEYE``).
    """
    if not isinstance(data, dict):
        raise SceneFormatError(f"expected a JSON object, got {type(data).__name__}", path=tpath, field="frames")
    model = get_field(data, "camera_model", path=tpath, field="camera_model", kind=str) if distorted else data.get("camera_model")
    if model is not None and (not isinstance(model, str) or model.upper() not in PINHOLE_MODELS):
        raise SceneFormatError(f"camera model {model!r} is not a pinhole model; {UNDISTORT_HINT}", path=tpath, field="camera_model")
    for key in DISTORTION_KEYS:
        if key in data and finite_number(data[key], path=tpath, field=key) != 0.0:
            raise SceneFormatError(f"non-zero lens distortion {key} = {data[key]!r}; {UNDISTORT_HINT}", path=tpath, field=key)


def _dslr_frames(path: Path, tpath: Path) -> list[Frame]:
    data = read_json(tpath, field="frames", layout=LAYOUT)
    _check_pinhole(data, tpath, distorted=tpath.name != DSLR_UNDISTORTED.name)
    num = {k: finite_number(get_field(data, k, path=tpath, field=k), path=tpath, field=k) for k in ("fl_x", "fl_y", "cx", "cy")}
    width, height = check_image_size(get_field(data, "w", path=tpath, field="w"), get_field(data, "h", path=tpath, field="h"),
                               path=tpath, fields=("w", "h"))
    K = check_intrinsics([[num["fl_x"], 0.0, num["cx"]], [0.0, num["fl_y"], num["cy"]], [0.0, 0.0, 1.0]], "fl_x/fl_y/cx/cy", path=tpath)
    check_principal_point(K, width, height, path=tpath, field="cx/cy")
    entries = [(f"frames[{i}]", fr) for i, fr in enumerate(get_field(data, "frames", path=tpath, field="frames", kind=list))]
    if "test_frames" in data:
        tests = get_field(data, "test_frames", path=tpath, field="test_frames", kind=list)
        entries += [(f"test_frames[{i}]", fr) for i, fr in enumerate(tests)]
    img_dirs = [tpath.parent]
    img_dirs += [path / "dslr" / d for d in ("resized_undistorted_images", "resized_images", "images")]
    if tpath.name != DSLR_UNDISTORTED.name:
        img_dirs.remove(path / "dslr" / "resized_undistorted_images")
    frames: list[Frame] = []
    seen: dict[str, str] = {}
    for where, fr in entries:
        fp = get_field(fr, "file_path", path=tpath, field=f"{where}.file_path", kind=str)
        for key in CAMERA_KEYS:  # nerfstudio allows per-frame cameras; one camera per file is supported
            if key in fr and fr[key] != data.get(key):
                raise SceneFormatError(
                    f"per-frame camera value {fr[key]!r} differs from the file's {data.get(key)!r}; only one camera per file is supported",
                    path=tpath, field=f"{where}.{key}",
                )
        T = as_array(get_field(fr, "transform_matrix", path=tpath, field=f"{where}.transform_matrix"), (4, 4),
                     f"{where}.transform_matrix", path=tpath)
        T = check_pose(T @ GL_TO_CV, f"{where}.transform_matrix", path=tpath)
        fid = Path(fp).stem
        if fid in seen:
            raise SceneFormatError(f"frame name {fid!r} already used by {seen[fid]}", path=tpath, field=f"{where}.file_path")
        seen[fid] = where
        rgb = next((d / fp for d in img_dirs if (d / fp).is_file()), None)
        frames.append(Frame(fid, K, T, width, height, rgb_path=rgb))
    return frames


def load(path: Path) -> Scene:
    """Load a ScanNet++ scene folder into a :class:`Scene` (world = the aligned mesh frame, metres, z up).

    Raises:
        SceneFileNotFoundError: the mesh, segments or annotation file is missing.
        SceneFormatError: malformed content, naming the file and the field.
    """
    path = Path(path).absolute()
    mesh_path = require_file(path / MESH, field="mesh", layout=LAYOUT)
    seg_path = require_file(path / SEGS, field="segIndices", layout=LAYOUT)
    anno_path = require_file(path / ANNO, field="segGroups", layout=LAYOUT)
    verts, faces, colors = read_ply_mesh(mesh_path, layout=LAYOUT)
    seg_indices = get_field(read_json(seg_path, field="segIndices", layout=LAYOUT), "segIndices", path=seg_path, field="segIndices", kind=list)
    anno = read_json(anno_path, field="segGroups", layout=LAYOUT)
    groups = parse_seg_groups(get_field(anno, "segGroups", path=anno_path, field="segGroups"), path=anno_path)
    objects, mesh, skipped = objects_from_segments(
        verts, faces, colors, seg_indices, groups, seg_path=seg_path, anno_path=anno_path, ignore_labels=IGNORED_LABELS
    )
    meta: dict[str, Any] = {"layout": "scannetpp", "skipped_objects": skipped, "camera": None}
    frames: list[Frame] = []
    if (path / IPHONE_POSES).is_file():
        frames, meta["camera"] = _iphone_frames(path), "iphone"
    else:
        tpath = next((path / t for t in (DSLR_UNDISTORTED, DSLR_DISTORTED) if (path / t).is_file()), None)
        if tpath is not None:
            frames, meta["camera"] = _dslr_frames(path, tpath), "dslr"
    if mesh is None:  # a PLY without faces is a point cloud, not a mesh
        return Scene(path.name, objects, frames, None, points=verts, point_colors=colors, meta=meta)
    return Scene(path.name, objects, frames, mesh, meta=meta)

