"""Multi-scene camera-pose heads in the style of OFVL-MS (needs torch: the ``train`` extra).

* :mod:`~spatialevo.pose.sharing` — layer-adaptive sharing (shared + per-scene weights + a
  learnable score per layer and scene) and the sparse score penalty;
* :mod:`~spatialevo.pose.gradnorm` — per-scene backward with gradient normalisation on the shared
  parameters;
* :mod:`~spatialevo.pose.rotation` — the continuous 6D rotation representation, quaternions with
  sign handling, geodesic angles;
* :mod:`~spatialevo.pose.model` / :mod:`~spatialevo.pose.trainer` — a small CNN pose regressor and
  its trainer (``spatialevo pose train / eval``);
* :mod:`~spatialevo.pose.vlm` — the pose head for a VLM's vision features;
* :mod:`~spatialevo.pose.metrics` — median cm / degrees and % within 5 cm, 5°.

See ``docs/pose.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "data": ("PoseData", "pose_data_from_scene", "synthetic_pose_data"),
    "gradnorm": ("per_scene_backward",),
    "metrics": ("PoseMetrics", "pose_errors", "summarize"),
    "model": ("PoseNet", "PoseNetConfig", "pose_loss"),
    "rotation": ("geodesic_deg", "matrix_to_quaternion", "matrix_to_sixd", "quaternion_to_matrix", "sixd_to_matrix"),
    "sharing": ("SceneLayer", "sharing_table", "sparsity_penalty"),
    "trainer": ("TrainConfig", "evaluate", "load", "new_model", "save", "train"),
    "vlm": ("VisionPoseHead", "qwen_image_features"),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import torch-backed parts on first use (so ``spatialevo pose --help`` stays fast)."""
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'spatialevo.pose' has no attribute {name!r}")
    return getattr(importlib.import_module(f"spatialevo.pose.{mod}"), name)
