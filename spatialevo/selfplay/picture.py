"""Pictures and text of what one role is shown: the frames of a turn side by side above a caption
strip with the role, the task and the prompt (the env's ``render_mode="rgb_array"`` and ``"ansi"``).

Framework-free (no gymnasium). The picture has a fixed size for a fixed layout (slot size, slot
count, caption lines), so a video recorder or a viewer that needs every frame the same size can
take a run of them:

* a grid of ``slots`` cells of ``slot_size`` = (height, width) pixels, at most :data:`COLUMNS` a
  row, :data:`GAP` pixels apart; the first ``image_count`` cells hold the shown frames at their
  own size (shrunk to fit only when larger than a cell), centred; unused cells are a flat grey;
* below it a white caption strip :data:`MIN_WIDTH` pixels wide or more: one line
  ``role · task · N image(s)`` and the prompt, wrapped, cut to ``max_lines`` lines with an
  ellipsis.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from spatialevo.dge import TASK_NAMES
from spatialevo.scene.drawing import caption_strip, font
from spatialevo.selfplay.images import fit_box, resize

#: cells per row of the frame grid
COLUMNS = 8
#: pixels between cells and around the grid
GAP = 4
#: the picture's least width in pixels (the caption stays readable with one or two slots)
MIN_WIDTH = 480
#: caption font size and padding (pixels); one caption line is ``FONT_SIZE + 4`` pixels high
FONT_SIZE, PAD = 13, 6
#: caption lines by default (the first is the role/task line)
MAX_LINES = 12
#: colours (RGB) of the grid's background, an unused cell and a cell whose frame has no image
BACKGROUND, EMPTY_CELL, MISSING_CELL = (224, 224, 224), (200, 200, 200), (150, 150, 150)
ELLIPSIS = "\u2026"
ROLES = ("questioner", "solver")


def _name(value: str | int, names: Sequence[str], what: str) -> str:
    if isinstance(value, str):
        return value
    i = int(value)
    if not 0 <= i < len(names):
        raise ValueError(f"{what} index {i} is out of range 0..{len(names) - 1}")
    return names[i]


def header(role: str | int, task: str | int, image_count: int) -> str:
    """``"questioner · absolute_distance · 16 image(s)"``; ``role`` and ``task`` as names or as the
    observation's indices (0 questioner, 1 solver; an index into :data:`~spatialevo.dge.TASK_NAMES`)."""
    return f"{_name(role, ROLES, 'role')} \u00b7 {_name(task, TASK_NAMES, 'task')} \u00b7 {int(image_count)} image(s)"


def observation_text(prompt: str, role: str | int, task: str | int, image_count: int) -> str:
    """The env's ``"ansi"`` render: the :func:`header` line, then the prompt as it is, then a newline."""
    return f"{header(role, task, image_count)}\n{prompt}\n"


def _longest_prefix(word: str, width: float, length: Callable[[str], float]) -> int:
    """The longest ``k >= 1`` with ``word[:k]`` at most ``width`` pixels (1 when even one character
    is wider): doubling, then bisection, so no prefix much longer than a line is measured."""
    lo, hi = 1, 2
    while hi <= len(word) and length(word[:hi]) <= width:
        lo, hi = hi, 2 * hi
    hi = min(hi - 1, len(word))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if length(word[:mid]) <= width else (lo, mid - 1)
    return lo


def wrap(text: str, width: int, fnt: ImageFont.ImageFont | ImageFont.FreeTypeFont, limit: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` pixels in ``fnt``: its own line breaks kept, words
    moved to the next line (spaces at the start of a line dropped), a word longer than a line
    broken between characters. ``limit``: stop after that many lines plus one (enough to tell
    that the text was cut).

    Lines are filled with the sum of the words' widths and each one is then measured whole (a
    word that kerning pushes past ``width`` goes to the next line), so the cost is one measure
    per distinct word and one per line."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths: dict[str, float] = {}

    def length(s: str) -> float:
        if s not in widths:
            widths[s] = probe.textlength(s, font=fnt)
        return widths[s]

    space = length(" ")
    out: list[str] = []
    for paragraph in text.split("\n"):
        queue = deque(paragraph.split(" "))
        while queue:
            line: list[str] = []
            total = 0.0
            while queue:
                if not line and not queue[0]:  # a space at the start of a line is dropped
                    queue.popleft()
                    continue
                if not line and len(queue[0]) > 1:  # a word wider than a line: break it (never measured whole)
                    k = _longest_prefix(queue[0], width, length)
                    if k < len(queue[0]):
                        line, queue[0] = [queue[0][:k]], queue[0][k:]
                        break
                w = length(queue[0])
                trial = w if not line else total + space + w
                if line and trial > width:
                    break
                line.append(queue.popleft())
                total = trial
            while len(line) > 1 and length(" ".join(line)) > width:
                queue.appendleft(line.pop())
            out.append(" ".join(line))
            if limit is not None and len(out) > limit:
                return out
    return out


def truncate(lines: list[str], max_lines: int, width: int, fnt: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> list[str]:
    """``lines`` cut to ``max_lines``; when cut, the last kept line ends in an ellipsis that fits in
    ``width`` pixels."""
    if len(lines) <= max_lines:
        return list(lines)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    kept = list(lines[:max_lines])
    last = kept[-1]
    while last and probe.textlength(last + ELLIPSIS, font=fnt) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return kept


def picture_size(slot_size: tuple[int, int], slots: int, max_lines: int = MAX_LINES) -> tuple[int, int]:
    """``(height, width)`` in pixels of every :func:`observation_picture` with this layout."""
    cols = max(1, min(int(slots), COLUMNS))
    rows = max(1, math.ceil(int(slots) / cols))
    grid_w = cols * slot_size[1] + (cols + 1) * GAP
    grid_h = rows * slot_size[0] + (rows + 1) * GAP
    return grid_h + 2 * PAD + (FONT_SIZE + 4) * max_lines, max(grid_w, MIN_WIDTH)


def _grid(images: Sequence[np.ndarray], count: int, slot_size: tuple[int, int], slots: int, width: int) -> Image.Image:
    """The frame grid: ``count`` cells filled with ``images`` (fewer images: grey cells), the rest
    of the ``slots`` cells empty."""
    sh, sw = slot_size
    cols = max(1, min(slots, COLUMNS))
    rows = max(1, math.ceil(slots / cols))
    grid = Image.new("RGB", (width, rows * sh + (rows + 1) * GAP), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for k in range(slots):
        x, y = GAP + (k % cols) * (sw + GAP), GAP + (k // cols) * (sh + GAP)
        if k >= count:
            draw.rectangle((x, y, x + sw - 1, y + sh - 1), fill=EMPTY_CELL)
        elif k >= len(images):
            draw.rectangle((x, y, x + sw - 1, y + sh - 1), fill=MISSING_CELL)
            draw.text((x + 4, y + 4), "no image", fill=(255, 255, 255), font=font(FONT_SIZE - 2))
        else:
            img = np.asarray(images[k], dtype=np.uint8)
            if img.shape[0] > sh or img.shape[1] > sw:
                img = resize(img, fit_box(img.shape[0], img.shape[1], slot_size))
            h, w = img.shape[:2]
            grid.paste(Image.fromarray(np.ascontiguousarray(img[..., :3])), (x + (sw - w) // 2, y + (sh - h) // 2))
    return grid


def observation_picture(images: Sequence[np.ndarray], image_count: int, prompt: str, role: str | int, task: str | int, *,
                        slot_size: tuple[int, int] | None = None, slots: int | None = None,
                        max_lines: int = MAX_LINES) -> np.ndarray:
    """One picture of what a role is shown: (H, W, 3) uint8, H × W = :func:`picture_size`.

    Args:
        images: the shown frames, each (h, w, 3) uint8 at its own size (e.g. :attr:`Turn.images`);
            a stack of zero-padded observation slots works too, shown with its padding.
        image_count: frames shown (the observation's ``image_count``); the first ``image_count``
            of ``images`` are drawn (at most ``slots``), a frame without an image as a grey cell.
        prompt: the role's prompt; role, task: names, or the observation's indices.
        slot_size: (height, width) of a cell in pixels; default the largest image (120 × 160 when
            there is none).
        slots: cells in the grid (fixes the picture's size); default ``max(image_count, 1)``.
        max_lines: caption lines, the role/task line included (at least 2).
    """
    if max_lines < 2:
        raise ValueError(f"max_lines must be at least 2, got {max_lines}")
    if slot_size is None:
        shapes = [np.shape(im)[:2] for im in images[: max(int(image_count), 0)]]
        slot_size = (max(s[0] for s in shapes), max(s[1] for s in shapes)) if shapes else (120, 160)
    slot_size = (int(slot_size[0]), int(slot_size[1]))
    slots = max(1, int(image_count) if slots is None else int(slots))
    count = max(0, min(int(image_count), slots))
    height, width = picture_size(slot_size, slots, max_lines)
    fnt = font(FONT_SIZE)
    text_width = width - 2 * PAD - 1
    lines = [header(role, task, image_count), *truncate(wrap(prompt, text_width, fnt, max_lines - 1), max_lines - 1, text_width, fnt)]
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    grid = _grid(images, count, slot_size, slots, width)
    canvas.paste(grid, (0, 0))
    strip = caption_strip(width, lines, size=FONT_SIZE, pad=PAD)
    canvas.paste(strip.crop((0, 0, width, min(strip.height, height - grid.height))), (0, grid.height))
    return np.asarray(canvas, dtype=np.uint8)
