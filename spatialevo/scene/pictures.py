"""Pictures of a frame's images that people can look at: colourised depth with a colour bar in
metres, colourised instance masks, and an overview sheet of many frames.

Inputs are the arrays of :meth:`Scene.frame_images` / :func:`spatialevo.scene.render.render_frame`:
``depth`` (H, W) float metres, camera z-depth (not the distance along the ray), 0 where nothing
is hit; ``instance`` (H, W) int object ids (``-1`` no hit, ``-2`` floor, ``-3`` ceiling, ``-4``
wall); ``rgb`` (H, W, 3) uint8. Outputs are PIL images.

:func:`depth_picture` and :func:`instance_picture` (without an RGB underlay) return palette
(``"P"``) images: one byte per pixel, so writing them as PNG costs a fraction of an RGB image's
time and size; ``.convert("RGB")`` gives the pixels. Colours: viridis
(:func:`spatialevo.scene.drawing.colormap`, 240 levels) for depth with no-hit pixels in
:data:`~spatialevo.scene.drawing.NO_VALUE_COLOR`; for an object id the blend of its label's
colour (:func:`~spatialevo.scene.render.label_color`) with the id's colour
(:func:`~spatialevo.scene.drawing.id_color`), so two chairs differ and a chair keeps its colour in
every frame; muted greys for floor, wall and ceiling; black for no hit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from spatialevo.scene.drawing import NO_VALUE_COLOR, caption_strip, colormap, font, id_color
from spatialevo.scene.model import CEILING_ID, FLOOR_ID, NO_HIT, WALL_ID, Frame, Scene
from spatialevo.scene.render import label_color

#: depth palette: indices 0..LEVELS-1 viridis, NO_VALUE_INDEX, then GREYS levels white → black
LEVELS = 240
NO_VALUE_INDEX = LEVELS
WHITE_INDEX = LEVELS + 1
GREYS = 8
#: colours of the structure codes and of "no hit" in instance pictures
STRUCTURE_COLORS = {FLOOR_ID: (112, 112, 112), WALL_ID: (150, 150, 150), CEILING_ID: (188, 188, 188), NO_HIT: (0, 0, 0)}
#: share of the object colour in an instance picture over RGB (``alpha``) and of the label colour in an object colour
OVERLAY_ALPHA = 0.55
LABEL_SHARE = 0.5
#: robust depth range: these percentiles of the valid pixels, widened to whole decimetres
DEPTH_PERCENTILES = (2.0, 98.0)
SAMPLES = 20_000
#: the overview sheet shows at most this many frames (evenly spaced), so its size stays bounded
MAX_SHEET_FRAMES = 64
_TICK_STEPS = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0)


def _depth_palette() -> np.ndarray:
    """(256, 3) uint8 palette of depth pictures (see the constants above)."""
    pal = np.zeros((256, 3), np.uint8)
    pal[:LEVELS] = colormap(np.linspace(0.0, 1.0, LEVELS))
    pal[NO_VALUE_INDEX] = NO_VALUE_COLOR
    pal[WHITE_INDEX:WHITE_INDEX + GREYS] = np.rint(np.linspace(255, 0, GREYS))[:, None].astype(np.uint8)
    return pal


DEPTH_PALETTE = _depth_palette()


def depth_range(depth_m: np.ndarray) -> tuple[float, float]:
    """Robust colour range (lo, hi) in metres of a depth image (any shape, 0 / non-finite = no
    value): the :data:`DEPTH_PERCENTILES` of the valid values (of a regular grid of about
    :data:`SAMPLES` pixels of a larger 2D image), lo rounded down and hi up to 0.1 m, hi > lo; (0, 1) when nothing is valid."""
    d = np.asarray(depth_m)
    if d.ndim == 2 and d.size > 4 * SAMPLES:
        step = int(math.sqrt(d.size / SAMPLES))
        d = d[step // 2::step, step // 2::step]
    v = d[np.isfinite(d) & (d > 0)].astype(np.float64)
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(v, DEPTH_PERCENTILES)
    lo, hi = math.floor(lo * 10 + 1e-9) / 10, math.ceil(hi * 10 - 1e-9) / 10
    return lo, max(hi, lo + 0.1)


def depth_indices(depth_m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(H, W) uint8 indices into :data:`DEPTH_PALETTE` of a depth image in metres for the colour
    range [lo, hi] (clipped); no value (0, negative, non-finite) → :data:`NO_VALUE_INDEX`."""
    d = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        idx = np.clip(np.rint((d - np.float32(lo)) * np.float32((LEVELS - 1) / (hi - lo))), 0, LEVELS - 1).astype(np.uint8)
        idx[~(d > 0) | ~np.isfinite(d)] = NO_VALUE_INDEX
    return idx


def _ticks(lo: float, hi: float, max_ticks: int) -> tuple[np.ndarray, int]:
    """Round tick values in [lo, hi] (at most ``max_ticks``) and the decimals to print them with."""
    step = next((s for s in _TICK_STEPS if (hi - lo) / s <= max_ticks), _TICK_STEPS[-1])
    ticks = np.arange(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1) * step
    decimals = 0 if step >= 1 else (1 if abs(step * 10 - round(step * 10)) < 1e-9 else 2)
    return ticks, decimals


def colorbar_indices(height: int, lo: float, hi: float, font_size: int | None = None) -> np.ndarray:
    """(height, Wb) uint8 :data:`DEPTH_PALETTE` indices of a vertical colour bar for [lo, hi] metres:
    far (hi) at the top, near (lo) at the bottom, tick marks and labels such as ``"2.5 m"`` on
    white to its right. Wb depends on the font size (default: ``height / 36``, at least 10 px).
    Read-only (cached: frames of one scene mostly share their rounded ranges)."""
    return _colorbar(int(height), float(lo), float(hi), int(font_size or max(10, round(height / 36))))


@lru_cache(maxsize=64)
def _colorbar(height: int, lo: float, hi: float, fs: int) -> np.ndarray:
    if height < 8:  # too small for labels: the gradient alone
        bar = np.repeat(depth_indices(np.linspace(hi, lo, height), lo, hi)[:, None], 10, axis=1)
        bar.setflags(write=False)
        return bar
    fs = min(fs, (height - 2) // 3)
    f = font(fs)
    y0, y1 = fs, max(fs + 1, height - 1 - fs)  # bar rows: lo at y1, hi at y0
    ticks, dec = _ticks(lo, hi, max(2, min(8, (y1 - y0) // (2 * fs + 4))))
    labels = [f"{t:.{dec}f} m" for t in ticks]
    bar_x0, bar_w = 6, max(10, fs)
    text_x = bar_x0 + bar_w + 6
    width = text_x + int(max((f.getlength(s) for s in labels), default=0)) + 6
    out = np.full((height, width), WHITE_INDEX, np.uint8)
    rows = np.arange(y0, y1 + 1)
    vals = hi - (rows - y0) / max(1, y1 - y0) * (hi - lo)
    out[y0:y1 + 1, bar_x0:bar_x0 + bar_w] = depth_indices(vals, lo, hi)[:, None]
    mask = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(mask)
    d.rectangle([bar_x0 - 1, y0 - 1, bar_x0 + bar_w, y1 + 1], outline=255)
    for t, s in zip(ticks, labels):
        y = y0 + (hi - t) / (hi - lo) * (y1 - y0)
        d.line([(bar_x0 + bar_w, y), (bar_x0 + bar_w + 4, y)], fill=255)
        d.text((text_x, y), s, fill=255, font=f, anchor="lm")
    m = np.asarray(mask)
    ink = m > 0
    out[ink] = WHITE_INDEX + np.rint(m[ink] * ((GREYS - 1) / 255.0)).astype(np.uint8)
    out.setflags(write=False)
    return out


def depth_picture(depth_m: np.ndarray, *, vmin: float | None = None, vmax: float | None = None,
                  colorbar: bool = True) -> Image.Image:
    """Colourised depth: a ``"P"`` image of (W + Wb, H) pixels for an (H, W) depth image in metres
    (camera z-depth, 0 = no hit), viridis from ``vmin`` (near, dark) to ``vmax`` (far, yellow),
    by default :func:`depth_range`; no-hit pixels in :data:`~spatialevo.scene.drawing.NO_VALUE_COLOR`.
    With ``colorbar`` a vertical colour bar Wb pixels wide with tick labels in metres is appended
    on the right (Wb = 0 without)."""
    d = np.asarray(depth_m)
    if d.ndim != 2:
        raise ValueError(f"depth must be an (H, W) array, got shape {d.shape}")
    lo, hi = depth_range(d) if vmin is None or vmax is None else (0.0, 1.0)
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"depth colour range needs finite vmax > vmin, got [{lo}, {hi}] m")
    idx = depth_indices(d, lo, hi)
    if colorbar:
        idx = np.concatenate([idx, colorbar_indices(d.shape[0], lo, hi)], axis=1)
    img = Image.fromarray(idx, "P")
    img.putpalette(DEPTH_PALETTE.tobytes())
    return img


def instance_colors(ids: np.ndarray, scene: Scene | None = None) -> np.ndarray:
    """(K, 3) uint8 colours of the instance values ``ids`` (K,): an object id of ``scene`` gets its
    label's colour blended with the id's colour (share :data:`LABEL_SHARE` of the label's), other
    ids ≥ 0 the id's colour, the structure codes and -1 :data:`STRUCTURE_COLORS`, any other
    negative value black."""
    labels = {o.id: o.label for o in scene.objects} if scene is not None else {}
    out = np.zeros((len(ids), 3), np.uint8)
    for k, i in enumerate(np.asarray(ids).tolist()):
        if i < 0:
            out[k] = STRUCTURE_COLORS.get(i, (0, 0, 0))
        elif i in labels:
            out[k] = np.rint(LABEL_SHARE * label_color(labels[i]) + (1 - LABEL_SHARE) * np.array(id_color(i)))
        else:
            out[k] = id_color(i)
    return out


def _unique_inverse(instance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of an int image and the (H, W) index of each pixel's value; values
    below -4 count as -1. A bincount table when the ids are small (one pass), else ``np.unique``."""
    off = np.asarray(instance).astype(np.intp) - WALL_ID
    off[off < 0] = NO_HIT - WALL_ID
    top = int(off.max()) if off.size else 0
    if top < 1 << 20:
        present = np.flatnonzero(np.bincount(off.ravel(), minlength=1))
        lut = np.zeros(top + 1, np.intp)
        lut[present] = np.arange(len(present))
        return present + WALL_ID, lut[off]
    uniq, inv = np.unique(off, return_inverse=True)
    return uniq + WALL_ID, inv.reshape(off.shape)


def instance_picture(instance: np.ndarray, scene: Scene | None = None, rgb: np.ndarray | None = None,
                     alpha: float = OVERLAY_ALPHA, labels: bool = False) -> Image.Image:
    """Colourised instance mask of an (H, W) instance image: a (W, H) picture, each value its
    :func:`instance_colors` colour. With ``rgb`` ((H, W, 3) uint8) the colours are laid over it
    with opacity ``alpha``; with ``labels`` (needs ``scene``) each object covering ≥ 0.2 % of the
    image gets its ``label#id`` at the mean of its pixels. A ``"P"`` image when neither is asked
    and at most 256 values occur, else ``"RGB"``."""
    inst = np.asarray(instance)
    if inst.ndim != 2:
        raise ValueError(f"instance must be an (H, W) array, got shape {inst.shape}")
    uniq, inv = _unique_inverse(inst)
    colors = instance_colors(uniq, scene)
    if rgb is None and not labels and len(uniq) <= 256:
        img = Image.fromarray(inv.astype(np.uint8), "P")
        img.putpalette(colors.tobytes())
        return img
    pix = colors[inv]
    if rgb is not None:
        base = np.asarray(rgb, dtype=np.float32)
        if base.shape != inst.shape + (3,):
            raise ValueError(f"rgb must be {inst.shape + (3,)}, got {base.shape}")
        pix = np.rint((1 - alpha) * base + alpha * pix).astype(np.uint8)
    img = Image.fromarray(pix, "RGB")
    if labels and scene is not None:
        _draw_labels(img, inv, uniq, scene)
    return img


def _draw_labels(img: Image.Image, inv: np.ndarray, uniq: np.ndarray, scene: Scene) -> None:
    """Write ``label#id`` of every object of ``scene`` covering ≥ 0.2 % of ``img`` at its pixels' mean."""
    h, w = inv.shape
    n = np.bincount(inv.ravel(), minlength=len(uniq))
    ys, xs = np.indices(inv.shape)
    sx = np.bincount(inv.ravel(), weights=xs.ravel(), minlength=len(uniq))
    sy = np.bincount(inv.ravel(), weights=ys.ravel(), minlength=len(uniq))
    refs = {o.id: o.ref for o in scene.objects}
    f = font(max(10, round(h / 40)))
    draw = ImageDraw.Draw(img)
    for k, i in enumerate(uniq.tolist()):
        if i in refs and n[k] >= 0.002 * h * w:
            x, y = sx[k] / n[k], sy[k] / n[k]
            box = draw.textbbox((x, y), refs[i], font=f, anchor="mm")
            draw.rectangle(box, fill=(255, 255, 255))
            draw.text((x, y), refs[i], fill=(0, 0, 0), font=f, anchor="mm")


def sheet_frames(frames: Sequence[Frame], max_frames: int = MAX_SHEET_FRAMES) -> list[Frame]:
    """At most ``max_frames`` of ``frames``, evenly spaced, first and last included, in order."""
    if len(frames) <= max_frames:
        return list(frames)
    keep = np.unique(np.rint(np.linspace(0, len(frames) - 1, max_frames)).astype(int))
    return [frames[k] for k in keep]


class SheetBuilder:
    """Collects thumbnails of frames one at a time, then lays them out as an overview sheet.

    Memory is bounded by the thumbnails: per frame an (h, ``thumb``, 3) uint8 RGB thumbnail and
    (h, ``thumb``) nearest-neighbour samples of depth (float32 metres) and instance ids (int32),
    h = ``thumb`` · H / W. Depth thumbnails share one colour range, drawn as one colour bar.
    """

    def __init__(self, scene: Scene, kinds: Sequence[str] = ("rgb", "depth", "instance"), thumb: int = 160,
                 columns: int | None = None, total_frames: int | None = None) -> None:
        bad = [k for k in kinds if k not in ("rgb", "depth", "instance")]
        if bad or not kinds:
            raise ValueError(f"sheet kinds must be among rgb, depth, instance, got {list(kinds)}")
        if thumb < 16:
            raise ValueError(f"thumbnail width must be >= 16 pixels, got {thumb}")
        self.scene, self.kinds, self.thumb, self.columns = scene, tuple(kinds), int(thumb), columns
        self.total_frames = total_frames
        self.cells: list[tuple[str, dict[str, np.ndarray]]] = []

    def add(self, frame_id: str, images: Mapping[str, np.ndarray]) -> None:
        """Add one frame's thumbnails from its full-size ``images`` (keys as in ``frame_images``)."""
        h, w = next(iter(images[k] for k in self.kinds)).shape[:2]  # the cell's aspect: the first kind's
        tw, th = self.thumb, max(1, round(self.thumb * h / w))
        cell: dict[str, np.ndarray] = {}
        for k in self.kinds:
            a = images[k]  # each kind sampled on its own grid (a scan's depth may be smaller than its RGB)
            if k == "rgb":
                cell[k] = np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize((tw, th), Image.BILINEAR, reducing_gap=2.0))
            else:
                rows = ((np.arange(th) + 0.5) * a.shape[0] / th).astype(np.intp)
                cols = ((np.arange(tw) + 0.5) * a.shape[1] / tw).astype(np.intp)
                cell[k] = np.ascontiguousarray(a[rows[:, None], cols[None, :]], dtype=np.float32 if k == "depth" else np.int32)
        self.cells.append((str(frame_id), cell))

    def image(self) -> Image.Image:
        """The sheet (RGB): a title strip, then a grid of cells (``columns`` per row; default about
        16:9 overall), each cell the frame's thumbnails side by side under ``frame <id>``; with
        depth, one colour bar in metres on the right."""
        if not self.cells:
            raise ValueError("an overview sheet needs at least one frame")
        lo, hi = 0.0, 1.0
        if "depth" in self.kinds:
            lo, hi = depth_range(np.concatenate([c["depth"].ravel() for _, c in self.cells]))
        gap, pad, fs = 3, 8, 12
        head = fs + 6
        tw = self.thumb
        th = max(next(iter(c.values())).shape[0] for _, c in self.cells)
        cw, ch = len(self.kinds) * tw + (len(self.kinds) - 1) * gap, head + th
        n = len(self.cells)
        cols = self.columns or max(1, min(n, math.ceil(math.sqrt(n * 16 / 9 * ch / cw))))
        nrows = math.ceil(n / cols)
        body = Image.new("RGB", (pad + cols * (cw + pad), pad + nrows * (ch + pad)), (255, 255, 255))
        draw = ImageDraw.Draw(body)
        for k, (fid, cell) in enumerate(self.cells):
            x, y = pad + (k % cols) * (cw + pad), pad + (k // cols) * (ch + pad)
            draw.text((x, y + head / 2), f"frame {fid}", fill=(0, 0, 0), font=font(fs), anchor="lm")
            for j, kind in enumerate(self.kinds):
                body.paste(self._thumb_picture(kind, cell[kind], lo, hi), (x + j * (tw + gap), y + head))
        if "depth" in self.kinds:
            bar = Image.fromarray(colorbar_indices(body.height, lo, hi, font_size=fs), "P")
            bar.putpalette(DEPTH_PALETTE.tobytes())
            wide = Image.new("RGB", (body.width + bar.width, body.height), (255, 255, 255))
            wide.paste(body, (0, 0))
            wide.paste(bar.convert("RGB"), (body.width, 0))
            body = wide
        shown = f"{n} frames" if self.total_frames in (None, n) else f"{n} of {self.total_frames} frames (evenly spaced)"
        what = " | ".join({"rgb": "RGB", "depth": "depth (colour bar in metres, right)", "instance": "instances"}[k] for k in self.kinds)
        title = caption_strip(body.width, [f"{self.scene.scene_id}: {shown}; each cell: {what}"], size=14)
        sheet = Image.new("RGB", (body.width, title.height + body.height), (255, 255, 255))
        sheet.paste(title, (0, 0))
        sheet.paste(body, (0, title.height))
        return sheet

    def _thumb_picture(self, kind: str, a: np.ndarray, lo: float, hi: float) -> Image.Image:
        if kind == "rgb":
            return Image.fromarray(a, "RGB")
        if kind == "depth":
            return Image.fromarray(DEPTH_PALETTE[depth_indices(a, lo, hi)], "RGB")
        return instance_picture(a, self.scene).convert("RGB")


def frame_sheet(scene: Scene, frames: Sequence[Frame] | None = None, *, kinds: Sequence[str] = ("rgb", "depth", "instance"),
                thumb: int = 160, columns: int | None = None, max_frames: int = MAX_SHEET_FRAMES) -> Image.Image:
    """Overview sheet (RGB) of ``frames`` of ``scene`` (default: all; at most ``max_frames`` of
    them, evenly spaced): per frame its ``kinds`` as thumbnails ``thumb`` pixels wide with the frame
    id above (:class:`SheetBuilder`). Images come from :meth:`Scene.frame_images` (stored, or
    rendered from the mesh), one frame at a time."""
    frames = list(scene.frames if frames is None else frames)
    builder = SheetBuilder(scene, kinds, thumb, columns, total_frames=len(frames))
    for f in sheet_frames(frames, max_frames):
        builder.add(f.id, scene.frame_images(f, tuple(kinds)))
    return builder.image()
