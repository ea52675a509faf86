"""Small drawing primitives shared by every picture the package writes (top-down views, colourised
depth and instance images, verdict pictures, env renders): fonts, a perceptual colour map, the
colour of an instance id, and a caption strip.

All images are PIL ``RGB`` images or (H, W, 3) ``uint8`` arrays; nothing here knows about scenes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Viridis, sampled at 9 evenly spaced points (matplotlib's published table), linearly interpolated.
_VIRIDIS = np.array(
    [
        [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
        [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
    ],
    dtype=np.float64,
)

#: Colour of pixels with no value (no depth, no hit): mid grey, outside the colour map.
NO_VALUE_COLOR = (40, 40, 40)


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in scalable font at ``size`` pixels (the bitmap default on Pillow < 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def colormap(values: np.ndarray) -> np.ndarray:
    """Viridis colours of ``values`` in [0, 1] (clipped): shape ``values.shape + (3,)``, uint8.

    NaN maps to :data:`NO_VALUE_COLOR`.
    """
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v)
    x = np.clip(np.where(nan, 0.0, v), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    i = np.minimum(x.astype(np.int64), len(_VIRIDIS) - 2)
    t = (x - i)[..., None]
    out = np.rint(_VIRIDIS[i] * (1 - t) + _VIRIDIS[i + 1] * t).astype(np.uint8)
    out[nan] = NO_VALUE_COLOR
    return out


def id_color(ident: int) -> tuple[int, int, int]:
    """Deterministic, well-spread RGB colour of an integer id (same on every machine)."""
    h = hashlib.sha1(str(int(ident)).encode()).digest()
    return (48 + h[0] % 192, 48 + h[1] % 192, 48 + h[2] % 192)


def caption_strip(width: int, lines: list[str], size: int = 14, pad: int = 6) -> Image.Image:
    """A white strip ``width`` pixels wide holding ``lines`` of black text, each wrapped to fit."""
    f = font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    wrapped: list[str] = []
    for line in lines:
        words, cur = line.split(" "), ""
        for w in words:
            trial = f"{cur} {w}" if cur else w
            if cur and probe.textlength(trial, font=f) > width - 2 * pad:
                wrapped.append(cur)
                cur = w
            else:
                cur = trial
        wrapped.append(cur)
    step = size + 4
    img = Image.new("RGB", (int(width), pad * 2 + step * max(1, len(wrapped))), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for k, line in enumerate(wrapped):
        d.text((pad, pad + k * step), line, fill=(0, 0, 0), font=f)
    return img
