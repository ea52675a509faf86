"""Natural language for DGE questions: :func:`render` a :class:`Question` as text, :func:`parse` it back.

Templates live in the ``templates:`` list of ``tasks/<task>.yaml`` (read through
:func:`~spatialevo.dge.spec.load_spec`). An entry is either a plain string or a mapping
``{text: "...", params: {level: easy}}``. Slots in the text:

* ``{A}``, ``{B}``, ``{C}``, … — ``objects[0]``, ``objects[1]``, ``objects[2]``, … (a slot may appear
  more than once; the parser then requires the same label at every occurrence);
* ``{candidates}`` or ``{objects}`` — the objects after the lettered ones as a list, for tasks that
  take a variable number of objects (``relative_distance``: ``{A}`` + ``{candidates}``;
  ``position_cam_reg``: ``{objects}``). An optional style picks the rendering: ``{candidates:comma}``
  → "chair, lamp, bed", ``:or`` (default) → "chair, lamp, or bed" / "chair or lamp", ``:and`` →
  "chair, lamp, and bed". The parser accepts every style ("X, Y, or Z", "X, Y and Z", "X or Y",
  "X, Y, Z", an optional "the " before each item).

Images are not slots: templates call them "the image" (single-image tasks) or "the first image" /
"the second image" (image-pair tasks, in ``frames`` order), and the caller of :func:`parse` passes the
frame ids. A template's ``params`` fix parameter values; parameters it does not name are at their
defaults. So a plain string applies only to questions whose parameters all have their defaults, and
``{text, params: {reference: 2}}`` only to questions with ``reference == 2``.

Canonical form (what :func:`parse` returns and what ``parse(render(q)) == canonical(q)`` compares):
labels normalised like scene labels (lower case, single spaces, ``_`` → space), every task parameter
present (defaults filled in, ``"2"`` → ``2``), frames the first ``n_frames`` of the ids passed to
:func:`parse`. Matching is case-insensitive, treats runs of whitespace as one space, ignores spaces
before ``, . ; : ? ! )`` and after ``(``, and ignores trailing ``? . !``.

Parsing compiles every template to one regular expression once per tasks folder (cached; call
:func:`clear_cache` after editing the YAML files in a running process) and matches the normalised
text against a single alternation, so a parse costs a few microseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.dge.question import Question, QuestionFormatError
from spatialevo.dge.spec import load_spec, tasks_dir
from spatialevo.dge.tasks import TASKS
from spatialevo.dge.tasks.base import coerce_params
from spatialevo.errors import SceneFormatError, SpatialEvoError
from spatialevo.scene.model import normalize_label

__all__ = [
    "ParseFailure",
    "Template",
    "TemplateError",
    "canonical",
    "clear_cache",
    "normalize_text",
    "parse",
    "render",
    "templates",
]

#: longest text :func:`parse` looks at (longer texts are a :class:`ParseFailure`; the longest template has ~350
#: characters, and this bounds the regex backtracking on adversarial text to a few milliseconds)
MAX_TEXT_CHARS = 1500
LIST_SLOTS = ("candidates", "objects")
LIST_STYLES = ("or", "and", "comma")

_SLOT = re.compile(r"\{([A-Za-z_]+)(?::([A-Za-z_]+))?\}")
_PLACEHOLDER = re.compile("\x01(\\d+)\x02")
_WS = re.compile(r"\s+")
_SPACE_FIX = re.compile(r" (?=[,.;:?!)])|(?<=\() ")
_SPACE_AFTER = re.compile(r"([,;:?!])(?=[^\s,.;:?!)])")
_LIST_SEP = re.compile(r"\s*,\s*(?:(?:or|and)\s+)?|\s+(?:or|and)\s+")
_LIST_BAD = re.compile(r",|(?:^|\s)(?:or|and)(?:\s|$)|^the\s")


class TemplateError(SpatialEvoError, ValueError):
    """A question cannot be rendered: unknown task, wrong number of objects or frames, a bad
    parameter, a label the text cannot carry, or no template for its parameters."""


@dataclass(frozen=True)
class ParseFailure:
    """What :func:`parse` returns for text that matches no template (falsy, never raised).

    Attributes:
        message: why the text was not understood.
        text: the text that was given (shortened to 200 characters).
    """

    message: str
    text: str = ""

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Template:
    """One compiled template of a task.

    Attributes:
        task: task name.
        text: the template text as written in the YAML file.
        params: the parameter values of the questions it applies to (defaults filled in).
        pieces: the text split into literal strings and slots: ``(literal, slot, style)`` triples,
            ``slot`` ``None`` after the last literal.
        pattern: regular expression (over normalised text) with named groups for the slots.
        groups: slot name → group name in :attr:`pattern` (first occurrence).
        n_letters: number of lettered slots (``{A}`` … ).
        list_slot: name of the list slot, or ``None``.
    """

    task: str
    text: str
    params: Mapping[str, Any]
    pieces: tuple[tuple[str, str | None, str | None], ...]
    pattern: str
    groups: Mapping[str, str]
    n_letters: int
    list_slot: str | None

    def fill(self, labels: Sequence[str]) -> str:
        """The text with the slots filled from ``labels`` (normalised, in question order)."""
        out = []
        for literal, slot, style in self.pieces:
            out.append(literal)
            if slot is None:
                continue
            if slot in LIST_SLOTS:
                out.append(_join(labels[self.n_letters :], style or "or"))
            else:
                out.append(labels[ord(slot) - ord("A")])
        return "".join(out)


@dataclass(frozen=True)
class _Library:
    """Every task's templates, compiled: per task and one alternation over all tasks."""

    by_task: Mapping[str, tuple[Template, ...]]
    task_regex: Mapping[str, re.Pattern[str]]
    all_regex: re.Pattern[str] | None
    marker: Mapping[str, Template]


# -- normalisation ---------------------------------------------------------------------------------
def normalize_text(text: str) -> str:
    """Matching form of a text: lower case, single spaces, no spaces before ``, . ; : ? ! )`` or after
    ``(``, one space after ``, ; : ? !``, no trailing ``? . !`` or whitespace."""
    t = _WS.sub(" ", text.lower())
    t = _SPACE_AFTER.sub(r"\1 ", _SPACE_FIX.sub("", t))
    return t.strip().rstrip("?.! ")


def _join(labels: Sequence[str], style: str) -> str:
    if style == "comma" or len(labels) < 2:
        return ", ".join(labels)
    if len(labels) == 2:
        return f"{labels[0]} {style} {labels[1]}"
    return f"{', '.join(labels[:-1])}, {style} {labels[-1]}"


def _split_list(text: str) -> list[str]:
    items = [s.strip() for s in _LIST_SEP.split(text)]
    return [s[4:] if s.startswith("the ") else s for s in items]


# -- parameters --------------------------------------------------------------------------------------
def _fill_params(task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with defaults filled in and coerced like the DGE does (``"2"`` → 2, ``"EASY"`` → "easy").

    Raises:
        TemplateError: an unknown parameter or a value outside the allowed ones.
    """
    try:
        return coerce_params(task, TASKS[task].param_space, params)
    except ValueError as exc:
        raise TemplateError(f"{task}: {exc}") from None


def canonical(question: Question) -> Question:
    """The canonical form of a question (see the module docstring): normalised labels, every parameter
    of its task present. Questions of unknown tasks, or with labels or parameters the DGE would call
    malformed, keep those parts as they are."""
    labels = []
    for lab in question.objects:
        try:
            labels.append(normalize_label(lab))
        except ValueError:
            labels.append(lab)
    params: Mapping[str, Any] = question.params
    if question.task in TASKS:
        try:
            params = _fill_params(question.task, question.params)
        except TemplateError:
            pass
    return Question(question.task, tuple(labels), question.frames, params)


# -- compiling ---------------------------------------------------------------------------------------
def _compile(task: str, entry: Any, uid: int, path: Path, where: str) -> Template:
    """One YAML template entry → :class:`Template` (``uid`` makes its group names unique)."""

    def bad(problem: str) -> SceneFormatError:
        return SceneFormatError(f"{problem} in {entry!r}", path=path, field=where)

    if isinstance(entry, str):
        text, fixed = entry, {}
    elif isinstance(entry, Mapping):
        extra = sorted(set(map(str, entry)) - {"text", "params"})
        if extra or not isinstance(entry.get("text"), str):
            raise bad("a template mapping needs a string 'text' and optional 'params' only")
        text, fixed = entry["text"], entry.get("params") or {}
        if not isinstance(fixed, Mapping):
            raise bad("'params' must be a mapping")
    else:
        raise bad("a template must be a string or a {text, params} mapping")
    if not text.strip():
        raise bad("empty template")
    cls = TASKS[task]
    try:
        params = _fill_params(task, fixed)
    except TemplateError as exc:
        raise bad(str(exc)) from None
    slots: list[tuple[str, str | None]] = []

    def mark(m: re.Match[str]) -> str:
        slots.append((m.group(1), m.group(2)))
        return f"\x01{len(slots) - 1}\x02"

    marked = _SLOT.sub(mark, text)
    if "{" in marked or "}" in marked:
        raise bad("stray brace (slots are {A}, {B}, ..., {candidates}, {objects})")
    names = [s for s, _ in slots]
    letters = sorted({s for s in names if len(s) == 1 and s.isupper()})
    lists = sorted({s for s in names if s in LIST_SLOTS})
    unknown = sorted(set(names) - set(letters) - set(lists))
    if unknown:
        raise bad(f"unknown slot {{{unknown[0]}}}")
    for name, style in slots:
        if style is not None and (name not in LIST_SLOTS or style not in LIST_STYLES):
            raise bad(f"bad style {style!r} for slot {{{name}}} (list slots take {', '.join(LIST_STYLES)})")
    n = len(letters)
    if letters != [chr(ord("A") + k) for k in range(n)]:
        raise bad(f"lettered slots must be {{A}}, {{B}}, ... in sequence, got {letters}")
    lo, hi = cls.n_objects
    if len(lists) > 1:
        raise bad("at most one list slot")
    if lo == hi and (lists or n != lo):
        raise bad(f"{task} takes {lo} object(s): use exactly the slots {[chr(ord('A') + k) for k in range(lo)]}")
    if lo != hi and (not lists or n > lo - 1):
        raise bad(
            f"{task} takes {lo}-{hi} objects: use {{candidates}} / {{objects}} for the list, after at most {lo - 1} lettered slot(s)"
        )

    norm = normalize_text(marked)
    parts = _PLACEHOLDER.split(norm)  # literal, index, literal, index, ..., literal
    if len(parts) != 2 * len(slots) + 1:
        raise bad("a slot is lost at the end of the text")
    regex, groups = [], {}
    for k, literal in enumerate(parts):
        if k % 2 == 0:
            regex.append(re.escape(literal))
            continue
        name = slots[int(literal)][0]
        group = f"t{uid}_{name}"
        if name in groups:
            regex.append(f"(?P={group})")
        else:
            groups[name] = group
            regex.append(f"(?P<{group}>.+?)")
    regex.append(f"(?P<m{uid}>)")
    raw = _SLOT.split(text)  # literal, name, style, literal, name, style, ..., literal
    pieces = tuple((raw[k], raw[k + 1], raw[k + 2]) for k in range(0, len(raw) - 1, 3)) + ((raw[-1], None, None),)
    return Template(task, text, params, pieces, "".join(regex), groups, n, lists[0] if lists else None)


@lru_cache(maxsize=8)
def _build(folder: str | None, env: str | None) -> _Library:
    """Compile every task's templates (``env`` is ``$SPATIALEVO_TASKS``: part of the cache key only)."""
    path = Path(folder) if folder is not None else tasks_dir()
    by_task: dict[str, tuple[Template, ...]] = {}
    marker: dict[str, Template] = {}
    uid = 0
    for task in TASKS:
        entries = load_spec(task, path).get("templates") or []
        file = path / f"{task}.yaml"
        if not isinstance(entries, list):
            raise SceneFormatError("'templates' must be a list", path=file, field="templates")
        compiled = []
        for k, entry in enumerate(entries):
            tpl = _compile(task, entry, uid, file, f"templates[{k}]")
            marker[f"m{uid}"] = tpl
            compiled.append(tpl)
            uid += 1
        by_task[task] = tuple(compiled)
    task_regex = {t: re.compile("|".join(x.pattern for x in tpls)) for t, tpls in by_task.items() if tpls}
    patterns = [x.pattern for tpls in by_task.values() for x in tpls]
    all_regex = re.compile("|".join(patterns)) if patterns else None
    return _Library(by_task, task_regex, all_regex, marker)


def _library(folder: Path | str | None) -> _Library:
    return _build(None if folder is None else str(folder), os.environ.get("SPATIALEVO_TASKS"))


def clear_cache() -> None:
    """Forget the compiled templates (the next call re-reads ``tasks/*.yaml``)."""
    _build.cache_clear()


# -- public API --------------------------------------------------------------------------------------
def templates(task: str, params: Mapping[str, Any] | None = None, *, folder: Path | str | None = None) -> tuple[str, ...]:
    """The template texts of ``task``: all of them, or (``params`` given, defaults filled in) those that
    apply to questions with these parameters, in file order — the order ``render(template=i)`` indexes.

    Raises:
        TemplateError: unknown task or bad parameters.
    """
    return tuple(t.text for t in _applicable(_library(folder), task, params))


def _applicable(lib: _Library, task: str, params: Mapping[str, Any] | None) -> tuple[Template, ...]:
    if task not in lib.by_task:
        raise TemplateError(f"unknown task {task!r}; tasks: {', '.join(lib.by_task)}")
    if params is None:
        return lib.by_task[task]
    filled = _fill_params(task, params)
    return tuple(t for t in lib.by_task[task] if t.params == filled)


def render(
    question: Question | Mapping[str, Any],
    *,
    template: int | None = None,
    rng: np.random.Generator | None = None,
    folder: Path | str | None = None,
) -> str:
    """The question in natural language.

    Args:
        question: a :class:`Question` (or its dict form).
        template: index into ``templates(question.task, question.params)`` (default 0 unless ``rng``).
        rng: choose the template uniformly with this generator instead.
        folder: tasks folder (default :func:`~spatialevo.dge.spec.tasks_dir`).

    Raises:
        TemplateError: the question does not fit its task's slots (unknown task, wrong number of
            objects or frames, bad parameter, a label the text cannot carry), no template applies, or
            ``template`` is out of range.
    """
    if template is not None and rng is not None:
        raise TemplateError("pass either template or rng, not both")
    try:
        q = question if isinstance(question, Question) else Question.from_dict(question)
    except QuestionFormatError as exc:
        raise TemplateError(str(exc)) from None
    lib = _library(folder)
    usable = _applicable(lib, q.task, q.params)
    cls = TASKS[q.task]
    lo, hi = cls.n_objects
    if not lo <= len(q.objects) <= hi:
        want = str(lo) if lo == hi else f"{lo}-{hi}"
        raise TemplateError(f"{q.task} takes {want} object label(s), got {len(q.objects)}: {list(q.objects)}")
    if len(q.frames) != cls.n_frames:
        raise TemplateError(f"{q.task} takes {cls.n_frames} frame id(s), got {len(q.frames)}: {list(q.frames)}")
    if not lib.by_task[q.task]:
        raise TemplateError(f"{q.task} has no templates (its tasks/{q.task}.yaml has no 'templates' list)")
    if not usable:
        raise TemplateError(f"{q.task} has no template for parameters {_fill_params(q.task, q.params)}")
    if rng is not None:
        template = int(rng.integers(len(usable)))
    index = 0 if template is None else int(template)
    if not 0 <= index < len(usable):
        raise TemplateError(
            f"template {index} out of range: {q.task} has {len(usable)} template(s) for parameters {usable[0].params}"
        )
    tpl = usable[index]
    labels = [_label(lab, k >= tpl.n_letters and tpl.list_slot is not None) for k, lab in enumerate(q.objects)]
    return tpl.fill(labels)


def _label(label: str, in_list: bool) -> str:
    """Normalised label, checked to survive rendering and parsing unchanged."""
    try:
        lab = normalize_label(label)
    except ValueError:
        raise TemplateError(f"object label {label!r} is empty") from None
    if normalize_text(lab) != lab or any(c in lab for c in "?!.,;:()\x01\x02"):
        raise TemplateError(f"object label {label!r} contains punctuation the text cannot carry")
    if in_list and _LIST_BAD.search(lab):
        raise TemplateError(f"object label {label!r} cannot be a list item (contains ',', 'or', 'and' or starts with 'the')")
    return lab


def parse(
    text: str,
    *,
    frames: Sequence[str] = (),
    task: str | None = None,
    folder: Path | str | None = None,
) -> Question | ParseFailure:
    """The structured question a text states, in canonical form; never raises.

    Args:
        text: a question in natural language (any template of any task).
        frames: ids of the frames shown with the text, in image order ("the first image" = ``frames[0]``);
            the question keeps the first ``n_frames`` of them (fewer when fewer are given: the DGE then
            answers ``no_frames`` / ``malformed``).
        task: tried first (a text that fits templates of several tasks goes to this one); the other
            tasks' templates are still tried after it.
        folder: tasks folder (default :func:`~spatialevo.dge.spec.tasks_dir`).

    Returns:
        a :class:`Question`, or a :class:`ParseFailure` (falsy) with a message when the text matches
        no template.
    """
    if not isinstance(text, str):
        return ParseFailure(f"text must be a string, got {type(text).__name__}")
    short = text[:200]
    if len(text) > MAX_TEXT_CHARS:
        return ParseFailure(f"text longer than {MAX_TEXT_CHARS} characters", short)
    lib = _library(folder)
    if task is not None and task not in lib.by_task:
        return ParseFailure(f"unknown task hint {task!r}; tasks: {', '.join(lib.by_task)}", short)
    norm = normalize_text(text)
    m = None
    if task is not None and task in lib.task_regex:
        m = lib.task_regex[task].fullmatch(norm)
    if m is None and lib.all_regex is not None:
        m = lib.all_regex.fullmatch(norm)
    if m is None:
        return ParseFailure("the text matches no question template", short)
    tpl = lib.marker[m.lastgroup or ""]
    labels = [m.group(tpl.groups[chr(ord("A") + k)]) for k in range(tpl.n_letters)]
    if tpl.list_slot is not None:
        labels.extend(_split_list(m.group(tpl.groups[tpl.list_slot])))
    try:
        objects = tuple(normalize_label(lab) for lab in labels)
        ids = (frames,) if isinstance(frames, str) else tuple(frames)
        return Question(tpl.task, objects, ids[: TASKS[tpl.task].n_frames], dict(tpl.params))
    except (ValueError, TypeError) as exc:  # empty label, frame ids that are not strings
        return ParseFailure(f"{tpl.task}: {exc}", short)
