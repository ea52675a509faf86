"""Camera-pose errors and their summary (the localisation metrics of OFVL-MS).

Poses are (…, 4, 4) camera-to-world matrices, world frame, metres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def pose_errors(T_pred: np.ndarray, T_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pose: translation error (metres, distance between camera centres) and rotation error
    (degrees, angle of ``R_predᵀ R_true``). Inputs (N, 4, 4) or (4, 4), world frame, metres.

    Raises:
        ValueError: shapes differ or are not (…, 4, 4), or a pose is not finite.
    """
    a, b = np.asarray(T_pred, dtype=np.float64), np.asarray(T_true, dtype=np.float64)
    if a.shape != b.shape or a.shape[-2:] != (4, 4):
        raise ValueError(f"poses must both be (N, 4, 4), got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("poses must be finite")
    a, b = a.reshape(-1, 4, 4), b.reshape(-1, 4, 4)
    t_err = np.linalg.norm(a[:, :3, 3] - b[:, :3, 3], axis=1)
    rel = np.einsum("nji,njk->nik", a[:, :3, :3], b[:, :3, :3])
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    skew = np.stack((rel[:, 2, 1] - rel[:, 1, 2], rel[:, 0, 2] - rel[:, 2, 0], rel[:, 1, 0] - rel[:, 0, 1]), 1)
    r_err = np.degrees(np.arctan2(np.linalg.norm(skew, axis=1) / 2.0, cos))
    return t_err, r_err


@dataclass(frozen=True)
class PoseMetrics:
    """Summary of pose errors over frames.

    Attributes:
        median_t_cm: median translation error, centimetres.
        median_r_deg: median rotation error, degrees.
        within_5cm_5deg: share of frames with both errors within 5 cm and 5° (0–1).
        n: number of frames.
    """

    median_t_cm: float
    median_r_deg: float
    within_5cm_5deg: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(T_pred: np.ndarray, T_true: np.ndarray) -> PoseMetrics:
    """:class:`PoseMetrics` of predicted vs true poses (see :func:`pose_errors`).

    Raises:
        ValueError: no poses, or as :func:`pose_errors`.
    """
    t, r = pose_errors(T_pred, T_true)
    if len(t) == 0:
        raise ValueError("no poses to summarise")
    ok = (t <= 0.05) & (r <= 5.0)
    return PoseMetrics(float(np.median(t) * 100.0), float(np.median(r)), float(ok.mean()), int(len(t)))
