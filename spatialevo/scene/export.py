"""Writing a scene's rendered frames to disk (what ``spatialevo scene render`` and the demo write).

For each frame ``<id>``: ``rgb/<id>.png`` (uint8), ``depth/<id>.png`` (uint16 millimetres, 0 = no
hit), ``instance/<id>.npy`` (int32 object ids; -1 no hit, -2 floor, -3 ceiling, -4 wall); and
``visibility.json``: frame id → {``label#id``: visible fraction} of the objects seen in it. Every
file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spatialevo.scene.imageio import write_png
from spatialevo.scene.model import Frame, Scene
from spatialevo.scene.render import render_frame
from spatialevo.scene.visibility import visible_fractions


def render_scene_frames(scene: Scene, out: Path, frames: Sequence[Frame], desc: str = "render") -> dict[str, dict[str, float]]:
    """Render ``frames`` of a meshed ``scene`` into the folder ``out`` (layout in the module
    docstring), with a progress bar labelled ``desc``; return the visibility table written."""
    for sub in ("rgb", "depth", "instance"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    vis: dict[str, dict[str, float]] = {}
    for f in tqdm(frames, desc=desc, unit="frame"):
        img = render_frame(scene, f)
        write_png(out / "rgb" / f"{f.id}.png", img["rgb"])
        write_png(out / "depth" / f"{f.id}.png", np.clip(np.round(img["depth"] * 1000), 0, 65535).astype(np.uint16))
        tmp = out / "instance" / f"{f.id}.npy.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, img["instance"])
        tmp.replace(out / "instance" / f"{f.id}.npy")
        frac = visible_fractions(scene, f)
        vis[f.id] = {o.ref: round(float(v), 4) for o, v in zip(scene.objects, frac) if v > 0}
    tmp = out / "visibility.json.tmp"
    tmp.write_text(json.dumps(vis, indent=1, sort_keys=True))
    tmp.replace(out / "visibility.json")
    return vis
