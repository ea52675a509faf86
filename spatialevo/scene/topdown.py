"""Top-down picture of a scene: floor polygon, object footprints with labels, camera trajectory.

The picture looks down the world z axis (x to the right, y up in the image), with a 1 m grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.spatial import ConvexHull, QhullError

from spatialevo.scene.model import Scene
from spatialevo.scene.render import label_color


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _footprint(corners: np.ndarray) -> np.ndarray:
    """(K, 2) convex outline of box corners projected on the floor (world xy, metres)."""
    xy = corners[:, :2]
    try:
        return xy[ConvexHull(xy).vertices]
    except QhullError:
        return xy[[0, 2, 6, 4]]


def topdown_image(scene: Scene, size: int = 900, margin: int = 40) -> Image.Image:
    """Render the top-down picture as a PIL RGB image of ``size`` pixels on its longer side."""
    b = scene.bounds()
    if scene.frames:
        cams = np.array([f.camera_center for f in scene.frames])
        b = np.stack([np.minimum(b[0], cams.min(0)), np.maximum(b[1], cams.max(0))])
    span = np.maximum(b[1, :2] - b[0, :2], 1e-3)
    scale = (size - 2 * margin) / span.max()
    w, h = (np.ceil(span * scale) + 2 * margin).astype(int)

    def px(xy: np.ndarray) -> list[tuple[float, float]]:
        p = (np.atleast_2d(xy) - b[0, :2]) * scale
        return [(float(x + margin), float(h - margin - y)) for x, y in p]

    img = Image.new("RGB", (int(w), int(h)), (250, 250, 248))
    draw = ImageDraw.Draw(img)
    for gx in np.arange(np.floor(b[0, 0]), b[1, 0] + 1):
        draw.line(px(np.array([[gx, b[0, 1]], [gx, b[1, 1]]])), fill=(232, 232, 232))
    for gy in np.arange(np.floor(b[0, 1]), b[1, 1] + 1):
        draw.line(px(np.array([[b[0, 0], gy], [b[1, 0], gy]])), fill=(232, 232, 232))
    if scene.floor_polygon is not None:
        draw.polygon(px(scene.floor_polygon), fill=(236, 228, 212), outline=(90, 80, 70), width=3)
    font = _font(12)
    # draw tall objects last so small ones stay visible underneath labels
    for obj in sorted(scene.objects, key=lambda o: o.box.corners()[:, 2].max()):
        col = tuple(int(c) for c in label_color(obj.label))
        draw.polygon(px(_footprint(obj.box.corners())), fill=col, outline=(40, 40, 40), width=2)
    for obj in scene.objects:
        x, y = px(obj.box.center[:2])[0]
        text = obj.ref
        tb = draw.textbbox((x, y), text, font=font, anchor="mm")
        draw.rectangle(tb, fill=(255, 255, 255))
        draw.text((x, y), text, fill=(0, 0, 0), font=font, anchor="mm")
    if scene.frames:
        path = px(np.array([f.camera_center[:2] for f in scene.frames]))
        if len(path) > 1:
            draw.line(path, fill=(200, 30, 30), width=2)
        for f, (x, y) in zip(scene.frames, path):
            fwd = f.T_wc[:3, 2][:2]
            n = np.linalg.norm(fwd)
            if n > 1e-6:
                tip = px(f.camera_center[:2] + 0.35 * fwd / n)[0]
                draw.line([(x, y), tip], fill=(30, 30, 200), width=2)
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(200, 30, 30))
    title = f"{scene.scene_id}: {len(scene.objects)} objects, {len(scene.frames)} frames, grid 1 m"
    if scene.floor_area is not None:
        title += f", floor {scene.floor_area:.1f} m2"
    draw.text((margin, 10), title, fill=(0, 0, 0), font=_font(16))
    return img


def save_topdown(scene: Scene, path: str | Path, size: int = 900) -> Path:
    """Write the top-down PNG of ``scene`` to ``path`` (parents created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    topdown_image(scene, size).save(path, format="PNG")
    return path
