"""Top-down picture of a scene: floor polygon, object footprints, camera trajectory, metric axes.

The picture looks down the world z axis (x to the right, y up in the image). It has metre ticks
with numbers on both axes (every 0.25 … 50 m, at most about 12 per axis) and a light grid, the
floor polygon, the objects' footprints (their boxes' convex outline on the floor, filled with the
label's colour, :func:`~spatialevo.scene.render.label_color`), a ``label#id`` per object placed
without overlap (:mod:`spatialevo.scene.labelplace`; a label pushed away from its object gets a
leader line), the camera trajectory with a dot and a view-direction tick per frame (the optical
axis projected on the floor, :func:`~spatialevo.dge.geometry.camera_heading`) and the frame ids
(thinned where the cameras crowd, so ids never overlap), a title and a legend below (label →
colour, one entry per label present, wrapped in columns).

:class:`TopDown` holds the world → pixel transform (:meth:`TopDown.px`) and draws overlays on the
picture (segments, arrows, highlighted objects, cameras, markers) before :meth:`TopDown.image`
places every label at once and adds the legend: :mod:`spatialevo.show` draws a verdict's geometry
with it. :func:`topdown_image` / :func:`save_topdown` give the plain picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.spatial import ConvexHull, QhullError

from spatialevo.dge.geometry import camera_heading
from spatialevo.scene.drawing import font
from spatialevo.scene.labelplace import place_labels
from spatialevo.scene.model import Frame, ObjectInstance, Scene
from spatialevo.scene.render import label_color

Color = tuple[int, int, int]
BACKGROUND: Color = (250, 250, 248)
GRID: Color = (228, 228, 228)
FLOOR: Color = (236, 228, 212)
TRAJECTORY: Color = (200, 30, 30)
HEADING: Color = (30, 30, 200)
#: tick steps (metres) an axis may use; the smallest giving at most MAX_TICKS ticks is chosen
TICK_STEPS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
MAX_TICKS = 12
#: label priorities: overlays first, then the objects, then the frame ids
PRIORITY_OVERLAY, PRIORITY_OBJECT, PRIORITY_FRAME = 10.0, 0.0, -10.0


def footprint(obj: ObjectInstance) -> np.ndarray:
    """(K, 2) convex outline of an object's box corners projected on the floor (world xy, metres)."""
    xy = obj.box.corners()[:, :2]
    try:
        return xy[ConvexHull(xy).vertices]
    except QhullError:
        return xy[[0, 2, 6, 4]]


def tick_step(span: float) -> float:
    """The tick step (metres) of an axis spanning ``span`` metres (:data:`TICK_STEPS`)."""
    for s in TICK_STEPS:
        if span / s <= MAX_TICKS:
            return s
    return TICK_STEPS[-1] * math.ceil(span / (TICK_STEPS[-1] * MAX_TICKS))


@dataclass
class _Label:
    anchor: tuple[float, float]
    text: str
    priority: float
    color: Color  # box outline and leader line
    size: int


def _color(c: object) -> Color:
    r, g, b = (int(v) for v in c)  # type: ignore[union-attr]
    return (r, g, b)


class TopDown:
    """A top-down picture of ``scene`` being drawn (module docstring).

    Args:
        scene: the scene.
        size: pixels of the plot (axes included) on its longer side; the legend adds a strip below.
        margin: pixels around the plot area (tick numbers and the title sit in it; at least 28).
        include: (K, 2) more world points (metres) the plot must show, e.g. a point a verdict names.
        objects: draw the footprints and their labels (default True).
        cameras: draw the trajectory, view directions and frame ids (default True).
        title: the line above the plot (default: scene id, counts, tick step, floor area).
        font_size: pixels of the label text.
        faint: draw the trajectory and view directions in light colours (under overlays).

    Attributes:
        scale: pixels per metre; ``width`` / ``height``: the plot's size in pixels.
    """

    def __init__(self, scene: Scene, size: int = 900, margin: int = 40, *, include: np.ndarray | None = None,
                 objects: bool = True, cameras: bool = True, title: str | None = None, font_size: int = 12, faint: bool = False):
        self.scene, self.font_size = scene, int(font_size)
        self.traj, self.heading = ((235, 160, 160), (160, 160, 225)) if faint else (TRAJECTORY, HEADING)
        margin = max(int(margin), 28)
        b = scene.bounds()[:, :2]
        pts = [b]
        if scene.frames:
            pts.append(np.array([f.camera_center[:2] for f in scene.frames]))
        if include is not None and len(include):
            pts.append(np.asarray(include, dtype=np.float64).reshape(-1, 2))
        allp = np.concatenate(pts)
        self.lo, hi = allp.min(0), allp.max(0)
        span = np.maximum(hi - self.lo, 1e-3)
        self.scale = (max(int(size), 4 * margin) - 2 * margin) / float(span.max())
        self.margin = margin
        self.width, self.height = (int(v) for v in (np.ceil(span * self.scale) + 2 * margin).astype(int))
        step = tick_step(float(span.max()))
        self.title_lines = _wrap(title if title is not None else self._title(step), font(self.font_size + 1), self.width - 12)
        self.top = max(0, (self.font_size + 5) * len(self.title_lines) + 20 - margin)  # extra rows above the plot for the title
        self.height += self.top
        self.img = Image.new("RGB", (self.width, self.height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.img)
        self._labels: list[_Label] = []
        self._soft: list[tuple[float, float, float, float]] = []
        self._legend: dict[str, tuple[Color, str]] = {}
        self._axes(step, hi)
        if scene.floor_polygon is not None:
            self.draw.polygon(self.pts(scene.floor_polygon), fill=FLOOR, outline=(90, 80, 70), width=3)
        if objects:
            self._objects()
        if cameras and scene.frames:
            self._cameras()

    # -- the transform -------------------------------------------------------------------------
    def px(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates (x right, y down) of world points (N, 2 or 3) in metres (z ignored)."""
        p = (np.asarray(xy, dtype=np.float64).reshape(-1, np.shape(xy)[-1])[:, :2] - self.lo) * self.scale
        return np.c_[p[:, 0] + self.margin, self.height - self.margin - p[:, 1]]

    def pts(self, xy: np.ndarray) -> list[tuple[float, float]]:
        """:meth:`px` as a list of tuples (what PIL draws)."""
        return [(float(x), float(y)) for x, y in self.px(xy)]

    # -- the base picture ----------------------------------------------------------------------
    def _title(self, step: float) -> str:
        s = self.scene
        text = f"{s.scene_id}: {len(s.objects)} objects, {len(s.frames)} frames, ticks every {step:g} m"
        return text + (f", floor {s.floor_area:.2f} m2" if s.floor_area is not None else "")

    def _axes(self, step: float, hi: np.ndarray) -> None:
        """Grid lines, the two axes with ticks and numbers (metres), their names."""
        d, f, m = self.draw, font(max(9, self.font_size - 1)), self.margin
        x0, y1 = m, self.height - m  # plot area: x in [m, width - m], y in [top + m, height - m]
        for axis in (0, 1):
            first = math.ceil(self.lo[axis] / step - 1e-9) * step
            for v in np.arange(first, hi[axis] + 1e-9, step):
                v = 0.0 if abs(v) < 1e-9 else float(v)
                if axis == 0:
                    x = float(self.px(np.array([[v, self.lo[1]]]))[0, 0])
                    d.line([(x, self.top + m), (x, y1)], fill=GRID)
                    d.line([(x, y1), (x, y1 + 5)], fill=(60, 60, 60), width=1)
                    d.text((x, y1 + 6), f"{v:g}", fill=(60, 60, 60), font=f, anchor="ma")
                else:
                    y = float(self.px(np.array([[self.lo[0], v]]))[0, 1])
                    d.line([(x0, y), (self.width - m, y)], fill=GRID)
                    d.line([(x0 - 5, y), (x0, y)], fill=(60, 60, 60), width=1)
                    d.text((x0 - 7, y), f"{v:g}", fill=(60, 60, 60), font=f, anchor="rm")
        d.line([(x0, self.top + m), (x0, y1), (self.width - m, y1)], fill=(60, 60, 60), width=1)
        d.text((self.width - m + 6, y1), "x (m)", fill=(60, 60, 60), font=f, anchor="lm")
        d.text((4, self.top + m - 16), "y (m)", fill=(60, 60, 60), font=f)

    def _objects(self) -> None:
        """Footprints (tall objects last, so small ones stay visible beside them) and their labels."""
        d = self.draw
        for obj in sorted(self.scene.objects, key=lambda o: float(o.box.corners()[:, 2].max())):
            col = _color(label_color(obj.label))
            d.polygon(self.pts(footprint(obj)), fill=col, outline=(40, 40, 40), width=2)
            self._legend.setdefault(obj.label, (col, "box"))
        for obj in self.scene.objects:
            self.label(obj.box.center[:2], obj.ref, priority=PRIORITY_OBJECT)

    def _cameras(self) -> None:
        """Trajectory, a dot and a view-direction tick per frame, thinned frame ids."""
        d = self.draw
        path = self.px(np.array([f.camera_center[:2] for f in self.scene.frames]))
        if len(path) > 1:
            d.line([tuple(p) for p in path.tolist()], fill=self.traj, width=2)
        tick = max(0.3 * self.scale, 12.0)
        for f, (x, y) in zip(self.scene.frames, path.tolist()):
            h, n = camera_heading(f.T_wc)
            if n > 1e-6:
                d.line([(x, y), (x + tick * h[0], y - tick * h[1])], fill=self.heading, width=2)
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=self.traj)
            self._soft.append((x - 4, y - 4, x + 4, y + 4))
        self._legend["camera, view direction"] = (self.heading, "camera")
        for k in self._thinned(path):
            pr = PRIORITY_FRAME + (1.0 if k in (0, len(path) - 1) else 0.0)
            self.label_px(tuple(path[k]), self.scene.frames[k].id, priority=pr, color=self.traj, size=max(9, self.font_size - 2))

    def _thinned(self, path: np.ndarray) -> list[int]:
        """Frames whose id is written: first and last, then in order each camera at least one id
        width from every kept one (the label placer keeps the rest apart)."""
        f = font(max(9, self.font_size - 2))
        gap = max((f.getlength(fr.id) for fr in self.scene.frames), default=0.0) + 6.0
        keep: list[int] = []
        for k in [0, len(path) - 1, *range(1, len(path) - 1)]:
            if k in keep:
                continue
            if not keep or np.min(np.hypot(*(path[keep] - path[k]).T)) >= gap:
                keep.append(k)
        return sorted(keep)

    # -- overlays ------------------------------------------------------------------------------
    def label(self, xy: np.ndarray, text: str, *, priority: float = PRIORITY_OVERLAY, color: Color = (110, 110, 110),
              size: int | None = None) -> None:
        """Write ``text`` near world point ``xy`` (metres), placed with all labels at :meth:`image`."""
        self.label_px(tuple(self.px(np.asarray(xy)[:2])[0]), text, priority=priority, color=color, size=size)

    def label_px(self, p: tuple[float, float], text: str, *, priority: float = PRIORITY_OVERLAY, color: Color = (110, 110, 110),
                 size: int | None = None) -> None:
        """Write ``text`` near pixel ``p`` (placed at :meth:`image`)."""
        self._labels.append(_Label((float(p[0]), float(p[1])), text, float(priority), color, int(size or self.font_size)))

    def legend(self, text: str, color: Color, kind: str = "line") -> None:
        """Add a legend entry (``kind``: ``"box"``, ``"line"`` or ``"camera"``)."""
        self._legend[text] = (color, kind)

    def highlight(self, obj: ObjectInstance, color: Color, text: str | None = None, width: int = 4) -> None:
        """Outline ``obj``'s footprint in ``color`` and write ``text`` (default its ref) beside it, first."""
        pts = self.pts(footprint(obj))
        self.draw.line(pts + pts[:1], fill=color, width=width, joint="curve")
        xs, ys = zip(*pts)
        self._soft.append((min(xs), min(ys), max(xs), max(ys)))
        self.label(obj.box.center[:2], text or obj.ref, priority=PRIORITY_OVERLAY, color=color)
        self._labels = [lab for lab in self._labels if not (lab.text == obj.ref and lab.priority == PRIORITY_OBJECT)]

    def segment(self, p: np.ndarray, q: np.ndarray, color: Color, text: str | None = None, *, width: int = 3,
                dashed: bool = False, ends: bool = True, clip: bool = False) -> None:
        """A segment between world points ``p`` and ``q`` (metres), end dots, ``text`` at its middle;
        ``clip``: only its part inside the plot area (guide lines)."""
        a, b = self.pts(np.array([p[:2], q[:2]]))
        if clip:
            ab = self.clip_px(a, b)
            if ab is None:
                return
            a, b = ab
        if dashed:
            self._dashed(a, b, color, width)
        else:
            self.draw.line([a, b], fill=color, width=width)
        if ends:
            for x, y in (a, b):
                self.draw.ellipse([x - width - 1, y - width - 1, x + width + 1, y + width + 1], fill=color)
        if text:
            self.label_px(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), text, color=color)

    def arrow(self, p: np.ndarray, q: np.ndarray, color: Color, text: str | None = None, *, width: int = 3,
              dashed: bool = False) -> None:
        """An arrow from world point ``p`` to ``q`` (metres), ``text`` at its tip."""
        a, b = self.pts(np.array([p[:2], q[:2]]))
        self.arrow_px(a, b, color, width=width, dashed=dashed)
        if text:
            self.label_px(b, text, color=color)

    def arrow_px(self, a: tuple[float, float], b: tuple[float, float], color: Color, *, width: int = 3, dashed: bool = False) -> None:
        """An arrow between pixels ``a`` and ``b`` (head at ``b``)."""
        if dashed:
            self._dashed(a, b, color, width)
        else:
            self.draw.line([a, b], fill=color, width=width)
        v = np.subtract(b, a)
        n = float(np.hypot(*v))
        if n < 1e-6:
            return
        u, s = v / n, 5.0 + 2.0 * width
        left = (b[0] - s * u[0] + 0.5 * s * u[1], b[1] - s * u[1] - 0.5 * s * u[0])
        right = (b[0] - s * u[0] - 0.5 * s * u[1], b[1] - s * u[1] + 0.5 * s * u[0])
        self.draw.polygon([b, left, right], fill=color)

    def marker(self, xy: np.ndarray, color: Color, text: str | None = None, r: float = 6.0) -> None:
        """A ringed dot at world point ``xy`` (metres), ``text`` beside it."""
        x, y = self.pts(np.asarray(xy)[:2])[0]
        self.draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255), outline=color, width=3)
        self.draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
        self._soft.append((x - r, y - r, x + r, y + r))
        if text:
            self.label_px((x, y), text, color=color)

    def camera(self, frame: Frame, color: Color, text: str | None = None, *, length_m: float = 0.8) -> None:
        """A camera: its centre, view direction arrow and horizontal field of view (wedge), ``text``."""
        c = frame.camera_center
        h, n = camera_heading(frame.T_wc)
        x, y = self.pts(c[:2])[0]
        length = max(length_m * self.scale, 24.0)
        if n > 1e-6:
            half = math.atan2(0.5 * frame.width, float(frame.K[0, 0]))
            for s in (-1.0, 1.0):
                ang = math.atan2(h[1], h[0]) + s * half
                self.draw.line([(x, y), (x + 0.8 * length * math.cos(ang), y - 0.8 * length * math.sin(ang))], fill=color, width=1)
            self.arrow_px((x, y), (x + length * h[0], y - length * h[1]), color, width=3)
        self.draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=color, outline=(255, 255, 255), width=2)
        self._soft.append((x - 7, y - 7, x + 7, y + 7))
        if text:
            self.label_px((x, y), text, color=color)

    def polygon(self, xy: np.ndarray, color: Color, *, width: int = 4, fill: Color | None = None) -> None:
        """A closed outline through world points (K, 2) in metres."""
        pts = self.pts(xy)
        if fill is not None:
            self.draw.polygon(pts, fill=fill)
        self.draw.line(pts + pts[:1], fill=color, width=width, joint="curve")

    def clip_px(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The part of the pixel segment ``a``–``b`` inside the plot area (Liang–Barsky), or ``None``."""
        lo = (float(self.margin), float(self.top + self.margin))
        hi = (float(self.width - self.margin), float(self.height - self.margin))
        t0, t1 = 0.0, 1.0
        for k in (0, 1):
            dk = b[k] - a[k]
            for p, q in ((-dk, a[k] - lo[k]), (dk, hi[k] - a[k])):
                if abs(p) < 1e-12:
                    if q < 0:
                        return None
                    continue
                t = q / p
                if p < 0:
                    t0 = max(t0, t)
                else:
                    t1 = min(t1, t)
        if t0 > t1:
            return None
        return ((a[0] + t0 * (b[0] - a[0]), a[1] + t0 * (b[1] - a[1])), (a[0] + t1 * (b[0] - a[0]), a[1] + t1 * (b[1] - a[1])))

    def _dashed(self, a: tuple[float, float], b: tuple[float, float], color: Color, width: int, dash: float = 8.0) -> None:
        n = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        k = max(1, int(n // dash))
        for i in range(0, k, 2):
            t0, t1 = i / k, min(1.0, (i + 1) / k)
            self.draw.line([(a[0] + t0 * (b[0] - a[0]), a[1] + t0 * (b[1] - a[1])),
                            (a[0] + t1 * (b[0] - a[0]), a[1] + t1 * (b[1] - a[1]))], fill=color, width=width)

    # -- finishing -----------------------------------------------------------------------------
    def image(self) -> Image.Image:
        """The finished picture: a copy of the plot with every label placed, the title and the legend."""
        img = self.img.copy()
        d = ImageDraw.Draw(img)
        tf = font(self.font_size + 1)
        for k, line in enumerate(self.title_lines):
            d.text((6, 6 + k * (self.font_size + 5)), line, fill=(0, 0, 0), font=tf)
        title_box = (0.0, 0.0, float(self.width), 6.0 + len(self.title_lines) * (self.font_size + 5))
        self._draw_labels(d, title_box)
        return self._with_legend(img)

    def _draw_labels(self, d: ImageDraw.ImageDraw, title_box: tuple[float, float, float, float]) -> None:
        labs = self._labels
        if not labs:
            return
        sizes = []
        for lab in labs:
            x0, y0, x1, y1 = font(lab.size).getbbox(lab.text)
            sizes.append((x1 + 4, max(y1, lab.size) + 3))
        pl = place_labels(np.array([lab.anchor for lab in labs]), np.array(sizes, dtype=np.float64), (self.width, self.height),
                          priority=np.array([lab.priority for lab in labs]), obstacles=np.array(self._soft).reshape(-1, 4),
                          blocked=np.array([title_box]))
        self.placement = pl
        for i, lab in enumerate(labs):
            if pl.placed[i] and pl.leader[i]:
                d.line([lab.anchor, pl.anchor_point(i, np.array(lab.anchor))], fill=lab.color, width=1)
        for i, lab in enumerate(labs):
            if not pl.placed[i]:
                continue
            x0, y0, x1, y1 = pl.boxes[i].tolist()
            d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(255, 255, 255), outline=lab.color, width=1)
            d.text((x0 + 3, y0 + 2), lab.text, fill=(0, 0, 0), font=font(lab.size))

    def _with_legend(self, img: Image.Image) -> Image.Image:
        """``img`` with the legend strip below: entries in columns of equal width, row by row."""
        if not self._legend:
            return img
        f = font(max(9, self.font_size - 1))
        items = list(self._legend.items())
        colw = int(max(f.getlength(t) for t, _ in items)) + 30
        ncol = max(1, (self.width - 2 * 8) // colw)
        rows = math.ceil(len(items) / ncol)
        rowh = self.font_size + 6
        out = Image.new("RGB", (img.width, img.height + rows * rowh + 12), (255, 255, 255))
        out.paste(img, (0, 0))
        d = ImageDraw.Draw(out)
        for k, (text, (col, kind)) in enumerate(items):
            r, c = divmod(k, ncol)
            x, y = 8 + c * colw, img.height + 6 + r * rowh
            if kind == "box":
                d.rectangle([x, y + 2, x + 16, y + rowh - 4], fill=col, outline=(40, 40, 40))
            elif kind == "camera":
                d.ellipse([x, y + 3, x + 7, y + 10], fill=self.traj)
                d.line([(x + 4, y + 6), (x + 18, y + 6)], fill=col, width=2)
            else:
                d.line([(x, y + rowh // 2 - 1), (x + 16, y + rowh // 2 - 1)], fill=col, width=3)
            d.text((x + 22, y + 1), text, fill=(0, 0, 0), font=f)
        return out


def _wrap(text: str, f: object, width: float) -> list[str]:
    """``text`` broken at spaces into lines at most ``width`` pixels wide in font ``f``."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and f.getlength(f"{lines[-1]} {word}") <= width:  # type: ignore[attr-defined]
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def topdown_image(scene: Scene, size: int = 900, margin: int = 40) -> Image.Image:
    """The top-down picture (module docstring) as a PIL RGB image: the plot ``size`` pixels on its
    longer side (axes and margins included), the legend strip below it."""
    return TopDown(scene, size, margin).image()


def save_topdown(scene: Scene, path: str | Path, size: int = 900) -> Path:
    """Write the top-down PNG of ``scene`` to ``path`` (parents created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    topdown_image(scene, size).save(path, format="PNG")
    return path
