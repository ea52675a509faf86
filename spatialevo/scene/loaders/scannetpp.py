"""ScanNet++ scene folders (``<scene_id>/`` with ``scans/`` and ``iphone/`` or ``dslr/``).

Files read:

- ``scans/mesh_aligned_0.05.ply``: mesh (z up, metres, the world frame);
- ``scans/segments.json``: ``segIndices``, per-vertex segment id;
- ``scans/segments_anno.json``: ``segGroups`` = ``[{objectId | id, label, segments}]``;
- cameras, iPhone preferred: ``iphone/pose_intrinsic_imu.json`` = ``{frame: {intrinsic 3x3,
  aligned_pose | pose 4x4 camera-to-world}}`` with ``iphone/rgb/<frame>.jpg`` and
  ``iphone/depth/<frame>.png`` (uint16 mm); else DSLR ``dslr/nerfstudio/transforms_undistorted.json``
  or ``transforms.json`` (``fl_x, fl_y, cx, cy, w, h``, ``frames[].file_path / transform_matrix``,
  OpenGL camera-to-world, converted to OpenCV with ``T @ diag(1, -1, -1, 1)``).

iPhone frames take the RGB resolution (from the first JPG header, default 1920x1440) and the
intrinsics as given for RGB; the stored depth (typically 256x192) is read at its own resolution.
Labels ``wall`` / ``floor`` / ``ceiling`` become mesh structure ids; the annotation-tool labels
``remove`` and ``split`` are ignored. See ``docs/scenes.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import (
    find_image,
    get_field,
    image_size,
    objects_from_segments,
    parse_seg_groups,
    read_json,
    read_ply_mesh,
    require_file,
)
from spatialevo.scene.model import Frame, Scene
from spatialevo.scene.validate import as_array, check_intrinsics, check_pose

LAYOUT = "ScanNet++"
MESH = Path("scans") / "mesh_aligned_0.05.ply"
SEGS = Path("scans") / "segments.json"
ANNO = Path("scans") / "segments_anno.json"
IPHONE_POSES = Path("iphone") / "pose_intrinsic_imu.json"
DSLR_TRANSFORMS = (Path("dslr") / "nerfstudio" / "transforms_undistorted.json", Path("dslr") / "nerfstudio" / "transforms.json")
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
    rgb_dir, depth_dir = path / "iphone" / "rgb", path / "iphone" / "depth"
    names = sorted(data)
    size = None
    for name in names:
        rgb = find_image(rgb_dir, name)
        if rgb is not None:
            size = image_size(rgb)
            break
    width, height = size or DEFAULT_RGB_SIZE
    frames = []
    for name in names:
        entry = data[name]
        K = check_intrinsics(
            as_array(get_field(entry, "intrinsic", path=jpath, field=f"{name}.intrinsic"), (3, 3), f"{name}.intrinsic", path=jpath),
            f"{name}.intrinsic", path=jpath,
        )
        key = "aligned_pose" if isinstance(entry, dict) and "aligned_pose" in entry else "pose"
        T = check_pose(get_field(entry, key, path=jpath, field=f"{name}.{key}"), f"{name}.{key}", path=jpath)
        depth = depth_dir / f"{name}.png"
        frames.append(
            Frame(name, K, T, width, height, rgb_path=find_image(rgb_dir, name), depth_path=depth if depth.is_file() else None)
        )
    return frames


def _dslr_frames(path: Path, tpath: Path) -> list[Frame]:
    data = read_json(tpath, field="frames", layout=LAYOUT)
    num = {k: get_field(data, k, path=tpath, field=k, kind=(int, float)) for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")}
    K = check_intrinsics([[num["fl_x"], 0.0, num["cx"]], [0.0, num["fl_y"], num["cy"]], [0.0, 0.0, 1.0]], "fl_x/fl_y/cx/cy", path=tpath)
    entries = list(get_field(data, "frames", path=tpath, field="frames", kind=list))
    extra = data.get("test_frames", [])
    entries += extra if isinstance(extra, list) else []
    img_dirs = [tpath.parent]
    img_dirs += [path / "dslr" / d for d in ("resized_undistorted_images", "resized_images", "images")]
    if "undistorted" not in tpath.name:
        img_dirs.remove(path / "dslr" / "resized_undistorted_images")
    frames = []
    for i, fr in enumerate(entries):
        fp = get_field(fr, "file_path", path=tpath, field=f"frames[{i}].file_path", kind=str)
        T = as_array(get_field(fr, "transform_matrix", path=tpath, field=f"frames[{i}].transform_matrix"), (4, 4),
                     f"frames[{i}].transform_matrix", path=tpath)
        T = check_pose(T @ GL_TO_CV, f"frames[{i}].transform_matrix", path=tpath)
        rgb = next((d / fp for d in img_dirs if (d / fp).is_file()), None)
        frames.append(Frame(Path(fp).stem, K, T, int(num["w"]), int(num["h"]), rgb_path=rgb))
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
        tpath = next((path / t for t in DSLR_TRANSFORMS if (path / t).is_file()), None)
        if tpath is not None:
            frames, meta["camera"] = _dslr_frames(path, tpath), "dslr"
    if frames and len({f.id for f in frames}) != len(frames):
        raise SceneFormatError("duplicate frame names", path=path, field="frames")
    return Scene(path.name, objects, frames, mesh, meta=meta)

