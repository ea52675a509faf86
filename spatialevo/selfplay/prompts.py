"""Prompts of the two roles and the reading of model outputs (no model, no torch).

The questioner writes the structured question as a JSON object, optionally followed or preceded
by one natural-language sentence; when the sentence parses (:func:`spatialevo.dge.language.parse`)
its task and labels must agree with the JSON, in either answer format. The solver writes its answer
in the round's answer format (:data:`ANSWER_FORMATS`): ``direct``, one ``<answer>…</answer>`` block;
``reasoning``, one ``<think>…</think>`` block and then one ``<answer>…</answer>`` block
(:func:`reasoning_answer` reads it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from spatialevo.dge import TASKS, Question, QuestionFormatError, parse
from spatialevo.dge.scoring import answer_block
from spatialevo.safejson import MAX_DEPTH, loads
from spatialevo.selfplay.evidence import Askable


def _printable() -> str:
    return "".join(c for c in map(chr, range(0x10000)) if (c.isprintable() or c in "\n\t") and not 0xD800 <= ord(c) < 0xE000)


#: characters of prompts and actions (the ``gymnasium.spaces.Text`` charset), in code-point order:
#: every printable character of Unicode's Basic Multilingual Plane plus newline and tab, so labels
#: such as "sofá" or "椅子" reach the model as they are (UTF-8 text)
PRINTABLE_CHARS: str = _printable()
PRINTABLE = frozenset(PRINTABLE_CHARS)
#: questioner / solver outputs longer than this are rejected unread (characters)
MAX_OUTPUT_CHARS = 8192

ROLE_QUESTIONER, ROLE_SOLVER = 0, 1
#: the solver's answer formats (``RoundConfig.answer_format``): ``direct`` (the default) asks for one
#: ``<answer>…</answer>`` block; ``reasoning`` for one non-empty ``<think>…</think>`` block, then one
#: ``<answer>…</answer>`` block and nothing after it. The questioner's format is the same in both.
ANSWER_FORMATS = ("direct", "reasoning")


def sanitize(text: str, max_length: int) -> str:
    """``text`` restricted to :data:`PRINTABLE` (control characters and characters beyond the Basic
    Multilingual Plane, such as emoji, → ``?``) and cut to ``max_length``."""
    out = "".join(c if c in PRINTABLE else "?" for c in text)
    if len(out) > max_length:
        out = out[: max_length - 3] + "..."
    return out or " "


def questioner_prompt(task: str, askable: Askable, n_images: int) -> str:
    """Instructions for the questioner: the scheduled task, what the images are, the labels it can
    ask about in them (:func:`~spatialevo.selfplay.evidence.askable_labels`), the JSON schema."""
    cls = TASKS[task]
    lo, hi = cls.n_objects
    objs = "no objects" if hi == 0 else (f"{lo} object label(s)" if lo == hi else f"{lo} to {hi} object labels")
    frames = {0: "", 1: ' "frames": [1] refers to the image;', 2: ' "frames": [1, 2] refers to the first and second image;'}[cls.n_frames]
    params = "; ".join(f'"{k}" one of {list(v[0])} (default {v[1]!r})' for k, v in cls.param_space.items())
    shown = f"You are shown {n_images} image(s) of the scene" + (" (frames of a video through the room, in order)." if cls.scope == "scene" and n_images > 2 else ".")
    if hi == 0:
        labels = ""
    else:
        what = {"count": "labels whose instances are all visible (at least two)", "nearest": "labels whose instances are all visible"}.get(
            cls.label_rule, "labels of one visible object" if cls.scope == "single_image" else "labels of exactly one object in the scene")
        labels = f" You can ask about these {what}: {', '.join(askable.unique) or 'none'}."
        if askable.several:
            labels += f" Also visible, not askable for this task: {', '.join(askable.several)}."
    return (
        "Role: questioner. Propose one spatial question about this scene that has a single exact answer.\n"
        f"Task category: {task} ({cls.scope.replace('_', ' ')} task, {objs}).\n"
        f"{shown}{labels}\n"
        'Write the question as JSON: {"task": "' + task + '", "objects": [...], "params": {...}}.'
        + frames
        + (f" params: {params}." if params else "")
        + " You may add one sentence asking the question in English."
    )


def chat(text: str) -> list[dict[str, str]]:
    """A prompt as the conversation a chat model is given (TRL's conversational format): one user
    message holding the text. The images travel beside it (a row's ``images``); TRL and the chat
    templates place them before the text."""
    return [{"role": "user", "content": text}]


def solver_prompt(question_text: str, n_images: int, answer_format: str = "direct") -> str:
    """Instructions for the solver: the question and the answer format (:data:`ANSWER_FORMATS`)."""
    head = f"Role: solver. Answer the spatial question about the scene shown in {n_images} image(s).\nQuestion: {question_text}\n"
    if answer_format == "direct":
        return head + ("Reply with the answer inside <answer></answer>. If the question cannot be answered exactly, "
                       "answer with the reason code (e.g. <answer>ambiguous_label</answer>).")
    if answer_format == "reasoning":
        return head + ("First think step by step inside <think></think>, then reply with the answer inside <answer></answer>: "
                       "one <think>...</think> block, then one <answer>...</answer> block, and nothing after it. "
                       "If the question cannot be answered exactly, answer with the reason code "
                       "(e.g. <think>...</think><answer>ambiguous_label</answer>).")
    raise ValueError(f"answer_format must be one of {ANSWER_FORMATS}, got {answer_format!r}")


_TAGS = {  # the four tags of the reasoning format, lenient about spaces and case like the answer block's
    "think": re.compile(r"<\s*think\s*>", re.I), "/think": re.compile(r"<\s*/\s*think\s*>", re.I),
    "answer": re.compile(r"<\s*answer\s*>", re.I), "/answer": re.compile(r"<\s*/\s*answer\s*>", re.I),
}


def reasoning_answer(text: str) -> tuple[str | None, str]:
    """``(answer block, "")`` of a well-formed ``reasoning`` output, else ``(None, why not)``.

    Well formed: exactly one of each of ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` in the
    whole text, in that order; only whitespace before ``<think>``, between ``</think>`` and
    ``<answer>`` and after ``</answer>``; a think block and an answer block that are not empty
    (the answer block read as :func:`spatialevo.dge.scoring.answer_block` reads it). So an answer
    inside the think block, a second answer, a missing or trailing think block, an unclosed tag
    or text after the answer are all malformed. The answer block is returned with its tags (the
    scorer reads it as it reads a direct reply). One scan per tag: linear in ``len(text)``.
    """
    found: dict[str, re.Match[str]] = {}
    for name, rx in _TAGS.items():
        hits = rx.finditer(text)
        first, second = next(hits, None), next(hits, None)
        if first is None:
            return None, f"no <{name}> tag"
        if second is not None:
            return None, f"more than one <{name}> tag"
        found[name] = first
    t0, t1, a0, a1 = found["think"], found["/think"], found["answer"], found["/answer"]
    if not t0.end() <= t1.start() <= t1.end() <= a0.start() <= a0.end() <= a1.start():
        return None, "the tags are not in the order <think></think><answer></answer>"
    if text[: t0.start()].strip() or text[t1.end() : a0.start()].strip() or text[a1.end() :].strip():
        return None, "text outside the <think> and <answer> blocks"
    if not text[t0.end() : t1.start()].strip():
        return None, "empty <think></think> block"
    block = text[a0.start() : a1.end()]
    if not answer_block(block):
        return None, "empty <answer></answer> block"
    return block, ""


def answer_reply(answer_text: str) -> str:
    """The solver reply that states ``answer_text`` in the format :func:`solver_prompt` asks for."""
    return f"<answer>{answer_text}</answer>"


def _json_object(text: str) -> tuple[dict[str, Any] | None, str, str]:
    """The first balanced JSON object in ``text``: (object or None, text around it, error).

    One pass over the text (linear time): string literals are skipped, braces matched with a
    stack; the object that closes with the earliest opening brace is parsed (depth-limited).
    """
    stack: list[int] = []
    in_str = esc = False
    best: tuple[int, int] | None = None
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = bool(stack)  # quotes outside any object are prose
        elif c == "{":
            stack.append(i)
            if len(stack) > MAX_DEPTH:
                return None, "", f"the question JSON is nested more than {MAX_DEPTH} levels deep"
        elif c == "}" and stack:
            start = stack.pop()
            if not stack:
                best = (start, i)
                break
            if best is None or start < best[0]:
                best = (start, i)
    if best is None:
        return None, "", "no JSON object found in the questioner output"
    start, end = best
    try:
        obj = loads(text[start : end + 1])
    except ValueError as exc:
        return None, "", f"the question JSON does not parse: {exc}"
    if not isinstance(obj, dict):
        return None, "", "the question JSON must be an object"
    return obj, (text[:start] + " " + text[end + 1 :]).strip(), ""


def read_question(output: Any, shown_frames: Sequence[str]) -> tuple[Question | None, str]:
    """Parse a questioner output into a :class:`Question`; ``(None, error)`` when it cannot.

    ``frames`` in the JSON may be omitted (the shown images are used), or given as image numbers
    (1, 2), ``"image1"``/``"image2"``, or frame ids of the shown images. Objects are labels: an
    instance reference (``"table#2"``, which the DGE reads) is refused, since no image shows ids.
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
    refs = [o for o in q.objects if "#" in o]
    if refs:  # the DGE reads "label#id", but nothing the roles are shown tells one instance from another
        return None, f"{refs[0]!r} is an instance reference: ask about a label (the images show no instance ids)"
    sentence = rest.strip(" \n\t`")
    if sentence.lower().startswith("json"):
        sentence = sentence[4:].strip()
    if sentence:
        said = parse(sentence, frames=q.frames, task=q.task)
        if said and (said.task != q.task or tuple(said.objects) != tuple(" ".join(o.lower().replace("_", " ").split()) for o in q.objects)):
            return None, f"the sentence asks a different question ({said.task} about {list(said.objects)}) than the JSON"
    return q, ""
