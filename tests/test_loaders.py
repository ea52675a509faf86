"""Layout loaders: known geometry read back from each native layout, bad input, cache round trip."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fixtures import (
    Fixture,
    box_corners,
    write_arkitscenes,
    write_boxlist,
    write_json,
    write_matrix,
    write_scannet,
    write_scannetpp,
)

from spatialevo import detect_layout, load_scene
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, UnknownLayoutError
from spatialevo.scene import CEILING_ID, FLOOR_ID, NO_HIT, WALL_ID, Scene
from spatialevo.scene.loaders import boxlist, scannet

TOL = 1e-3  # 1 mm


def assert_same_corners(actual: np.ndarray, expected: np.ndarray) -> None:
    """The two (8, 3) corner sets are equal to 1 mm (order-free)."""
    d = np.linalg.norm(actual[:, None, :] - expected[None, :, :], axis=2)
    assert d.min(axis=0).max() < TOL and d.min(axis=1).max() < TOL, d


def check_objects(scene: Scene, fx: Fixture) -> None:
    assert len(scene.objects) == len(fx.objects)
    assert sorted(o.label for o in scene.objects) == sorted(o["label"] for o in fx.objects)
    for exp in fx.objects:
        obj = scene.object(exp["id"])
        assert obj.label == exp["label"]
        np.testing.assert_allclose(obj.box.center, exp["center"], atol=TOL)
        np.testing.assert_allclose(np.sort(obj.box.extents), np.sort(exp["extents"]), atol=TOL)
        assert_same_corners(obj.box.corners(), box_corners(exp["center"], exp["extents"], exp["yaw"]))


def check_frames(scene: Scene, fx: Fixture) -> None:
    assert [f.id for f in scene.frames] == list(fx.poses)
    for fid, T in fx.poses.items():
        f = scene.frame(fid)
        np.testing.assert_allclose(f.T_wc, T, atol=1e-6)
        np.testing.assert_allclose(f.K, fx.K, atol=1e-9)
        assert (f.width, f.height) == fx.size
        assert f.rgb_path is not None and f.rgb_path.is_file()
        assert (f.depth_path is not None) == (fx.depth_size is not None)
        kinds = ("rgb", "depth") if fx.depth_size else ("rgb",)
        imgs = scene.frame_images(f, kinds)
        assert imgs["rgb"].shape == (fx.size[1], fx.size[0], 3) and imgs["rgb"].dtype == np.uint8
        if fx.depth_size:
            assert imgs["depth"].shape == (fx.depth_size[1], fx.depth_size[0])
            np.testing.assert_allclose(imgs["depth"], fx.depth_m, atol=1e-6)


def check_mesh_ids(scene: Scene, fx: Fixture, structure: bool) -> None:
    ids = scene.mesh.face_object_ids
    # scene_geometry: floor (2 faces), wall (2 faces), then 12 faces per object
    if structure:
        assert ids[:2].tolist() == [FLOOR_ID] * 2 and ids[2:4].tolist() == [WALL_ID] * 2
    else:
        assert ids[:4].tolist() == [NO_HIT] * 4
    for k, exp in enumerate(fx.objects):
        assert ids[4 + 12 * k : 16 + 12 * k].tolist() == [exp["id"]] * 12
    assert CEILING_ID not in ids


# -- the four layouts ------------------------------------------------------------------------------
def test_scannet(tmp_path):
    fx = write_scannet(tmp_path)
    assert detect_layout(fx.path) == "scannet"
    scene = load_scene(fx.path)
    assert scene.scene_id == fx.scene_id and scene.meta["layout"] == "scannet"
    check_objects(scene, fx)
    check_frames(scene, fx)
    check_mesh_ids(scene, fx, structure=True)
    assert scene.meta["skipped_frames"] == 1 and scene.meta["skipped_frame_ids"] == ["10"]
    # colour frames carry the colour camera's intrinsics (scaled to the frame), depth its own
    depth_K = np.loadtxt(fx.path / "intrinsic" / "intrinsic_depth.txt")[:3, :3]
    for f in scene.frames:
        np.testing.assert_allclose(f.depth_K, depth_K, atol=1e-12)
        assert np.abs(f.K[:2, 2] - depth_K[:2, 2]).max() > 1.0  # the two principal points differ
    assert [s["label"] for s in scene.meta["skipped_objects"]] == ["ghost"]
    assert not {"wall", "floor"} & set(scene.labels())
    # axis alignment reaches the mesh: the floor quad is back at z = 0 and the wall at y = 3
    np.testing.assert_allclose(scene.mesh.vertices[:4, 2], 0.0, atol=1e-6)
    np.testing.assert_allclose(scene.mesh.vertices[4:8, 1], 3.0, atol=1e-6)
    assert scene.mesh.vertex_colors is not None and scene.mesh.vertex_colors[0].tolist() == [200, 100, 50]
    # object points = the aligned mesh vertices of the object's segments
    chair = scene.object(2)
    assert chair.points.shape == (8, 3)
    assert_same_corners(chair.points, box_corners(fx.objects[0]["center"], fx.objects[0]["extents"], fx.objects[0]["yaw"]))


def test_scannet_without_alignment_or_frames(tmp_path):
    fx = write_scannet(tmp_path)
    fx.files["txt"].unlink()
    shutil.rmtree(fx.path / "pose")
    scene = load_scene(fx.path)
    assert scene.frames == [] and scene.meta["axis_alignment"] == np.eye(4).tolist()


@pytest.mark.parametrize("camera", ["iphone", "dslr"])
def test_scannetpp(tmp_path, camera):
    fx = write_scannetpp(tmp_path, camera=camera)
    assert detect_layout(fx.path) == "scannetpp"
    scene = load_scene(fx.path)
    assert scene.scene_id == fx.scene_id and scene.meta["camera"] == camera
    check_objects(scene, fx)  # the "REMOVE" group is neither an object nor structure
    check_frames(scene, fx)
    check_mesh_ids(scene, fx, structure=True)
    if camera == "iphone":
        assert scene.frames[0].depth_path is not None
    else:
        assert scene.frames[0].depth_path is None


def test_arkitscenes(tmp_path):
    fx = write_arkitscenes(tmp_path)
    assert detect_layout(fx.path) == "arkitscenes"
    scene = load_scene(fx.path)
    assert scene.scene_id == fx.scene_id
    check_objects(scene, fx)
    check_frames(scene, fx)
    check_mesh_ids(scene, fx, structure=False)
    assert scene.meta["skipped_frames"] == 1 and scene.meta["object_uids"]["5"] == "uid-0"
    for exp in fx.objects:  # points = the mesh vertices inside the box = its 8 corners
        assert scene.object(exp["id"]).points.shape == (8, 3)


def test_arkitscenes_without_mesh_or_frames(tmp_path):
    fx = write_arkitscenes(tmp_path)
    fx.files["mesh"].unlink()
    shutil.rmtree(fx.path / f"{fx.scene_id}_frames")
    scene = load_scene(fx.path)
    assert scene.mesh is None and scene.frames == []
    assert all(o.points is None for o in scene.objects)
    check_objects(scene, fx)


@pytest.mark.parametrize("nested", [False, True])
def test_boxlist(tmp_path, nested):
    fx = write_boxlist(tmp_path, nested=nested)
    assert detect_layout(fx.path) == "boxlist"
    scene = load_scene(fx.path)
    assert scene.scene_id == fx.scene_id
    assert scene.meta["room_size"] == 20.0
    assert scene.labels() == {"chair": 2, "sofa": 1}
    check_objects(scene, fx)
    assert scene.frames == [] and scene.mesh is None
    # 30° yaw, unequal extents: rows of normalizedAxes are the axes, corners reproduced exactly
    sofa = scene.objects_with_label("sofa")[0]
    c, h = np.array([1.0, 2.0, 0.45]), np.array([2.0, 0.9, 0.9]) / 2
    ax = np.array([[np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0], [-np.sin(np.pi / 6), np.cos(np.pi / 6), 0.0], [0.0, 0.0, 1.0]])
    expected = np.array([c + sx * h[0] * ax[0] + sy * h[1] * ax[1] + sz * h[2] * ax[2] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    assert_same_corners(sofa.box.corners(), expected)


def test_boxlist_detect_rejects_other_json(tmp_path):
    p = write_json(tmp_path / "other.json", {"a": [1, 2], "b": {"c": 1}})
    assert boxlist.detect(p) is False
    (tmp_path / "broken.json").write_text("{not json")
    assert boxlist.detect(tmp_path / "broken.json") is False
    assert boxlist.detect(tmp_path / "missing.json") is False


# -- bad input --------------------------------------------------------------------------------------
def _raises(exc_type, path, *needles):
    with pytest.raises(exc_type) as info:
        load_scene(path)
    msg = str(info.value)
    for n in needles:
        assert n in msg, (n, msg)
    return info.value


def test_missing_mesh(tmp_path):
    fx = write_scannet(tmp_path)
    fx.files["mesh"].unlink()
    _raises(SceneFileNotFoundError, fx.path, "scene0000_00_vh_clean_2.ply", "mesh")
    fx = write_scannetpp(tmp_path / "pp")
    fx.files["mesh"].unlink()
    _raises(SceneFileNotFoundError, fx.path, "mesh_aligned_0.05.ply", "mesh")


def test_missing_aggregation(tmp_path):
    fx = write_scannet(tmp_path)
    fx.files["aggregation"].unlink()
    _raises(SceneFileNotFoundError, fx.path, "scene0000_00.aggregation.json", "segGroups")


def test_malformed_json(tmp_path):
    fx = write_scannet(tmp_path)
    fx.files["aggregation"].write_text('{"segGroups": [')
    _raises(SceneFormatError, fx.path, "scene0000_00.aggregation.json", "segGroups", "malformed JSON")
    fx = write_arkitscenes(tmp_path / "ark")
    fx.files["anno"].write_text("not json at all")
    _raises(SceneFormatError, fx.path, "41069021_3dod_annotation.json", "data")


def test_missing_key(tmp_path):
    fx = write_scannet(tmp_path)
    write_json(fx.files["segs"], {"sceneId": "x"})
    _raises(SceneFormatError, fx.path, "segs.json", "segIndices", "missing key")
    fx = write_scannet(tmp_path / "b")
    segs = json.loads(fx.files["segs"].read_text())
    write_json(fx.files["segs"], {"segIndices": segs["segIndices"][:-3]})
    _raises(SceneFormatError, fx.path, "segs.json", "segIndices", "shape")


def test_wrong_length_centroid(tmp_path):
    fx = write_boxlist(tmp_path)
    data = json.loads(fx.path.read_text())
    data["sofa"][0]["centroid"] = [1.0, 2.0]
    write_json(fx.path, data)
    _raises(SceneFormatError, fx.path, "room42.json", "sofa[0].centroid", "shape")
    fx = write_arkitscenes(tmp_path / "ark")
    data = json.loads(fx.files["anno"].read_text())
    data["data"][1]["segments"]["obb"]["normalizedAxes"] = [1, 0, 0, 0, 1, 0]
    write_json(fx.files["anno"], data)
    _raises(SceneFormatError, fx.path, "_3dod_annotation.json", "data[1].segments.obb.normalizedAxes")


def test_nan_in_pose(tmp_path):
    fx = write_scannet(tmp_path)
    T = np.loadtxt(fx.files["pose_0"])
    T[0, 3] = np.nan
    write_matrix(fx.files["pose_0"], T)
    _raises(SceneFormatError, fx.path, "0.txt", "pose", "NaN")
    # a rotation block that is not a rotation
    fx = write_scannet(tmp_path / "b")
    write_matrix(fx.files["pose_20"], np.diag([2.0, 1.0, 1.0, 1.0]))
    _raises(SceneFormatError, fx.path, "20.txt", "pose", "rotation")
    # NaN in an ARKitScenes trajectory and a ScanNet++ pose
    fx = write_arkitscenes(tmp_path / "ark")
    lines = fx.files["traj"].read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:6] + ["nan"])
    fx.files["traj"].write_text("\n".join(lines) + "\n")
    _raises(SceneFormatError, fx.path, "lowres_wide.traj", "traj", "NaN")
    fx = write_scannetpp(tmp_path / "pp")
    data = json.loads(fx.files["poses"].read_text())
    data["frame_000010"]["aligned_pose"][1][2] = float("nan")
    fx.files["poses"].write_text(json.dumps(data))  # json writes NaN
    _raises(SceneFormatError, fx.path, "pose_intrinsic_imu.json", "frame_000010.aligned_pose", "NaN")


def test_empty_object(tmp_path):
    fx = write_scannet(tmp_path)
    agg = json.loads(fx.files["aggregation"].read_text())
    agg["segGroups"][3]["segments"] = []
    write_json(fx.files["aggregation"], agg)
    _raises(SceneFormatError, fx.path, "scene0000_00.aggregation.json", "segGroups[3].segments", "empty segment list")


def test_unknown_layout(tmp_path):
    folder = tmp_path / "random"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    _raises(UnknownLayoutError, folder, "random", "not a recognised scene layout")
    _raises(SceneFileNotFoundError, tmp_path / "nowhere", "nowhere", "path")


def test_missing_intrinsics_with_poses(tmp_path):
    fx = write_scannet(tmp_path)
    (fx.path / "intrinsic" / "intrinsic_depth.txt").unlink()
    _raises(SceneFileNotFoundError, fx.path, "intrinsic_depth.txt", "intrinsic_depth")


def test_detect_never_raises(tmp_path):
    from spatialevo.scene.loaders import LAYOUTS

    for target in (tmp_path / "missing", tmp_path, tmp_path / "f.json"):
        for _, (detect, _) in LAYOUTS.items():
            assert detect(target) in (True, False)
    assert scannet.detect(tmp_path / "missing") is False


# -- ScanNet++ cameras ------------------------------------------------------------------------------
def _format_error(path, file, field, *needles) -> SceneFormatError:
    """``load_scene(path)`` raises a SceneFormatError carrying exactly ``file`` and ``field`` (and ``needles``)."""
    err = _raises(SceneFormatError, path, file.name, field, *needles)
    assert err.path == file and err.field == field, (err.path, err.field)
    return err


def _edit_json(file, edit) -> None:
    data = json.loads(file.read_text())
    edit(data)
    file.write_text(json.dumps(data))


def test_scannetpp_iphone_missing_aligned_pose_raises(tmp_path):
    # one frame without aligned_pose: its raw ARKit pose is in another frame, never a silent fallback
    fx = write_scannetpp(tmp_path)
    _edit_json(fx.files["poses"], lambda d: d["frame_000010"].pop("aligned_pose"))
    _format_error(fx.path, fx.files["poses"], "frame_000010.aligned_pose", "missing", "ARKit")
    # no frame has aligned_pose: ScanNet++ ships no transform ARKit → mesh frame, so still an error
    fx = write_scannetpp(tmp_path / "b")
    _edit_json(fx.files["poses"], lambda d: [v.pop("aligned_pose") for v in d.values()])
    _format_error(fx.path, fx.files["poses"], "aligned_pose", "ARKit", "no frame")


def test_scannetpp_iphone_uses_aligned_pose_not_raw_pose(tmp_path):
    fx = write_scannetpp(tmp_path)  # raw "pose" is the identity, "aligned_pose" the expected pose
    scene = load_scene(fx.path)
    assert not np.allclose(scene.frame("frame_000000").T_wc, np.eye(4))
    check_frames(scene, fx)


def test_scannetpp_iphone_intrinsics_for_other_resolution(tmp_path):
    # full-resolution ScanNet++ K (1920x1440) with 192x144 images: would misproject every pixel
    fx = write_scannetpp(tmp_path)
    _edit_json(fx.files["poses"], lambda d: d["frame_000000"].update(intrinsic=[[1500.0, 0, 955.0], [0, 1500.0, 715.0], [0, 0, 1]]))
    _format_error(fx.path, fx.files["poses"], "frame_000000.intrinsic", "principal point", "192x144")
    fx = write_scannetpp(tmp_path / "b")  # transposed matrix: cx, cy on the bottom row
    _edit_json(fx.files["poses"], lambda d: d["frame_000010"].update(intrinsic=np.asarray(d["frame_000010"]["intrinsic"]).T.tolist()))
    _format_error(fx.path, fx.files["poses"], "frame_000010.intrinsic", "transposed")
    fx = write_scannetpp(tmp_path / "c")  # a frame that is not an object
    _edit_json(fx.files["poses"], lambda d: d.update(frame_000010=[1, 2]))
    _format_error(fx.path, fx.files["poses"], "frame_000010", "JSON object")


def test_scannetpp_dslr_prefers_undistorted(tmp_path):
    fx = write_scannetpp(tmp_path, camera="dslr", dslr="release")
    scene = load_scene(fx.path)
    check_frames(scene, fx)  # K of transforms_undistorted.json, not of the fisheye transforms.json
    assert all(f.rgb_path.parent.name == "resized_undistorted_images" for f in scene.frames)


def test_scannetpp_dslr_fisheye_only_raises(tmp_path):
    fx = write_scannetpp(tmp_path, camera="dslr", dslr="fisheye")
    err = _format_error(fx.path, fx.files["distorted"], "camera_model", "OPENCV_FISHEYE", "undistort", "ScanNet++ toolkit")
    assert "transforms_undistorted.json" in str(err)
    # pinhole model name but fisheye coefficients left in: still distorted
    _edit_json(fx.files["distorted"], lambda d: d.update(camera_model="OPENCV"))
    _format_error(fx.path, fx.files["distorted"], "k1", "distortion", "undistort")
    # the distorted file must say what it is
    _edit_json(fx.files["distorted"], lambda d: d.pop("camera_model"))
    _format_error(fx.path, fx.files["distorted"], "camera_model", "missing")
    # the undistorted file is checked too
    fx = write_scannetpp(tmp_path / "b", camera="dslr", dslr="release")
    _edit_json(fx.files["poses"], lambda d: d.update(k2=0.01))
    _format_error(fx.path, fx.files["poses"], "k2", "distortion")


@pytest.mark.parametrize("model", ["PINHOLE", "pinhole", "OPENCV", "SIMPLE_PINHOLE"])
def test_scannetpp_dslr_distorted_file_accepted_when_pinhole(tmp_path, model):
    fx = write_scannetpp(tmp_path, camera="dslr", dslr="fisheye")
    _edit_json(fx.files["poses"], lambda d: d.update({"camera_model": model, "k1": 0.0, "k2": 0, "k3": 0.0, "k4": 0.0, "p1": 0.0}))
    check_frames(load_scene(fx.path), fx)


@pytest.mark.parametrize(("key", "value"), [("w", 0), ("h", -80), ("w", 120.5), ("h", "80"), ("w", True), ("h", None)])
def test_scannetpp_dslr_bad_size_names_file(tmp_path, key, value):
    fx = write_scannetpp(tmp_path, camera="dslr")
    _edit_json(fx.files["poses"], lambda d: d.update({key: value}))
    _format_error(fx.path, fx.files["poses"], key)


def test_scannetpp_dslr_other_bad_input(tmp_path):
    fx = write_scannetpp(tmp_path, camera="dslr")
    tf = fx.files["poses"]
    original = tf.read_text()
    cases = [
        (lambda d: d.update(fl_x=float("nan")), "fl_x", "finite"),
        (lambda d: d.update(cx=5.0), "cx/cy", "principal point"),
        (lambda d: d["frames"][1].update(fl_x=90.0), "frames[1].fl_x", "one camera per file"),
        (lambda d: d["frames"][1].update(camera_model="OPENCV_FISHEYE"), "frames[1].camera_model", "one camera"),
        (lambda d: d["frames"][1].update(file_path="sub/frame_000000.JPG"), "frames[1].file_path", "already used"),
        (lambda d: d.update(test_frames={"a": 1}), "test_frames", "type"),
        (lambda d: d.update(test_frames=[{"file_path": "x.JPG", "transform_matrix": [[1, 0, 0], [0, 1, 0]]}]),
         "test_frames[0].transform_matrix", "shape"),
        (lambda d: d["frames"][0].pop("transform_matrix"), "frames[0].transform_matrix", "missing key"),
        (lambda d: d["frames"].__setitem__(0, "frame.JPG"), "frames[0].file_path", "JSON object"),
    ]
    for edit, field, needle in cases:
        tf.write_text(original)
        _edit_json(tf, edit)
        _format_error(fx.path, tf, field, needle)


# -- ARKitScenes frames ----------------------------------------------------------------------------
def _pincam(fx: Fixture):
    return sorted((fx.path / f"{fx.scene_id}_frames" / "lowres_wide_intrinsics").glob("*.pincam"))[0]


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("0 192 211.9 212.1 127.5 95.5", "pincam.width", "positive"),
        ("256 -1 211.9 212.1 127.5 95.5", "pincam.height", "positive"),
        ("256.5 192 211.9 212.1 127.5 95.5", "pincam.width", "whole"),
        ("256 192 211.9 212.1 400.0 95.5", "pincam cx/cy", "principal point"),
        ("256 192 -211.9 212.1 127.5 95.5", "pincam fx/fy", "fx > 0"),
        ("256 192 211.9 nan 127.5 95.5", "pincam", "NaN"),
        ("256 192 211.9 212.1 127.5", "pincam", "expected 6 numbers"),
    ],
)
def test_arkitscenes_bad_pincam_names_file(tmp_path, text, field, needle):
    fx = write_arkitscenes(tmp_path)
    kp = _pincam(fx)
    kp.write_text(text + "\n")
    _format_error(fx.path, kp, field, needle)


def test_arkitscenes_other_bad_input(tmp_path):
    fx = write_arkitscenes(tmp_path)
    fx.files["traj"].write_text("\n")  # images but an empty trajectory: not "all frames skipped"
    _format_error(fx.path, fx.files["traj"], "traj", "no poses")
    # two videos in one folder: which annotation belongs to the frames is ambiguous
    fx = write_arkitscenes(tmp_path / "b")
    other = write_json(fx.path / "99999999_3dod_annotation.json", {"data": []})
    _format_error(fx.path, other, "video id", "several videos")
    other.unlink()
    mesh = fx.path / "99999999_3dod_mesh.ply"
    shutil.copy(fx.files["mesh"], mesh)
    _format_error(fx.path, mesh, "video id", "another video")
    mesh.unlink()
    # an image whose "timestamp" is nan is not a frame (it used to break the nearest-timestamp search)
    shutil.copy(fx.path / f"{fx.scene_id}_frames" / "lowres_wide" / f"{fx.scene_id}_6845.801.png",
                fx.path / f"{fx.scene_id}_frames" / "lowres_wide" / f"{fx.scene_id}_nan.png")
    check_frames(load_scene(fx.path), fx)
    # two images whose timestamps round to the same frame id
    shutil.copy(fx.path / f"{fx.scene_id}_frames" / "lowres_wide" / f"{fx.scene_id}_6845.801.png",
                dup := fx.path / f"{fx.scene_id}_frames" / "lowres_wide" / f"{fx.scene_id}_6845.8012.png")
    _format_error(fx.path, dup, "frame id", "6845.801")


# -- cache round trip ------------------------------------------------------------------------------
@pytest.mark.parametrize("writer", [write_scannet, write_scannetpp, write_arkitscenes, write_boxlist])
def test_cache_round_trip(tmp_path, writer):
    fx = writer(tmp_path / "src")
    scene = load_scene(fx.path)
    out = scene.save(tmp_path / "s.npz")
    back = load_scene(out)
    assert back.scene_id == scene.scene_id and back.meta == json.loads(json.dumps(scene.meta))
    assert [o.id for o in back.objects] == [o.id for o in scene.objects]
    for a, b in zip(scene.objects, back.objects, strict=True):
        assert a.label == b.label and a.box == b.box
        assert (a.points is None) == (b.points is None)
        if a.points is not None:
            assert np.array_equal(a.points, b.points)
    for a, b in zip(scene.frames, back.frames, strict=True):
        assert a.id == b.id and np.array_equal(a.T_wc, b.T_wc) and np.array_equal(a.K, b.K)
        assert (a.width, a.height, a.rgb_path, a.depth_path) == (b.width, b.height, b.rgb_path, b.depth_path)
    assert (scene.mesh is None) == (back.mesh is None)
    if scene.mesh is not None:
        for name in ("vertices", "faces", "face_object_ids", "vertex_colors"):
            assert np.array_equal(getattr(scene.mesh, name), getattr(back.mesh, name))


def test_relative_input_path_gives_absolute_image_paths(tmp_path, monkeypatch):
    fx = write_scannet(tmp_path)
    monkeypatch.chdir(tmp_path)
    scene = load_scene(fx.scene_id)
    assert all(f.rgb_path.is_absolute() and f.depth_path.is_absolute() for f in scene.frames)
    back = load_scene(scene.save(tmp_path / "cache" / "s.npz"))
    assert back.frame_images(back.frames[0], ("depth",))["depth"].shape == (48, 64)


# -- hostile input: physical bounds, non-numbers, unreadable headers (more: test_scene_hostile.py) -----
@pytest.mark.parametrize(
    ("edit", "field", "needle"),
    [
        (lambda d: d.update(room_size=1e308), "room_size", "1e+06"),
        (lambda d: d.update(room_size=True), "room_size", "number"),
        (lambda d: d.update(room_size="20"), "room_size", "number"),
        (lambda d: d["sofa"][0].update(axesLengths=[1e308, 1, 1]), "sofa[0].axesLengths", "[0, 1000]"),
        (lambda d: d["sofa"][0].update(axesLengths=[2000.0, 1, 1]), "sofa[0].axesLengths", "[0, 1000]"),
        (lambda d: d["sofa"][0].update(centroid=[1e5, 0, 0]), "sofa[0].centroid", "10000"),
        (lambda d: d["sofa"][0].update(centroid=[True, 1.0, 0.0]), "sofa[0].centroid", "bool"),
        (lambda d: d["sofa"][0].update(centroid=["1.5", 1.0, 0.0]), "sofa[0].centroid", "str"),
        (lambda d: d["sofa"][0].update(centroid=[None, 1.0, 0.0]), "sofa[0].centroid", "null"),
        (lambda d: d["sofa"][0].update(normalizedAxes=[[1, 0, 0], [0, 1, 0], [0, 0, 1e308]]), "sofa[0].normalizedAxes", "rotation"),
    ],
)
def test_boxlist_hostile_values(tmp_path, edit, field, needle):
    fx = write_boxlist(tmp_path)
    _edit_json(fx.path, edit)
    _format_error(fx.path, fx.path, field, needle)


@pytest.mark.parametrize(
    ("key", "edit", "field", "needle"),
    [(("anno", "segGroups"), lambda g, v=v: g[3].update(objectId=v), "segGroups[3].objectId", "object id")
     for v in (1e30, 2**31, 2**70, 3.5, True)]
    + [(("segs", "segIndices"), lambda s, v=v: s.__setitem__(0, v), "segIndices", n)
       for v, n in ((True, "bool"), ("7", "str"), (3.5, "whole"), (None, "null"), (2**70, "range"))],
)
def test_segment_annotations_reject_bad_numbers(tmp_path, key, edit, field, needle):
    fx = write_scannetpp(tmp_path)
    _edit_json(fx.files[key[0]], lambda d: edit(d[key[1]]))
    _format_error(fx.path, fx.files[key[0]], field, needle)


def test_arkitscenes_pincam_beyond_bounds(tmp_path):
    fx = write_arkitscenes(tmp_path)
    kp = _pincam(fx)
    kp.write_text("1000000000 192 211.9 212.1 500000000 95.5\n")
    _format_error(fx.path, kp, "pincam.width", "32768")
    kp.write_text("30000 30000 211.9 212.1 15000 15000\n")  # each side fine, 9e8 pixels in all
    _format_error(fx.path, kp, "pincam.width/pincam.height", "pixels")
    kp.write_text("256 192 1e7 212.1 127.5 95.5\n")
    _format_error(fx.path, kp, "pincam fx/fy", "1e+06")


def test_arkitscenes_object_id_beyond_int32_falls_back_to_index(tmp_path):
    fx = write_arkitscenes(tmp_path)
    _edit_json(fx.files["anno"], lambda d: d["data"][1].update(objectId=2**40))
    assert [o.id for o in load_scene(fx.path).objects] == [0, 1, 2]


def test_huge_pose_and_mesh_coordinates_name_the_file(tmp_path):
    fx = write_scannet(tmp_path)
    T = np.loadtxt(fx.files["pose_0"])
    T[0, 3] = 1e308
    write_matrix(fx.files["pose_0"], T)
    _format_error(fx.path, fx.files["pose_0"], "pose translation", "10000")
    fx = write_scannetpp(tmp_path / "pp")
    _edit_json(fx.files["poses"], lambda d: d["frame_000000"]["aligned_pose"][0].__setitem__(3, 2e4))
    _format_error(fx.path, fx.files["poses"], "frame_000000.aligned_pose translation", "10000")
    fx = write_arkitscenes(tmp_path / "ak")
    import trimesh

    mesh = trimesh.load(fx.files["mesh"], process=False)
    v = np.array(mesh.vertices)
    v[3, 0] = -2e4
    fx.files["mesh"].write_bytes(trimesh.Trimesh(v, mesh.faces, process=False).export(file_type="ply"))
    _format_error(fx.path, fx.files["mesh"], "mesh.vertices", "10000")


def test_corrupt_first_image_raises_instead_of_default_size(tmp_path):
    fx = write_scannet(tmp_path)
    depth0 = fx.path / "depth" / "0.png"
    depth0.write_bytes(b"not a png")
    _format_error(fx.path, depth0, "depth", "cannot read")
    fx = write_scannetpp(tmp_path / "pp")
    rgb0 = fx.path / "iphone" / "rgb" / "frame_000000.jpg"
    rgb0.write_bytes(rgb0.read_bytes()[:20])
    _format_error(fx.path, rgb0, "rgb", "cannot read")


def test_model_errors_get_the_scene_path(tmp_path):
    # a frame id the scene model refuses (blank) is found by Frame, which knows no file
    fx = write_scannetpp(tmp_path)
    _edit_json(fx.files["poses"], lambda d: d.update({" ": d.pop("frame_000010")}))
    err = _raises(SceneFormatError, fx.path, "frame.id")
    assert err.path == fx.path.absolute() or err.path == fx.path, err.path
    assert str(fx.path) in str(err) and "\n" not in str(err)

