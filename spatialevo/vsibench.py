"""VSI-Bench names and scoring, as the public harness computes them (SPEC §8).

The public VSI-Bench evaluation (its lmms-eval task) reads an answer by its **first
whitespace-separated token** (a trailing ``.`` removed), then scores

* multiple-choice types (relative direction easy / medium / hard, relative distance, route
  planning, appearance order) by case-insensitive exact match of that token with the answer letter;
* numeric types (counting, absolute distance, object size, room size) by **MRA**: the token read as
  a float (anything else scores 0), and the mean over the ten thresholds
  θ = linspace(0.50, 0.95, 10) of ``|pred − gt| / gt <= 1 − θ``.

A report (:func:`report`) gives per question type the mean score × 100, the three direction levels
averaged into one ``object_rel_direction`` entry, and ``overall``: the unweighted mean over the
types present. The functions below reproduce those formulas expression by expression (the same
float operations in the same order), so results equal the harness's on the same inputs.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError

#: spatialevo task → VSI-Bench question type (relative_direction_hard by its ``level`` parameter)
QUESTION_TYPES: dict[str, str] = {
    "object_counting": "object_counting",
    "object_size": "object_size_estimation",
    "absolute_distance": "object_abs_distance",
    "relative_distance": "object_rel_distance",
    "room_size": "room_size_estimation",
}
DIRECTION_TYPES = ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard")
MULTIPLE_CHOICE_TYPES = (*DIRECTION_TYPES, "object_rel_distance", "route_planning", "obj_appearance_order")
NUMERIC_TYPES = ("object_abs_distance", "object_counting", "object_size_estimation", "room_size_estimation")
#: the ten MRA thresholds of the public formula: int((0.95 - 0.5) / 0.05 + 2) = 10 points
THRESHOLDS = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))


def question_type(task: str, params: dict[str, Any] | None = None) -> str | None:
    """The VSI-Bench question type of a spatialevo task (``None`` for the tasks VSI-Bench lacks)."""
    if task == "relative_direction_hard":
        return f"object_rel_direction_{(params or {}).get('level', 'hard')}"
    return QUESTION_TYPES.get(task)


def first_token(prediction: str) -> str:
    """The public harness's answer extraction: the text before the first space, trailing dots removed."""
    return prediction.split(" ")[0].rstrip(".").strip()


def mra(prediction: float, ground_truth: float) -> float:
    """Mean relative accuracy over :data:`THRESHOLDS` (the public expression, float for float:
    :func:`spatialevo.dge.scoring.mean_relative_accuracy`, the package's own MRA, adds a 1e-9
    tolerance at the threshold edges, so the two differ where ``|pred − gt| / gt`` lands on an edge)."""
    return float((abs(prediction - ground_truth) / ground_truth <= 1 - THRESHOLDS).mean())


def score(prediction: Any, ground_truth: Any, qtype: str) -> float:
    """Score in [0, 1] of a raw model output for one VSI-Bench question of type ``qtype``.

    Raises:
        ValueError: an unknown question type, or a numeric ground truth that is not a positive number.
    """
    text = prediction if isinstance(prediction, str) else ""
    token = first_token(text)
    if qtype in MULTIPLE_CHOICE_TYPES:
        return 1.0 if token.lower() == str(ground_truth).strip().lower() else 0.0
    if qtype not in NUMERIC_TYPES:
        raise ValueError(f"unknown VSI-Bench question type {qtype!r}; types: {[*MULTIPLE_CHOICE_TYPES, *NUMERIC_TYPES]}")
    gt = float(ground_truth)
    if not np.isfinite(gt) or gt <= 0:
        raise ValueError(f"a numeric ground truth must be a positive number, got {ground_truth!r}")
    try:
        value = float(token)
    except ValueError:
        return 0.0
    return mra(value, gt) if np.isfinite(value) else 0.0


def report(rows: Iterable[tuple[str, float]]) -> dict[str, Any]:
    """VSI-Bench's table from ``(question type, score)`` pairs: per type the mean × 100 and the count,
    ``object_rel_direction`` (the mean of the direction levels present, replacing them), and
    ``overall`` (the unweighted mean over the types)."""
    by_type: dict[str, list[float]] = defaultdict(list)
    for qtype, s in rows:
        by_type[qtype].append(float(s))
    types = {t: {"n": len(v), "score": 100.0 * sum(v) / len(v)} for t, v in sorted(by_type.items())}
    levels = [types.pop(t) for t in DIRECTION_TYPES if t in types]
    if levels:
        types["object_rel_direction"] = {"n": sum(x["n"] for x in levels), "score": sum(x["score"] for x in levels) / len(levels)}
    overall = sum(x["score"] for x in types.values()) / len(types) if types else 0.0
    return {"types": types, "overall": overall}


# -- the question as the public harness poses it ----------------------------------------------------
PRE_PROMPT = "These are frames of a video."
MCA_POST_PROMPT = "Answer with the option's letter from the given choices directly."
NA_POST_PROMPT = "Please answer the question using a single word or phrase."


def prompt(row: dict[str, Any]) -> str:
    """The text shown with a row's frames, as the public lmms-eval task builds it: the pre-prompt,
    the question, for multiple choice ``Options:`` and one option per line, and the post-prompt."""
    qtype = str(row["question_type"])
    if qtype in MULTIPLE_CHOICE_TYPES:
        options = row.get("options")
        options = list(options) if options is not None else []
        return "\n".join([PRE_PROMPT, str(row["question"]), "Options:\n" + "\n".join(options), MCA_POST_PROMPT])
    return PRE_PROMPT + "\n" + str(row["question"]) + "\n" + NA_POST_PROMPT


# -- export: spatialevo records as VSI-Bench rows --------------------------------------------------
#: VSI-Bench's question wording per question type ({a}, {b}, {c}: the question's objects in order;
#: {choices}: the multiple-choice options, comma-separated, in their lettered order)
WORDING: dict[str, str] = {
    "object_counting": "How many {a}(s) are in this room?",
    "object_size_estimation": "What is the length of the longest dimension (length, width, or height) of the {a}, measured in centimeters?",
    "object_abs_distance": "Measuring from the closest point of each object, what is the direct distance between the {a} and the {b} (in meters)?",
    "object_rel_distance": "Measuring from the closest point of each object, which of these objects ({choices}) is the closest to the {a}?",
    "object_rel_direction_easy": "If I am standing by the {a} and facing the {b}, is the {c} to the left or the right of the {b}?",
    "object_rel_direction_medium": "If I am standing by the {a} and facing the {b}, is the {c} to my left, right, or back? "
                                   "An object is to my back if I would have to turn at least 135 degrees in order to face it.",
    "object_rel_direction_hard": "If I am standing by the {a} and facing the {b}, is the {c} to my front-left, front-right, back-left, or "
                                 "back-right? The directions refer to the quadrants of a Cartesian plane (if I am standing at the origin "
                                 "and facing along the positive y-axis).",
    "room_size_estimation": "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the combined space.",
}
LETTERS = "ABCDEFGH"


def lettered(options: list[str], answer: str, slot: int, key: str = "") -> tuple[list[str], str]:
    """The options with ``answer`` at letter ``slot % len(options)`` and the others in an order
    shuffled by ``key`` (the record's id: reproducible, and independent of which option is the
    answer, so the order gives nothing away), written ``"A. sofa"``, and the answer's letter."""
    rest = [o for o in options if o != answer]
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    rest = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))]
    k = slot % len(options)
    order = rest[:k] + [answer] + rest[k:]
    return [f"{LETTERS[i]}. {o}" for i, o in enumerate(order)], LETTERS[k]


def export_rows(records: Iterable[dict[str, Any]], dataset: str = "spatialevo") -> Iterable[dict[str, Any]]:
    """VSI-Bench rows (``id, dataset, scene_name, question_type, question, options, ground_truth``,
    plus ``images``, ``frames``, ``task`` and ``record_id``) of the valid records of the tasks
    VSI-Bench shares, in order: VSI-Bench's wording (:data:`WORDING`), numbers as the answer text,
    multiple choice as lettered options whose answer letter cycles A, B, C, … per question type and
    option count (balanced), the ground truth its letter. Ids count the rows from 0."""
    slots: dict[tuple[str, int], int] = defaultdict(int)
    n = 0
    for rec in records:
        q = rec["question"]
        qtype = question_type(rec["task"], q.get("params"))
        if qtype is None or rec.get("reason"):
            continue
        objs = list(q.get("objects") or []) + ["", "", ""]
        options, truth = None, str(rec["answer_text"])
        if qtype in MULTIPLE_CHOICE_TYPES:
            slot = (qtype, len(rec["options"]))
            options, truth = lettered(list(rec["options"]), truth, slots[slot], str(rec["id"]))
            slots[slot] += 1
        choices = ", ".join(o.split(". ", 1)[1] for o in options) if options else ""
        yield {"id": n, "dataset": dataset, "scene_name": rec["scene"], "question_type": qtype,
               "question": WORDING[qtype].format(a=objs[0], b=objs[1], c=objs[2], choices=choices), "options": options,
               "ground_truth": truth, "images": rec["images"], "frames": rec["frames"], "task": rec["task"], "record_id": rec["id"]}
        n += 1


# -- files: a VSI-Bench-format test set and a predictions file ------------------------------------
def read_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a VSI-Bench-format test set: Parquet (needs ``pyarrow``), CSV, JSON lines or a
    JSON list, with at least ``id``, ``question_type`` and ``ground_truth`` (ids read as text).

    Raises:
        SpatialEvoError: a missing or unreadable file, or a row without those columns (named).
    """
    p = Path(path)
    if p.is_dir():
        rows = _read_parquets(table_files(p))
    elif not p.is_file():
        raise SpatialEvoError(f"VSI-Bench test set not found: {p} (a .parquet, .csv, .jsonl or .json file, or a folder of .parquet)")
    else:
        rows = _read_file(p)
    if not isinstance(rows, list) or not rows:
        raise SpatialEvoError(f"{p}: no rows")
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, 1):
        missing = [k for k in ("id", "question_type", "ground_truth") if not isinstance(row, dict) or k not in row]
        if missing:
            raise SpatialEvoError(f"{p}: row {n} has no {', '.join(missing)} column")
        row["id"] = str(row["id"])
        if row["id"] in seen:
            raise SpatialEvoError(f"{p}: id {row['id']!r} is in rows {seen[row['id']]} and {n} (two test sets read as one? give the file)")
        seen[row["id"]] = n
        row["options"] = _options(row.get("options"), p, n)
    return rows


def _options(cell: Any, p: Path, n: int) -> list[str] | None:
    """A row's options as a list of text: as stored, or a CSV cell holding a JSON or Python list literal."""
    if cell is None or cell == "" or (isinstance(cell, float) and cell != cell):
        return None
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except ValueError:
            try:
                cell = ast.literal_eval(cell)  # literals only: nothing is evaluated
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise SpatialEvoError(f"{p}: row {n}: options {cell[:80]!r} is not a list") from None
    if not isinstance(cell, (list, tuple)) or not all(isinstance(o, str) for o in cell):
        raise SpatialEvoError(f"{p}: row {n}: options must be a list of text, got {type(cell).__name__}")
    return list(cell)


def table_files(folder: Path) -> list[Path]:
    """The Parquet files of a test-set folder: those its dataset card (``README.md``) names for the
    ``test`` split of its ``default`` (else ``full``, else first) config, else ``data/*.parquet``,
    else its one ``*.parquet`` file.

    Raises:
        SpatialEvoError: no such file, or several top-level ``.parquet`` files and no card naming one.
    """
    files = _card_files(folder) or sorted(folder.glob("data/*.parquet"))
    if files:
        return files
    top = sorted(folder.glob("*.parquet"))
    if len(top) > 1:
        names = ", ".join(f.name for f in top[:4]) + (", …" if len(top) > 4 else "")
        raise SpatialEvoError(f"{folder}: several .parquet files ({names}) and no dataset card naming the test set: give its file as --data")
    if not top:
        raise SpatialEvoError(f"{folder}: no .parquet test set in it (nor in {folder / 'data'})")
    return top


def _card_files(folder: Path) -> list[Path]:
    """The files a Hugging Face dataset card names for the test split (``[]``: no card or no configs)."""
    import yaml

    card = folder / "README.md"
    try:
        text = card.read_text(encoding="utf-8") if card.is_file() else ""
        head = yaml.safe_load(text.split("\n---", 1)[0][3:]) if text.startswith("---") else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    configs = head.get("configs") if isinstance(head, dict) else None
    if not isinstance(configs, list) or not configs:
        return []
    named = {c.get("config_name"): c for c in configs if isinstance(c, dict)}
    config = named.get("default") or named.get("full") or (configs[0] if isinstance(configs[0], dict) else {})
    spec = config.get("data_files")
    if isinstance(spec, dict):
        spec = spec.get("test", next(iter(spec.values()), None))
    if isinstance(spec, list) and spec and all(isinstance(d, dict) for d in spec):
        by_split = {d.get("split"): d.get("path") for d in spec if isinstance(d, dict)}
        spec = by_split.get("test", next(iter(by_split.values()), None))
    paths = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else []
    return sorted({f for pat in paths if isinstance(pat, str) for f in folder.glob(pat) if f.suffix == ".parquet"})


class _Images:
    """A row's ``images`` cell, read from the memory-mapped table only when the row is answered."""

    def __init__(self, column: Any, i: int):
        self.column, self.i = column, i

    def __iter__(self) -> Any:
        return iter(self.column[self.i].as_py() or [])

    def __bool__(self) -> bool:
        return len(self.column[self.i].values) > 0 if self.column[self.i].is_valid else False


def _read_parquets(files: list[Path]) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.concat_tables([pq.read_table(f, memory_map=True) for f in files])
    except (OSError, pa.ArrowInvalid) as exc:
        raise SpatialEvoError(f"{files[0].parent}: cannot read its Parquet files ({exc})") from None
    if "images" not in table.column_names:
        return table.to_pylist()
    column = table.column("images")
    rows = table.drop_columns(["images"]).to_pylist()
    for i, row in enumerate(rows):
        row["images"] = _Images(column, i)
    return rows


def _read_file(p: Path) -> list[dict[str, Any]]:
    suffix = p.suffix.lower()
    try:
        if suffix == ".parquet":
            return _read_parquets([p])
        if suffix == ".csv":
            with p.open(newline="", encoding="utf-8") as fh:
                return list(csv.DictReader(fh))
        if suffix in (".jsonl", ".json"):
            text = p.read_text(encoding="utf-8")
            return safejson.loads(text) if suffix == ".json" else [safejson.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SpatialEvoError(f"{p}: cannot read it ({exc})") from None
    raise SpatialEvoError(f"{p}: unknown test-set format {suffix!r} (use .parquet, .csv, .jsonl or .json)")


def read_predictions(path: str | Path) -> dict[str, str]:
    """``id → prediction`` from a JSON-lines file of ``{"id": ..., "prediction": "..."}`` objects.

    Raises:
        SpatialEvoError: a missing file, a bad line, or an id given twice (named with its line).
    """
    p = Path(path)
    if not p.is_file():
        raise SpatialEvoError(f"predictions file not found: {p}")
    out: dict[str, str] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = safejson.loads(line)
            key, pred = str(obj["id"]), obj["prediction"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SpatialEvoError(f"{p}:{n}: not a prediction line {{\"id\": ..., \"prediction\": ...}} ({exc})") from None
        if key in out:
            raise SpatialEvoError(f"{p}:{n}: id {key!r} is predicted twice")
        out[key] = pred if isinstance(pred, str) else json.dumps(pred)
    return out


def score_predictions(rows: list[dict[str, Any]], predictions: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """VSI-Bench's report (:func:`report`) of ``predictions`` on the test rows, and the per-sample
    log (id, question type, prediction, extracted answer, ground truth, score). A row without a
    prediction scores 0 (counted in ``missing``).

    Raises:
        SpatialEvoError: a prediction for an id the test set does not have, or a bad row (named).
    """
    ids = {r["id"] for r in rows}
    stray = sorted(set(predictions) - ids)
    if stray:
        raise SpatialEvoError(f"{len(stray)} prediction(s) for ids the test set does not have, e.g. {stray[0]!r}")
    log, pairs = [], []
    for r in rows:
        pred = predictions.get(r["id"])
        try:
            s = score(pred, r["ground_truth"], str(r["question_type"])) if pred is not None else 0.0
        except ValueError as exc:
            raise SpatialEvoError(f"test row {r['id']!r}: {exc}") from None
        pairs.append((str(r["question_type"]), s))
        log.append({"id": r["id"], "question_type": r["question_type"], "prediction": pred,
                    "answer": first_token(pred) if isinstance(pred, str) else None, "ground_truth": r["ground_truth"], "score": s})
    rep = report(pairs)
    rep["missing"] = sum(1 for r in rows if r["id"] not in predictions)
    return rep, log
