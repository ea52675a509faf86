"""Synthetic rooms: determinism, shapes, placement validity, cameras, config errors.

All geometry is in the world frame (metres, z up); cameras are OpenCV camera-to-world poses.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import CEILING_ID, FLOOR_ID, WALL_ID
from spatialevo.synthetic import CATEGORIES, RoomConfig, camera_trajectory, generate_room, look_at

SEEDS = range(20)
TOL = 1e-6


@pytest.fixture(scope="module")
def rooms():
    return [generate_room(s, RoomConfig(n_frames=8)) for s in SEEDS]


def corners2d(box: OrientedBox) -> np.ndarray:
    return box.corners()[[0, 2, 6, 4], :2]


def zrange(box: OrientedBox) -> tuple[float, float]:
    z = box.corners()[:, 2]
    return float(z.min()), float(z.max())


def sat_overlap(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether two convex quads (4, 2) overlap by more than ``tol`` along every separating axis."""
    for quad in (a, b):
        edges = np.roll(quad, -1, axis=0) - quad
        for n in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            pa, pb = a @ n / np.linalg.norm(n), b @ n / np.linalg.norm(n)
            if pa.max() <= pb.min() + tol or pb.max() <= pa.min() + tol:
                return False
    return True


def scene_arrays(scene) -> list[np.ndarray]:
    out = [scene.floor_polygon, scene.mesh.vertices, scene.mesh.faces, scene.mesh.face_object_ids, scene.mesh.vertex_colors]
    for o in scene.objects:
        out += [o.points, o.box.center, o.box.extents, o.box.rotation, np.array([o.id]), np.array([o.label])]
    for f in scene.frames:
        out += [f.K, f.T_wc, np.array([f.id, f.width, f.height])]
    return out


def test_same_seed_identical_different_seed_different(tmp_path):
    a, b, c = generate_room(5), generate_room(5), generate_room(6)
    assert a.meta == b.meta and a.scene_id == b.scene_id == "synth_00005"
    xs, ys = scene_arrays(a), scene_arrays(b)
    assert len(xs) == len(ys) and all(np.array_equal(x, y) for x, y in zip(xs, ys))
    assert a.save(tmp_path / "a.npz").read_bytes() == b.save(tmp_path / "b.npz").read_bytes()
    assert a.save(tmp_path / "c.npz").read_bytes() != c.save(tmp_path / "d.npz").read_bytes()
    assert not np.array_equal(a.floor_polygon, c.floor_polygon) or len(a.mesh.vertices) != len(c.mesh.vertices)


def test_frames_do_not_move_the_furniture():
    a, b = generate_room(3, RoomConfig(n_frames=2)), generate_room(3, RoomConfig(n_frames=5))
    assert len(b.frames) == 5 and np.array_equal(a.mesh.vertices, b.mesh.vertices)


def test_shapes_and_exact_floor_area(rooms):
    assert {r.meta["room_shape"] for r in rooms} == {"rect", "L"}
    for r in rooms:
        poly = r.floor_polygon
        W, D = poly[:, 0].max(), poly[:, 1].max()
        if r.meta["room_shape"] == "rect":
            assert len(poly) == 4
            expected = W * D
        else:
            assert len(poly) == 6
            expected = W * D - (W - poly[3, 0]) * (D - poly[2, 1])
        assert r.floor_area == pytest.approx(expected, rel=1e-12)
        assert Polygon(poly).exterior.is_ccw and Polygon(poly).is_valid
        assert 2.5 <= r.meta["room_height"] <= 3.0
        assert r.meta["layout"] == "synthetic" and r.meta["generator_version"] == 1
    assert generate_room(1, RoomConfig(shape="L", n_frames=1)).meta["room_shape"] == "L"
    assert generate_room(1, RoomConfig(shape="rect", n_frames=1)).meta["room_shape"] == "rect"


def test_mesh_structure_and_colors(rooms):
    for r in rooms[:5]:
        m = r.mesh
        ids = set(np.unique(m.face_object_ids).tolist())
        assert {FLOOR_ID, CEILING_ID, WALL_ID} <= ids
        assert ids - {FLOOR_ID, CEILING_ID, WALL_ID} == {o.id for o in r.objects}
        assert m.vertex_colors.dtype == np.uint8 and m.vertex_colors.shape == m.vertices.shape
        assert [o.id for o in r.objects] == list(range(len(r.objects)))
        # walls are outside the interior: no wall vertex strictly inside the floor polygon
        walls = np.unique(m.faces[m.face_object_ids == WALL_ID])
        inner = Polygon(r.floor_polygon).buffer(-1e-6)
        assert not any(inner.contains(Point(v[:2])) for v in m.vertices[walls])


def test_objects_inside_room_and_points_inside_boxes(rooms):
    for r in rooms:
        room = Polygon(r.floor_polygon).buffer(0.01)
        for o in r.objects:
            assert all(room.contains(Point(c)) for c in corners2d(o.box)), (r.scene_id, o.ref)
            z0, z1 = zrange(o.box)
            assert -TOL <= z0 and z1 <= r.meta["room_height"] + TOL
            assert o.box.contains(o.points, tol=1e-6).all(), (r.scene_id, o.ref)
            assert 200 <= len(o.points) <= 800
            assert abs(o.box.rotation[2, 2] - 1.0) < 1e-12  # yaw-only boxes


def test_doors_and_windows(rooms):
    for r in rooms:
        doors, windows = r.objects_with_label("door"), r.objects_with_label("window")
        assert len(doors) == 1 and 1 <= len(windows) <= 2, r.scene_id
        for d in doors:
            z0, z1 = zrange(d.box)
            assert z0 == pytest.approx(0.0, abs=TOL) and 2.0 - TOL <= z1 <= 2.1 + TOL
        for w in windows:
            assert 0.8 - TOL <= zrange(w.box)[0] <= 1.0 + TOL
        for o in doors + windows:  # flush with a wall: some footprint corner within 1 mm of the boundary
            ring = Polygon(r.floor_polygon).exterior
            assert min(ring.distance(Point(c)) for c in corners2d(o.box)) < 1e-3


def test_no_collisions_and_stacked_objects_rest_on_supports(rooms):
    stacked = 0
    for r in rooms:
        floor_objs = [o for o in r.objects if abs(zrange(o.box)[0]) < TOL]
        for a, b in itertools.combinations(floor_objs, 2):
            assert not sat_overlap(corners2d(a.box), corners2d(b.box)), (r.scene_id, a.ref, b.ref)
        for a, b in itertools.combinations(r.objects, 2):  # 3D: footprints may overlap only across heights
            (a0, a1), (b0, b1) = zrange(a.box), zrange(b.box)
            if a0 < b1 - TOL and b0 < a1 - TOL:
                assert not sat_overlap(corners2d(a.box), corners2d(b.box)), (r.scene_id, a.ref, b.ref)
        for o in r.objects:
            z0, _ = zrange(o.box)
            if z0 > TOL and o.label != "window":
                foot = Polygon(corners2d(o.box))
                support = [
                    s for s in r.objects
                    if s is not o and abs(zrange(s.box)[1] - z0) < 1e-3 and Polygon(corners2d(s.box)).buffer(1e-6).contains(foot)
                ]
                assert support, (r.scene_id, o.ref)
                assert CATEGORIES[o.label].on and support[0].label in CATEGORIES[o.label].on
                stacked += 1
    assert stacked >= 10  # lamps / monitors / tvs / plants on desks, tables, nightstands, cabinets, shelves


def test_catalog_and_variety(rooms):
    assert len(CATEGORIES) >= 15
    for c in CATEGORIES.values():
        assert c.label == c.label.lower().strip()
        assert all(0.1 <= lo <= hi <= 2.5 for lo, hi in zip(c.size_min, c.size_max)), c.label
    for label in ("bed", "sofa", "chair", "table", "desk", "cabinet", "shelf", "lamp", "tv", "plant", "stool", "trash bin", "refrigerator", "toilet", "sink"):
        assert label in CATEGORIES
    assert 1.8 <= CATEGORIES["bed"].size_max[1] <= 2.2 and 0.7 <= CATEGORIES["table"].size_min[2] <= 0.8
    for r in rooms:
        counts = {k: v for k, v in r.labels().items() if k not in ("door", "window")}
        assert len(counts) >= 6 and max(counts.values()) >= 2, counts
    seen = set().union(*(r.labels() for r in rooms))
    assert len(seen) >= 15


def test_small_rooms_keep_variety():
    for s in range(10):
        r = generate_room(s, RoomConfig(side_range=(3.0, 3.2), n_frames=2))
        counts = {k: v for k, v in r.labels().items() if k not in ("door", "window")}
        assert len(counts) >= 6 and max(counts.values()) >= 2, counts


def test_cameras_stand_in_free_space_level_and_looking_down(rooms):
    for r in rooms:
        room = Polygon(r.floor_polygon)
        for f in r.frames:
            c = f.camera_center
            R = f.T_wc[:3, :3]
            assert 1.2 <= c[2] <= 1.7
            assert room.contains(Point(c[:2])) and room.exterior.distance(Point(c[:2])) >= 0.3 - 1e-9
            assert not any(o.box.contains(c[None])[0] for o in r.objects)
            assert not any(Polygon(corners2d(o.box)).buffer(0.19).contains(Point(c[:2])) for o in r.objects)
            assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
            assert abs(R[2, 0]) < 1e-12  # camera x axis horizontal: no roll
            pitch = np.degrees(np.arcsin(R[2, 2]))  # optical axis elevation
            assert -25.0 - 1e-6 <= pitch <= -5.0 + 1e-6
            assert R[2, 1] < 0  # image "down" points down in the world
            assert np.allclose(f.K[:2, 2], [(f.width - 1) / 2, (f.height - 1) / 2]) and f.K[0, 0] == f.K[1, 1]
        assert [f.id for f in r.frames] == [f"{i:06d}" for i in range(8)]
        yaws = [np.arctan2(f.T_wc[1, 2], f.T_wc[0, 2]) for f in r.frames]
        assert np.ptp(np.unwrap(yaws)) > np.radians(20)  # looking around


def test_intrinsics_match_fov():
    r = generate_room(2, RoomConfig(n_frames=1, width=320, height=240, hfov_deg=90.0))
    f = r.frames[0]
    assert f.width == 320 and f.height == 240 and f.K[0, 0] == pytest.approx(160.0)


def test_pose_convention():
    T = look_at(np.array([1.0, 2.0, 1.5]), np.array([5.0, 2.0, 1.5]))  # level, looking along world +x
    assert np.allclose(T[:3, 2], [1, 0, 0]) and np.allclose(T[:3, 0], [0, -1, 0]) and np.allclose(T[:3, 1], [0, 0, -1])
    assert np.allclose(T[:3, 3], [1.0, 2.0, 1.5])


def test_camera_trajectory_avoids_obstacles():
    floor = np.array([[0, 0], [5, 0], [5, 4], [0, 4]], dtype=float)
    boxes = [OrientedBox([2.5, 2.0, 0.4], [1.5, 1.0, 0.8]), OrientedBox([0.8, 3.2, 0.9], [0.6, 0.6, 1.8])]
    rng = np.random.default_rng(0)
    poses = camera_trajectory(floor, boxes, 30, rng, eye_height=(1.4, 1.5))
    c = np.array([T[:3, 3] for T in poses])
    assert len(poses) == 30 and (c[:, 2] >= 1.4).all() and (c[:, 2] <= 1.5).all()
    assert (c[:, :2] >= 0.3 - 1e-9).all() and (c[:, 0] <= 4.7 + 1e-9).all() and (c[:, 1] <= 3.7 + 1e-9).all()
    for b in boxes:
        assert not any(Polygon(corners2d(b)).buffer(0.19).contains(Point(p)) for p in c[:, :2])
    steps = np.linalg.norm(np.diff(c[:, :2], axis=0), axis=1)
    assert steps.max() < 2.0  # a walk, not random jumps
    again = camera_trajectory(floor, boxes, 30, np.random.default_rng(0), eye_height=(1.4, 1.5))
    assert all(np.array_equal(a, b) for a, b in zip(poses, again))
    with pytest.raises(ValueError, match="n_frames"):
        camera_trajectory(floor, boxes, 0, rng)


def test_frames_see_objects(rooms):
    from spatialevo.scene.visibility import visibility_matrix

    vis = visibility_matrix(rooms[0])
    assert (vis.max(axis=1) >= 0.1).mean() >= 0.75  # most frames look at something


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"shape": "round"}, "shape"),
        ({"side_range": (-1.0, 4.0)}, "side_range"),
        ({"side_range": (6.0, 4.0)}, "side_range"),
        ({"side_range": 5.0}, "side_range"),
        ({"height_range": (-2.5, 3.0)}, "height_range"),
        ({"n_frames": 0}, "n_frames"),
        ({"n_objects": (5, 2)}, "n_objects"),
        ({"n_objects": (-1, 2)}, "n_objects"),
        ({"eye_height": (1.2, 2.6)}, "eye_height"),
        ({"eye_height": (-1.0, 1.5)}, "eye_height"),
        ({"hfov_deg": 200}, "hfov_deg"),
        ({"width": 0}, "width"),
        ({"height": -5}, "height"),
        ({"scene_id": ""}, "scene_id"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RoomConfig(**kwargs)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        generate_room(-1)
