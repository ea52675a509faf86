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
