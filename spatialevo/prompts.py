"""Prompts of the two roles and the reading of model outputs (no model, no torch).

The questioner writes the structured question as a JSON object, optionally followed or preceded
by one natural-language sentence; when the sentence parses (:func:`spatialevo.dge.language.parse`)
its task and labels must agree with the JSON. The solver writes ``<answer>…</answer>``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from typing import Any

from spatialevo.dge import TASKS, Question, QuestionFormatError, parse

#: characters of prompts and actions (``gymnasium.spaces.Text`` charset): printable ASCII
PRINTABLE = frozenset(string.printable)
#: questioner / solver outputs longer than this are rejected unread (characters)
MAX_OUTPUT_CHARS = 8192

ROLE_QUESTIONER, ROLE_SOLVER = 0, 1


def sanitize(text: str, max_length: int) -> str:
    """``text`` restricted to :data:`PRINTABLE` (other characters → ``?``) and cut to ``max_length``."""
    out = "".join(c if c in PRINTABLE else "?" for c in text)
    if len(out) > max_length:
        out = out[: max_length - 3] + "..."
    return out or " "


def questioner_prompt(task: str, labels: Sequence[str], n_images: int) -> str:
    """Instructions for the questioner: the scheduled task, what the images are, the JSON schema."""
    cls = TASKS[task]
    lo, hi = cls.n_objects
    objs = "no objects" if hi == 0 else (f"{lo} object label(s)" if lo == hi else f"{lo} to {hi} object labels")
    frames = {0: "", 1: ' "frames": [1] refers to the image;', 2: ' "frames": [1, 2] refers to the first and second image;'}[cls.n_frames]
    params = "; ".join(f'"{k}" one of {list(v[0])} (default {v[1]!r})' for k, v in cls.param_space.items())
    return (
        "Role: questioner. Propose one spatial question about this scene that has a single exact answer.\n"
        f"Task category: {task} ({cls.scope.replace('_', ' ')} task, {objs}).\n"
        f"You are shown {n_images} image(s) of the scene. Object categories in the scene: {', '.join(labels) or 'none'}.\n"
        'Write the question as JSON: {"task": "' + task + '", "objects": [...], "params": {...}}.'
        + frames
        + (f" params: {params}." if params else "")
        + " You may add one sentence asking the question in English."
    )


def solver_prompt(question_text: str, n_images: int) -> str:
    """Instructions for the solver: the question and the answer format."""
    return (
        "Role: solver. Answer the spatial question about the scene shown in "
        f"{n_images} image(s).\nQuestion: {question_text}\n"
        "Reply with the answer inside <answer></answer>. If the question cannot be answered exactly, "
        "answer with the reason code (e.g. <answer>ambiguous_label</answer>)."
    )


def _json_object(text: str) -> tuple[dict[str, Any] | None, str, str]:
    """First balanced JSON object in ``text``: (object or None, text around it, error)."""
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                esc = (c == "\\") and not esc
                if c == '"' and not esc:
                    in_str = False
                elif c != "\\":
                    esc = False
                continue
            if c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(text[start : i + 1])
                    except ValueError as exc:
                        return None, "", f"the question JSON does not parse: {exc}"
                    if not isinstance(obj, dict):
                        return None, "", "the question JSON must be an object"
                    return obj, (text[:start] + " " + text[i + 1 :]).strip(), ""
        start = text.find("{", start + 1)
    return None, "", "no JSON object found in the questioner output"


def read_question(output: Any, shown_frames: Sequence[str]) -> tuple[Question | None, str]:
    """Parse a questioner output into a :class:`Question`; ``(None, error)`` when it cannot.

    ``frames`` in the JSON may be omitted (the shown images are used), or given as image numbers
    (1, 2), ``"image1"``/``"image2"``, or frame ids of the shown images.
    """
    if not isinstance(output, str):
        return None, f"the output must be text, got {type(output).__name__}"
    if not output.strip():
        return None, "the output is empty"
    if len(output) > MAX_OUTPUT_CHARS:
        return None, f"the output is {len(output)} characters long (limit {MAX_OUTPUT_CHARS})"
    try:
        output.encode("utf-8")
    except UnicodeEncodeError:
        return None, "the output is not valid UTF-8 text"
    obj, rest, err = _json_object(output)
    if obj is None:
        return None, err
    task = obj.get("task")
    n_frames = TASKS[task].n_frames if isinstance(task, str) and task in TASKS else 0
    raw = obj.get("frames")
    if raw in (None, []):
        obj["frames"] = list(shown_frames[:n_frames])
    elif isinstance(raw, list):
        mapped = []
        for f in raw:
            key = str(f).strip().lower().replace(" ", "")
            if key in ("1", "image1"):
                key = "1"
            elif key in ("2", "image2"):
                key = "2"
            if key in ("1", "2") and int(key) <= len(shown_frames):
                mapped.append(shown_frames[int(key) - 1])
            elif str(f) in shown_frames:
                mapped.append(str(f))
            else:
                return None, f"frame {f!r} is not one of the shown images (use 1 or 2)"
        obj["frames"] = mapped
    try:
        q = Question.from_dict(obj)
    except QuestionFormatError as exc:
        return None, str(exc)
    sentence = rest.strip(" \n\t`")
    if sentence.lower().startswith("json"):
        sentence = sentence[4:].strip()
    if sentence:
        said = parse(sentence, frames=q.frames, task=q.task)
        if said and (said.task != q.task or tuple(said.objects) != tuple(" ".join(o.lower().replace("_", " ").split()) for o in q.objects)):
            return None, f"the sentence asks a different question ({said.task} about {list(said.objects)}) than the JSON"
    return q, ""
