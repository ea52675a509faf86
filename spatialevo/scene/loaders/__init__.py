"""Scene loaders and layout detection.

Each layout module exposes ``detect(path: Path) -> bool`` (cheap, looks at file names only) and
``load(path: Path) -> Scene``. :func:`load_scene` tries them in a fixed order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, UnknownLayoutError
from spatialevo.scene import cache
from spatialevo.scene.loaders import arkitscenes, boxlist, scannet, scannetpp
from spatialevo.scene.model import Scene

#: layout name → (detect, load); order matters (most specific first).
LAYOUTS: dict[str, tuple[Callable[[Path], bool], Callable[[Path], Scene]]] = {
    "cache": (cache.is_cache_file, cache.load_cache),
    "boxlist": (boxlist.detect, boxlist.load),
    "scannet": (scannet.detect, scannet.load),
    "scannetpp": (scannetpp.detect, scannetpp.load),
    "arkitscenes": (arkitscenes.detect, arkitscenes.load),
}


def detect_layout(path: str | Path) -> str:
    """Name of the layout of ``path`` (a key of :data:`LAYOUTS`).

    Raises:
        SceneFileNotFoundError: ``path`` does not exist.
        UnknownLayoutError: nothing recognises it.
    """
    path = Path(path)
    if not path.exists():
        raise SceneFileNotFoundError(path, field="path")
    for name, (detect, _) in LAYOUTS.items():
        if detect(path):
            return name
    raise UnknownLayoutError(path)


def load_scene(path: str | Path, layout: str | None = None) -> Scene:
    """Load a scene from a folder or file, detecting the layout unless ``layout`` is given.

    Layouts: ``scannet`` (raw scene folder), ``scannetpp`` (scene folder with ``scans/`` and
    ``iphone/`` or ``dslr/``), ``arkitscenes`` (video folder with ``*_3dod_annotation.json``),
    ``boxlist`` (JSON of per-label box lists), ``cache`` (spatialevo ``.npz``).
    See ``docs/scenes.md`` for units and axis conventions.

    Raises:
        SceneFileNotFoundError: ``path`` or a file the layout requires is missing.
        UnknownLayoutError: the layout is not recognised (or ``layout`` is not a known name).
        SceneFormatError: malformed content; it names the file (``path`` itself when the problem
            was found by the scene model, e.g. a value out of the physical bounds) and the field.
    """
    path = Path(path)
    if layout is None:
        layout = detect_layout(path)
    elif layout not in LAYOUTS:
        raise UnknownLayoutError(path, f"layout {layout!r} is not one of {sorted(LAYOUTS)}")
    elif not path.exists():
        raise SceneFileNotFoundError(path, field="path")
    try:
        scene = LAYOUTS[layout][1](path)
    except SceneFormatError as exc:
        if exc.path is None:  # raised by the scene model, which knows no file: name the scene's
            raise SceneFormatError(exc.problem, path=path, field=exc.field) from None
        raise
    scene.meta.setdefault("layout", layout)
    return scene
