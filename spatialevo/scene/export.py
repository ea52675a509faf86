"""Writing a scene's rendered frames to disk (what ``spatialevo scene render`` and the demo write).

For each frame ``<id>``: ``rgb/<id>.png`` (uint8), ``depth/<id>.png`` (uint16 millimetres, 0 = no
hit), ``instance/<id>.npy`` (int32 object ids; -1 no hit, -2 floor, -3 ceiling, -4 wall); with
pictures (the default), ``depth_color/<id>.png`` (the depth in viridis with a colour bar in metres
on the right, range per frame) and ``instance_color/<id>.png`` (each object its own colour,
structure in greys, no hit black); and ``visibility.json``: frame id → {``label#id``: visible
fraction} of the objects seen in it; with pictures, ``overview.png``: a sheet of thumbnails of at
most 64 frames (evenly spaced), RGB | depth | instances per frame, with one depth colour bar.
Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from spatialevo.scene.imageio import atomic_file, write_png
from spatialevo.scene.model import Frame, Scene
from spatialevo.scene.pictures import SheetBuilder, depth_picture, instance_picture, sheet_frames
from spatialevo.scene.render import render_frame
from spatialevo.scene.visibility import visible_fractions


def save_picture(path: Path, image: Image.Image, compress_level: int = 3) -> Path:
    """Write a PIL image as PNG atomically (:func:`~spatialevo.scene.imageio.atomic_file`); return ``path``. zlib level 3
    (of 0-9): for these pictures about twice as fast as the default 6, files about 1.4x as large."""
    with atomic_file(path) as fh:
        image.save(fh, format="PNG", compress_level=compress_level)
    return path


def render_scene_frames(scene: Scene, out: Path, frames: Sequence[Frame], desc: str = "render", backend: str | None = None,
                        pictures: bool = True) -> dict[str, dict[str, float]]:
    """Render ``frames`` of a meshed ``scene`` into the folder ``out`` (layout in the module
    docstring) with ``backend`` (``"raster"``, the default, or ``"raycast"``; see
    :mod:`spatialevo.scene.render`), with a progress bar labelled ``desc``; ``pictures=False``
    skips ``depth_color/``, ``instance_color/`` and ``overview.png``. Return the visibility table
    written. Memory: one frame's images plus the overview's thumbnails."""
    subs = ("rgb", "depth", "instance") + (("depth_color", "instance_color") if pictures else ())
    for sub in subs:
        (out / sub).mkdir(parents=True, exist_ok=True)
    sheet = SheetBuilder(scene, total_frames=len(frames)) if pictures else None
    in_sheet = {f.id for f in sheet_frames(frames)}
    vis: dict[str, dict[str, float]] = {}
    for f in tqdm(frames, desc=desc, unit="frame"):
        img = render_frame(scene, f, backend=backend)
        write_png(out / "rgb" / f"{f.id}.png", img["rgb"])
        write_png(out / "depth" / f"{f.id}.png", np.clip(np.round(img["depth"] * 1000), 0, 65535).astype(np.uint16))
        with atomic_file(out / "instance" / f"{f.id}.npy") as fh:
            np.save(fh, img["instance"])
        if sheet is not None:
            save_picture(out / "depth_color" / f"{f.id}.png", depth_picture(img["depth"]))
            save_picture(out / "instance_color" / f"{f.id}.png", instance_picture(img["instance"], scene))
            if f.id in in_sheet:
                sheet.add(f.id, img)
        frac = visible_fractions(scene, f)
        vis[f.id] = {o.ref: round(float(v), 4) for o, v in zip(scene.objects, frac) if v > 0}
    with atomic_file(out / "visibility.json") as fh:
        fh.write(json.dumps(vis, indent=1, sort_keys=True).encode())
    if sheet is not None and frames:
        save_picture(out / "overview.png", sheet.image(), compress_level=1)
    return vis
