"""Minimal oriented boxes: containment, rigid invariance, minimality, degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from spatialevo.errors import SceneFormatError
from spatialevo.scene.boxes import OrientedBox, minimal_oriented_box, yaw_box


def _points(min_n: int, max_n: int) -> st.SearchStrategy:
    return st.builds(
        lambda seed, n, ext: (np.random.default_rng(seed).uniform(-0.5, 0.5, (n, 3)) * np.array(ext))
        @ Rotation.random(random_state=seed).as_matrix().T,
        st.integers(0, 2**32 - 1),
        st.integers(min_n, max_n),
        st.tuples(*[st.floats(0.01, 3.0)] * 3),
    )


point_sets = _points(1, 200)
full_point_sets = _points(8, 200)  # enough points for the 3D minimal box (not the yaw fallback)
rigid = st.builds(
    lambda seed, t: (Rotation.random(random_state=seed).as_matrix(), np.array(t)),
    st.integers(0, 2**32 - 1),
    st.tuples(*[st.floats(-10, 10)] * 3),
)


@settings(max_examples=150, deadline=None)
@given(point_sets)
def test_minimal_box_contains_all_points(pts):
    box = minimal_oriented_box(pts)
    assert box.contains(pts, tol=1e-7).all()
    assert np.allclose(box.rotation @ box.rotation.T, np.eye(3))
    assert np.linalg.det(box.rotation) > 0


@settings(max_examples=150, deadline=None)
@given(full_point_sets, rigid)
def test_minimal_box_extents_invariant_under_rigid_motion(pts, motion):
    R, t = motion
    a = minimal_oriented_box(pts)
    b = minimal_oriented_box(pts @ R.T + t)
    assert b.volume == pytest.approx(a.volume, rel=1e-6, abs=1e-12)
    assert np.allclose(np.sort(a.extents), np.sort(b.extents), atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(_points(1, 7), st.floats(-np.pi, np.pi), st.tuples(*[st.floats(-10, 10)] * 3))
def test_yaw_fallback_invariant_under_yaw_motion(pts, yaw, t):
    """Too few points → z-aligned yaw box, which is invariant under rotations about z."""
    Rz = Rotation.from_euler("z", yaw).as_matrix()
    a = minimal_oriented_box(pts)
    b = minimal_oriented_box(pts @ Rz.T + np.array(t))
    assert np.allclose(np.sort(a.extents), np.sort(b.extents), atol=1e-6)
    assert b.contains(pts @ Rz.T + np.array(t), tol=1e-7).all()


KINDS = ("gauss", "uniform_box", "sphere", "ellipsoid_shell", "box_surface")


def seeded_set(i: int, n: int | None = None) -> np.ndarray:
    """The i-th of the comparison sets (``benchmarks/box_bench.py`` uses them too): kind KINDS[i % 5],
    20-400 points (``n`` overrides), 1 mm - 5 m across, randomly rotated and moved."""
    rng = np.random.default_rng(1000 + i)
    kind = KINDS[i % len(KINDS)]
    n = int(rng.integers(20, 401)) if n is None else n
    scale, ax = float(np.exp(rng.uniform(np.log(1e-3), np.log(5.0)))), rng.uniform(0.2, 1.0, 3)
    if kind == "gauss":
        p = rng.normal(size=(n, 3)) * ax
    elif kind == "uniform_box":
        p = rng.uniform(-0.5, 0.5, (n, 3)) * ax
    elif kind in ("sphere", "ellipsoid_shell"):
        p = rng.normal(size=(n, 3))
        p /= np.linalg.norm(p, axis=1, keepdims=True)
        if kind == "ellipsoid_shell":
            p *= rng.uniform(0.9, 1.0, (n, 1)) * ax
    else:  # box surface samples
        p = rng.uniform(-0.5, 0.5, (n, 3)) * ax
        face = rng.integers(0, 3, n)
        p[np.arange(n), face] = rng.choice([-0.5, 0.5], n) * ax[face]
    R = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    return (p * scale / np.abs(p).max()) @ R.T + rng.uniform(-3, 3, 3)


def _tight_volume(pts: np.ndarray, R: np.ndarray) -> float:
    """Volume of the tight box with axes R (re-orthonormalised: open3d's are sometimes slightly off)."""
    U, _, Vt = np.linalg.svd(R)
    return float(np.prod(np.ptp(pts @ (U @ Vt), axis=0)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_minimal_box_never_larger_than_open3d_or_trimesh(kind):
    """150 seeded sets (30 per kind; benchmarks/box_bench.py compares more): never larger than
    open3d's or trimesh's box, each refitted tightly in its own orientation (relative 1e-9), and
    containing every point."""
    o3d = pytest.importorskip("open3d")
    trimesh = pytest.importorskip("trimesh")
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    for i in range(KINDS.index(kind), 150, len(KINDS)):
        pts = seeded_set(i)
        box = minimal_oriented_box(pts)
        assert box.contains(pts, tol=1e-9 * np.abs(pts - pts.mean(axis=0)).max()).all(), i
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
        refs = (cloud.get_minimal_oriented_bounding_box().R, trimesh.bounds.oriented_bounds(pts)[0][:3, :3].T)
        best = min(_tight_volume(pts, np.asarray(R)) for R in refs)
        assert box.volume <= best * (1 + 1e-9), (i, box.volume / best - 1)


def test_minimal_box_recovers_a_sampled_box():
    rng = np.random.default_rng(3)
    R = Rotation.from_euler("zyx", [30, 10, 5], degrees=True).as_matrix()
    ext = np.array([2.0, 1.0, 0.5])
    # corners plus interior points: the minimal box is the generating box
    corners = OrientedBox(np.zeros(3), ext, np.eye(3)).corners()
    pts = np.concatenate([corners, rng.uniform(-0.5, 0.5, (200, 3)) * ext]) @ R.T + [1, 2, 3]
    box = minimal_oriented_box(pts)
    assert np.allclose(np.sort(box.extents), np.sort(ext), atol=1e-9)
    assert np.allclose(box.center, [1, 2, 3], atol=1e-9)


def test_minimal_box_of_a_regular_tetrahedron_is_the_circumscribed_cube():
    """No face of the minimal box touches a facet: each holds one tetrahedron edge (O'Rourke's case).

    The facet-flush search (the previous method) finds twice the volume: height × projected rectangle.
    """
    corners = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / 2  # edge √2
    midpoints = np.array([(a + b) / 2 for i, a in enumerate(corners) for b in corners[i + 1 :]])
    R = Rotation.from_euler("zyx", [20, 35, -10], degrees=True).as_matrix()
    pts = np.concatenate([corners, midpoints, [[0.0, 0, 0]]]) @ R.T + [0.3, -1.0, 2.0]
    box = minimal_oriented_box(pts)
    assert np.allclose(box.extents, 1.0, atol=1e-9) and box.volume == pytest.approx(1.0, rel=1e-9)
    assert box.contains(pts, tol=1e-9).all()
    assert np.allclose(np.sort(np.abs(box.rotation.T @ R), axis=1), [[0, 0, 1]] * 3, atol=1e-9)  # the cube's axes


def test_minimal_box_of_symmetric_solids():
    """Exact ties between congruent boxes (cube, octahedron, 16-gon prism) resolve to the same extents."""
    cube = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    octa = np.concatenate([np.eye(3), -np.eye(3), [[0, 0, 0.1], [0, 0.1, 0]]])
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    prism = np.concatenate([np.c_[np.cos(ang), np.sin(ang), np.full(16, z)] for z in (-1.0, 1.0)])
    for pts, ext in ((cube, [1, 1, 1]), (octa, None), (prism, [2 * np.cos(np.pi / 16)] * 2 + [2])):
        R = Rotation.from_euler("zyx", [11, -27, 40], degrees=True).as_matrix()
        a, b = minimal_oriented_box(pts), minimal_oriented_box(pts @ R.T + 5.0)
        assert a.contains(pts, tol=1e-9).all() and b.contains(pts @ R.T + 5.0, tol=1e-9).all()
        assert np.allclose(np.sort(a.extents), np.sort(b.extents), atol=1e-9)
        if ext is not None:
            assert np.allclose(np.sort(a.extents), np.sort(ext), atol=1e-9)


def test_flat_and_tiny_sets_fall_back_to_yaw_box():
    rng = np.random.default_rng(0)
    flat = np.c_[rng.uniform(0, 1, (50, 2)), np.full(50, 0.7)]
    box = minimal_oriented_box(flat)
    assert box.extents[2] == 0.0 and np.allclose(box.rotation[:, 2], [0, 0, 1])
    assert box.contains(flat, tol=1e-9).all()
    one = minimal_oriented_box(np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(one.center, [1, 2, 3]) and np.all(one.extents == 0)
    line = minimal_oriented_box(np.array([[0.0, 0, 0], [1, 1, 0], [2, 2, 0]]))
    assert line.longest_edge == pytest.approx(np.sqrt(8))


def test_yaw_box_of_rotated_rectangle():
    ang = np.deg2rad(25)
    Rz = np.array([[np.cos(ang), -np.sin(ang), 0], [np.sin(ang), np.cos(ang), 0], [0, 0, 1]])
    box = OrientedBox([1, 1, 0.5], [2.0, 0.5, 1.0], Rz)
    yb = yaw_box(box.corners())
    assert np.allclose(np.sort(yb.extents), [0.5, 1.0, 2.0], atol=1e-9)


def test_box_from_axes_rows_are_axes():
    axes = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=float)  # rows
    box = OrientedBox.from_axes([0, 0, 0], [2, 1, 1], axes.ravel())
    assert np.allclose(box.rotation[:, 0], [0, 1, 0])  # first axis (length 2) along +y
    c = box.corners()
    assert np.allclose(np.ptp(c, axis=0), [1, 2, 1])


@pytest.mark.parametrize(
    "bad, field",
    [
        (np.zeros((0, 3)), "points"),
        (np.zeros((5, 2)), "points"),
        (np.array([[np.nan, 0, 0]] * 9), "points"),
    ],
)
def test_bad_point_sets_raise_named_errors(bad, field):
    with pytest.raises(SceneFormatError, match=field):
        minimal_oriented_box(bad)


def test_bad_box_values():
    with pytest.raises(SceneFormatError, match="box.extents"):
        OrientedBox([0, 0, 0], [1, -1, 1])
    with pytest.raises(SceneFormatError, match="box.rotation"):
        OrientedBox([0, 0, 0], [1, 1, 1], np.diag([1, 1, -1]))
    with pytest.raises(SceneFormatError, match="box.center"):
        OrientedBox([0, np.nan, 0], [1, 1, 1])
