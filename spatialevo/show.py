"""One picture that explains a DGE verdict (``spatialevo show``; the pictures of ``docs/tasks.md``).

:func:`verdict_picture` draws, for a question about a scene:

* a caption strip with the question in words (template 0 of ``tasks/<task>.yaml``, else its JSON);
* the frames shown with the question — the ones :func:`~spatialevo.selfplay.evidence.evidence_frames`
  decides (a scene task's clip, an image task's own frames), or ``frames`` — with every object the
  question names outlined in its own colour (the boundary pixels of its id in the frame's instance
  image) and its ``label#id`` written beside it. An image task shows all its frames; a scene task's
  clip (16 frames) is reduced to at most ``max_frames`` that together show the named objects best
  (each tile says which frame of the clip it is);
* a top-down picture (:class:`~spatialevo.scene.topdown.TopDown`) with the task's geometry drawn
  from the DGE's own numbers (:data:`DRAWERS`: the measured segment between the boxes' closest
  points, the facing arrow and the front/back line, the reference camera with its 8 direction
  sectors, the camera pair, the room outline, the counted instances, …);
* a caption strip with the objects, the answer (or the reason code and message of an invalid
  question) and one line per drawn element saying what it is.

Sizes are bounded: tiles fit 320 x 240, at most :data:`MAX_TILES` of them, the top-down
``topdown_size`` pixels, and the whole picture is scaled down to fit :data:`MAX_SIZE`.
:func:`record_picture` does the same for a dataset record (``data.jsonl`` of ``spatialevo generate``):
its scene found again by name, its frames, its answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from spatialevo.dge import DGE, TASKS, Question, TemplateError, Verdict, render
from spatialevo.dge.tasks.base import EVIDENCE_MIN_VISIBLE, Resolved
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.drawing import caption_strip, font, id_color
from spatialevo.scene.labelplace import place_labels
from spatialevo.scene.model import Scene
from spatialevo.scene.topdown import TopDown
from spatialevo.selfplay.evidence import evidence_frames
from spatialevo.showtasks import DRAWERS, ROLE_COLORS, Ctx

#: frame tiles shown at most (a scene task's clip is reduced to these)
MAX_TILES = 4
TILE = (320, 240)
#: the whole picture is scaled down to fit this (width, height)
MAX_SIZE = (1600, 1400)
GAP = 8


@dataclass
class Picture:
    """A verdict picture and what went into it.

    Attributes:
        image: the picture (PIL RGB).
        frames: ids of the frames drawn, in order; ``evidence``: the frames shown with the question.
        outlined: per drawn frame, the refs of the named objects whose outline is in it.
        notes: the caption lines describing the drawn geometry.
        verdict: the verdict drawn.
    """

    image: Image.Image
    frames: list[str]
    evidence: list[str]
    outlined: dict[str, list[str]]
    notes: list[str]
    verdict: Verdict
    problems: list[str] = field(default_factory=list)


def question_text(q: Question) -> str:
    """The question in words (template 0), or its JSON when no template applies."""
    try:
        return render(q, template=0)
    except TemplateError:
        return q.to_json()


def object_colors(r: Resolved | None) -> dict[int, tuple[int, int, int]]:
    """Colour per named object (index into ``scene.objects``): one per question position
    (:data:`ROLE_COLORS`), instances of a counted label each their own."""
    out: dict[int, tuple[int, int, int]] = {}
    if r is None:
        return out
    k = 0
    for inst in r.objects:
        for i in inst:
            if i not in out:
                out[i] = ROLE_COLORS[k] if k < len(ROLE_COLORS) else id_color(i)
                k += 1
    return out


def pick_frames(dge: DGE, evidence: Sequence[str], objects: Sequence[int], n: int) -> list[str]:
    """At most ``n`` of the ``evidence`` frames that together show ``objects`` best: greedily the
    frame showing the most not yet shown objects (visible fraction ≥ the evidence threshold), ties
    by the summed visible fraction, then by clip order; returned in clip order. Without objects:
    ``n`` frames evenly spaced over the evidence."""
    ev = list(evidence)
    if len(ev) <= n:
        return ev
    if not objects:
        idx = np.unique(np.linspace(0, len(ev) - 1, n).round().astype(int))
        return [ev[i] for i in idx]
    vis = np.array([dge.index.visible(f)[list(objects)] for f in ev])  # (F, O)
    seen = vis >= EVIDENCE_MIN_VISIBLE
    chosen: list[int] = []
    covered = np.zeros(len(objects), dtype=bool)
    while len(chosen) < n:
        gain = 1e3 * (seen & ~covered).sum(1) + seen.sum(1) + 1e-3 * vis.sum(1)
        gain[chosen] = -1.0
        gain[~seen.any(1)] = -1.0  # a frame showing none of the objects is not drawn
        j = int(np.argmax(gain))
        if gain[j] < 0:
            break
        chosen.append(j)
        covered |= seen[j]
    return [ev[i] for i in sorted(chosen)] if chosen else ev[:1]


def outline_mask(instance: np.ndarray, ident: int, thickness: int = 2) -> np.ndarray:
    """(H, W) bool boundary pixels of the instance ``ident`` in an instance image (H, W), widened
    to ``thickness`` pixels inwards (a pixel of the object with a 4-neighbour that is not)."""
    m = instance == ident
    inner = m.copy()
    for _ in range(max(1, thickness)):
        e = inner.copy()
        e[1:, :] &= inner[:-1, :]
        e[:-1, :] &= inner[1:, :]
        e[:, 1:] &= inner[:, :-1]
        e[:, :-1] &= inner[:, 1:]
        e[0, :] = e[-1, :] = False
        e[:, 0] = e[:, -1] = False
        inner = e
    return m & ~inner


def frame_tile(scene: Scene, fid: str, colors: Mapping[int, tuple[int, int, int]], caption: str) -> tuple[Image.Image, list[str]]:
    """A frame fitted in :data:`TILE` (aspect kept) with the objects of ``colors`` outlined and
    their refs written (placed without overlap), a caption above; and the refs it shows."""
    imgs = scene.frame_images(fid, ("rgb", "instance"))
    rgb = Image.fromarray(imgs["rgb"]).convert("RGB")
    s = min(TILE[0] / rgb.width, TILE[1] / rgb.height)
    size = (max(1, round(rgb.width * s)), max(1, round(rgb.height * s)))
    rgb = rgb.resize(size, Image.LANCZOS)
    inst = np.asarray(Image.fromarray(imgs["instance"].astype(np.int32)).resize(size, Image.NEAREST))
    arr = np.asarray(rgb).copy()
    shown, anchors, texts, cols = [], [], [], []
    for i, col in colors.items():
        obj = scene.objects[i]
        m = inst == obj.id
        if not m.any():
            continue
        arr[outline_mask(inst, obj.id)] = col
        ys, xs = np.nonzero(m)
        shown.append(obj.ref)
        anchors.append((float(xs.mean()), float(ys.mean())))
        texts.append(obj.ref)
        cols.append(col)
    tile = Image.fromarray(arr)
    d = ImageDraw.Draw(tile)
    f = font(11)
    if texts:
        sizes = np.array([(f.getlength(t) + 4, 14) for t in texts])
        pl = place_labels(np.array(anchors), sizes, tile.size, priority=-np.arange(len(texts), dtype=float))
        for k, (t, col) in enumerate(zip(texts, cols)):
            if pl.placed[k]:
                x0, y0, x1, y1 = pl.boxes[k].tolist()
                d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(255, 255, 255), outline=col, width=2)
                d.text((x0 + 3, y0 + 1), t, fill=(0, 0, 0), font=f)
    head = caption_strip(tile.width, [caption], size=12, pad=3)
    out = Image.new("RGB", (tile.width, head.height + tile.height), (255, 255, 255))
    out.paste(head, (0, 0))
    out.paste(tile, (0, head.height))
    return out, shown


def _in_view(scene: Scene, dge: DGE, fid: str, colors: Mapping[int, tuple[int, int, int]]) -> bool:
    """Whether a named object is visible in frame ``fid`` (the DGE's visible fraction ≥ the evidence threshold)."""
    return bool((dge.index.visible(fid)[list(colors)] >= EVIDENCE_MIN_VISIBLE).any())


def _grid(tiles: list[Image.Image]) -> Image.Image | None:
    """Tiles in rows of two (one row for one or two tiles)."""
    if not tiles:
        return None
    cols = 1 if len(tiles) == 1 else 2
    rows = (len(tiles) + cols - 1) // cols
    cw, ch = max(t.width for t in tiles), max(t.height for t in tiles)
    out = Image.new("RGB", (cols * cw + (cols - 1) * GAP, rows * ch + (rows - 1) * GAP), (255, 255, 255))
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        out.paste(t, (c * (cw + GAP), r * (ch + GAP)))
    return out


def _answer_lines(q: Question, v: Verdict, r: Resolved | None, scene: Scene) -> list[str]:
    lines = []
    if r is not None and r.objects:
        refs = [scene.objects[inst[0]].ref if len(inst) == 1 else f"{lab} ({len(inst)} instances)" for lab, inst in zip(r.labels, r.objects)]
        lines.append("Objects: " + ", ".join(refs))
    if len(q.frames) == 1:
        lines.append(f"Frame: image = frame {q.frames[0]}")
    elif q.frames:
        lines.append("Frames: " + ", ".join(f"image {k + 1} = frame {f}" for k, f in enumerate(q.frames)))
    if v.valid:
        unit = {"m2": " m2"}.get(v.unit or "", f" {v.unit}" if v.unit else "")
        opts = f"   (options: {', '.join(v.options)})" if v.options else ""
        lines.append(f"Answer: {v.answer_text}{unit}{opts}")
    else:
        lines.append(f"Invalid: {v.reason.value if v.reason else '?'} - {v.message}")
    return lines


def verdict_picture(scene: Scene, question: Question | Mapping[str, Any] | str, verdict: Verdict | None = None, *,
                    frames: Sequence[str] | None = None, dge: DGE | None = None, text: str | None = None,
                    max_frames: int = MAX_TILES, topdown_size: int = 560) -> Image.Image:
    """The picture explaining ``verdict`` on ``question`` (module docstring); :func:`explain` has the details."""
    return explain(scene, question, verdict, frames=frames, dge=dge, text=text, max_frames=max_frames, topdown_size=topdown_size).image


def explain(scene: Scene, question: Question | Mapping[str, Any] | str, verdict: Verdict | None = None, *,
            frames: Sequence[str] | None = None, dge: DGE | None = None, text: str | None = None,
            max_frames: int = MAX_TILES, topdown_size: int = 560, answer_line: str | None = None) -> Picture:
    """The :class:`Picture` of a verdict.

    Args:
        scene: the scene the question is about.
        question: a :class:`Question`, its dict or JSON.
        verdict: the verdict to show (default: the DGE's, judged for the frames shown).
        frames: the frames shown with the question (default :func:`evidence_frames`).
        dge: a DGE of ``scene`` to reuse.
        text: the question in words (default :func:`question_text`).
        max_frames: tiles drawn at most (1 … :data:`MAX_TILES`).
        topdown_size: the top-down plot's longer side, pixels (200 … 1200).
        answer_line: the caption line replacing the answer line (a record's own answer).

    Raises:
        SpatialEvoError: a question that is not well-formed data, or a bad size.
    """
    try:
        q = question if isinstance(question, Question) else (Question.from_json(question) if isinstance(question, str) else Question.from_dict(question))
    except (ValueError, TypeError, KeyError) as exc:
        raise SpatialEvoError(f"not a spatialevo question: {exc}") from None
    if q.task not in TASKS:
        raise SpatialEvoError(f"unknown task {q.task!r}; tasks: {', '.join(TASKS)}")
    if not 1 <= int(max_frames) <= MAX_TILES or not 200 <= int(topdown_size) <= 1200:
        raise SpatialEvoError(f"max_frames must be 1 … {MAX_TILES} and topdown_size 200 … 1200, got {max_frames}, {topdown_size}")
    dge = dge if dge is not None and dge.scene is scene else DGE(scene)
    evidence = [f for f in (evidence_frames(scene, q.task, q) if frames is None else frames) if f in dge.index.frames]
    if verdict is None:
        verdict = dge.evaluate(q, shown=evidence or None)
    res = dge.task(q.task).resolve(dge.index, q)
    r = None if isinstance(res, Verdict) else res
    colors = object_colors(r)
    scope = TASKS[q.task].scope
    shown = list(q.frames) if scope != "scene" and set(q.frames) <= set(evidence) else pick_frames(dge, evidence, list(colors), int(max_frames))
    tiles, outlined, problems = [], {}, []
    for k, fid in enumerate(shown):
        cap = (f"image {k + 1}: frame {fid}" if len(q.frames) > 1 else f"image: frame {fid}") if scope != "scene" else \
            f"frame {fid} ({evidence.index(fid) + 1} of the {len(evidence)} shown)"
        if colors and not _in_view(scene, dge, fid, colors):
            cap += " (named objects not in view)"
        try:
            tile, refs = frame_tile(scene, fid, colors, cap)
        except SpatialEvoError as exc:  # no stored image and no mesh to render one
            problems.append(f"frame {fid}: {exc}")
            continue
        tiles.append(tile)
        outlined[fid] = refs
    hidden = sorted({scene.objects[i].ref for i in colors} - {ref for refs in outlined.values() for ref in refs})
    if tiles and hidden and verdict.valid:
        problems.append(f"{', '.join(hidden)}: outlined in none of the frames drawn")
    if scope == "single_image" and outlined and not all(outlined.values()):
        problems.append("the image shows none of the named objects")
    td = TopDown(scene, topdown_size, 36, font_size=11, faint=True)
    notes = DRAWERS[q.task](Ctx(td, scene, dge.index, q, r, verdict, colors)) if r is not None else []
    lines = _answer_lines(q, verdict, r, scene)
    if answer_line is not None:
        lines[-1] = answer_line
    image = _compose(text if text is not None else question_text(q), _grid(tiles), td.image(), lines + notes, q.task)
    return Picture(image, shown, evidence, outlined, notes, verdict, problems)


def geometry_notes(scene: Scene, question: Question, verdict: Verdict, dge: DGE | None = None) -> list[str]:
    """The caption lines saying what :func:`explain` draws for ``question`` on the top-down view
    (the task's drawer run on a small top-down, no frame rendered)."""
    dge = dge if dge is not None and dge.scene is scene else DGE(scene)
    res = dge.task(question.task).resolve(dge.index, question)
    if isinstance(res, Verdict):
        return []
    td = TopDown(scene, 200, 28, objects=False, cameras=False)
    return DRAWERS[question.task](Ctx(td, scene, dge.index, question, res, verdict, object_colors(res)))


def _compose(question: str, frames: Image.Image | None, top: Image.Image, lines: list[str], task: str) -> Image.Image:
    """Question strip, frames and top-down side by side, caption strip; scaled to fit :data:`MAX_SIZE`."""
    body_w = (frames.width + GAP if frames is not None else 0) + top.width
    body_h = max(top.height, frames.height if frames is not None else 0)
    head = caption_strip(body_w, [f"{task}: {question}"], size=15)
    foot = caption_strip(body_w, lines, size=13)
    out = Image.new("RGB", (body_w, head.height + body_h + foot.height), (255, 255, 255))
    out.paste(head, (0, 0))
    x = 0
    if frames is not None:
        out.paste(frames, (0, head.height))
        x = frames.width + GAP
    out.paste(top, (x, head.height))
    out.paste(foot, (0, head.height + body_h))
    s = min(1.0, MAX_SIZE[0] / out.width, MAX_SIZE[1] / out.height)
    if s < 1.0:
        out = out.resize((max(1, int(out.width * s)), max(1, int(out.height * s))), Image.LANCZOS)
    return out


# -- dataset records --------------------------------------------------------------------------
def find_scene(name: str, scenes: Any = "bundled", *, scene_id: str | None = None, labels: str | None = None,
               label_map: str | None = None) -> Scene:
    """The scene a record names (its ``scene``: the source's unique name; else its ``scene_id``)
    in ``scenes``: a :class:`Scene`, a mapping name → scene, a list of scenes, a
    :class:`~spatialevo.selfplay.sources.SceneSource` or a source spec (``"bundled"``,
    ``"synthetic:N"``, a folder; :func:`~spatialevo.selfplay.sources.make_source`).

    Raises:
        SpatialEvoError: no scene of that name.
    """
    from spatialevo.selfplay.sources import SceneSource, make_source

    if isinstance(scenes, Scene):
        if name in (scenes.scene_id,) or scene_id == scenes.scene_id:
            return scenes
        raise SpatialEvoError(f"the record is about scene {name!r}, the scene given is {scenes.scene_id!r}")
    if isinstance(scenes, Mapping):
        for key in (name, scene_id):
            if key in scenes:
                return scenes[key]
        raise SpatialEvoError(f"scene {name!r} is not among the {len(scenes)} scenes given")
    src = scenes if isinstance(scenes, SceneSource) else make_source(scenes, labels=labels, label_map=label_map)
    if name in src.names:
        scene = src.get(src.names.index(name))
        if scene is not None:
            return scene
        raise SpatialEvoError(f"scene {name!r} could not be loaded: {src.skipped[-1][1] if src.skipped else '?'}")
    for i in range(len(src.names)):
        scene = src.get(i)
        if scene is not None and scene.scene_id in (name, scene_id):
            return scene
    raise SpatialEvoError(f"scene {name!r} is not in the scene source ({len(src.names)} scenes: {', '.join(src.names[:5])}"
                          f"{', …' if len(src.names) > 5 else ''}); pass the scenes the dataset was generated from")


def record_picture(record: Mapping[str, Any], scenes: Any = "bundled", *, labels: str | None = None, label_map: str | None = None,
                   max_frames: int = MAX_TILES, topdown_size: int = 560) -> Image.Image:
    """The picture of a dataset record (:func:`explain_record`)."""
    return explain_record(record, scenes, labels=labels, label_map=label_map, max_frames=max_frames, topdown_size=topdown_size).image


def explain_record(record: Mapping[str, Any], scenes: Any = "bundled", *, labels: str | None = None, label_map: str | None = None,
                   max_frames: int = MAX_TILES, topdown_size: int = 560) -> Picture:
    """The :class:`Picture` of a dataset record (:func:`~spatialevo.dataset.qa_record`: ``scene``,
    ``question``, ``question_text``, ``frames``, ``answer_text`` / ``reason``): its scene found in
    ``scenes`` (:func:`find_scene`), the record's frames, its question text and answer. The DGE
    judges the question again for those frames; a different verdict is reported in ``problems``.

    Raises:
        SpatialEvoError: not a record, or its scene is not found.
    """
    try:
        q = Question.from_dict(record["question"])
        name, frames = str(record["scene"]), [str(f) for f in record.get("frames") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise SpatialEvoError(f"not a spatialevo QA record (a line of data.jsonl): {exc}") from None
    scene = find_scene(name, scenes, scene_id=record.get("scene_id"), labels=labels, label_map=label_map)
    dge = DGE(scene)
    v = dge.evaluate(q, shown=frames or None)
    reason = record.get("reason")
    mine = v.answer_text if v.valid else (v.reason.value if v.reason else "")
    theirs = str(record.get("answer_text") or reason or "")
    head = f"Record {record.get('id', '?')} ({name}): answer {theirs}" + (f" {record['unit']}" if record.get("unit") and not reason else "")
    if reason:
        head += f" (the question is invalid for its frames: {reason})"
    problems = []
    if mine != theirs:
        problems.append(f"the record's answer {theirs!r} differs from the DGE's {mine!r} on this scene")
        head += f"   [the DGE now says {mine!r}]"
    pic = explain(scene, q, v, frames=frames, dge=dge, text=record.get("question_text") or None, max_frames=max_frames,
                  topdown_size=topdown_size, answer_line=head)
    pic.problems[:0] = problems
    return pic
