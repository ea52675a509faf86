"""Overlap-free placement of text labels in a picture (pixel coordinates, x right, y down).

:func:`place_labels` gives every label a box of its text size near its anchor point such that

* no two placed label boxes overlap (they may touch), and every placed box lies inside the image;
* boxes avoid the ``blocked`` rectangles (a legend, a title: hard) and, where they can, the
  ``obstacles`` (object markers, camera dots: soft, the overlapped area is a cost);
* labels are placed one at a time in order of decreasing ``priority`` (ties: input order), each at
  the cheapest free candidate of the nearest ring around its anchor that has one: ring 0 touches
  the anchor (8 positions around it, then centred on it), rings 1 and 2 are farther out and get a
  leader line from the anchor to the box; when every ring candidate is taken, a scan of the whole
  image finds the free position nearest to the anchor (leader line): an occupancy grid of 4-pixel
  cells (coarser above :data:`MAX_CELLS` cells) where a cell any placed box touches is taken, read
  through a summed-area table, so a position on free cells is free (the scan is conservative).

A label that fits nowhere (the image is full, or its box is larger than the image) is not placed
(``placed[i]`` False): the guarantee is kept, never traded for a hidden label. Deterministic: the
same input gives the same boxes. Cost: O(n · candidates · placed) with numpy over the placed boxes
(candidates: 25 per label), plus O(cells) for each label that needs the scan; at most
:data:`MAX_LABELS` labels are considered (the highest-priority ones), the rest are not placed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: labels considered per call (the rest, lowest priority first, are not placed)
MAX_LABELS = 2000
#: cells of the occupancy grid of the fallback scan at most (the cell grows from 4 pixels to stay under it)
MAX_CELLS = 250_000
#: ring distances (pixels) between the anchor and the nearest box edge: touching, then leader lines
RINGS = (3.0, 18.0, 40.0)


@dataclass(frozen=True)
class Placement:
    """Result of :func:`place_labels` for N labels.

    Attributes:
        boxes: (N, 4) float boxes ``x0, y0, x1, y1`` in pixels (meaningless where not ``placed``).
        placed: (N,) bool, whether the label got a box.
        leader: (N,) bool, whether the box is away from its anchor (draw a leader line).
    """

    boxes: np.ndarray
    placed: np.ndarray
    leader: np.ndarray

    def anchor_point(self, i: int, anchor: np.ndarray) -> tuple[float, float]:
        """The point of box ``i`` nearest to ``anchor`` (where a leader line ends), pixels."""
        x0, y0, x1, y1 = self.boxes[i]
        return float(np.clip(anchor[0], x0, x1)), float(np.clip(anchor[1], y0, y1))


def _overlap_area(cands: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """(K, R) overlap areas of candidate boxes (K, 4) and rectangles (R, 4); touching is 0."""
    if len(rects) == 0:
        return np.zeros((len(cands), 0))
    w = np.minimum(cands[:, None, 2], rects[None, :, 2]) - np.maximum(cands[:, None, 0], rects[None, :, 0])
    h = np.minimum(cands[:, None, 3], rects[None, :, 3]) - np.maximum(cands[:, None, 1], rects[None, :, 1])
    return np.clip(w, 0.0, None) * np.clip(h, 0.0, None)


def boxes_overlap(boxes: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(N, N) bool: whether boxes (N, 4) overlap with positive area (the diagonal is False)."""
    a = _overlap_area(np.asarray(boxes, dtype=np.float64), np.asarray(boxes, dtype=np.float64)) > eps
    np.fill_diagonal(a, False)
    return a


def _ring(anchor: np.ndarray, w: float, h: float, d: float, centred: bool) -> np.ndarray:
    """(K, 4) candidate boxes of size w x h at distance ``d`` around ``anchor``: right, left,
    above, below, then the four diagonals (and centred on the anchor for ring 0)."""
    x, y = float(anchor[0]), float(anchor[1])
    tl = [
        (x + d, y - h / 2), (x - d - w, y - h / 2), (x - w / 2, y - d - h), (x - w / 2, y + d),
        (x + d, y - d - h), (x - d - w, y - d - h), (x + d, y + d), (x - d - w, y + d),
    ]
    if centred:
        tl.append((x - w / 2, y - h / 2))
    p = np.array(tl, dtype=np.float64)
    return np.c_[p, p + (w, h)]


def _inside(cands: np.ndarray, width: float, height: float) -> np.ndarray:
    """Candidates shifted into the image ``[0, width] x [0, height]`` (the box size kept)."""
    dx = np.clip(-cands[:, 0], 0.0, None) - np.clip(cands[:, 2] - width, 0.0, None)
    dy = np.clip(-cands[:, 1], 0.0, None) - np.clip(cands[:, 3] - height, 0.0, None)
    return cands + np.c_[dx, dy, dx, dy]


class _Occupancy:
    """Cells of ``cell`` pixels covered by placed boxes (a cell any box touches with positive area
    counts as taken): a box on free cells overlaps no placed box, so the scan is conservative."""

    def __init__(self, width: float, height: float):
        self.cell = max(4.0, float(np.ceil(np.sqrt(width * height / MAX_CELLS))))
        self.nx, self.ny = int(np.ceil(width / self.cell)), int(np.ceil(height / self.cell))
        self.width, self.height = width, height
        self.occ = np.zeros((self.ny, self.nx), dtype=np.int32)

    def mark(self, box: np.ndarray) -> None:
        c = self.cell
        i0, j0 = int(max(0.0, np.floor(box[0] / c))), int(max(0.0, np.floor(box[1] / c)))
        i1, j1 = int(min(self.nx, np.ceil(box[2] / c))), int(min(self.ny, np.ceil(box[3] / c)))
        self.occ[j0:j1, i0:i1] = 1

    def nearest_free(self, anchor: np.ndarray, w: float, h: float) -> np.ndarray | None:
        """The box w x h on free cells (top-left on the cell grid, inside the image) whose centre
        is nearest to ``anchor`` (ties: row-major), or ``None``: searched in a window around the
        anchor that doubles until it holds a free position nearer than its border (or the image)."""
        c = self.cell
        cw, ch = int(np.ceil(w / c)), int(np.ceil(h / c))
        mx = min(int(np.floor((self.width - w) / c)) + 1, self.nx - cw + 1)  # top-left cells allowed: [0, mx) x [0, my)
        my = min(int(np.floor((self.height - h) / c)) + 1, self.ny - ch + 1)
        if mx <= 0 or my <= 0:
            return None
        reach = 2.0 * (w + h) + c
        while True:
            i0, i1 = max(0, int((anchor[0] - w / 2 - reach) // c)), min(mx, int((anchor[0] - w / 2 + reach) // c) + 1)
            j0, j1 = max(0, int((anchor[1] - h / 2 - reach) // c)), min(my, int((anchor[1] - h / 2 + reach) // c) + 1)
            whole = i0 == 0 and j0 == 0 and i1 == mx and j1 == my
            if i1 > i0 and j1 > j0:
                win = self.occ[j0 : j1 + ch - 1, i0 : i1 + cw - 1]
                sat = np.zeros((win.shape[0] + 1, win.shape[1] + 1), dtype=np.int64)
                sat[1:, 1:] = win.cumsum(0).cumsum(1)
                nj, ni = j1 - j0, i1 - i0
                used = sat[ch : ch + nj, cw : cw + ni] - sat[:nj, cw : cw + ni] - sat[ch : ch + nj, :ni] + sat[:nj, :ni]
                ys, xs = np.nonzero(used == 0)
                if len(xs):
                    d = np.hypot((xs + i0) * c + w / 2 - anchor[0], (ys + j0) * c + h / 2 - anchor[1])
                    k = int(np.argmin(d))
                    if whole or d[k] <= reach - c:
                        x0, y0 = (xs[k] + i0) * c, (ys[k] + j0) * c
                        return np.array([x0, y0, x0 + w, y0 + h], dtype=np.float64)
            if whole:
                return None
            reach *= 2.0


def place_labels(anchors: np.ndarray, sizes: np.ndarray, image_size: tuple[float, float], *,
                 priority: np.ndarray | None = None, obstacles: np.ndarray | None = None,
                 blocked: np.ndarray | None = None, pad: float = 1.0) -> Placement:
    """Place N labels without overlap (module docstring).

    Args:
        anchors: (N, 2) anchor points, pixels.
        sizes: (N, 2) text box widths and heights, pixels (``pad`` is added on every side).
        image_size: ``(width, height)`` of the picture, pixels.
        priority: (N,) higher first (default: input order).
        obstacles: (M, 4) soft rectangles ``x0, y0, x1, y1`` (avoided where possible).
        blocked: (B, 4) hard rectangles no label may overlap.
        pad: pixels of margin around each text box (part of the returned box).
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2) + 2 * pad
    n = len(anchors)
    width, height = float(image_size[0]), float(image_size[1])
    soft = np.zeros((0, 4)) if obstacles is None else np.asarray(obstacles, dtype=np.float64).reshape(-1, 4)
    hard = np.zeros((0, 4)) if blocked is None else np.asarray(blocked, dtype=np.float64).reshape(-1, 4)
    prio = np.zeros(n) if priority is None else np.asarray(priority, dtype=np.float64)
    order = np.lexsort((np.arange(n), -prio))[:MAX_LABELS]
    boxes = np.zeros((n, 4))
    placed = np.zeros(n, dtype=bool)
    leader = np.zeros(n, dtype=bool)
    taken = np.zeros((len(order) + len(hard), 4))
    taken[: len(hard)] = hard
    k = len(hard)
    grid = _Occupancy(width, height)
    for b in hard:
        grid.mark(b)
    for i in order.tolist():
        w, h = sizes[i]
        if w > width or h > height:
            continue
        box, far = _choose(anchors[i], w, h, width, height, taken[:k], soft, grid)
        if box is None:
            continue
        boxes[i], placed[i], leader[i] = box, True, far
        taken[k] = box
        grid.mark(box)
        k += 1
    return Placement(boxes, placed, leader)


def _gap(box: np.ndarray, p: np.ndarray) -> float:
    """Distance (pixels) from point ``p`` to box ``x0, y0, x1, y1`` (0 inside)."""
    dx = max(box[0] - p[0], 0.0, p[0] - box[2])
    dy = max(box[1] - p[1], 0.0, p[1] - box[3])
    return float(np.hypot(dx, dy))


def _choose(anchor: np.ndarray, w: float, h: float, width: float, height: float, taken: np.ndarray,
            soft: np.ndarray, grid: _Occupancy | None) -> tuple[np.ndarray | None, bool]:
    """The box of one label: the cheapest free candidate of the nearest ring that has one, else
    the free grid position nearest to the anchor; ``(box, leader line?)`` or ``(None, False)``."""
    for r, d in enumerate(RINGS):
        cands = _inside(_ring(anchor, w, h, d, centred=r == 0), width, height)
        free = ~np.any(_overlap_area(cands, taken) > 1e-6, axis=1)
        if not free.any():
            continue
        cost = _overlap_area(cands, soft).sum(axis=1) if len(soft) else np.zeros(len(cands))
        cost = np.where(free, cost, np.inf)
        j = int(np.argmin(cost))  # first of the cheapest: the candidate order breaks ties
        box = cands[j]
        return box, bool(r > 0 or _gap(box, anchor) > RINGS[0] + 2.0)  # shifted away by the image edge
    return (None, False) if grid is None else (grid.nearest_free(anchor, w, h), True)
