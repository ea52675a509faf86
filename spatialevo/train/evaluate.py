"""``spatialevo eval``: score a policy checkpoint as a solver, per task, against the DGE.

The questions are either a file written by ``spatialevo generate`` (``--data``) or a held-out set
drawn here with the generator's machinery (distinct valid questions per scene and task, balanced
answers; seed 1,000,003 by default so it differs from training seeds). Each question is posed as
the self-play round's solver turn: its frames (a scene task's clip of ``--clip-frames`` frames, an
image task's own), its words and the solver prompt, as training shows it; the model answers
greedily; the answer is scored by the task's scorer (MRA for numbers, exact match for choices and
directions, the reason code for invalid questions). Reports per task: questions, mean score,
share of answers in the ``<answer>`` format.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialevo.dge import TASK_NAMES, Question
from spatialevo.errors import SpatialEvoError
from spatialevo.safejson import loads
from spatialevo.selfplay import Round, RoundConfig, Turn
from spatialevo.selfplay.rewards import solver_reward
from spatialevo.selfplay.sources import SceneSource

EVAL_SEED = 1_000_003


def held_out_records(scenes: str, tasks: Sequence[str], per_task: int, seed: int = EVAL_SEED,
                     round_config: RoundConfig | None = None) -> list[dict[str, Any]]:
    """Verified QA records (the ``spatialevo generate`` format) drawn in memory."""
    import tempfile

    from spatialevo.generate import GenerateConfig, generate, merge

    with tempfile.TemporaryDirectory() as tmp:
        generate(GenerateConfig(out=Path(tmp), scenes=scenes, tasks=tuple(tasks), per_task=per_task, seed=seed, images=False,
                                round=round_config or RoundConfig()), progress=False)
        return [json.loads(line) for line in merge(Path(tmp)).read_text().splitlines() if line]


def read_records(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise SpatialEvoError(f"dataset file not found: {p}")
    out = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if line.strip():
            try:
                rec = loads(line)
                _ = rec["scene_id"], rec["question"], rec["question_text"]
            except (ValueError, KeyError, TypeError) as exc:
                raise SpatialEvoError(f"{p}:{n}: not a spatialevo generate record ({exc})") from None
            out.append(rec)
    if not out:
        raise SpatialEvoError(f"{p}: no records")
    return out


def record_scenes(source: SceneSource, records: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(scene name, record)`` for each record (its ``scene``, the source's unique name; older
    records: its ``scene_id``).

    Raises:
        SpatialEvoError: a record whose scene is not in ``source``.
    """
    index = source.index_by_id()
    out = []
    for rec in records:
        name = rec.get("scene", rec["scene_id"])
        if name not in index:
            raise SpatialEvoError(f"record {rec.get('id')}: scene {name!r} is not among the {len(source)} scenes given")
        out.append((source.names[index[name]], rec))
    return out


def record_turn(rnd: Round, name: str, rec: dict[str, Any]) -> Turn:
    """The solver turn that poses a record: its question, shown its frames (the question's evidence
    when the record has none)."""
    return rnd.solver_turn(name, Question.from_dict(rec["question"]), frames=rec.get("frames") or None)


def evaluate_policy(model: Any, processor: Any, records: Sequence[dict[str, Any]], scenes: str, *, round_config: RoundConfig | None = None,
                    max_new_tokens: int = 64, batch: int = 8, progress: bool = True) -> dict[str, Any]:
    """Per-task and overall mean score and format rate of the model's answers to ``records``.

    Each record is posed as the round's solver turn (:meth:`spatialevo.selfplay.Round.solver_turn`):
    the record's frames (or the question's evidence), the solver prompt, the images at the
    policy's size, the verdict for those frames — what training and the env show for it."""
    from spatialevo.train.solver import answer, pil_images

    rnd = Round(scenes, round_config)
    todo = record_scenes(rnd.source, records)
    per_task: dict[str, list[tuple[float, float]]] = defaultdict(list)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="q", desc="eval")
    model.eval()
    for start in range(0, len(todo), batch):
        turns = [record_turn(rnd, name, rec) for name, rec in todo[start : start + batch]]
        answers = [a[0] for a in answer(model, processor, [t.prompt for t in turns], [pil_images(t.images) for t in turns],
                                        max_new_tokens=max_new_tokens)]
        for turn, ans in zip(turns, answers):
            _, parts, _ = solver_reward(ans, turn.verdict, rnd.config.answer_format)
            per_task[turn.task].append((parts["score"], parts["format"]))
        if bar is not None:
            bar.update(len(turns))
    if bar is not None:
        bar.close()
    tasks = {t: {"n": len(v), "score": sum(s for s, _ in v) / len(v), "format": sum(f for _, f in v) / len(v)}
             for t, v in sorted(per_task.items(), key=lambda kv: TASK_NAMES.index(kv[0]) if kv[0] in TASK_NAMES else 99)}
    scores = [s for v in per_task.values() for s, _ in v]
    return {"tasks": tasks, "overall": {"n": len(scores), "score": sum(scores) / max(len(scores), 1),
                                        "task_mean": sum(t["score"] for t in tasks.values()) / max(len(tasks), 1)}}
