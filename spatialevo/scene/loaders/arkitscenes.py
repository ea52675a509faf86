"""ARKitScenes 3DOD video folders (``<video_id>/``, the raw 3DOD layout).

Files read (``<vid>`` = the video id, from the annotation file name, else the folder name):

- ``<vid>_3dod_annotation.json``: ``data = [{label, objectId?, uid?, segments: {obb: {centroid,
  axesLengths, normalizedAxes}}}]``; rows of the row-major 3x3 ``normalizedAxes`` are the box axes;
- ``<vid>_3dod_mesh.ply`` (optional): scan mesh, same world frame;
- ``<vid>_frames/lowres_wide.traj``: ``timestamp rx ry rz tx ty tz`` per line, axis-angle rotation and
  translation of the **world-to-camera** transform; inverted to get ``T_wc``;
- ``<vid>_frames/lowres_wide/<vid>_<ts>.png`` (RGB), ``lowres_depth/<vid>_<ts>.png`` (uint16 mm) and
  ``lowres_wide_intrinsics/<vid>_<ts>.pincam`` (``width height fx fy cx cy``).

The world frame is the ARKitScenes annotation frame: metres, gravity-aligned, z up. Objects are the
annotated boxes; their points are the mesh vertices inside the box (``None`` without a mesh). A mesh
face gets the id of a box holding all three of its vertices (the smallest such box), else ``NO_HIT``.
Each image is matched to the nearest trajectory timestamp within :data:`TIME_TOLERANCE` seconds;
frame ids are the image timestamps with 3 decimals. See ``docs/scenes.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import (
    box_from_obb,
    check_principal_point,
    get_field,
    read_json,
    read_numbers,
    read_ply_mesh,
    require_file,
)
from spatialevo.scene.model import NO_HIT, Frame, ObjectInstance, Scene, SceneMesh
from spatialevo.scene.validate import MAX_OBJECT_ID, as_array, check_image_size, check_intrinsics, check_pose

LAYOUT = "ARKitScenes"
#: Largest |image timestamp - trajectory timestamp| (seconds) for a pose to belong to an image.
TIME_TOLERANCE = 0.005
#: Slack (metres) when testing whether a mesh vertex lies inside an annotated box.
BOX_TOLERANCE = 1e-4


def detect(path: Path) -> bool:
    """True for a folder holding ``*_3dod_annotation.json`` or ``*_3dod_mesh.ply``."""
    try:
        path = Path(path)
        return path.is_dir() and (any(True for _ in path.glob("*_3dod_annotation.json")) or any(True for _ in path.glob("*_3dod_mesh.ply")))
    except OSError:
        return False


def _video_id(path: Path) -> str:
    """The video id from the annotation (else mesh) file name; several candidates are ambiguous and raise."""
    for suffix in ("_3dod_annotation.json", "_3dod_mesh.ply"):
        found = sorted(path.glob(f"*{suffix}"))
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise SceneFormatError(f"several videos in one folder ({names}); expected exactly one", path=found[1], field="video id")
        if found:
            vid = found[0].name[: -len(suffix)]
            meshes = [p for p in path.glob("*_3dod_mesh.ply") if p.name != f"{vid}_3dod_mesh.ply"]
            if meshes:
                raise SceneFormatError(f"mesh of another video than {vid!r} (the annotation's)", path=meshes[0], field="video id")
            return vid
    return path.name


def read_traj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps (N,) seconds, T_wc (N, 4, 4) camera-to-world)`` from a ``.traj`` file."""
    require_file(path, field="traj", layout=LAYOUT)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        toks = line.split()
        if len(toks) != 7:
            raise SceneFormatError(f"line {n}: expected 7 numbers (timestamp, 3 axis-angle, 3 translation), got {len(toks)}", path=path, field="traj")
        try:
            rows.append([float(t) for t in toks])
        except ValueError as exc:
            raise SceneFormatError(f"line {n}: {exc}", path=path, field="traj") from None
    if not rows:
        raise SceneFormatError("the trajectory has no poses", path=path, field="traj")
    arr = as_array(np.array(rows).reshape(-1, 7), (None, 7), "traj", path=path)
    T_cw = np.tile(np.eye(4), (len(arr), 1, 1))
    from scipy.spatial.transform import Rotation  # loaded when a trajectory is read

    T_cw[:, :3, :3] = Rotation.from_rotvec(arr[:, 1:4]).as_matrix() if len(arr) else np.zeros((0, 3, 3))
    T_cw[:, :3, 3] = arr[:, 4:7]
    R_wc = np.transpose(T_cw[:, :3, :3], (0, 2, 1))
    T_wc = np.tile(np.eye(4), (len(arr), 1, 1))
    T_wc[:, :3, :3] = R_wc
    T_wc[:, :3, 3] = -np.einsum("nij,nj->ni", R_wc, T_cw[:, :3, 3])
    order = np.argsort(arr[:, 0], kind="stable")
    return arr[order, 0], T_wc[order]


def _timestamped(folder: Path, vid: str, suffix: str) -> tuple[np.ndarray, list[Path]]:
    """Files ``<vid>_<ts><suffix>`` of a folder → (sorted timestamps, paths)."""
    items = []
    for p in folder.glob(f"*{suffix}") if folder.is_dir() else []:
        ts = p.name[: -len(suffix)].rsplit("_", 1)[-1]
        try:
            t = float(ts)
        except ValueError:
            continue
        if np.isfinite(t):  # "nan" / "inf" parse as floats but are not timestamps
            items.append((t, p))
    items.sort(key=lambda x: x[0])
    return np.array([t for t, _ in items], dtype=np.float64), [p for _, p in items]


def _nearest(ts: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest ``ts`` for each ``query`` and whether it is within the tolerance."""
    if len(ts) == 0:
        return np.zeros(len(query), dtype=np.int64), np.zeros(len(query), dtype=bool)
    hi = np.clip(np.searchsorted(ts, query), 0, len(ts) - 1)
    lo = np.clip(hi - 1, 0, len(ts) - 1)
    idx = np.where(np.abs(ts[lo] - query) <= np.abs(ts[hi] - query), lo, hi)
    return idx, np.abs(ts[idx] - query) <= TIME_TOLERANCE + 1e-9


def _load_frames(path: Path, vid: str, meta: dict[str, Any]) -> list[Frame]:
    fdir = path / f"{vid}_frames"
    traj_path = fdir / "lowres_wide.traj"
    img_ts, imgs = _timestamped(fdir / "lowres_wide", vid, ".png")
    if not imgs:
        return []
    traj_ts, traj_T = read_traj(traj_path)
    k_ts, k_paths = _timestamped(fdir / "lowres_wide_intrinsics", vid, ".pincam")
    d_ts, d_paths = _timestamped(fdir / "lowres_depth", vid, ".png")
    pose_i, pose_ok = _nearest(traj_ts, img_ts)
    k_i, k_ok = _nearest(k_ts, img_ts)
    d_i, d_ok = _nearest(d_ts, img_ts)
    frames, skipped = [], []
    for j, rgb in enumerate(imgs):
        fid = f"{img_ts[j]:.3f}"
        if not (pose_ok[j] and k_ok[j]):
            skipped.append(fid)
            continue
        kp = k_paths[k_i[j]]
        nums = read_numbers(kp, field="pincam", layout=LAYOUT)
        if nums.size != 6:
            raise SceneFormatError(f"expected 6 numbers (width height fx fy cx cy), got {nums.size}", path=kp, field="pincam")
        w, h, fx, fy, cx, cy = as_array(nums, (6,), "pincam", path=kp)
        width, height = check_image_size(w, h, path=kp, fields=("pincam.width", "pincam.height"))
        K = check_intrinsics([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], "pincam fx/fy", path=kp)
        check_principal_point(K, width, height, path=kp, field="pincam cx/cy")
        T = check_pose(traj_T[pose_i[j]], f"traj pose at t={traj_ts[pose_i[j]]:.3f}", path=traj_path)
        if frames and frames[-1].id == fid:
            raise SceneFormatError(f"two images give the frame id {fid!r} (timestamps equal to 1 ms)", path=rgb, field="frame id")
        frames.append(Frame(fid, K, T, width, height, rgb_path=rgb,
                            depth_path=d_paths[d_i[j]] if d_ok[j] else None, depth_scale=1000.0))
    meta["skipped_frames"] = len(skipped)
    meta["skipped_frame_ids"] = skipped
    return frames


def _objects(anno_path: Path) -> tuple[list[tuple[int, str, Any]], dict[int, str]]:
    data = get_field(read_json(anno_path, field="data", layout=LAYOUT), "data", path=anno_path, field="data", kind=list)
    raw = []
    for i, d in enumerate(data):
        label = get_field(d, "label", path=anno_path, field=f"data[{i}].label", kind=str)
        if not label.strip():
            raise SceneFormatError("object label must be a non-empty string", path=anno_path, field=f"data[{i}].label")
        obb = get_field(get_field(d, "segments", path=anno_path, field=f"data[{i}].segments"), "obb", path=anno_path, field=f"data[{i}].segments.obb")
        box = box_from_obb(obb, path=anno_path, field=f"data[{i}].segments.obb")
        raw.append((d.get("objectId"), label, box, d.get("uid")))
    oids = [r[0] for r in raw]
    usable = all(isinstance(o, int) and not isinstance(o, bool) and 0 <= o <= MAX_OBJECT_ID for o in oids) and len(set(oids)) == len(oids)
    objs = [(int(r[0]) if usable else i, r[1], r[2]) for i, r in enumerate(raw)]
    uids = {o[0]: str(r[3]) for o, r in zip(objs, raw, strict=True) if r[3] is not None}
    return objs, uids


def _objects_in_mesh(raw: list[tuple[int, str, Any]], verts: np.ndarray, faces: np.ndarray) -> tuple[list[ObjectInstance], np.ndarray]:
    """Objects with the mesh vertices inside their boxes as points, and (F,) int32 face ids.

    A face whose three vertices lie in one box gets that object's id (the smallest box by volume
    when several hold it), else ``NO_HIT``.
    """
    face_ids = np.full(len(faces), NO_HIT, dtype=np.int32)
    face_vol = np.full(len(faces), np.inf)
    objects = []
    for oid, label, box in raw:
        inside = box.contains(verts, tol=BOX_TOLERANCE)
        pts = verts[inside]
        objects.append(ObjectInstance(oid, label, box, pts if len(pts) else None))
        if len(faces):
            take = inside[faces].all(axis=1) & (box.volume < face_vol)
            face_ids[take] = oid
            face_vol[take] = box.volume
    return objects, face_ids


def load(path: Path) -> Scene:
    """Load an ARKitScenes 3DOD video folder into a :class:`Scene` (world frame, metres, z up).

    Object ids are the annotations' ``objectId`` when all are distinct integers in
    [0, ``MAX_OBJECT_ID``], else the index in ``data``. A mesh PLY without faces gives
    ``Scene.points`` and no mesh.

    Raises:
        SceneFileNotFoundError: the annotation file (or, with images, the trajectory) is missing.
        SceneFormatError: malformed content, naming the file and the field.
    """
    path = Path(path).absolute()
    vid = _video_id(path)
    anno_path = require_file(path / f"{vid}_3dod_annotation.json", field="data", layout=LAYOUT)
    raw, uids = _objects(anno_path)
    mesh_path = path / f"{vid}_3dod_mesh.ply"
    mesh, points, point_colors, objects = None, None, None, []
    if mesh_path.is_file():
        verts, faces, colors = read_ply_mesh(mesh_path, layout=LAYOUT)
        objects, face_ids = _objects_in_mesh(raw, verts, faces)
        if len(faces):
            mesh = SceneMesh(verts, faces, face_ids, colors)
        else:  # a PLY without faces is a point cloud, not a mesh
            points, point_colors = verts, colors
    else:
        objects = [ObjectInstance(oid, label, box) for oid, label, box in raw]
    meta: dict[str, Any] = {"layout": "arkitscenes", "video_id": vid, "object_uids": {str(k): v for k, v in uids.items()}}
    frames = _load_frames(path, vid, meta)
    return Scene(vid, objects, frames, mesh, points=points, point_colors=point_colors, meta=meta)
