"""Frames at the size the policy sees: aspect ratio kept under a pixel budget (SPEC §7).

The budget follows the Qwen2.5-VL image processor's convention (``smart_resize``): both sides
are multiples of ``factor`` pixels (its 14-pixel patches merged 2 × 2 → 28), the area lies in
``[min_pixels, max_pixels]``, and the aspect ratio is kept as closely as those allow. A frame is
resized once, with a bilinear filter, to that size; every role, the dataset files and the
evaluation get the same pixels.
"""

from __future__ import annotations

import math

import numpy as np

#: Qwen2.5-VL's patch (14 px) times its 2 × 2 token merge
FACTOR = 28
#: defaults of the package (a 224 × 224 image's area; Qwen2.5-VL's own default max is 12,845,056)
MIN_PIXELS = 28 * 28 * 4
MAX_PIXELS = 224 * 224
#: the longest side ratio the convention accepts (Qwen2.5-VL refuses more than 200)
MAX_ASPECT = 200.0


def fit_size(height: int, width: int, *, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS,
             factor: int = FACTOR) -> tuple[int, int]:
    """``(height, width)`` in pixels for a ``height`` × ``width`` image: multiples of ``factor``,
    area within ``[min_pixels, max_pixels]``, aspect ratio kept (Qwen2.5-VL ``smart_resize``; the
    area never exceeds ``max_pixels``, and may fall below ``min_pixels`` only when rounding to
    whole tiles leaves no other choice).

    Raises:
        ValueError: a non-positive size, an aspect ratio above :data:`MAX_ASPECT`, or a budget
            smaller than one ``factor`` × ``factor`` tile.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise ValueError(f"aspect ratio {max(height, width) / min(height, width):.0f} is above {MAX_ASPECT:.0f}")
    if not factor * factor <= min_pixels <= max_pixels:
        raise ValueError(f"need {factor * factor} <= min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    while h * w > max_pixels and max(h, w) > factor:  # a side clamped to one tile: shorten the other
        h, w = (h - factor, w) if h >= w else (h, w - factor)
    return int(h), int(w)


def fit_box(height: int, width: int, box: tuple[int, int]) -> tuple[int, int]:
    """The largest ``(height, width)`` with the image's aspect ratio that fits in ``box`` (pixels;
    the fixed image slots of the Gymnasium env)."""
    bh, bw = int(box[0]), int(box[1])
    s = min(bh / height, bw / width)
    return max(1, min(bh, round(height * s))), max(1, min(bw, round(width * s)))


def resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 resized bilinearly to ``size`` = (height, width); a read-only array."""
    h, w = size
    if rgb.shape[:2] == (h, w):
        out = np.ascontiguousarray(rgb, dtype=np.uint8)
    else:
        from PIL import Image

        out = np.asarray(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize((w, h), Image.BILINEAR), dtype=np.uint8)
    out = out.copy() if out.flags.writeable is False or out.base is not None else out
    out.setflags(write=False)
    return out
