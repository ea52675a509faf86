"""``spatialevo eval``: the parser and what it runs (the library is :mod:`spatialevo.train.evaluate`;
the 'train' extra is imported only when the command runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spatialevo.dge import TASK_NAMES
from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import RoundConfig
from spatialevo.train import evaluate as evaluation
from spatialevo.train.evaluate import EVAL_SEED, evaluate_policy, held_out_records, read_records


def add_parser(sub: Any) -> None:
    """Register ``eval`` on the top-level subparsers ``sub``."""
    p = sub.add_parser(
        "eval", help="score a VLM checkpoint as a solver, per task", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(evaluation.__doc__ or "").split("\n\n")[0],
        epilog="examples:\n  spatialevo eval --model out/evolve/cpu-smoke/final --per-task 5\n"
               "  spatialevo eval --model /models/Qwen2.5-VL-3B-Instruct --data out/qa/data.jsonl --json scores.json\n"
               "  spatialevo eval --benchmark vsibench --data vsibench/test.parquet --predictions preds.jsonl --log samples.jsonl",
    )
    p.add_argument("--benchmark", choices=("spatialevo", "vsibench"), default="spatialevo",
                   help="spatialevo: the package's own questions (default); vsibench: a VSI-Bench-format test set "
                        "(--data: .parquet/.csv/.jsonl with id, question_type, ground_truth) scored with the public formulas")
    p.add_argument("--model", default=None, help="local checkpoint folder (e.g. <output_dir>/final); required unless --predictions")
    p.add_argument("--predictions", default=None, help="vsibench: a jsonl of {\"id\", \"prediction\"} to score, no model needed")
    p.add_argument("--log", default=None, help="vsibench: write the per-sample log here (jsonl: id, prediction, answer, score)")
    p.add_argument("--scenes", default="bundled", help="the scenes the questions are about")
    p.add_argument("--data", default=None, help="a data.jsonl from spatialevo generate (default: a held-out set drawn here)")
    p.add_argument("--tasks", default=",".join(TASK_NAMES), help="tasks of the held-out set")
    p.add_argument("--per-task", type=int, default=10, help="held-out questions per task and scene")
    p.add_argument("--seed", type=int, default=EVAL_SEED)
    p.add_argument("--clip-frames", type=int, default=16, help="frames shown with a scene task's question (uniform over the trajectory)")
    p.add_argument("--max-pixels", type=int, default=224 * 224, help="pixel budget of each image (aspect kept)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--json", default=None, help="also write the scores here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)


def _run_vsibench(args: Any) -> int:
    """Score ``--predictions`` on a VSI-Bench-format ``--data`` test set and print VSI-Bench's table."""
    from spatialevo import vsibench

    if not args.data:
        raise SpatialEvoError("--benchmark vsibench needs --data: the test set (.parquet, .csv or .jsonl)")
    if not args.predictions:
        raise SpatialEvoError("--benchmark vsibench scores given outputs: pass --predictions (jsonl of id, prediction); "
                              "answering VSI-Bench with a model inside spatialevo is not built yet")
    rep, log = vsibench.score_predictions(vsibench.read_table(args.data), vsibench.read_predictions(args.predictions))
    print(f"{'question type':34s} {'n':>5s} {'score':>7s}")
    for t, r in rep["types"].items():
        print(f"{t:34s} {r['n']:5d} {r['score']:7.2f}")
    print(f"{'overall (mean over types)':34s} {'':5s} {rep['overall']:7.2f}" + (f"   ({rep['missing']} without a prediction: 0)" if rep["missing"] else ""))
    if args.log:
        Path(args.log).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in log), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return 0


def _run(args: Any) -> int:
    """Load the checkpoint, answer the questions (``--data`` or a held-out set drawn here), print
    the per-task table and write it with ``--json``; ``--benchmark vsibench``: :func:`_run_vsibench`."""
    if args.benchmark == "vsibench":
        return _run_vsibench(args)
    if not args.model:
        raise SpatialEvoError("--model is required: a local checkpoint folder (e.g. <output_dir>/final)")
    from transformers import AutoModelForImageTextToText

    from spatialevo.train.processor import load_processor

    path = Path(args.model).expanduser()
    if not (path / "config.json").is_file():
        raise SpatialEvoError(f"model checkpoint not found: {path} (a local folder with config.json)")
    if args.data:
        records = read_records(args.data)
    else:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        records = held_out_records(args.scenes, tasks, args.per_task, args.seed,
                                   RoundConfig(clip_frames=args.clip_frames, max_pixels=args.max_pixels))
    model = AutoModelForImageTextToText.from_pretrained(str(path))
    res = evaluate_policy(model, load_processor(str(path)), records, args.scenes,
                          round_config=RoundConfig(clip_frames=args.clip_frames, max_pixels=args.max_pixels),
                          max_new_tokens=args.max_new_tokens, batch=args.batch, progress=not args.quiet)
    print(f"{'task':34s} {'n':>5s} {'score':>7s} {'format':>7s}")
    for t, r in res["tasks"].items():
        print(f"{t:34s} {r['n']:5d} {r['score']:7.3f} {r['format']:7.3f}")
    o = res["overall"]
    print(f"{'all':34s} {o['n']:5d} {o['score']:7.3f}   (mean over tasks {o['task_mean']:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0
