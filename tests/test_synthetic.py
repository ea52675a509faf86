"""Synthetic rooms: determinism, shapes, placement validity, cameras, config errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from spatialevo.synthetic import CATEGORIES, RoomConfig, generate_room

SEEDS = range(20)


@pytest.fixture(scope="module")
def rooms():
    return [generate_room(s, RoomConfig(n_frames=8)) for s in SEEDS]


def footprint(obj) -> Polygon:
    return Polygon(obj.box.corners()[[0, 2, 6, 4], :2])


def zrange(obj) -> tuple[float, float]:
    z = obj.box.corners()[:, 2]
    return z.min(), z.max()


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    a, b, c = generate_room(5), generate_room(5), generate_room(6)
    assert a.save(tmp_path / "a.npz").read_bytes() == b.save(tmp_path / "b.npz").read_bytes()
    assert not np.array_equal(a.mesh.vertices[:50], c.mesh.vertices[:50]) or len(a.objects) != len(c.objects)


def test_shapes_and_exact_floor_area(rooms):
    assert {r.meta["room_shape"] for r in rooms} == {"rect", "L"}
    for r in rooms:
        poly = r.floor_polygon
        assert len(poly) == (4 if r.meta["room_shape"] == "rect" else 6)
        assert r.floor_area == pytest.approx(Polygon(poly).area, rel=1e-12)
        assert generate_room(1, RoomConfig(shape="L", n_frames=1)).meta["room_shape"] == "L"


def test_objects_inside_room_and_points_inside_boxes(rooms):
    for r in rooms:
        room = Polygon(r.floor_polygon).buffer(0.01)
        for o in r.objects:
            assert room.contains(footprint(o)), (r.scene_id, o.ref)
            z0, z1 = zrange(o)
            assert -1e-9 <= z0 and z1 <= r.meta["room_height"] + 1e-9
            assert o.box.contains(o.points, tol=1e-6).all()
            assert 200 <= len(o.points) <= 800


def test_no_collisions_and_stacked_objects_rest_on_supports(rooms):
    stacked = 0
    for r in rooms:
        for a, b in itertools.combinations(r.objects, 2):
            (a0, a1), (b0, b1) = zrange(a), zrange(b)
            if a0 < b1 - 1e-6 and b0 < a1 - 1e-6:
                assert footprint(a).intersection(footprint(b)).area < 1e-6, (r.scene_id, a.ref, b.ref)
        for o in r.objects:
            z0, _ = zrange(o)
            if z0 > 1e-6 and o.label != "window":
                support = [s for s in r.objects if s is not o and abs(zrange(s)[1] - z0) < 1e-3 and footprint(s).buffer(1e-6).contains(footprint(o))]
                assert support, (r.scene_id, o.ref)
                stacked += 1
    assert stacked >= 5  # lamps / monitors / tvs on desks, tables, nightstands, cabinets


def test_catalog_and_variety(rooms):
    assert len(CATEGORIES) >= 15
    for c in CATEGORIES.values():
        assert all(0.1 <= lo <= hi <= 2.5 for lo, hi in zip(c.size_min, c.size_max)), c.label
    for r in rooms:
        counts = r.labels()
        assert len(counts) >= 6 and max(counts.values()) >= 2, counts
    seen = set().union(*(r.labels() for r in rooms))
    assert len(seen) >= 15


def test_cameras_stand_in_free_space_level_and_looking_down(rooms):
    for r in rooms:
        room = Polygon(r.floor_polygon)
        for f in r.frames:
            c = f.camera_center
            R = f.T_wc[:3, :3]
            assert 1.2 <= c[2] <= 1.7
            assert room.contains(Point(c[:2]))
            assert not any(o.box.contains(c[None])[0] for o in r.objects)
            assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
            assert abs(R[2, 0]) < 1e-9  # camera x axis horizontal: no roll
            pitch = np.degrees(np.arcsin(R[2, 2]))  # optical axis elevation
            assert -25.0 - 1e-6 <= pitch <= -5.0 + 1e-6
            assert np.allclose(f.K[0, 2], (f.width - 1) / 2)


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
        ({"n_frames": 0}, "n_frames"),
        ({"n_objects": (5, 2)}, "n_objects"),
        ({"eye_height": (1.2, 2.6)}, "eye_height"),
        ({"hfov_deg": 200}, "hfov_deg"),
        ({"width": 0}, "width"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RoomConfig(**kwargs)
