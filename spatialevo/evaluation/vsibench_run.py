"""Answer a VSI-Bench-format test set with a model and score it as the public harness does.

Each row is posed as the public lmms-eval task poses it (:func:`spatialevo.vsibench.prompt`: the
pre-prompt, the question, the lettered options, the post-prompt) with its frames
(:class:`~spatialevo.evaluation.visuals.SceneFrames`, resized to the pixel budget with the aspect
kept), answered by ``answer`` (a local checkpoint or an endpoint), scored by
:func:`spatialevo.vsibench.score`, and logged at once (:class:`~spatialevo.evaluation.samples.SampleLog`):
a rerun with the same log answers only the rows not in it. The report is VSI-Bench's table over
every row of the test set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo import vsibench
from spatialevo.errors import SpatialEvoError
from spatialevo.evaluation.samples import SampleLog
from spatialevo.evaluation.visuals import SceneFrames
from spatialevo.selfplay.images import MIN_PIXELS, fit_size, resize

#: answers ``(prompt, frames)`` items, in order (an item not answered: its exception, raised once the others are logged)
Answerer = Callable[[Sequence[tuple[str, list[Any]]]], list[Any]]


def table_digest(rows: Sequence[dict[str, Any]]) -> str:
    """A short digest of a test set's ids, types, questions and ground truths (names it in a log)."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r["id"], r["question_type"], str(r.get("question", "")), r.get("options"), str(r["ground_truth"]),
                             str(r.get("dataset", "")), str(r.get("scene_name", ""))]).encode())
    return h.hexdigest()[:16]


def checkpoint_digest(path: Path) -> str:
    """A short digest of a local checkpoint: its ``config.json`` and the names, sizes and
    modification times of its weight files (a retrained checkpoint in the same folder is another model)."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.name == "config.json" or f.suffix in (".safetensors", ".bin", ".pt") or f.name.endswith(".index.json"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
            if f.name == "config.json":
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def budget(images: Sequence[Any], max_pixels: int) -> list[Any]:
    """PIL images resized to at most ``max_pixels`` each, aspect kept (none enlarged)."""
    from PIL import Image

    out = []
    for im in images:
        w, h = im.size
        if w * h <= max_pixels:
            out.append(im)
            continue
        size = fit_size(h, w, min_pixels=min(MIN_PIXELS, max_pixels), max_pixels=max_pixels)
        out.append(Image.fromarray(resize(np.asarray(im.convert("RGB")), size)))
    return out


def evaluate_vsibench(rows: Sequence[dict[str, Any]], answer: Answerer, frames: SceneFrames, log: SampleLog, *,
                      max_pixels: int = 448 * 448, chunk: int = 8, workers: int = 1,
                      progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """VSI-Bench's report over ``rows`` and the per-sample entries (id, question type, prompt, raw
    output, extracted answer, ground truth, score), answering only rows not already in ``log``;
    ``chunk`` rows at a time, their frames prepared by ``workers`` threads."""
    unknown = sorted({str(r["question_type"]) for r in rows} - set(vsibench.MULTIPLE_CHOICE_TYPES) - set(vsibench.NUMERIC_TYPES))
    if unknown:  # before any request
        raise SpatialEvoError(f"unknown VSI-Bench question type(s) {unknown}; types: {[*vsibench.MULTIPLE_CHOICE_TYPES, *vsibench.NUMERIC_TYPES]}")
    todo = [r for r in rows if r["id"] not in log.done]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(rows), initial=len(rows) - len(todo), unit="q", desc="vsibench")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # decoding frames overlaps (PIL releases the GIL)
        for start in range(0, len(todo), chunk):
            batch = todo[start : start + chunk]
            items = list(pool.map(lambda r: (vsibench.prompt(r), budget(frames(r), max_pixels)), batch))
            outputs = answer(items)
            failed = next((out for out in outputs if isinstance(out, Exception)), None)
            for r, (text, _), out in zip(batch, items, outputs):
                if isinstance(out, Exception):
                    continue  # the answered ones are logged first
                try:
                    s = vsibench.score(out, r["ground_truth"], str(r["question_type"]))
                except ValueError as exc:
                    raise SpatialEvoError(f"test row {r['id']!r}: {exc}") from None
                log.add({"id": r["id"], "question_type": r["question_type"], "prompt": text, "prediction": out,
                         "answer": vsibench.first_token(out), "ground_truth": str(r["ground_truth"]), "score": s})
            if bar is not None:
                bar.update(len(batch))
            if failed is not None:
                if bar is not None:
                    bar.close()
                raise failed
    if bar is not None:
        bar.close()
    entries = [log.done[r["id"]] for r in rows]
    return vsibench.report((e["question_type"], e["score"]) for e in entries), entries
