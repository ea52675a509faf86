"""A scene in the rerun viewer (``spatialevo scene view``; the optional ``rerun`` extra, rerun-sdk >= 0.23).

What is logged (world frame, metres, z up: ``world`` carries ``ViewCoordinates.RIGHT_HAND_Z_UP``):

- ``world/mesh`` (``Mesh3D``, vertex colours as in :mod:`spatialevo.scene.meshexport`) or
  ``world/points`` (``Points3D``), static;
- ``world/boxes`` (``Boxes3D``: centres, half sizes, rotations as xyzw quaternions, label colours,
  ``label#id`` labels), static;
- ``world/trajectory`` (``LineStrips3D`` through the camera centres in capture order), static;
- per frame, on the sequence timeline ``frame`` (the frame's index in ``scene.frames``):
  ``world/camera`` (``Transform3D``: ``T_wc``, camera to world), ``world/camera/rgb`` (``Pinhole``
  with ``K``, OpenCV axes ``RDF``, and the RGB ``Image``) and ``world/camera/depth`` (``Pinhole``
  with the depth camera's intrinsics at the depth image's size, and a ``DepthImage`` in metres).
  Images are the stored ones, or rendered from the mesh; a frame with neither logs its camera only.

rerun is imported by :func:`view_scene` only; without it a :class:`SpatialEvoError` says how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Frame, Scene

#: The oldest rerun-sdk whose API this module uses (``rr.set_time(..., sequence=)``, ``RecordingStream(app_id)``).
MIN_RERUN = "0.23"
#: Radius of logged points and box lines, metres.
POINT_RADIUS_M = 0.01


def import_rerun() -> Any:
    """The ``rerun`` module, or a one-line :class:`SpatialEvoError` naming the extra to install."""
    try:
        import rerun as rr
    except ImportError:
        raise SpatialEvoError("spatialevo scene view needs the 'rerun' extra: pip install 'spatialevo[rerun]'") from None
    if not hasattr(rr, "set_time") or not hasattr(rr, "RecordingStream"):
        raise SpatialEvoError(f"spatialevo scene view needs rerun-sdk >= {MIN_RERUN} (found {getattr(rr, '__version__', '?')}): "
                              "pip install -U 'spatialevo[rerun]'")
    return rr


def _quaternions_xyzw(rotations: np.ndarray) -> np.ndarray:
    """(n, 4) unit quaternions (x, y, z, w) of (n, 3, 3) rotation matrices."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rotations).as_quat()


def _log_static(rec: Any, rr: Any, scene: Scene, points: bool | None) -> None:
    """World axes, surface, boxes and trajectory (no timeline)."""
    from spatialevo.scene.meshexport import surface_arrays
    from spatialevo.scene.render import label_color

    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    kind, verts, faces, colors = surface_arrays(scene, points)
    if kind == "mesh":
        rec.log("world/mesh", rr.Mesh3D(vertex_positions=verts, triangle_indices=faces, vertex_colors=colors), static=True)
    elif kind == "points":
        rec.log("world/points", rr.Points3D(verts, colors=colors, radii=POINT_RADIUS_M), static=True)
    if scene.objects:
        rec.log("world/boxes", rr.Boxes3D(
            centers=np.stack([o.box.center for o in scene.objects]),
            half_sizes=np.stack([o.box.extents for o in scene.objects]) / 2.0,
            quaternions=_quaternions_xyzw(np.stack([o.box.rotation for o in scene.objects])),
            colors=np.stack([label_color(o.label) for o in scene.objects]),
            labels=[o.ref for o in scene.objects],
            radii=POINT_RADIUS_M / 2,
        ), static=True)
    if len(scene.frames) > 1:
        rec.log("world/trajectory", rr.LineStrips3D([np.stack([f.camera_center for f in scene.frames])]), static=True)


def _depth_intrinsics(frame: Frame, shape: tuple[int, int]) -> np.ndarray:
    """(3, 3) intrinsics of a depth image of ``shape`` (H, W): ``depth_K``, or ``K`` scaled (pixel centres aligned)."""
    if frame.depth_K is not None:
        return frame.depth_K
    sx, sy = shape[1] / frame.width, shape[0] / frame.height
    S = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return S @ frame.K


def _log_frame(rec: Any, rr: Any, scene: Scene, index: int, frame: Frame, images: bool) -> None:
    """Camera pose, intrinsics and (when ``images``) the RGB and depth of one frame at time ``index``."""
    rec.set_time("frame", sequence=index)
    rec.log("world/camera", rr.Transform3D(translation=frame.T_wc[:3, 3], mat3x3=frame.T_wc[:3, :3]))
    rec.log("world/camera/rgb", rr.Pinhole(image_from_camera=frame.K, resolution=[frame.width, frame.height],
                                           camera_xyz=rr.ViewCoordinates.RDF, image_plane_distance=0.3))
    if not images or (scene.mesh is None and frame.rgb_path is None and frame.depth_path is None):
        return
    kinds = tuple(k for k in ("rgb", "depth") if scene.mesh is not None or getattr(frame, f"{k}_path") is not None)
    img = scene.frame_images(frame, kinds)
    if "rgb" in img:
        rec.log("world/camera/rgb", rr.Image(img["rgb"]))
    if "depth" in img:
        depth = img["depth"]
        rec.log("world/camera/depth", rr.Pinhole(image_from_camera=_depth_intrinsics(frame, depth.shape),
                                                 resolution=[depth.shape[1], depth.shape[0]], camera_xyz=rr.ViewCoordinates.RDF,
                                                 image_plane_distance=0.3))
        rec.log("world/camera/depth", rr.DepthImage(depth, meter=1.0))


def view_scene(scene: Scene, *, save: str | Path | None = None, frames: Sequence[Frame | str] | None = None,
               images: bool = True, points: bool | None = None) -> Path | None:
    """Log ``scene`` to rerun (layout in the module docstring).

    Args:
        save: write an ``.rrd`` recording here (open it later with ``rerun FILE.rrd``); ``None``
            spawns a viewer (the ``rerun`` binary of rerun-sdk) and streams to it.
        frames: frames (or ids) to log, default all.
        images: log each frame's RGB and depth (read or rendered; rendering costs ~10-50 ms a frame).
        points: as in :func:`spatialevo.scene.meshexport.scene_to_trimesh`.

    Returns:
        The ``.rrd`` path when ``save`` is given, else ``None``.

    Raises:
        SpatialEvoError: rerun-sdk missing or too old, an unknown frame id, or the file cannot be written.
    """
    rr = import_rerun()
    try:
        chosen = [scene.frame(f) if isinstance(f, str) else f for f in (scene.frames if frames is None else frames)]
    except KeyError as exc:
        raise SpatialEvoError(str(exc.args[0])) from None
    index = {f.id: k for k, f in enumerate(scene.frames)}
    rec = rr.RecordingStream("spatialevo")
    out = tmp = None
    try:
        if save is not None:
            out = Path(save)
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                rec.save(out.with_name(f".{out.name}.tmp"))
            except (OSError, RuntimeError) as exc:
                raise SpatialEvoError(f"cannot write '{out}': {exc}") from None
            tmp = out.with_name(f".{out.name}.tmp")  # removed below unless renamed into place
        else:
            try:
                rec.spawn()
            except Exception as exc:  # no viewer binary, no display
                raise SpatialEvoError(f"cannot start the rerun viewer ({exc}); write a file with --save FILE.rrd instead") from None
        if hasattr(rec, "send_recording_name"):  # rerun-sdk >= 0.24
            rec.send_recording_name(scene.scene_id)
        _log_static(rec, rr, scene, points)
        for f in chosen:
            _log_frame(rec, rr, scene, index[f.id], f, images)
        rec.flush()
        if tmp is not None:
            rec.disconnect()
            tmp.replace(out)
            tmp = None
    finally:
        if tmp is not None:
            rec.disconnect()
            tmp.unlink(missing_ok=True)
    return out
