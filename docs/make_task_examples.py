"""Regenerate the worked examples of ``docs/tasks.md`` and their pictures in ``docs/images/tasks/``.

For each of the sixteen DGE tasks: take the first bundled scene (``rect_small``; the next one when
it has no valid question of the task), draw a valid question with
``DGE(scene).sample(task, make_rng(0, 0))``, evaluate it, write ``docs/images/tasks/<task>.png``
(the frame(s) at 320x240 for image tasks, the top-down picture for scene tasks) and rewrite the
block between ``<!-- example:<task> -->`` and ``<!-- /example:<task> -->`` in ``docs/tasks.md``.
Deterministic: running it twice gives the same files.

    .venv/bin/python docs/make_task_examples.py            # pictures + example blocks
    .venv/bin/python docs/make_task_examples.py --check    # exit 1 when docs/tasks.md is out of date
    .venv/bin/python docs/make_task_examples.py --print    # print the blocks, write nothing
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from spatialevo import DGE, Question, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, TASKS, NoValidQuestionError, Verdict, make_rng
from spatialevo.scene.model import Scene
from spatialevo.scene.topdown import topdown_image

DOCS = Path(__file__).resolve().parent
DOC = DOCS / "tasks.md"
IMAGES = DOCS / "images" / "tasks"
FRAME_SIZE = (320, 240)
TOPDOWN_SIZE = 900  # rendered at this size, then scaled down to TOPDOWN_MAX (keeps labels legible)
TOPDOWN_MAX = 560
CAPTION_H = 20
SEED = (0, 0)


@dataclass
class Example:
    """One worked example: the scene, the sampled question and the DGE's verdict on it."""

    task: str
    dge: DGE
    question: Question
    verdict: Verdict
    text: str | None  # natural-language rendering (None when no template applies)

    @property
    def scene(self) -> Scene:
        return self.dge.scene


def question_text(q: Question) -> str | None:
    """The question in natural language (template 0 of ``tasks/<task>.yaml``), or ``None``."""
    try:
        from spatialevo.dge.language import render
    except ImportError:  # language module not available
        return None
    try:
        return render(q, template=0)
    except ValueError:  # TemplateError: no template for this question
        return None


def find_examples(tasks: tuple[str, ...] = TASK_NAMES) -> list[Example]:
    """The worked example of every task (first bundled scene with a valid question of the task)."""
    dges: dict[Path, DGE] = {}
    out = []
    for task in tasks:
        for path in bundled_scene_paths():
            if path not in dges:
                dges[path] = DGE(load_scene(path))
            dge = dges[path]
            try:
                q = dge.sample(task, make_rng(*SEED))
            except NoValidQuestionError:
                continue
            v = dge.evaluate(q)
            if not v.valid:  # sample() promises a valid question
                raise RuntimeError(f"{task}: sampled question {q.to_json()} is invalid: {v.reason} {v.message}")
            out.append(Example(task, dge, q, v, question_text(q)))
            break
        else:
            raise RuntimeError(f"no bundled scene has a valid {task} question")
    return out


# -- markdown ------------------------------------------------------------------------------------
def _rounded(value: Any, digits: int = 3) -> Any:
    if isinstance(value, float):
        r = round(value, digits)
        return 0.0 if r == 0 else r
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def _unit_text(v: Verdict) -> str:
    return {"m": " m", "cm": " cm", "m2": " m²"}.get(v.unit or "", "")


def _refs(ex: Example) -> list[str]:
    """``label#id`` of the objects the question names, as the DGE resolved them in the question's scope."""
    r = ex.dge.task(ex.task).resolve(ex.dge.index, ex.question)
    if isinstance(r, Verdict):  # cannot happen for a valid question
        raise RuntimeError(f"{ex.task}: {r.message}")
    out = []
    for lab, inst in zip(r.labels, r.objects):
        out.append(ex.scene.objects[inst[0]].ref if len(inst) == 1 else f"{lab} ({len(inst)} instances, the nearest counts)")
    return out


def example_block(ex: Example) -> str:
    """Markdown of one worked example (without the markers)."""
    q, v = ex.question, ex.verdict
    scope = TASKS[ex.task].scope
    what = "the frames shown" if scope != "scene" else "top-down view; labels are `label#id`, red dots and blue ticks = camera positions and headings"
    lines = [
        f"![{ex.task} example: {what}](images/tasks/{ex.task}.png)",
        "",
        f"Scene `{ex.scene.scene_id}`, question drawn with `DGE(scene).sample(\"{ex.task}\", make_rng(0, 0))`"
        + (f"; objects {', '.join(f'`{r}`' for r in _refs(ex))}." if q.objects else "."),
        "",
    ]
    if ex.text is not None:
        lines += [f"> {ex.text}", ""]
    else:
        lines += ["(no natural-language template for this question; structured form only)", ""]
    lines += [
        "```json",
        json.dumps(q.to_dict(), ensure_ascii=False),
        "```",
        "",
        f"Answer: **`{v.answer_text}`**{_unit_text(v)} (`answer_kind` {v.answer_kind}"
        + (f", options {', '.join(f'`{o}`' for o in v.options)}" if v.options else "")
        + ").",
        "",
        f"Evidence: `{json.dumps(_rounded(v.to_dict()['evidence']), ensure_ascii=False)}`",
    ]
    return "\n".join(lines)


def marker_re(task: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- example:{re.escape(task)} -->\n)(.*?)(<!-- /example:{re.escape(task)} -->)", re.S)


def update_doc(text: str, blocks: dict[str, str]) -> str:
    """``text`` with the block of every task replaced (``KeyError`` when a task's markers are missing)."""
    for task, block in blocks.items():
        pat = marker_re(task)
        if not pat.search(text):
            raise KeyError(f"docs/tasks.md has no '<!-- example:{task} -->' … '<!-- /example:{task} -->' markers")
        text = pat.sub(lambda m, b=block: m.group(1) + b + "\n" + m.group(3), text, count=1)
    return text


# -- pictures ------------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _wrap(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """``text`` broken at spaces into lines at most ``width`` pixels wide."""
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _captioned(img: Image.Image, caption: str, *, below: bool = False) -> Image.Image:
    """``img`` with a caption strip above (or below), the text wrapped to the image width."""
    font = _font(13)
    lines = _wrap(caption, font, img.width - 12)
    strip = CAPTION_H + (len(lines) - 1) * (CAPTION_H - 4)
    out = Image.new("RGB", (img.width, img.height + strip), (255, 255, 255))
    out.paste(img, (0, 0 if below else strip))
    y0 = img.height + 3 if below else 3
    ImageDraw.Draw(out).multiline_text((6, y0), "\n".join(lines), fill=(0, 0, 0), font=font, spacing=3)
    return out


def _summary(ex: Example) -> str:
    """One-line caption: the question's objects (as ``label#id``) and the answer (ASCII only)."""
    v = ex.verdict
    unit = {"m2": " m2"}.get(v.unit or "", f" {v.unit}" if v.unit else "")
    objs = f"objects {', '.join(_refs(ex))}; " if ex.question.objects else ""
    return f"{ex.task}: {objs}answer {v.answer_text}{unit}"


def picture(ex: Example) -> Image.Image:
    """The example's picture: captioned frame(s) for image tasks, the top-down view for scene tasks."""
    frames = ex.question.frames
    if not frames:
        img = topdown_image(ex.scene, size=TOPDOWN_SIZE)
        scale = TOPDOWN_MAX / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        return _captioned(img, _summary(ex), below=True)
    tiles = []
    for k, fid in enumerate(frames):
        rgb = ex.scene.frame_images(fid, ("rgb",))["rgb"]
        tile = Image.fromarray(rgb).convert("RGB").resize(FRAME_SIZE, Image.LANCZOS)
        name = "image" if len(frames) == 1 else f"image {k + 1}"
        tiles.append(_captioned(tile, f"{name} (frame {fid})"))
    gap = 6
    out = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1), tiles[0].height), (255, 255, 255))
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + gap
    return _captioned(out, _summary(ex), below=True)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# -- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that docs/tasks.md is up to date (exit 1 if not)")
    ap.add_argument("--print", action="store_true", dest="print_only", help="print the example blocks, write nothing")
    args = ap.parse_args(argv)

    examples = find_examples()
    blocks = {ex.task: example_block(ex) for ex in examples}
    if args.print_only:
        for task, block in blocks.items():
            print(f"<!-- example:{task} -->\n{block}\n<!-- /example:{task} -->\n")
        return 0
    text = DOC.read_text(encoding="utf-8")
    new = update_doc(text, blocks)
    if args.check:
        if new != text:
            print("docs/tasks.md is out of date: run .venv/bin/python docs/make_task_examples.py", file=sys.stderr)
            return 1
        print("docs/tasks.md is up to date")
        return 0
    IMAGES.mkdir(parents=True, exist_ok=True)
    for ex in examples:
        data = png_bytes(picture(ex))
        path = IMAGES / f"{ex.task}.png"
        path.write_bytes(data)
        print(f"{path.relative_to(DOCS.parent)}  {len(data) / 1024:.1f} KB  ({ex.scene.scene_id}: {ex.question.to_json()} -> {ex.verdict.answer_text})")
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print("docs/tasks.md: example blocks updated")
    else:
        print("docs/tasks.md: example blocks already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
