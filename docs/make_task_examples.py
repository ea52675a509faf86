"""Regenerate the worked examples of ``docs/tasks.md`` and their pictures in ``docs/images/tasks/``.

For each of the sixteen DGE tasks: take the first bundled scene (``rect_small``; the next one when
it has no valid question of the task), draw a valid question with
``DGE(scene).sample(task, make_rng(0, 0))``, evaluate it, write ``docs/images/tasks/<task>.png`` —
the verdict picture of :func:`spatialevo.show.explain`: the question, the frames shown with it
(named objects outlined), the top-down view with the task's geometry drawn, the objects and the
answer — and rewrite the block between ``<!-- example:<task> -->`` and ``<!-- /example:<task> -->``
in ``docs/tasks.md``. Deterministic: running it twice gives the same files.

``--check`` compares the blocks exactly and each picture by its decoded pixels: same size, mean
absolute difference at most ``MAX_MEAN_DIFF`` levels and at most ``MAX_FAR_SHARE`` of the pixels
farther than ``FAR_LEVELS`` apart (antialiased text and the last float bit of a projection may
differ between machines and library versions; a changed drawing does not pass).

    .venv/bin/python docs/make_task_examples.py            # pictures + example blocks
    .venv/bin/python docs/make_task_examples.py --check    # exit 1 when docs/tasks.md or a picture is out of date
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

import numpy as np
from PIL import Image

from spatialevo import DGE, Question, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, TASKS, NoValidQuestionError, Verdict, make_rng
from spatialevo.scene.model import Scene
from spatialevo.show import Picture, explain, geometry_notes

DOCS = Path(__file__).resolve().parent
DOC = DOCS / "tasks.md"
IMAGES = DOCS / "images" / "tasks"
#: --check tolerances (see the module docstring)
MAX_MEAN_DIFF = 2.0
FAR_LEVELS = 64
MAX_FAR_SHARE = 0.01
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
        what = "all counted" if TASKS[ex.task].label_rule == "count" else "the nearest counts"
        out.append(ex.scene.objects[inst[0]].ref if len(inst) == 1 else f"{lab} ({len(inst)} instances, {what})")
    return out


def example_block(ex: Example) -> str:
    """Markdown of one worked example (without the markers)."""
    q, v = ex.question, ex.verdict
    scope = TASKS[ex.task].scope
    shown = "its frame" if scope == "single_image" else "its two frames" if scope == "image_pair" else "frames of its clip"
    what = f"the question, {shown} with the named objects outlined, the top-down view with the task's geometry, the answer"
    notes = " ".join(n.removeprefix("Drawn: ") for n in geometry_notes(ex.scene, q, v, ex.dge))
    lines = [
        f"![{ex.task} example: {what}](images/tasks/{ex.task}.png)",
        "",
        f"*Picture:* {notes}" if notes else "*Picture:* the frames and the top-down view (metre ticks, legend, camera trajectory).",
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
def explained(ex: Example) -> Picture:
    """The example's verdict picture (:func:`spatialevo.show.explain`)."""
    return explain(ex.scene, ex.question, ex.verdict, dge=ex.dge, text=ex.text)


def quantized(img: Image.Image) -> Image.Image:
    """``img`` reduced to a 256-colour palette, as the pictures are stored (small files; deterministic)."""
    return img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def picture(ex: Example) -> Image.Image:
    """The example's picture as stored (RGB)."""
    return quantized(explained(ex).image).convert("RGB")


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    quantized(img).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def picture_difference(new: Image.Image, path: Path) -> str | None:
    """Why the picture at ``path`` is not ``new`` within the --check tolerances (``None``: it is)."""
    if not path.is_file():
        return "missing"
    old = Image.open(path).convert("RGB")
    if old.size != new.size:
        return f"size {old.size[0]}x{old.size[1]}, now {new.size[0]}x{new.size[1]}"
    d = np.abs(np.asarray(old, dtype=np.int16) - np.asarray(new.convert("RGB"), dtype=np.int16)).max(axis=2)
    mean, far = float(d.mean()), float((d > FAR_LEVELS).mean())
    if mean > MAX_MEAN_DIFF or far > MAX_FAR_SHARE:
        return f"pixels differ (mean {mean:.2f} levels, {far:.2%} of them by more than {FAR_LEVELS})"
    return None


def stale_pictures(examples: list[Example]) -> dict[str, str]:
    """Task → why its picture in ``docs/images/tasks/`` is out of date (empty: all up to date)."""
    out = {}
    for ex in examples:
        why = picture_difference(picture(ex), IMAGES / f"{ex.task}.png")
        if why is not None:
            out[ex.task] = why
    return out


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
        stale = stale_pictures(examples)
        for task, why in stale.items():
            print(f"docs/images/tasks/{task}.png is out of date: {why}", file=sys.stderr)
        if new != text:
            print("docs/tasks.md is out of date", file=sys.stderr)
        if stale or new != text:
            print("run .venv/bin/python docs/make_task_examples.py", file=sys.stderr)
            return 1
        print("docs/tasks.md and its pictures are up to date")
        return 0
    IMAGES.mkdir(parents=True, exist_ok=True)
    for ex in examples:
        pic = explained(ex)
        for problem in pic.problems:
            print(f"warning: {ex.task}: {problem}", file=sys.stderr)
        data = png_bytes(pic.image)
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
