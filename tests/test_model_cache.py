"""Scene model validation and the cache format round trip."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import write_arkitscenes, write_scannet, write_scannetpp
from test_loaders import check_objects

from spatialevo import load_scene
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene import FLOOR_ID, Frame, ObjectInstance, OrientedBox, Scene, SceneMesh
from spatialevo.scene.cache import load_cache, save_cache


def small_scene() -> Scene:
    rng = np.random.default_rng(0)
    objs = [
        ObjectInstance.from_points(0, "Chair", rng.uniform(0, 1, (50, 3))),
        ObjectInstance(3, "trash_bin", OrientedBox([2, 2, 0.2], [0.3, 0.3, 0.4], np.eye(3))),
    ]
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    T = np.eye(4)
    T[:3, 3] = [1, 1, 1.5]
    mesh = SceneMesh(rng.uniform(0, 3, (10, 3)), rng.integers(0, 10, (6, 3)), [0, 0, 3, 3, FLOOR_ID, -1])
    return Scene(
        "s1", objs, [Frame("000000", K, T, 640, 480, depth_path="/data/depth.png")], mesh,
        points=rng.uniform(0, 3, (20, 3)), floor_polygon=[[0, 0], [0, 3], [3, 3], [3, 0]], meta={"layout": "test", "room_size": 9.0},
    )


def test_labels_normalised_and_lookup():
    s = small_scene()
    assert s.labels() == {"chair": 1, "trash bin": 1}
    assert s.object(3).ref == "trash bin#3"
    assert s.floor_area == pytest.approx(9.0)
    assert np.all(np.diff(s.floor_polygon[:, 0] * 0) == 0)
    with pytest.raises(KeyError, match="no object with id 7"):
        s.object(7)
    with pytest.raises(KeyError, match="no frame 'x'"):
        s.frame("x")


def test_cache_round_trip_exact(tmp_path):
    s = small_scene()
    path = save_cache(s, tmp_path / "scene")
    assert path.suffix == ".npz"
    t = load_scene(path)
    assert t.meta["layout"] == "test" and t.meta["room_size"] == 9.0
    for a, b in zip(s.objects, t.objects):
        assert a.id == b.id and a.label == b.label and a.box == b.box
        assert (a.points is None and b.points is None) or np.array_equal(a.points, b.points)
    assert np.array_equal(s.frames[0].T_wc, t.frames[0].T_wc) and np.array_equal(s.frames[0].K, t.frames[0].K)
    assert str(t.frames[0].depth_path) == "/data/depth.png"
    for name in ("vertices", "faces", "face_object_ids"):
        assert np.array_equal(getattr(s.mesh, name), getattr(t.mesh, name))
    assert np.array_equal(s.points, t.points) and np.array_equal(s.floor_polygon, t.floor_polygon)
    # relative image paths resolve against the cache's folder
    s.frames[0].rgb_path = "rel/rgb.png"
    assert load_cache(save_cache(s, tmp_path / "rel.npz")).frames[0].rgb_path == tmp_path / "rel/rgb.png"
    s.frames[0].rgb_path = None
    # same scene → same bytes
    path2 = save_cache(t, tmp_path / "again.npz")
    assert path.read_bytes() == path2.read_bytes()


def test_cache_errors(tmp_path):
    with pytest.raises(SceneFileNotFoundError, match="missing.npz"):
        load_cache(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(SceneFormatError, match="meta.json"):
        load_cache(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SceneFormatError, match="junk.npz"):
        load_cache(junk)


def test_model_rejects_bad_values():
    K = np.eye(3)
    with pytest.raises(SceneFormatError, match="T_wc"):
        Frame("a", K, np.full((4, 4), np.nan), 10, 10)
    with pytest.raises(SceneFormatError, match="T_wc"):
        Frame("a", K, np.eye(3), 10, 10)
    with pytest.raises(SceneFormatError, match="K"):
        Frame("a", np.zeros((3, 3)), np.eye(4), 10, 10)
    with pytest.raises(SceneFormatError, match="width/height"):
        Frame("a", K, np.eye(4), 0, 10)
    with pytest.raises(SceneFormatError, match="has no points"):
        ObjectInstance.from_points(1, "chair", np.zeros((0, 3)))
    with pytest.raises(SceneFormatError, match="label"):
        ObjectInstance(1, "  ", OrientedBox([0, 0, 0], [1, 1, 1]))
    box = OrientedBox([0, 0, 0], [1, 1, 1])
    with pytest.raises(SceneFormatError, match="duplicate object ids"):
        Scene("s", [ObjectInstance(1, "a", box), ObjectInstance(1, "b", box)])
    with pytest.raises(SceneFormatError, match="mesh.faces"):
        SceneMesh(np.zeros((3, 3)), [[0, 1, 5]], [0])
    with pytest.raises(SceneFormatError, match="floor_polygon"):
        Scene("s", floor_polygon=[[0, 0], [1, 1]])


def test_projection_matches_intrinsics():
    K = np.array([[500.0, 0, 320], [0, 400, 240], [0, 0, 1]])
    f = Frame("a", K, np.eye(4), 640, 480)
    uv, z = f.project(np.array([[0.0, 0, 2], [1, -1, 2]]))
    assert np.allclose(uv, [[320, 240], [570, 40]]) and np.allclose(z, 2)


def _write_cache_with(tmp_path, name, mutate):
    """Save the small scene, then rewrite one cache entry with ``mutate(arrays)``."""
    import io
    import json
    import zipfile

    from spatialevo.scene.cache import scene_to_arrays

    arrays = scene_to_arrays(small_scene())
    meta = json.loads(arrays["meta.json"].tobytes())
    mutate(arrays, meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(v))
            zf.writestr(k + ".npy", buf.getvalue())
    return path


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda a, m: m.pop("labels"), "meta.json"),
        (lambda a, m: m["has_points"].pop(), "obj_ids"),
        (lambda a, m: m["frames"][0].pop("id"), "meta.json"),
        (lambda a, m: a.__setitem__("obj_point_offsets", a["obj_point_offsets"][::-1].copy()), "obj_point_offsets"),
        (lambda a, m: a.__setitem__("frame_size", np.array([640])), "frame_size"),
        (lambda a, m: a.__setitem__("box_rotation", np.ones((2, 3, 3))), "box.rotation"),
    ],
)
def test_corrupt_cache_content_names_file_and_field(tmp_path, mutate, field):
    path = _write_cache_with(tmp_path, "corrupt.npz", mutate)
    with pytest.raises(SceneFormatError) as exc:
        load_cache(path)
    assert "corrupt.npz" in str(exc.value) and field in str(exc.value)


def test_corrupt_zip_directory_is_not_a_cache(tmp_path):
    from spatialevo.scene.cache import is_cache_file

    data = bytearray(save_cache(small_scene(), tmp_path / "s.npz").read_bytes())
    i = data.rfind(b"PK\x01\x02")
    data[i : i + 4] = b"XXXX"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    assert is_cache_file(bad) is False


def test_integer_fields_reject_fractions_and_overflow():
    from spatialevo.scene.validate import as_array

    with pytest.raises(SceneFormatError, match="segments"):
        as_array([0.7, 1], (None,), "segments", dtype=np.int64)
    with pytest.raises(SceneFormatError, match="segments"):
        as_array([2**70], (None,), "segments", dtype=np.int64)
    with pytest.raises(SceneFormatError, match="centroid"):
        as_array([10**400, 0, 0], (3,), "centroid")
    assert as_array([1.0, 2], (None,), "ok", dtype=np.int64).tolist() == [1, 2]


def test_boxlist_rejects_infinite_room_size(tmp_path):
    p = tmp_path / "room.json"
    p.write_text('{"room_size": Infinity, "chair": [{"centroid": [1, 2, 0.5], "axesLengths": [0.5, 0.5, 1], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1]}]}')
    with pytest.raises(SceneFormatError, match="room_size"):
        load_scene(p)


# -- hostile values: non-numbers, integer ranges, physical bounds ------------------------------------
@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ([True, 1.0, 0.0], "bool"),
        ([1, True], "bool"),
        (np.array([True, False]), "bool"),
        (["1.5", 2.0], "str"),
        ([None, 1.0], "null"),
        ([1 + 2j, 0], "complex"),
        (np.array([1 + 2j, 0]), "complex"),
        ([{"a": 1}, 2], "dict"),
        ([[1, 2], 3], "list"),
        ([2**70, 1], "range"),
        (np.array(["1", "2"]), "<U1"),
    ],
)
def test_as_array_refuses_non_real_values(value, needle):
    from spatialevo.scene.validate import as_array

    with pytest.raises(SceneFormatError, match="field 'x'") as info:
        as_array(value, (None,), "x")
    assert needle in str(info.value)


def test_as_array_integer_dtypes_check_their_range():
    from spatialevo.scene.validate import as_array

    for value, dtype in (([300], np.uint8), ([-1], np.uint8), ([2**31], np.int32), (np.array([2**40]), np.int32), ([2.0**63], np.int64)):
        with pytest.raises(SceneFormatError, match="must lie in"):
            as_array(value, (None,), "x", dtype=dtype)
    with pytest.raises(SceneFormatError, match="whole numbers"):
        as_array([3.5], (None,), "x", dtype=np.int64)
    assert as_array([255, 0], (None,), "x", dtype=np.uint8).tolist() == [255, 0]
    assert as_array(np.array([2**63 - 1]), (None,), "x", dtype=np.int64).tolist() == [2**63 - 1]
    with pytest.raises(SceneFormatError, match="exceeds the bound"):
        as_array([1e5, 0.0], (None,), "x", max_abs=1e4)


def test_model_enforces_physical_bounds():
    from spatialevo.scene import validate

    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    T = np.eye(4)
    box = OrientedBox([0, 0, 0], [1, 1, 1])
    far = np.eye(4)
    far[0, 3] = 2e4
    cases = [
        (lambda: OrientedBox([2e4, 0, 0], [1, 1, 1]), "box.center"),
        (lambda: OrientedBox([0, 0, 0], [1e308, 1, 1]), "box.extents"),
        (lambda: OrientedBox([0, 0, 0], [1, 1, 1], [[1e308, 0, 0], [0, 1, 0], [0, 0, 1]]), "box.rotation"),
        (lambda: ObjectInstance(2**31, "chair", box), "object.id"),
        (lambda: ObjectInstance(1.0, "chair", box), "object.id"),
        (lambda: ObjectInstance(True, "chair", box), "object.id"),
        (lambda: ObjectInstance.from_points(1, "chair", [[0, 0, 0], [2e3, 0, 0], [0, 2e3, 0], [0, 0, 2e3], [5e2, 5e2, 5e2]] * 2), "box.extents"),
        (lambda: ObjectInstance(1, "chair", box, [[2e4, 0, 0]]), "object 1 points"),
        (lambda: Frame("a", K, far, 640, 480), "T_wc translation"),
        (lambda: Frame("a", [[1e7, 0, 320], [0, 500, 240], [0, 0, 1]], T, 640, 480), "K"),
        (lambda: Frame("a", [[1e-3, 0, 320], [0, 500, 240], [0, 0, 1]], T, 640, 480), "K"),
        (lambda: Frame("a", K, T, 40000, 480), "width/height"),
        (lambda: Frame("a", K, T, 20000, 20000), "width/height"),
        (lambda: Frame("a", K, T, 640.5, 480), "width/height"),
        (lambda: Frame("a", K, T, True, 480), "width/height"),
        (lambda: Frame("a", K, T, 640, 480, depth_scale=0.0), "depth_scale"),
        (lambda: Frame("a", K, T, 640, 480, depth_scale=1e9), "depth_scale"),
        (lambda: Frame("a", K, T, 640, 480, depth_scale=True), "depth_scale"),
        (lambda: Frame(None, K, T, 640, 480), "frame.id"),
        (lambda: Frame("  ", K, T, 640, 480), "frame.id"),
        (lambda: Frame(1.5, K, T, 640, 480), "frame.id"),
        (lambda: Frame("a", K, T, 640, 480, rgb_path=5), "rgb_path"),
        (lambda: SceneMesh([[2e4, 0, 0]], np.zeros((0, 3), int), []), "mesh.vertices"),
        (lambda: SceneMesh(np.zeros((3, 3)), [[0, 1, 2]], [2**31]), "mesh.face_object_ids"),
        (lambda: SceneMesh(np.zeros((3, 3)), [[0, 1, 2]], [-7]), "mesh.face_object_ids"),
        (lambda: SceneMesh(np.zeros((3, 3)), [[0, 1, 2]], [0], [[300, 0, 0]] * 3), "mesh.vertex_colors"),
        (lambda: SceneMesh(np.zeros((3, 3)), [[0.5, 1, 2]], [0]), "mesh.faces"),
        (lambda: Scene("s", meta={"room_size": 1e308}), "room_size"),
        (lambda: Scene("s", meta={"room_size": 0.0}), "room_size"),
        (lambda: Scene("s", meta={"room_size": True}), "room_size"),
        (lambda: Scene("s", meta=[]), "meta"),
        (lambda: Scene(None), "scene_id"),
        (lambda: Scene("s", points=[[1e5, 0, 0]]), "points"),
        (lambda: Scene("s", points=[[0, 0, 0]], point_colors=[[256, 0, 0]]), "point_colors"),
        (lambda: Scene("s", floor_polygon=[[0, 0], [1e5, 0], [0, 1]]), "floor_polygon"),
    ]
    for make, field in cases:
        with pytest.raises(SceneFormatError) as info:
            make()
            pytest.fail(f"accepted: {field}")
        assert field in str(info.value), (field, str(info.value))
    assert validate.MAX_COORD_M == 1e4 and validate.MAX_IMAGE_SIDE_PX == 32768 and validate.MAX_OBJECT_ID == 2**31 - 1
    # values at the bounds are accepted; integer frame ids become strings
    f = Frame(7, [[1e6, 0, 320], [0, 1e6, 240], [0, 0, 1]], T, 32768, 4096, depth_scale=1e6)
    assert f.id == "7" and (f.width, f.height) == (32768, 4096)
    assert Frame("a", K, T, 640.0, 480.0).width == 640
    assert ObjectInstance(2**31 - 1, "chair", OrientedBox([1e4, 0, 0], [1e3, 0, 0])).id == 2**31 - 1
    assert Scene("s", meta={"room_size": 1e6}).meta["room_size"] == 1e6


def _write_raw_cache(tmp_path, name, replace):
    """The small scene's cache with some members' raw bytes replaced."""
    import zipfile

    src = save_cache(small_scene(), tmp_path / "src.npz")
    with zipfile.ZipFile(src) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members.update(replace)
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return path


def _npy(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr))
    return buf.getvalue()


def test_cache_npy_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 3)})
    path = _write_raw_cache(tmp_path, "huge.npz", {"mesh_vertices.npy": buf.getvalue() + bytes(24)})
    with pytest.raises(SceneFormatError, match=r"mesh_vertices.*\(1000000000, 3\)") as info:
        load_cache(path)
    assert "huge.npz" in str(info.value)
    bad = _write_raw_cache(tmp_path, "obj.npz", {"obj_ids.npy": _npy(np.array([0, 3], dtype=object))})
    with pytest.raises(SceneFormatError, match="obj_ids"):
        load_cache(bad)


@pytest.mark.parametrize(
    ("entry", "value", "needle"),
    [
        ("obj_ids", np.array([0.0, 3.0]), "stored as float64"),
        ("frame_size", np.array([[640.0, 480.0]]), "stored as float64"),
        ("frame_size", np.array([[3.5, 480.0]]), "stored as float64"),
        ("mesh_faces", np.zeros((6, 3)), "stored as float64"),
        ("mesh_face_object_ids", np.array([0, 0, 3, 3, -2, -1], dtype=np.int64) + 2**31, "int32"),
        ("mesh_vertices", np.full((10, 3), 1e308), "bound"),
        ("box_extents", np.array([[1.0, 1, 1], [1e308, 1, 1]]), "box.extents"),
        ("frame_K", np.eye(3, dtype=np.complex128)[None], "complex"),
        ("frame_depth_scale", np.array([True]), "bool"),
    ],
)
def test_cache_entries_checked(tmp_path, entry, value, needle):
    path = _write_cache_with(tmp_path, "bad.npz", lambda a, m: a.__setitem__(entry, value))
    with pytest.raises(SceneFormatError) as info:
        load_cache(path)
    msg = str(info.value)
    assert "bad.npz" in msg and needle in msg and "\n" not in msg, msg


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m.__setitem__("meta", []), "meta.json.meta"),
        (lambda m: m.__setitem__("meta", None), "meta.json.meta"),
        (lambda m: m.__setitem__("scene_id", None), "meta.json.scene_id"),
        (lambda m: m.__setitem__("labels", "chair"), "meta.json.labels"),
        (lambda m: m["labels"].__setitem__(0, 5), "meta.json.labels[0]"),
        (lambda m: m["has_points"].__setitem__(0, 1), "meta.json.has_points[0]"),
        (lambda m: m["frames"].__setitem__(0, "f"), "meta.json.frames[0]"),
        (lambda m: m["frames"][0].__setitem__("id", None), "meta.json.frames[0].id"),
        (lambda m: m["frames"][0].__setitem__("rgb_path", 3), "meta.json.frames[0].rgb_path"),
        (lambda m: m["meta"].__setitem__("room_size", 1e308), "room_size"),
    ],
)
def test_cache_meta_json_field_types(tmp_path, mutate, field):
    path = _write_cache_with(tmp_path, "meta.npz", lambda a, m: mutate(m))
    with pytest.raises(SceneFormatError) as info:
        load_cache(path)
    assert info.value.field == field and "meta.npz" in str(info.value), str(info.value)


def test_cache_meta_json_list_null_and_deep(tmp_path):
    for text, needle in ((b"[]", "got list"), (b"null", "got NoneType"), (b'{"a":' * 1300 + b"1" + b"}" * 1300, "nested")):
        path = _write_raw_cache(tmp_path, "m.npz", {"meta.json.npy": _npy(np.frombuffer(text, dtype=np.uint8))})
        with pytest.raises(SceneFormatError, match="meta.json") as info:
            load_cache(path)
        assert needle in str(info.value)


def test_scene_without_faces_or_depth_is_never_visible(tmp_path):
    from spatialevo import DGE
    from spatialevo.scene.visibility import visible_fractions

    K = np.array([[300.0, 0, 320], [0, 300, 240], [0, 0, 1]])
    T = np.array([[1.0, 0, 0, 0], [0, 0, 1, -3], [0, -1, 0, 0.5], [0, 0, 0, 1]])  # looking along +y
    objs = [ObjectInstance(0, "chair", OrientedBox([0, 0, 0.5], [0.5, 0.5, 1])), ObjectInstance(1, "table", OrientedBox([1, 1, 0.4], [1, 1, 0.8]))]
    frames = [Frame("f0", K, T, 640, 480)]
    boxes_only = Scene("b", objs, frames)
    assert visible_fractions(boxes_only, "f0")[0] > 0  # no occluders: frustum test
    cloud = Scene("c", objs, frames, points=np.zeros((5, 3)))
    faceless = Scene("m", objs, frames, SceneMesh(np.zeros((3, 3)), np.zeros((0, 3), int), np.zeros(0, int)))
    for scene in (cloud, faceless):
        assert (visible_fractions(scene, "f0") == 0).all()
        v = DGE(scene).evaluate({"task": "distance_cam_obj", "objects": ["chair"], "frames": ["f0"]})
        assert not v.valid and v.reason.value == "not_visible"
    assert (faceless.frame_images("f0", ("depth",))["depth"] == 0).all()  # rendering an empty mesh works


def test_image_reads_check_dtype_range_and_npy_headers(tmp_path):
    import io

    from spatialevo.scene.imageio import read_depth, read_instance

    ids = tmp_path / "inst.npy"
    np.save(ids, np.array([[2**40, 0]], dtype=np.int64))
    with pytest.raises(SceneFormatError, match="inst.npy.*int32"):
        read_instance(ids)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 10**3)})
    huge = tmp_path / "huge.npy"
    huge.write_bytes(buf.getvalue() + bytes(16))
    with pytest.raises(SceneFormatError, match="huge.npy"):
        read_depth(huge)
    cplx = tmp_path / "c.npy"
    np.save(cplx, np.ones((2, 2), dtype=np.complex64))
    with pytest.raises(SceneFormatError, match="complex"):
        read_depth(cplx)


def test_error_messages_are_one_line_and_bounded(tmp_path):
    err = SceneFormatError("first line\nsecond line " + "x" * 5000, path=tmp_path / "a.json", field="f")
    msg = str(err)
    assert "\n" not in msg and len(msg) < 600 and msg.endswith("...") and "a.json" in msg and "field 'f'" in msg
    p = tmp_path / "room.json"
    p.write_text('{"room_size": "' + "9" * 20000 + '", "chair": [{"centroid": [1, 2, 0.5], "axesLengths": [1, 1, 1], '
                 '"normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1]}]}')
    with pytest.raises(SceneFormatError, match="room_size") as info:
        load_scene(p)
    assert len(str(info.value)) < 1000


def _point_cloud_ply(path) -> np.ndarray:
    import trimesh

    mesh = trimesh.load(path, process=False)
    verts = np.array(mesh.vertices)
    path.write_bytes(trimesh.PointCloud(verts, colors=np.asarray(mesh.visual.vertex_colors)).export(file_type="ply"))
    return verts


@pytest.mark.parametrize("writer", [write_scannet, write_scannetpp, write_arkitscenes])
def test_ply_without_faces_is_a_point_cloud(tmp_path, writer):
    from spatialevo import DGE
    from spatialevo.scene.visibility import visible_fractions

    fx = writer(tmp_path)
    _point_cloud_ply(fx.files["mesh"])
    for f in fx.path.rglob("*.png"):  # no stored depth either
        if "depth" in f.parent.name:
            f.unlink()
    scene = load_scene(fx.path)
    assert scene.mesh is None and scene.points is not None and len(scene.points) == 32
    assert scene.point_colors is not None and scene.point_colors.shape == (32, 3)
    check_objects(scene, fx)
    frame = scene.frames[0]
    assert frame.depth_path is None
    assert (visible_fractions(scene, frame) == 0).all()  # surfaces known but not depth-testable
    label = scene.objects[0].label
    v = DGE(scene).evaluate({"task": "distance_cam_obj", "objects": [label], "frames": [frame.id]})
    assert not v.valid and v.reason.value == "not_visible", v
    back = load_scene(scene.save(tmp_path / "pc.npz"))
    assert back.mesh is None and np.array_equal(back.points, scene.points)
