"""spatialevo: unannotated 3D scans → a self-play training ground for spatial reasoning.

Public API (stable): :func:`load_scene`, :class:`Scene` and the scene model types, :class:`DGE`,
:class:`Question` and :class:`Verdict`; :func:`create_dataset` and :func:`score_answer`
(reasoning-gym style, :mod:`spatialevo.dataset`); :func:`reward_fn` (the solver reward as a TRL
reward function for the dataset folders ``spatialevo generate`` writes).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
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


ENV_ID = "SpatialEvo-v0"


def _register_envs(gymnasium: Any) -> None:
    """Register ``SpatialEvo-v0`` in ``gymnasium``'s registry once (the one place it is registered)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="spatialevo.env:SpatialEvoEnv")


class _RegisterWithGymnasium:
    """Import hook: registers ``SpatialEvo-v0`` right after gymnasium's own import.

    ``import spatialevo`` does not import gymnasium (≈ 0.1 s of its cost); gymnasium 1.x has no
    plugin entry points, so this hook keeps ``import spatialevo; import gymnasium;
    gymnasium.make("SpatialEvo-v0")`` working in either import order (``"spatialevo:SpatialEvo-v0"``
    imports the package itself). It wraps only gymnasium's loader, for that import: the module's
    ``__loader__`` and ``__spec__.loader`` are gymnasium's own. It stays in ``sys.meta_path``
    (answering ``None`` at once for every other module), so a lookup such as
    ``importlib.util.find_spec("gymnasium")`` before the import does not disarm it, and
    ``sys.meta_path`` is never rewritten while another thread may walk it.
    """

    def __init__(self) -> None:
        self._loader: Any = None
        self._busy = False  # finding gymnasium's own spec (the lookup below asks this finder again)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "gymnasium" or self._busy:
            return None
        self._busy = True  # stays in sys.meta_path (a mere find_spec("gymnasium") must not disarm it)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            _register_envs(module)
        except Exception as exc:  # noqa: BLE001 (never break gymnasium's own import)
            import warnings

            warnings.warn(f"spatialevo could not register {ENV_ID} with gymnasium: {exc}", stacklevel=2)


if "gymnasium" in sys.modules:
    _register_envs(sys.modules["gymnasium"])
elif not any(type(f).__name__ == _RegisterWithGymnasium.__name__ for f in sys.meta_path):  # once, even after a reload
    sys.meta_path.insert(0, _RegisterWithGymnasium())

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
