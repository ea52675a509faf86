"""Geometry kernels of the DGE: exact box distances, floor angles, egocentric frames, floor area."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from spatialevo.dge.floor import estimate_floor_area, scan_points
from spatialevo.dge.geometry import (
    DIRECTIONS_8,
    box_box_distance,
    box_corners,
    direction_8way,
    egocentric_angle,
    pairwise_box_distances,
    point_box_distance,
    segment_segment_distance,
    signed_floor_angle,
)
from spatialevo.synthetic import generate_room, room_config
from spatialevo.synthetic.trajectory import pose_from_yaw_pitch

I3 = np.eye(3)


def surface_samples(c, e, R, n=30):
    g = np.linspace(-0.5, 0.5, n)
    a, b = (x.ravel() for x in np.meshgrid(g, g))
    faces = []
    for ax in range(3):
        o = [i for i in range(3) if i != ax]
        for s in (-0.5, 0.5):
            p = np.zeros((len(a), 3))
            p[:, ax], p[:, o[0]], p[:, o[1]] = s, a, b
            faces.append(p)
    return c + (np.concatenate(faces) * e) @ R.T


def test_axis_aligned_box_distances_closed_form() -> None:
    e = np.array([1.0, 1.0, 1.0])
    cases = [((3.0, 0.0, 0.0), 2.0), ((3.0, 4.0, 0.0), np.hypot(2.0, 3.0)), ((2.0, 2.0, 2.0), np.sqrt(3.0)), ((0.5, 0.5, 0.0), 0.0), ((1.0, 0.0, 0.0), 0.0)]
    for c2, want in cases:
        assert box_box_distance(np.zeros(3), e, I3, np.array(c2), e, I3) == pytest.approx(want, abs=1e-12)


def test_edge_edge_case_is_exact() -> None:
    # a box rotated 45° about z next to a box rotated 45° about x: closest points are on two edges
    Rz = Rotation.from_euler("z", 45, degrees=True).as_matrix()
    Rx = Rotation.from_euler("x", 45, degrees=True).as_matrix()
    h = np.sqrt(0.5)
    d = box_box_distance(np.zeros(3), np.ones(3), Rz, np.array([2 * h + 1.0, 0.0, 0.0]), np.ones(3), Rx)
    # the first box reaches x = h along its vertical edge, the second x = 2h + 1 - 0.5 on its x-face
    assert d == pytest.approx((2 * h + 1.0 - 0.5) - h, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_box_distance_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c1, c2 = rng.uniform(-2, 2, 3), rng.uniform(-2, 2, 3)
    e1, e2 = rng.uniform(0.1, 1.5, 3), rng.uniform(0.1, 1.5, 3)
    R1, R2 = Rotation.random(2, random_state=seed).as_matrix()
    d = float(box_box_distance(c1, e1, R1, c2, e2, R2))
    s1, s2 = surface_samples(c1, e1, R1), surface_samples(c2, e2, R2)
    brute = float(cKDTree(s2).query(s1)[0].min())
    step = 1.5 / 29 * np.sqrt(2)  # sample spacing bounds the brute-force overestimate
    assert d <= brute + 1e-9
    if d > 0:
        assert brute - d <= step
    else:  # intersecting: one box holds a sample of the other, or the surfaces cross
        inside = (point_box_distance(s1, c2, e2, R2) == 0).any() or (point_box_distance(s2, c1, e1, R1) == 0).any()
        assert inside or brute <= step
    assert d == pytest.approx(float(box_box_distance(c2, e2, R2, c1, e1, R1)), abs=1e-12)


def test_pairwise_matrix_is_symmetric_and_batched() -> None:
    rng = np.random.default_rng(1)
    C, E, R = rng.uniform(0, 5, (12, 3)), rng.uniform(0.2, 1, (12, 3)), Rotation.random(12, random_state=2).as_matrix()
    M = pairwise_box_distances(C, E, R)
    assert np.allclose(M, M.T) and np.all(np.diag(M) == 0)
    assert M[3, 7] == pytest.approx(float(box_box_distance(C[3], E[3], R[3], C[7], E[7], R[7])), abs=1e-12)


def test_point_box_and_segment_distances() -> None:
    assert point_box_distance(np.array([[2.0, 0, 0], [0.2, 0.1, 0]]), np.zeros(3), np.ones(3), I3) == pytest.approx([1.5, 0.0])
    p = np.array([[0.0, 0, 0], [0.0, 0, 0]])
    q = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    a = np.array([[0.5, 1, -1], [2.0, 1, 0]])
    b = np.array([[0.5, 1, 1], [3.0, 1, 0]])  # crossing at distance 1; parallel, offset
    assert segment_segment_distance(p, q, a, b) == pytest.approx([1.0, np.sqrt(2.0)])
    assert box_corners(np.zeros(3), np.array([2.0, 4.0, 6.0]), I3).max(axis=0) == pytest.approx([1, 2, 3])


def test_signed_floor_angle_and_directions() -> None:
    o = np.zeros(3)
    assert signed_floor_angle(o, [1, 0, 5], [0, 1, -3]) == pytest.approx(90.0)  # +y is left when facing +x
    assert signed_floor_angle(o, [1, 0, 0], [0, -1, 0]) == pytest.approx(-90.0)
    assert signed_floor_angle(o, [1, 0, 0], [-1, 0, 0]) == pytest.approx(180.0)
    idx, margin = direction_8way(np.array([0.0, 44.0, 90.0, -100.0, 180.0, -179.0, 22.4]))
    assert [DIRECTIONS_8[i] for i in idx] == ["front", "front-left", "left", "right", "back", "back", "front"]
    assert margin == pytest.approx([22.5, 21.5, 22.5, 12.5, 22.5, 21.5, 0.1])


def test_egocentric_angle_of_a_camera() -> None:
    T = pose_from_yaw_pitch(np.array([1.0, 1.0, 1.5]), np.deg2rad(90.0), np.deg2rad(-30.0))  # facing +y, looking down
    ang, dist = egocentric_angle(T, np.array([[1.0, 3.0, 0.0], [0.0, 1.0, 9.0], [2.0, 1.0, 0.0], [1.0, -1.0, 0.0]]))
    assert ang == pytest.approx([0.0, 90.0, -90.0, 180.0])
    assert dist == pytest.approx([2.0, 1.0, 1.0, 2.0])


@pytest.mark.parametrize("shape", ["rect", "L"])
def test_floor_area_estimate_within_3_percent(shape: str) -> None:
    for seed in range(4):
        scene = generate_room(seed, room_config(shape=shape, n_frames=24, width=64, height=48))
        pts = scan_points(scene)
        est = estimate_floor_area(pts)
        assert abs(est / scene.floor_area - 1.0) < 0.03, (shape, seed, est, scene.floor_area)
        # deterministic, and invariant to translation up to grid quantisation
        assert estimate_floor_area(pts) == est
        moved = estimate_floor_area(pts + np.array([123.456, -7.89, 0.0]))
        assert abs(moved / est - 1.0) < 0.01


def test_floor_area_degenerate_inputs() -> None:
    assert estimate_floor_area(np.zeros((0, 3))) == 0.0
    assert estimate_floor_area(np.array([[0, 0, 0], [np.nan, 0, 0]])) == 0.0


def test_distance_rows_equal_the_matrix_and_a_brute_force_loop() -> None:
    """Rows and chunked pairs give the same floats as the matrix and as one pair at a time."""
    from spatialevo.dge.geometry import box_distance_row, box_distances

    rng = np.random.default_rng(5)
    n = 40
    C, E, R = rng.uniform(0, 6, (n, 3)), rng.uniform(0.1, 1.5, (n, 3)), Rotation.random(n, random_state=6).as_matrix()
    M = pairwise_box_distances(C, E, R)
    for i in (0, 7, 39):
        assert np.array_equal(box_distance_row(i, C, E, R), M[i])
    brute = np.array([[0.0 if a == b else float(box_box_distance(C[min(a, b)], E[min(a, b)], R[min(a, b)], C[max(a, b)], E[max(a, b)],
                                                                     R[max(a, b)])) for b in range(n)] for a in range(n)])
    assert np.array_equal(M, brute)
    i, j = rng.integers(0, n, 500), rng.integers(0, n, 500)
    assert np.array_equal(box_distances(i, j, C, E, R, chunk=7), M[i, j])  # any chunk size, either order


def test_distance_memory_is_linear_in_the_object_count() -> None:
    """A distance row of 3,000 boxes and the matrix of 300 stay within a bounded working set (the
    whole-at-once version took ~25 kB per pair: 1.1 GB for 300 boxes, 12.4 GB for 1,000)."""
    import tracemalloc

    from spatialevo.dge.geometry import box_distance_row

    rng = np.random.default_rng(8)
    n = 3000
    C, E, R = rng.uniform(0, 60, (n, 3)), rng.uniform(0.1, 1.5, (n, 3)), Rotation.random(n, random_state=9).as_matrix()
    tracemalloc.start()
    try:
        row = box_distance_row(17, C, E, R)
        _, peak_row = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        M = pairwise_box_distances(C[:300], E[:300], R[:300])
        _, peak_matrix = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert row.shape == (n,) and row[17] == 0 and np.array_equal(M[17], box_distance_row(17, C[:300], E[:300], R[:300]))
    assert peak_row < 120e6, peak_row
    assert peak_matrix < 120e6 + 300 * 300 * 8 * 4, peak_matrix
