"""Scene loaders and layout detection.

Each layout module exposes ``detect(path: Path) -> bool`` (cheap, looks at file names only) and
``load(path: Path) -> Scene``. :func:`load_scene` tries them in a fixed order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError, UnknownLayoutError
from spatialevo.scene import cache
from spatialevo.scene.loaders import arkitscenes, boxlist, pointcept, scannet, scannetpp, votenet
from spatialevo.scene.model import Scene

#: layout name → (detect, load); order matters (most specific first).
LAYOUTS: dict[str, tuple[Callable[[Path], bool], Callable[[Path], Scene]]] = {
    "cache": (cache.is_cache_file, cache.load_cache),
    "boxlist": (boxlist.detect, boxlist.load),
    "scannet": (scannet.detect, scannet.load),
    "scannetpp": (scannetpp.detect, scannetpp.load),
    "arkitscenes": (arkitscenes.detect, arkitscenes.load),
    "pointcept": (pointcept.detect, pointcept.load),
    "votenet": (votenet.detect, votenet.load),
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


def is_scene(path: str | Path) -> bool:
    """Whether some layout recognises ``path`` (:func:`detect_layout` without the error)."""
    try:
        detect_layout(path)
        return True
    except SpatialEvoError:
        return False


def load_scene(
    path: str | Path,
    layout: str | None = None,
    *,
    labels: str | None = None,
    label_map: str | Path | None = None,
    frame_step: int = 1,
    extract_dir: str | Path | None = None,
) -> Scene:
    """Load a scene from a folder or file, detecting the layout unless ``layout`` is given.

    Layouts: ``scannet`` (raw scene folder, frames extracted or in its ``.sens``), ``scannetpp``
    (scene folder with ``scans/`` and ``iphone/`` or ``dslr/``), ``arkitscenes`` (video folder with
    ``*_3dod_annotation.json``), ``pointcept`` (Pointcept's preprocessed scene folder: ``coord.npy``,
    ``instance.npy``, ``segment*.npy``), ``votenet`` (a VoteNet / mmdetection3d ScanNet export:
    ``<scene>_vert.npy`` and its label files), ``boxlist`` (JSON of per-label box lists), ``cache``
    (spatialevo ``.npz``). See ``docs/scenes.md`` for units and axis conventions.

    Args:
        labels: the vocabulary the objects are labelled in (:data:`~spatialevo.scene.labels.VOCABULARIES`:
            ``raw``, ``nyu40``, ``scannet200``, ``vsibench``); ``None`` keeps the source's labels
            (a cache file's are those it was written with). Objects with no category in the
            vocabulary are removed (never asked about) and their surfaces kept; see
            :mod:`spatialevo.scene.labels`.
        label_map: ScanNet's ``scannetv2-labels.combined.tsv`` (default: found next to the scan).
        frame_step: keep every ``frame_step``-th frame (a ``.sens`` extracts only those).
        extract_dir: where frames packed in a ``.sens`` are extracted (default: the user cache folder).

    Raises:
        SceneFileNotFoundError: ``path`` or a file the layout requires is missing.
        UnknownLayoutError: the layout is not recognised (or ``layout`` is not a known name).
        SceneFormatError: malformed content; it names the file (``path`` itself when the problem
            was found by the scene model, e.g. a value out of the physical bounds) and the field.
        SpatialEvoError: an unknown vocabulary, or a cache written in one vocabulary asked for another.
    """
    from spatialevo.scene.labels import check_vocabulary

    path = Path(path)
    if labels is not None:
        check_vocabulary(labels)
    if isinstance(frame_step, bool) or not isinstance(frame_step, int) or not 1 <= frame_step <= 100_000:
        raise SpatialEvoError(f"frame_step must be a whole number from 1 to 100,000, got {frame_step!r}")
    if layout is None:
        layout = detect_layout(path)
    elif layout not in LAYOUTS:
        raise UnknownLayoutError(path, f"layout {layout!r} is not one of {sorted(LAYOUTS)}")
    elif not path.exists():
        raise SceneFileNotFoundError(path, field="path")
    try:
        if layout == "scannet":
            scene = scannet.load(path, frame_step, None if extract_dir is None else Path(extract_dir))
        else:
            scene = LAYOUTS[layout][1](path)
            if frame_step > 1:
                scene = dataclasses.replace(scene, frames=scene.frames[::frame_step], _visibility_cache={})
    except SceneFormatError as exc:
        if exc.path is None:  # raised by the scene model, which knows no file: name the scene's
            raise SceneFormatError(exc.problem, path=path, field=exc.field) from None
        raise
    scene.meta.setdefault("layout", layout)
    return _in_vocabulary(scene, path, labels, label_map)


def _in_vocabulary(scene: Scene, path: Path, labels: str | None, label_map: str | Path | None) -> Scene:
    """``scene`` in the vocabulary ``labels`` (unchanged when ``None`` or already in it)."""
    from spatialevo.scene.labels import label_map_for, relabel

    current = scene.meta.get("labels", "raw")
    if labels is None or labels == current:
        return scene
    if current != "raw":
        raise SpatialEvoError(f"'{path}' is labelled in the {current!r} vocabulary and cannot be relabelled to {labels!r}: "
                              "load the original scan (or a cache written with raw labels) instead")
    dataset = scene.meta.get("dataset") if scene.meta.get("dataset") in ("scannet", "scannetpp", "arkitscenes") else None
    mapping = label_map_for(labels, path, str(scene.meta.get("layout")), scannet_tsv=label_map, dataset=dataset)
    return relabel(scene, mapping) if mapping is not None else scene
