"""Continuous rotation parameterisations (torch) and their numpy twins.

The pose heads output rotations in the 6D representation of Zhou et al. (CVPR 2019): the first two
columns of the rotation matrix, mapped back to SO(3) by Gram–Schmidt. It is continuous (no
double cover, no singularity), unlike Euler angles or raw quaternions. Quaternions are provided for
I/O with sign handling: :func:`matrix_to_quaternion` returns the representative with ``w >= 0``
(and a canonical sign when ``w == 0``), so ``q`` and ``-q`` never both appear.

Rotations are (…, 3, 3) matrices acting on column vectors (camera-to-world rotations in this
package: world = R · camera); angles are in degrees where named ``_deg``.
"""

from __future__ import annotations

import numpy as np
import torch


def sixd_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(…, 6) → (…, 3, 3) rotation: Gram–Schmidt on the two 3-vectors ``a1 = d6[..., :3]`` and
    ``a2 = d6[..., 3:]``, which become the first two columns. Differentiable everywhere except
    when ``a1 = 0`` or ``a2 ∥ a1`` (measure zero)."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1, eps=1e-8)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_sixd(R: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) → (…, 6): the first two columns; ``sixd_to_matrix(matrix_to_sixd(R)) == R``."""
    return torch.cat((R[..., :, 0], R[..., :, 1]), dim=-1)


def geodesic_deg(R1: torch.Tensor, R2: torch.Tensor) -> torch.Tensor:
    """(…) angle in degrees of the relative rotation ``R1ᵀ R2`` (numerically safe near 0° and 180°)."""
    rel = R1.transpose(-1, -2) @ R2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    # atan2 of |skew part| and trace part is accurate at both ends, unlike acos
    skew = torch.stack((rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]), -1)
    sin = skew.norm(dim=-1) / 2.0
    return torch.rad2deg(torch.atan2(sin, cos))


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """(…, 3, 3) rotations → (…, 4) unit quaternions ``(w, x, y, z)`` with ``w >= 0``; when
    ``w == 0`` the first non-zero of ``x, y, z`` is positive. Shepperd's method (stable for all R)."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    diag = np.stack((tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]), 1)
    k = diag.argmax(1)
    q = np.empty((len(m), 4))
    # case k: the largest of 4w², 4x², 4y², 4z² is computed directly, the rest from off-diagonals
    s = np.sqrt(np.maximum(1.0 + 2.0 * diag[np.arange(len(m)), k] - tr, 1e-300)) * 2.0  # = 4·|largest|
    r21, r12, r02, r20, r10, r01 = m[:, 2, 1], m[:, 1, 2], m[:, 0, 2], m[:, 2, 0], m[:, 1, 0], m[:, 0, 1]
    cand = np.stack(
        (
            np.stack((s / 4, (r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s), 1),
            np.stack(((r21 - r12) / s, s / 4, (r01 + r10) / s, (r02 + r20) / s), 1),
            np.stack(((r02 - r20) / s, (r01 + r10) / s, s / 4, (r12 + r21) / s), 1),
            np.stack(((r10 - r01) / s, (r02 + r20) / s, (r12 + r21) / s, s / 4), 1),
        ),
        1,
    )
    q = cand[np.arange(len(m)), k]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    # sign: w > 0, or on the w = 0 great sphere the first non-zero component positive
    lead = np.where(np.abs(q) > 1e-12, q, 0.0)
    first = lead[np.arange(len(q)), (np.abs(lead) > 0).argmax(1)]
    q *= np.where(first < 0, -1.0, 1.0)[:, None]
    return q.reshape(R.shape[:-2] + (4,))


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(…, 4) quaternions ``(w, x, y, z)`` (any non-zero norm; ``q`` and ``-q`` give the same
    rotation) → (…, 3, 3) rotations.

    Raises:
        ValueError: a quaternion of zero or non-finite norm.
    """
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if not np.all(np.isfinite(n)) or np.any(n < 1e-12):
        raise ValueError("quaternions must have a finite, non-zero norm")
    w, x, y, z = np.moveaxis(q / n, -1, 0)
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        -2,
    )
