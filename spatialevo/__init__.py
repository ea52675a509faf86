"""spatialevo: unannotated 3D scans → a self-play training ground for spatial reasoning.

Public API (stable): :func:`load_scene`, :class:`Scene` and the scene model types, :class:`DGE`,
:class:`Question` and :class:`Verdict`; :func:`create_dataset` and :func:`score_answer`
(reasoning-gym style, :mod:`spatialevo.dataset`); :func:`reward_fn` (the solver reward as a TRL
reward function for the dataset folders ``spatialevo generate`` writes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError, UnknownLayoutError

if TYPE_CHECKING:
    from spatialevo.dataset import create_dataset, reward_fn, score_answer
    from spatialevo.dge import DGE, Question, Verdict
    from spatialevo.scene import Frame, ObjectInstance, OrientedBox, Scene, SceneMesh
    from spatialevo.scene.loaders import detect_layout, load_scene

__version__ = "0.1.0"

#: public names → the module that defines them, imported on first use (PEP 562), so that
#: ``import spatialevo`` stays light and each command pays only for what it uses
_LAZY = {
    **dict.fromkeys(("create_dataset", "reward_fn", "score_answer"), "spatialevo.dataset"),
    **dict.fromkeys(("DGE", "Question", "Verdict"), "spatialevo.dge"),
    **dict.fromkeys(("Frame", "ObjectInstance", "OrientedBox", "Scene", "SceneMesh"), "spatialevo.scene"),
    **dict.fromkeys(("detect_layout", "load_scene"), "spatialevo.scene.loaders"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spatialevo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _register_envs() -> None:
    """Register ``SpatialEvo-v0`` once (``gymnasium.make("SpatialEvo-v0")`` after ``import spatialevo``;
    ``gymnasium.make("spatialevo:SpatialEvo-v0")`` imports the package itself)."""
    import gymnasium

    if "SpatialEvo-v0" not in gymnasium.registry:
        gymnasium.register(id="SpatialEvo-v0", entry_point="spatialevo.env:SpatialEvoEnv")


_register_envs()

__all__ = [
    "DGE",
    "Question",
    "Verdict",
    "Frame",
    "ObjectInstance",
    "OrientedBox",
    "Scene",
    "SceneFileNotFoundError",
    "SceneFormatError",
    "SceneMesh",
    "SpatialEvoError",
    "UnknownLayoutError",
    "__version__",
    "create_dataset",
    "detect_layout",
    "load_scene",
    "reward_fn",
    "score_answer",
]
