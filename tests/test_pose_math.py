"""Pose math: rotation parameterisations round-trip, metrics on hand-made poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from spatialevo.pose.metrics import pose_errors, summarize
from spatialevo.pose.rotation import geodesic_deg, matrix_to_quaternion, matrix_to_sixd, quaternion_to_matrix, sixd_to_matrix


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    return Rotation.random(n, random_state=seed).as_matrix()


def test_sixd_round_trip_and_projection() -> None:
    R = torch.tensor(random_rotations(500))
    assert torch.allclose(sixd_to_matrix(matrix_to_sixd(R)), R, atol=1e-12)
    out = sixd_to_matrix(torch.randn(500, 6, dtype=torch.float64))  # any 6-vector → a rotation
    eye = torch.eye(3, dtype=torch.float64).expand(500, 3, 3)
    assert torch.allclose(out.transpose(1, 2) @ out, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(out), torch.ones(500, dtype=torch.float64), atol=1e-12)


def test_quaternion_round_trip_and_sign() -> None:
    R = random_rotations(500, seed=1)
    q = matrix_to_quaternion(R)
    assert np.all(q[:, 0] >= 0) and np.allclose(np.linalg.norm(q, axis=1), 1)
    assert np.allclose(quaternion_to_matrix(q), R, atol=1e-12)
    assert np.allclose(quaternion_to_matrix(-q), R, atol=1e-12)  # the double cover maps to one matrix
    # agrees with scipy up to sign (scipy: x, y, z, w)
    ref = Rotation.from_matrix(R).as_quat()[:, [3, 0, 1, 2]]
    assert np.allclose(np.abs((q * ref).sum(1)), 1.0, atol=1e-12)
    # 180° turns (w = 0): canonical sign, first non-zero component positive
    half = matrix_to_quaternion(np.stack([np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])]))
    assert np.allclose(half, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], atol=1e-12)
    assert np.allclose(matrix_to_quaternion(np.eye(3)), [1, 0, 0, 0])
    with pytest.raises(ValueError, match="non-zero"):
        quaternion_to_matrix(np.zeros(4))


def test_geodesic_angles() -> None:
    Rz = lambda deg: torch.tensor(Rotation.from_euler("z", deg, degrees=True).as_matrix())  # noqa: E731
    eye = torch.eye(3, dtype=torch.float64)
    for deg in (0.0, 1e-4, 5.0, 30.0, 90.0, 179.9, 180.0):
        assert float(geodesic_deg(eye, Rz(deg))) == pytest.approx(deg, abs=1e-6)
    assert float(geodesic_deg(Rz(10), Rz(-25))) == pytest.approx(35.0, abs=1e-9)


def pose(t=(0.0, 0.0, 0.0), yaw_deg: float = 0.0) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    T[:3, 3] = t
    return T


def test_pose_metrics_on_hand_made_poses() -> None:
    true = np.stack([pose(), pose((1, 2, 1.5), 90), pose((0, 0, 0), 0), pose((3, 3, 1), 45)])
    pred = np.stack([pose((0.03, 0.04, 0)), pose((1, 2, 1.5), 93), pose((0, 0, 0.2), 0), pose((3, 3, 1), 55)])
    t, r = pose_errors(pred, true)
    assert np.allclose(t, [0.05, 0.0, 0.2, 0.0]) and np.allclose(r, [0, 3, 0, 10])
    m = summarize(pred, true)
    assert m.median_t_cm == pytest.approx(2.5) and m.median_r_deg == pytest.approx(1.5)
    assert m.within_5cm_5deg == pytest.approx(0.5) and m.n == 4  # frames 0 (exactly 5 cm) and 1
    with pytest.raises(ValueError, match="finite"):
        pose_errors(np.full((1, 4, 4), np.nan), true[:1])
    with pytest.raises(ValueError, match="4, 4"):
        pose_errors(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)))
