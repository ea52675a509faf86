"""The formats of a dataset folder: their columns (typed) and the row of each QA record.

``spatialevo`` (default)
    Every field of the record (:func:`spatialevo.dataset.qa_record`), typed: ``question`` and
    ``evidence`` as records (:data:`QUESTION`, :data:`EVIDENCE`), ``answer`` as text (``"0.4"``,
    ``"sofa"``; numbers read back by :func:`spatialevo.score_answer`), ``prompt`` the conversation
    training gives the solver.
``trl``
    What TRL's trainers read: ``prompt`` (conversation), ``images``, ``solution`` (the answer text)
    and ``completion`` (the reply earning full reward), for ``GRPOTrainer`` with
    :func:`spatialevo.reward_fn` (which reads ``answer``, ``answer_kind``, ``unit``, ``options``,
    ``reason``) and for ``SFTTrainer`` (prompt–completion).
``sft``
    ``messages`` (the user turn and the answer turn) and ``images``: chat fine-tuning.
``vsibench``
    VSI-Bench's columns (``id, dataset, scene_name, question_type, question, options,
    ground_truth``) with the frames as ``images``: the records of the tasks VSI-Bench shares, worded
    as VSI-Bench words them (:func:`spatialevo.vsibench.export_rows`).

``images`` holds the record's image paths here (relative to the folder); the writer stores each
image's bytes in the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from spatialevo.dge import EVIDENCE_FIELDS, TASKS
from spatialevo.errors import SpatialEvoError
from spatialevo.hfdata.features import IMAGE, conform
from spatialevo.selfplay.prompts import answer_reply

FORMATS = ("spatialevo", "trl", "sft", "vsibench")
_SCALARS = {"float": "float64", "floats": ["float64"], "int": "int64", "str": "string", "strs": ["string"]}


def _params() -> dict[str, str]:
    """Every task parameter and its type (from the tasks' ``param_space``)."""
    out: dict[str, str] = {}
    for name, task in TASKS.items():
        for key, (allowed, _) in task.param_space.items():
            t = "string" if isinstance(allowed[0], str) else "int64"
            if out.setdefault(key, t) != t:
                raise SpatialEvoError(f"internal error: parameter {key!r} of {name} has another type than elsewhere")
    return out


MESSAGES = [{"role": "string", "content": "string"}]
QUESTION = {"task": "string", "objects": ["string"], "frames": ["string"], "params": _params()}
EVIDENCE = {k: _SCALARS[v] for k, v in EVIDENCE_FIELDS.items()}
_IDS = {"id": "string", "index": "int64", "seed": "int64", "scene": "string"}
_SCORING = {"answer": "string", "answer_kind": "string", "unit": "string", "options": ["string"], "reason": "string"}

COLUMNS: dict[str, dict[str, Any]] = {
    "spatialevo": {**_IDS, "scene_id": "string", "task": "string", "valid": "bool", "reason": "string", "frames": ["string"],
                   "images": [IMAGE], "question": QUESTION, "question_text": "string", "prompt": MESSAGES, "answer": "string",
                   "answer_text": "string", "answer_kind": "string", "unit": "string", "options": ["string"], "evidence": EVIDENCE},
    "trl": {**_IDS, "task": "string", "prompt": MESSAGES, "images": [IMAGE], "solution": "string", "completion": MESSAGES, **_SCORING},
    "sft": {**_IDS, "task": "string", "messages": MESSAGES, "images": [IMAGE]},
    "vsibench": {"id": "int64", "dataset": "string", "scene_name": "string", "question_type": "string", "question": "string",
                 "options": ["string"], "ground_truth": "string", "images": [IMAGE], "frames": ["string"], "task": "string",
                 "record_id": "string"},
}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise SpatialEvoError(f"unknown dataset format {fmt!r}; formats: {', '.join(FORMATS)}")
    return fmt


def rows(records: Iterable[dict[str, Any]], fmt: str) -> Iterator[dict[str, Any]]:
    """The rows of ``fmt`` for records in order (``vsibench``: only the tasks it shares), each
    conformed to :data:`COLUMNS` (a field that does not fit raises, naming it)."""
    columns = COLUMNS[check_format(fmt)]
    if fmt == "vsibench":
        from spatialevo.vsibench import export_rows

        made: Iterable[dict[str, Any]] = export_rows(records)
    else:
        made = (_row(r, fmt) for r in records)
    for row in made:
        yield {k: (row.get(k) if k == "images" else conform(row.get(k), t, f"{row.get('id', '?')}: {k}")) for k, t in columns.items()}


def _row(rec: dict[str, Any], fmt: str) -> dict[str, Any]:
    text = rec["answer_text"]
    if fmt == "spatialevo":
        extra = sorted(set(rec) - set(COLUMNS["spatialevo"]))
        if extra:
            raise SpatialEvoError(f"record {rec.get('id')!r}: field {extra[0]!r} has no column type (a record of another "
                                  "spatialevo version? add it to COLUMNS)")
        return {**rec, "answer": text}
    base = {k: rec[k] for k in _IDS} | {"task": rec["task"], "images": rec["images"]}
    reply = [{"role": "assistant", "content": answer_reply(text)}]
    if fmt == "trl":
        return {**base, "prompt": rec["prompt"], "solution": text, "completion": reply, "answer": text,
                **{k: rec[k] for k in ("answer_kind", "unit", "options", "reason")}}
    return {**base, "messages": rec["prompt"] + reply}
