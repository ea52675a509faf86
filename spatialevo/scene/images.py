"""The images of a scene's frames: stored ones read from disk, missing ones rendered from the mesh.

:func:`frame_images` is the body of :meth:`Scene.frame_images` (bound to the class by
:mod:`spatialevo.scene`): it needs the image readers and the renderer, which sit above the scene
model, so it lives here rather than in :mod:`spatialevo.scene.model`.
"""

from __future__ import annotations

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.imageio import read_depth, read_instance, read_rgb
from spatialevo.scene.model import Frame, Scene

#: Image kinds a frame can have, in the order :func:`frame_images` returns by default.
IMAGE_KINDS = ("rgb", "depth", "instance")


def read_frame_image(frame: Frame, kind: str) -> np.ndarray:
    """Read a stored image of ``frame``; ``kind`` is ``rgb`` (resized to the frame's size), ``depth``
    (metres, using the frame's ``depth_scale``) or ``instance``."""
    path = getattr(frame, f"{kind}_path")
    if kind == "rgb":
        return read_rgb(path, (frame.width, frame.height))
    if kind == "depth":
        return read_depth(path, frame.depth_scale)
    if kind == "instance":
        return read_instance(path)
    raise ValueError(f"unknown image kind {kind!r} (expected rgb, depth or instance)")


def frame_images(scene: Scene, frame: Frame | str, kinds: tuple[str, ...] = IMAGE_KINDS) -> dict[str, np.ndarray]:
    """Images of a frame: stored ones when the loader provides them, else rendered from the mesh.

    Returns a dict with the requested keys among ``rgb`` (H, W, 3) uint8, ``depth`` (H, W)
    float32 metres (0 = no hit) and ``instance`` (H, W) int32 object ids (negative = structure
    / no hit).

    Raises:
        SceneFormatError: when an image is neither stored nor renderable (no mesh).
    """
    f = scene.frame(frame) if isinstance(frame, str) else frame
    out: dict[str, np.ndarray] = {}
    missing = []
    for kind in kinds:
        if getattr(f, f"{kind}_path") is not None:
            out[kind] = read_frame_image(f, kind)
        else:
            missing.append(kind)
    if missing:
        if scene.mesh is None:
            raise SceneFormatError(
                f"frame {f.id} has no stored {', '.join(missing)} image and the scene has no mesh to render it",
                field=missing[0],
            )
        from spatialevo.scene.render import render_frame  # numba: loaded only when rendering

        rendered = render_frame(scene, f, tuple(missing))  # only the kinds asked for are computed
        out.update({k: rendered[k] for k in missing})
    return out
