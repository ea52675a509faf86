"""Minimal oriented boxes: containment, rigid invariance, degenerate inputs."""

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
