"""QA records, a seeded on-the-fly dataset and scoring, reasoning-gym style.

* :func:`qa_record` — the record of a solver turn (what ``spatialevo generate`` writes, one line of
  ``data.jsonl``): one place for its fields.
* :func:`create_dataset` — an index-addressable, seeded dataset (:class:`SpatialDataset`): ``ds[i]``
  is the same record in every process and in any order of access, generated on demand (no files).
* :func:`score_answer` — the correctness in [0, 1] of a model's answer to any record the package
  writes: the solver reward's score part (without the format part).

    >>> import spatialevo
    >>> ds = spatialevo.create_dataset(["object_size", "room_size"], size=10, seed=0)   # doctest: +SKIP
    >>> rec = ds[3]                                                                      # doctest: +SKIP
    >>> spatialevo.score_answer(f"<answer>{rec['answer_text']}</answer>", rec)           # doctest: +SKIP
    1.0
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from spatialevo.dge import TASK_NAMES, TASKS, make_rng
from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import Round, RoundConfig, Turn
from spatialevo.selfplay.prompts import chat
from spatialevo.selfplay.rewards import answer_score, solver_reward_of

#: scenes tried per record before a task is declared impossible on the source
SCENE_TRIES = 32


def qa_record(turn: Turn, record_id: str, images: Sequence[str] = (), *, index: int = 0, seed: int = 0) -> dict[str, Any]:
    """The QA record of a solver turn: ids (``index`` and ``seed`` regenerate it), the shown frames
    (and their image paths), the question structured and in words, the solver prompt as a
    conversation (:func:`~spatialevo.selfplay.prompts.chat`, as training gives it), the verdict's
    answer and the evidence numbers. An invalid question's answer is its reason code (``reason``,
    ``answer_kind`` ``"reason"``): what a solver should reply."""
    v = turn.verdict
    code = None if v.valid else v.reason.value
    return {
        "id": record_id,
        "index": int(index),
        "seed": int(seed),
        "scene": turn.scene,
        "scene_id": turn.scene_id,
        "task": turn.task,
        "valid": bool(v.valid),
        "reason": code,
        "frames": list(turn.frames),
        "images": list(images),
        "question": turn.question.to_dict(),
        "question_text": turn.question_text,
        "prompt": chat(turn.prompt),
        "answer": v.answer if v.valid else code,
        "answer_text": v.answer_text if v.valid else code,
        "answer_kind": v.answer_kind if v.valid else "reason",
        "unit": v.unit,
        "options": list(v.options) if v.options else None,
        "evidence": v.to_dict()["evidence"],
    }


def _judged(record: dict[str, Any]) -> dict[str, Any]:
    """The verdict fields of a record (numbers given as text in dataset rows read back as numbers)."""
    try:
        reason = record.get("reason") or ""
        kind, gt = record["answer_kind"], record["answer"]
        if not reason and kind in ("number", "integer") and isinstance(gt, str):  # a dataset row: the answer as text
            gt = int(gt) if kind == "integer" else float(gt)
        return {"valid": not reason, "kind": kind, "gt": gt, "unit": record.get("unit"), "options": record.get("options") or None,
                "reason": reason}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpatialEvoError(f"not a spatialevo QA record ({exc})") from None


def score_answer(answer: Any, record: dict[str, Any]) -> float:
    """Correctness in [0, 1] of ``answer`` (model text, ``<answer>…</answer>`` or bare) for a record
    written by the package (:func:`qa_record`; a row of its dataset folders, where numbers are
    text, too): the task's scorer — MRA for numbers, exact match after normalisation for options
    and directions — or, for an invalid question (``reason``), 1 for naming its reason code.
    Negated, hedged or multi-answer text scores 0. Equal to the score part of the solver's training
    reward for the same question."""
    if not isinstance(answer, str):
        return 0.0
    args = _judged(record)
    try:
        return answer_score(answer, **args)
    except (TypeError, ValueError) as exc:
        raise SpatialEvoError(f"not a spatialevo QA record ({exc})") from None


def reward_fn(completions: Sequence[Any], *, answer_format: str = "direct", **columns: Sequence[Any]) -> list[float]:
    """The solver's training reward (format + correctness, :func:`~spatialevo.selfplay.rewards.solver_reward`)
    as a TRL reward function: ``GRPOTrainer(reward_funcs=spatialevo.reward_fn, train_dataset=...)``
    on a dataset folder of ``--format spatialevo`` or ``trl``, whose columns ``answer``,
    ``answer_kind``, ``unit``, ``options`` and ``reason`` arrive as keyword arguments.
    ``completions`` are texts or conversations (the last message's content is read).
    ``answer_format``: the format the dataset's prompts ask for (``"reasoning"`` for a folder
    generated with ``round.answer_format: reasoning``: ``functools.partial(reward_fn,
    answer_format="reasoning")``)."""
    missing = [k for k in ("answer", "answer_kind") if k not in columns]
    if missing:
        raise SpatialEvoError(f"reward_fn needs the columns answer and answer_kind of a spatialevo dataset folder; missing {missing}")
    out = []
    for i, c in enumerate(completions):
        text = c[-1].get("content", "") if isinstance(c, list) and c and isinstance(c[-1], dict) else c
        rec = {k: columns[k][i] for k in ("answer", "answer_kind", "unit", "options", "reason") if columns.get(k) is not None}
        out.append(solver_reward_of(text, **_judged(rec), answer_format=answer_format)[0])
    return out


class SpatialDataset(Sequence):
    """``size`` QA records generated on demand (see :func:`create_dataset`).

    Record ``i`` has task ``tasks[i % len(tasks)]``; its scene and question are drawn with the
    generator of ``(seed, i)`` (a scene that has a question of the task valid for its evidence), so
    it does not depend on other records, the order of access or the process.
    """

    def __init__(self, tasks: Sequence[str], size: int, seed: int, round: Round):
        self.tasks, self.size, self.seed, self.round = tuple(tasks), int(size), int(seed), round

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.size))]
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"dataset indices are integers, got {type(i).__name__}")
        if not -self.size <= i < self.size:
            raise IndexError(f"index {i} out of range for a dataset of {self.size}")
        i %= self.size
        task = self.tasks[i % len(self.tasks)]
        rng = make_rng(self.seed, i)
        for _ in range(SCENE_TRIES):
            name, _task = self.round.draw(rng, task)
            if _task != task:  # a scene without frames cannot show an image task
                continue
            q = self.round.sample(name, task, rng)
            if q is not None:
                return qa_record(self.round.solver_turn(name, q, images=False), f"{self.seed}-{i:06d}", index=i, seed=self.seed)
        raise SpatialEvoError(f"no scene of the source has a valid {task} question ({SCENE_TRIES} scenes tried for record {i})")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(self.size))

    def score_answer(self, answer: Any, entry: dict[str, Any]) -> float:
        """:func:`score_answer` (reasoning-gym's method name)."""
        return score_answer(answer, entry)


def create_dataset(task_or_tasks: str | Sequence[str] | None = None, *, size: int = 100, seed: int = 0, scenes: Any = "bundled",
                   round_config: RoundConfig | None = None) -> SpatialDataset:
    """A seeded dataset of ``size`` records of one task, several (cycled), or all (``None``), on
    ``scenes`` (``"bundled"``, ``"synthetic[:N]"``, a folder, or scenes), shown and judged as the
    self-play round shows them (``round_config``). ``ds[i]`` is the same record in every process.

    Raises:
        SpatialEvoError: an unknown task, or a size or seed out of range.
    """
    tasks = list(TASK_NAMES) if task_or_tasks is None else [task_or_tasks] if isinstance(task_or_tasks, str) else list(task_or_tasks)
    unknown = [t for t in tasks if t not in TASKS]
    if not tasks or unknown:
        raise SpatialEvoError(f"unknown task(s) {unknown or tasks}; tasks: {list(TASK_NAMES)}")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10**9:
        raise SpatialEvoError(f"size must be a whole number between 1 and 1,000,000,000, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SpatialEvoError(f"seed must be a whole number between 0 and 2**32 - 1, got {seed!r}")
    return SpatialDataset(tasks, size, seed, Round(scenes, round_config))
