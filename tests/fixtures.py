"""Writers of small synthetic scenes in each native layout, with known geometry.

Every writer returns a :class:`Fixture` holding the expected world-frame values (metres, z up,
OpenCV camera-to-world poses) that a correct loader must reproduce. Objects are box-shaped meshes
(8 corner vertices, 12 triangles) standing on a floor quad next to a wall quad.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image
from scipy.spatial.transform import Rotation

from spatialevo.scene.loaders.scannet import scale_intrinsics
from spatialevo.synthetic.trajectory import look_at

# Corner sign pattern; corner index = 4*ix + 2*iy + iz (same order as OrientedBox.corners()).
SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
_QUADS = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
BOX_FACES = np.array([t for a, b, c, d in _QUADS for t in ((a, b, c), (a, c, d))], dtype=np.int64)
QUAD_FACES = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int64)

#: The known objects (world frame, metres): raw label, centre, full extents, yaw (degrees about +z).
OBJECTS: list[dict[str, Any]] = [
    {"label": "chair", "raw": "Chair", "center": [1.0, 1.0, 0.4], "extents": [0.5, 0.6, 0.8], "yaw": 30.0},
    {"label": "table", "raw": "table", "center": [2.5, 1.6, 0.375], "extents": [1.2, 0.8, 0.75], "yaw": 0.0},
    {"label": "trash bin", "raw": "Trash_Bin", "center": [3.3, 0.5, 0.2], "extents": [0.3, 0.25, 0.4], "yaw": -20.0},
]
FLOOR = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 3.0, 0.0], [0.0, 3.0, 0.0]])
WALL = np.array([[0.0, 3.0, 0.0], [4.0, 3.0, 0.0], [4.0, 3.0, 2.5], [0.0, 3.0, 2.5]])


@dataclass
class Fixture:
    """Where a fixture was written and what a loader must read back (world frame, metres)."""

    path: Path
    layout: str
    scene_id: str
    objects: list[dict[str, Any]]
    poses: dict[str, np.ndarray] = field(default_factory=dict)
    K: np.ndarray | None = None
    size: tuple[int, int] | None = None  # frame (width, height) in pixels
    depth_size: tuple[int, int] | None = None  # stored depth (width, height)
    depth_m: float = 1.5
    skipped_frames: int = 0
    files: dict[str, Path] = field(default_factory=dict)


def yaw_matrix(deg: float) -> np.ndarray:
    """(3, 3) rotation about +z by ``deg`` degrees."""
    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def box_corners(center: Any, extents: Any, yaw: float) -> np.ndarray:
    """(8, 3) corners of a yawed box, world frame, metres."""
    return np.asarray(center, float) + (SIGNS * np.asarray(extents, float) / 2) @ yaw_matrix(yaw).T


def rigid(yaw: float, t: Any) -> np.ndarray:
    """4x4 rigid transform: yaw about +z then translation ``t``."""
    T = np.eye(4)
    T[:3, :3] = yaw_matrix(yaw)
    T[:3, 3] = t
    return T


def scene_geometry(objects: list[dict[str, Any]] = OBJECTS) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """World vertices, faces and per-part vertex index arrays: [floor, wall, object 0, object 1, ...]."""
    parts = [FLOOR, WALL] + [box_corners(o["center"], o["extents"], o["yaw"]) for o in objects]
    verts, faces, idx, n = [], [], [], 0
    for k, p in enumerate(parts):
        verts.append(p)
        faces.append((QUAD_FACES if k < 2 else BOX_FACES) + n)
        idx.append(np.arange(n, n + len(p)))
        n += len(p)
    return np.concatenate(verts), np.concatenate(faces), idx


def write_ply(path: Path, verts: np.ndarray, faces: np.ndarray) -> Path:
    """Binary PLY with vertex colours (grey-ish, deterministic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    colors = np.tile(np.array([[200, 100, 50, 255]], dtype=np.uint8), (len(verts), 1))
    mesh = trimesh.Trimesh(verts, faces, vertex_colors=colors, process=False)
    path.write_bytes(mesh.export(file_type="ply"))
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def write_rgb(path: Path, size: tuple[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[..., 1] = 128
    Image.fromarray(img).save(path)
    return path


def write_depth(path: Path, size: tuple[int, int], metres: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    Image.fromarray(np.full((h, w), round(metres * 1000), dtype=np.uint16)).save(path)
    return path


def write_matrix(path: Path, M: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(repr(float(v)) for v in row) for row in np.asarray(M)) + "\n")
    return path


def _K(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


#: ScanNet fixture colour intrinsics (for 130x97 colour images; the depth camera's are 57.7/57.9/31.5/23.8 at 64x48)
KC = _K(117.5, 117.0, 67.0, 46.0)

EXPECTED_POSES = [look_at([2.0, -1.0, 1.5], [2.0, 1.5, 0.5]), look_at([0.5, 0.2, 1.2], [3.0, 2.0, 0.4])]


def write_scannet(root: Path, scene_id: str = "scene0000_00", objects: list[dict[str, Any]] = OBJECTS) -> Fixture:
    """ScanNet raw folder with a non-identity axisAlignment, ``objects`` (default: 3) + floor + wall,
    3 pose files (one all -inf)."""
    path = root / scene_id
    path.mkdir(parents=True, exist_ok=True)
    A = rigid(35.0, [-1.2, 0.7, 0.05])
    A_inv = np.linalg.inv(A)
    verts, faces, idx = scene_geometry(objects)
    raw_verts = verts @ A_inv[:3, :3].T + A_inv[:3, 3]
    files = {"mesh": write_ply(path / f"{scene_id}_vh_clean_2.ply", raw_verts, faces)}
    seg = np.full(len(verts), 999, dtype=np.int64)
    seg[idx[0]], seg[idx[1]] = 10, 11
    groups = [{"id": 0, "objectId": 0, "label": "floor", "segments": [10]}, {"id": 1, "objectId": 1, "label": "wall", "segments": [11]}]
    for k, o in enumerate(objects):
        a, b = 100 + 2 * k, 101 + 2 * k  # each object split over two segments (bottom / top corners)
        seg[idx[2 + k][0::2]], seg[idx[2 + k][1::2]] = a, b
        groups.append({"id": 2 + k, "objectId": 2 + k, "label": o["raw"], "segments": [a, b]})
    groups.append({"id": 9, "objectId": 9, "label": "ghost", "segments": [12345]})  # matches no vertex → skipped
    files["segs"] = write_json(path / f"{scene_id}_vh_clean_2.0.010000.segs.json", {"sceneId": scene_id, "segIndices": seg.tolist()})
    files["aggregation"] = write_json(path / f"{scene_id}.aggregation.json", {"sceneId": scene_id, "segGroups": groups})
    meta_txt = path / f"{scene_id}.txt"
    meta_txt.write_text("colorHeight = 968\naxisAlignment = " + " ".join(repr(float(v)) for v in A.reshape(-1)) + "\nsceneType = Office\n")
    files["txt"] = meta_txt
    K = _K(57.7, 57.9, 31.5, 23.8)
    depth_size, rgb_size = (64, 48), (130, 97)
    write_matrix(path / "intrinsic" / "intrinsic_depth.txt", np.block([[K, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]]))
    # the colour camera has its own intrinsics (principal point a few pixels off the depth one's)
    write_matrix(path / "intrinsic" / "intrinsic_color.txt", np.block([[KC, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]]))
    poses = {}
    for fid, T in zip(("0", "20"), EXPECTED_POSES, strict=True):
        files[f"pose_{fid}"] = write_matrix(path / "pose" / f"{fid}.txt", A_inv @ T)
        write_rgb(path / "color" / f"{fid}.jpg", rgb_size)
        write_depth(path / "depth" / f"{fid}.png", depth_size, 1.5)
        poses[fid] = T
    files["pose_10"] = write_matrix(path / "pose" / "10.txt", np.full((4, 4), -np.inf))
    objs = [dict(o, id=2 + k) for k, o in enumerate(objects)]
    K_rgb = scale_intrinsics(KC, rgb_size, depth_size)  # the colour image as the frame gives it (resized)
    return Fixture(path, "scannet", scene_id, objs, poses, K_rgb, depth_size, depth_size, 1.5, 1, files)


#: Distortion of the ScanNet++ release DSLR (OPENCV_FISHEYE k1..k4), for the distorted ``transforms.json``.
FISHEYE_K = {"k1": -0.0281, "k2": -0.0113, "k3": 0.0021, "k4": -0.0003}


def write_scannetpp(root: Path, scene_id: str = "0a5c013435", camera: str = "iphone", dslr: str = "pinhole") -> Fixture:
    """ScanNet++ folder (mesh in world frame) with ``iphone`` or ``dslr`` cameras.

    ``dslr`` picks the DSLR files: ``"pinhole"`` = only ``transforms.json`` with a PINHOLE camera;
    ``"release"`` = as released and undistorted by the toolkit: a fisheye ``transforms.json`` (images in
    ``resized_images/``) plus a PINHOLE ``transforms_undistorted.json`` with other intrinsics (images in
    ``resized_undistorted_images/``), the expected values being the undistorted ones; ``"fisheye"`` =
    only the fisheye ``transforms.json`` (``files["poses"]``), which a loader must reject.
    """
    path = root / scene_id
    verts, faces, idx = scene_geometry()
    files = {"mesh": write_ply(path / "scans" / "mesh_aligned_0.05.ply", verts, faces)}
    seg = np.full(len(verts), 7, dtype=np.int64)
    seg[idx[0]], seg[idx[1]] = 10, 11
    groups = [{"id": 0, "objectId": 0, "label": "floor", "segments": [10]}, {"id": 1, "objectId": 1, "label": "wall", "segments": [11]},
              {"id": 2, "objectId": 2, "label": "REMOVE", "segments": [7]}]
    for k, o in enumerate(OBJECTS):
        seg[idx[2 + k]] = 100 + k
        groups.append({"id": 3 + k, "objectId": 3 + k, "label": o["raw"], "segments": [100 + k]})
    files["segs"] = write_json(path / "scans" / "segments.json", {"segIndices": seg.tolist()})
    files["anno"] = write_json(path / "scans" / "segments_anno.json", {"sceneId": scene_id, "segGroups": groups})
    objs = [dict(o, id=3 + k) for k, o in enumerate(OBJECTS)]
    names = ["frame_000000", "frame_000010"]
    if camera == "iphone":
        K, size, depth_size = _K(150.0, 151.0, 95.5, 71.5), (192, 144), (48, 36)
        data = {}
        for name, T in zip(names, EXPECTED_POSES, strict=True):
            data[name] = {"intrinsic": K.tolist(), "pose": np.eye(4).tolist(), "aligned_pose": T.tolist(), "imu": {}}
            write_rgb(path / "iphone" / "rgb" / f"{name}.jpg", size)
            write_depth(path / "iphone" / "depth" / f"{name}.png", depth_size, 1.5)
        files["poses"] = write_json(path / "iphone" / "pose_intrinsic_imu.json", data)
    else:
        K, size, depth_size = _K(80.0, 81.0, 59.5, 39.5), (120, 80), None
        frames = []
        for name, T in zip(names, EXPECTED_POSES, strict=True):
            frames.append({"file_path": f"{name}.JPG", "transform_matrix": (T @ np.diag([1.0, -1.0, -1.0, 1.0])).tolist()})
            write_rgb(path / "dslr" / "resized_images" / f"{name}.JPG", size)
        cam: dict[str, Any] = {"fl_x": 80.0, "fl_y": 81.0, "cx": 59.5, "cy": 39.5, "w": 120, "h": 80}
        nerf = path / "dslr" / "nerfstudio"
        if dslr == "pinhole":
            files["poses"] = write_json(nerf / "transforms.json", {**cam, "camera_model": "PINHOLE", "frames": frames})
        else:
            files["distorted"] = write_json(nerf / "transforms.json", {**cam, "camera_model": "OPENCV_FISHEYE", **FISHEYE_K, "frames": frames})
            files["poses"] = files["distorted"]
        if dslr == "release":
            K = _K(72.0, 72.5, 60.0, 40.0)
            undistorted = {**cam, "fl_x": 72.0, "fl_y": 72.5, "cx": 60.0, "cy": 40.0, "camera_model": "PINHOLE", **dict.fromkeys(FISHEYE_K, 0.0)}
            files["poses"] = write_json(nerf / "transforms_undistorted.json", {**undistorted, "frames": frames})
            for name in names:
                write_rgb(path / "dslr" / "resized_undistorted_images" / f"{name}.JPG", size)
    return Fixture(path, "scannetpp", scene_id, objs, dict(zip(names, EXPECTED_POSES, strict=True)), K, size, depth_size, 1.5, 0, files)


def obb(center: Any, extents: Any, yaw: float) -> dict[str, list[float]]:
    """ARKitScenes / box-list box dict; rows of ``normalizedAxes`` are the box axes."""
    R = yaw_matrix(yaw)
    return {"centroid": list(map(float, center)), "axesLengths": list(map(float, extents)), "normalizedAxes": R.T.reshape(-1).tolist()}


def write_arkitscenes(root: Path, video_id: str = "41069021") -> Fixture:
    """ARKitScenes 3DOD folder: annotation, mesh, world-to-camera traj, 3 images (one without a pose)."""
    path = root / video_id
    verts, faces, _ = scene_geometry()
    files = {"mesh": write_ply(path / f"{video_id}_3dod_mesh.ply", verts, faces)}
    data = [{"uid": f"uid-{k}", "objectId": 5 + k, "label": o["raw"], "segments": {"obb": obb(o["center"], o["extents"], o["yaw"])}}
            for k, o in enumerate(OBJECTS)]
    files["anno"] = write_json(path / f"{video_id}_3dod_annotation.json", {"data": data, "stats": {}})
    fdir = path / f"{video_id}_frames"
    K, size = _K(211.9, 212.1, 127.5, 95.5), (256, 192)
    traj_ts = [6845.80101, 6845.90102, 6846.00099]
    lines = []
    for ts, T in zip(traj_ts, EXPECTED_POSES + [look_at([1, 1, 1], [2, 2, 0])], strict=True):
        T_cw = np.linalg.inv(T)
        r = Rotation.from_matrix(T_cw[:3, :3]).as_rotvec()
        lines.append(" ".join(repr(float(v)) for v in [ts, *r, *T_cw[:3, 3]]))
    files["traj"] = fdir / "lowres_wide.traj"
    fdir.mkdir(parents=True, exist_ok=True)
    files["traj"].write_text("\n".join(lines) + "\n")
    img_ts = ["6845.801", "6845.901", "6847.500"]  # the last one has no pose within 5 ms
    for ts in img_ts:
        write_rgb(fdir / "lowres_wide" / f"{video_id}_{ts}.png", size)
        write_depth(fdir / "lowres_depth" / f"{video_id}_{ts}.png", size, 1.5)
        p = fdir / "lowres_wide_intrinsics" / f"{video_id}_{ts}.pincam"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{size[0]} {size[1]} {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}\n")
    objs = [dict(o, id=5 + k) for k, o in enumerate(OBJECTS)]
    poses = dict(zip(img_ts[:2], EXPECTED_POSES, strict=True))
    return Fixture(path, "arkitscenes", video_id, objs, poses, K, size, size, 1.5, 1, files)


#: Box-list objects: a 30° yawed box with unequal extents and an axis-aligned one.
BOXLIST_OBJECTS: list[dict[str, Any]] = [
    {"label": "sofa", "center": [1.0, 2.0, 0.45], "extents": [2.0, 0.9, 0.9], "yaw": 30.0},
    {"label": "chair", "center": [3.0, 1.0, 0.5], "extents": [0.5, 0.6, 1.0], "yaw": 0.0},
    {"label": "chair", "center": [3.0, 2.0, 0.5], "extents": [0.5, 0.6, 1.0], "yaw": 90.0},
]


def write_boxlist(root: Path, name: str = "room42.json", nested: bool = False) -> Fixture:
    """Box-list JSON (top-level labels, or under ``objects`` with ``nested``) with room size 20 m²."""
    labels: dict[str, list[dict[str, Any]]] = {}
    for o in BOXLIST_OBJECTS:
        labels.setdefault(o["label"], []).append(obb(o["center"], o["extents"], o["yaw"]))
    data: dict[str, Any] = {"room_size": 20.0, "room_center": [2.0, 1.5, 0.0], "video_path": "x.mp4", "dataset": "arkitscenes"}
    if nested:
        data.update(scene_id="room42_nested", objects=labels)
    else:
        data.update(labels)
    path = write_json(root / name, data)
    # ids: sorted labels (chair, chair, sofa) then list order
    order = sorted(range(len(BOXLIST_OBJECTS)), key=lambda i: BOXLIST_OBJECTS[i]["label"])
    objs = [dict(BOXLIST_OBJECTS[i], id=k) for k, i in enumerate(order)]
    return Fixture(path, "boxlist", "room42_nested" if nested else Path(name).stem, objs, files={"json": path})


def load_benchmark(name: str) -> Any:
    """The module ``benchmarks/<name>.py`` (benchmarks are scripts, not a package; their folder is put
    on ``sys.path``, as running one puts it, for the ``_timing`` helper they share)."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_scannet_sens(root: Path, scene_id: str = "scene0001_00", n_frames: int = 6, color_size: tuple[int, int] = (160, 120),
                       depth_size: tuple[int, int] = (80, 60), objects: list[dict[str, Any]] = OBJECTS) -> Fixture:
    """A ScanNet scan as downloaded: mesh, segments, aggregation, axisAlignment and ``<scene>.sens``
    (no extracted frames), ``n_frames`` frames looking at the room, colour and depth with their own
    intrinsics and sizes; frame 2 has ScanNet's all -inf invalid pose."""
    from spatialevo.scene.loaders.sens import write_sens

    fx = write_scannet(root, scene_id, objects)
    for sub in ("pose", "color", "depth", "intrinsic"):
        for f in (fx.path / sub).iterdir():
            f.unlink()
        (fx.path / sub).rmdir()
    A = np.array([float(v) for v in fx.files["txt"].read_text().split("axisAlignment = ")[1].split("\n")[0].split()]).reshape(4, 4)
    Kc = _K(1.17 * color_size[0], 1.17 * color_size[0], color_size[0] / 2 + 2.3, color_size[1] / 2 - 1.7)
    Kd = _K(0.72 * depth_size[0], 0.72 * depth_size[0], depth_size[0] / 2 - 0.6, depth_size[1] / 2 + 0.4)
    poses = {}
    rng = np.random.default_rng(0)

    def frames():
        for i in range(n_frames):
            T = look_at([0.4 + 0.5 * i, -0.8, 1.4], [2.0, 1.5, 0.5])
            color = rng.integers(0, 255, (color_size[1], color_size[0], 3), dtype=np.uint8)
            depth = np.full((depth_size[1], depth_size[0]), 1500 + 10 * i, dtype=np.uint16)
            if i == 2:
                yield np.full((4, 4), -np.inf), color, depth
                continue
            poses[str(i)] = T
            yield np.linalg.inv(A) @ T, color, depth

    fx.files["sens"] = write_sens(fx.path / f"{scene_id}.sens", frames(), K_color=Kc, K_depth=Kd, color_size=color_size,
                                  depth_size=depth_size)
    fx.poses, fx.K, fx.size, fx.depth_size = poses, scale_intrinsics(Kc, color_size, depth_size), depth_size, depth_size
    return fx


def fill_disk_at(monkeypatch: Any, n: int) -> list[Path]:
    """Make the ``n``-th file a generate run writes through ``runfolder.write_file`` fail with
    ENOSPC (the disk filling up); returns the list of paths written (or tried) so far."""
    import errno

    import spatialevo.runfolder as rf

    real, calls = rf.write_file, []

    def full_disk(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == n:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(rf, "write_file", full_disk)
    return calls
