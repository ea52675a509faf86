"""Scene model validation and the cache format round trip."""

from __future__ import annotations

import numpy as np
import pytest

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
        (lambda a, m: a.__setitem__("frame_size", np.array([640])), "meta.json"),
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
