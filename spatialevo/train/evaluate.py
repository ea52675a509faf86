"""``spatialevo eval``: score a policy checkpoint as a solver, per task, against the DGE.

The questions are either a file written by ``spatialevo generate`` (``--data``) or a held-out set
drawn here with the generator's machinery (distinct valid questions per scene and task, balanced
answers; seed 1,000,003 by default so it differs from training seeds). Each question is shown with
its frames (or one context frame for scene tasks) and rendered in language; the model answers
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

from spatialevo.dge import DGE, TASK_NAMES, Question
from spatialevo.errors import SpatialEvoError
from spatialevo.rewards import solver_reward
from spatialevo.safejson import loads

EVAL_SEED = 1_000_003


def held_out_records(scenes: str, tasks: Sequence[str], per_task: int, seed: int = EVAL_SEED) -> list[dict[str, Any]]:
    """Verified QA records (the ``spatialevo generate`` format) drawn in memory."""
    import tempfile

    from spatialevo.generate import GenerateConfig, generate, merge

    with tempfile.TemporaryDirectory() as tmp:
        generate(GenerateConfig(out=Path(tmp), scenes=scenes, tasks=tuple(tasks), per_task=per_task, seed=seed, images=False), progress=False)
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


def evaluate_policy(model: Any, processor: Any, records: Sequence[dict[str, Any]], scenes: str, *, image_size: int = 224,
                    max_new_tokens: int = 64, batch: int = 8, progress: bool = True) -> dict[str, Any]:
    """Per-task and overall mean score and format rate of the model's answers to ``records``."""
    from spatialevo.sources import make_source
    from spatialevo.train.solver import answer, frame_image

    source = make_source(scenes)
    index = source.index_by_id()
    dges: dict[int, DGE] = {}
    per_task: dict[str, list[tuple[float, float]]] = defaultdict(list)
    todo = []
    for rec in records:
        name = rec.get("scene", rec["scene_id"])  # the source's unique name (older records: the scene id)
        if name not in index:
            raise SpatialEvoError(f"record {rec.get('id')}: scene {name!r} is not among the scenes {scenes!r}")
        todo.append(rec)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="q", desc="eval")
    model.eval()
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        images = []
        for rec in chunk:
            scene = source.get(index[rec.get("scene", rec["scene_id"])])
            images.append([frame_image(scene, f, image_size) for f in rec.get("frames") or [scene.frames[0].id]])
        answers = [a[0] for a in answer(model, processor, [rec["question_text"] for rec in chunk], images, max_new_tokens=max_new_tokens)]
        for rec, ans in zip(chunk, answers):
            k = index[rec.get("scene", rec["scene_id"])]
            dge = dges.get(k) or dges.setdefault(k, DGE(source.get(k)))
            v = dge.evaluate(Question.from_dict(rec["question"]))
            _, parts, _ = solver_reward(ans, v)
            per_task[rec["task"]].append((parts["score"], parts["format"]))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    tasks = {t: {"n": len(v), "score": sum(s for s, _ in v) / len(v), "format": sum(f for _, f in v) / len(v)}
             for t, v in sorted(per_task.items(), key=lambda kv: TASK_NAMES.index(kv[0]) if kv[0] in TASK_NAMES else 99)}
    scores = [s for v in per_task.values() for s, _ in v]
    return {"tasks": tasks, "overall": {"n": len(scores), "score": sum(scores) / max(len(scores), 1),
                                        "task_mean": sum(t["score"] for t in tasks.values()) / max(len(tasks), 1)}}


def add_parser(sub: Any) -> None:
    import argparse

    p = sub.add_parser(
        "eval", help="score a VLM checkpoint as a solver, per task", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n  spatialevo eval --model out/evolve/cpu-smoke/final --per-task 5\n"
               "  spatialevo eval --model /models/Qwen2.5-VL-3B-Instruct --data out/qa/data.jsonl --json scores.json",
    )
    p.add_argument("--model", required=True, help="local checkpoint folder (e.g. <output_dir>/final)")
    p.add_argument("--scenes", default="bundled", help="the scenes the questions are about")
    p.add_argument("--data", default=None, help="a data.jsonl from spatialevo generate (default: a held-out set drawn here)")
    p.add_argument("--tasks", default=",".join(TASK_NAMES), help="tasks of the held-out set")
    p.add_argument("--per-task", type=int, default=10, help="held-out questions per task and scene")
    p.add_argument("--seed", type=int, default=EVAL_SEED)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--json", default=None, help="also write the scores here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)


def _run(args: Any) -> int:
    from transformers import AutoModelForImageTextToText

    from spatialevo.train.processor import load_processor

    path = Path(args.model).expanduser()
    if not (path / "config.json").is_file():
        raise SpatialEvoError(f"model checkpoint not found: {path} (a local folder with config.json)")
    if args.data:
        records = read_records(args.data)
    else:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        records = held_out_records(args.scenes, tasks, args.per_task, args.seed)
    model = AutoModelForImageTextToText.from_pretrained(str(path))
    res = evaluate_policy(model, load_processor(str(path)), records, args.scenes, image_size=args.image_size,
                          max_new_tokens=args.max_new_tokens, batch=args.batch, progress=not args.quiet)
    print(f"{'task':34s} {'n':>5s} {'score':>7s} {'format':>7s}")
    for t, r in res["tasks"].items():
        print(f"{t:34s} {r['n']:5d} {r['score']:7.3f} {r['format']:7.3f}")
    o = res["overall"]
    print(f"{'all':34s} {o['n']:5d} {o['score']:7.3f}   (mean over tasks {o['task_mean']:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0
