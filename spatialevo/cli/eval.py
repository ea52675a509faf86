"""``spatialevo eval``: the parser and what it runs (the library is :mod:`spatialevo.train.evaluate`;
the 'train' extra is imported only when the command runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from spatialevo.cli import add_label_options
from spatialevo.dge import TASK_NAMES
from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import RoundConfig
from spatialevo.train.evaluate import EVAL_SEED, evaluate_policy, held_out_records, read_records


def add_parser(sub: Any) -> None:
    """Register ``eval`` on the top-level subparsers ``sub``."""
    p = sub.add_parser(
        "eval", help="score a VLM checkpoint as a solver, per task", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Score a checkpoint as a solver, per task, against the DGE. The questions are a data.jsonl written by\n"
            "spatialevo generate (--data) or a held-out set drawn here (distinct valid questions per scene and\n"
            "task, balanced answers, --seed 1000003 by default so it differs from training seeds). Each is posed\n"
            "as the self-play round's solver turn (its frames, its words, the solver prompt); the model answers\n"
            "greedily; the task's scorer scores the answer (MRA for numbers, exact match for choices and\n"
            "directions, the reason code for an invalid question). Prints per task: questions, mean score and the\n"
            "share of answers in the <answer> format.\n\n"
            "--benchmark vsibench scores a VSI-Bench-format test set (--data) with VSI-Bench's public formulas,\n"
            "from --predictions, an OpenAI-compatible --endpoint or a local --model.\n\n"
            "A local --model needs the 'train' extra (pip install 'spatialevo[train]')."
        ),
        epilog="examples:\n  spatialevo eval --model out/evolve/cpu-smoke/final --per-task 5\n"
               "  spatialevo eval --model /models/Qwen2.5-VL-3B-Instruct --data out/qa/data.jsonl --json scores.json\n"
               "  spatialevo eval --benchmark vsibench --data vsibench/test.parquet --predictions preds.jsonl --log samples.jsonl\n"
               "  spatialevo eval --benchmark vsibench --data /data/VSI-Bench --endpoint http://localhost:8000/v1 --model-name qwen\n"
               "  spatialevo eval --benchmark vsibench --data out/qa-vsi --model /models/Qwen2.5-VL-3B-Instruct --json vsi.json",
    )
    p.add_argument("--benchmark", choices=("spatialevo", "vsibench"), default="spatialevo",
                   help="spatialevo: the package's own questions (default); vsibench: a VSI-Bench-format test set "
                        "(--data: a .parquet/.csv/.jsonl with id, question_type, question, options, ground_truth, or a folder "
                        "of them) scored with the public formulas")
    p.add_argument("--model", default=None, help="local checkpoint folder: a full model or a LoRA adapter, e.g. <output_dir>/final "
                   "(required for --benchmark spatialevo)")
    p.add_argument("--endpoint", default=None, help="vsibench: an OpenAI-compatible chat endpoint instead of --model, "
                   "e.g. http://localhost:8000/v1 (a vLLM server); needs --model-name")
    p.add_argument("--model-name", default=None, help="vsibench: the model name the endpoint serves")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the endpoint's API key (default OPENAI_API_KEY)")
    p.add_argument("--concurrency", type=int, default=4, help="vsibench: endpoint requests in flight at once (default 4)")
    p.add_argument("--retries", type=int, default=3, help="vsibench: retries of a failed request (connection, timeout, 429, 5xx; default 3)")
    p.add_argument("--retry-wait", type=float, default=1.0, help="vsibench: seconds before the first retry, doubled after each (default 1)")
    p.add_argument("--timeout", type=float, default=120.0, help="vsibench: seconds per endpoint request (default 120)")
    p.add_argument("--predictions", default=None, help="vsibench: a jsonl of {\"id\", \"prediction\"} to score, no model needed")
    p.add_argument("--media", default=None, help="vsibench: folder of <dataset>/<scene_name>/ frames or <dataset>/<scene_name>.mp4 "
                   "videos (default: the --data folder, or the folder holding the --data file)")
    p.add_argument("--lmms-eval-task", default=None, metavar="DIR",
                   help="vsibench: write the lmms-eval task (YAML + utils.py) for the --data folder (a --format vsibench "
                        "dataset) to DIR and stop; then: lmms-eval --tasks spatialevo_vsibench --include_path DIR ...")
    p.add_argument("--frames", type=int, default=16, help="vsibench: frames sampled uniformly per scene video or folder (default 16)")
    p.add_argument("--log", default=None, help="vsibench: the per-sample log (jsonl: id, prompt, output, answer, score); with a "
                   "model it is resumable: rerun the same command to answer only the rest "
                   "(default out/eval/vsibench-<model>-<test digest>.jsonl)")
    p.add_argument("--scenes", default="bundled", help="the scenes the questions are about: 'bundled', 'synthetic' / 'synthetic:N' or a folder "
                   "(with --data: the scenes it was generated from) (default: bundled)")
    add_label_options(p)
    p.add_argument("--data", default=None, help="spatialevo: a data.jsonl from spatialevo generate (default: a held-out set drawn here); "
                   "vsibench: the test set (required)")
    p.add_argument("--tasks", default=",".join(TASK_NAMES), help=f"comma-separated tasks of the held-out set, without --data (default: all {len(TASK_NAMES)})")
    p.add_argument("--per-task", type=int, default=10, help="held-out questions per task and scene, without --data (default 10)")
    p.add_argument("--seed", type=int, default=EVAL_SEED,
                   help=f"seed of the held-out set, without --data (default {EVAL_SEED}; generate's is 0)")
    p.add_argument("--clip-frames", type=int, default=16, help="frames shown with a scene task's question, uniform over the trajectory (default 16)")
    p.add_argument("--max-pixels", type=int, default=224 * 224, help="pixel budget of each image, aspect kept (default 50176 = 224x224)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="answer length limit in tokens (default 64)")
    p.add_argument("--batch", type=int, default=8, help="questions per local generate call (default 8)")
    p.add_argument("--json", default=None, help="also write the scores to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _print_report(rep: dict[str, Any]) -> None:
    print(f"{'question type':34s} {'n':>5s} {'score':>7s}")
    for t, r in rep["types"].items():
        print(f"{t:34s} {r['n']:5d} {r['score']:7.2f}")
    missing = rep.get("missing")
    print(f"{'overall (mean over types)':34s} {'':5s} {rep['overall']:7.2f}" + (f"   ({missing} without a prediction: 0)" if missing else ""))


def _run_vsibench(args: Any) -> int:
    """Score ``--predictions``, or answer the test set with ``--model`` / ``--endpoint`` (resumable
    log), on a VSI-Bench-format ``--data`` and print VSI-Bench's table."""
    from spatialevo import vsibench

    if not args.data:
        raise SpatialEvoError("--benchmark vsibench needs --data: the test set (.parquet, .csv or .jsonl, or a folder)")
    if args.lmms_eval_task:
        from spatialevo.evaluation.lmms_eval import TASK, write_task

        for path in write_task(args.data, args.lmms_eval_task):
            print(f"wrote {path}")
        print(f"run: lmms-eval --model <model> --model_args pretrained=<checkpoint> --tasks {TASK} "
              f"--include_path {args.lmms_eval_task} --batch_size 1")
        return 0
    given = [k for k in ("predictions", "endpoint", "model") if getattr(args, k)]
    if len(given) != 1:
        raise SpatialEvoError("--benchmark vsibench needs exactly one of --predictions FILE, --endpoint URL or --model PATH"
                              + (f" (got {', '.join('--' + k for k in given)})" if given else ""))
    rows = vsibench.read_table(args.data)
    if args.predictions:
        rep, log = vsibench.score_predictions(rows, vsibench.read_predictions(args.predictions))
        if args.log:
            _write_listing(Path(args.log), log)
    else:
        rep = _answer_vsibench(args, rows)
    _print_report(rep)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return 0


def _write_listing(path: Path, entries: list[dict[str, Any]]) -> None:
    """The per-sample listing of scored predictions (atomic); an answering run's log is never overwritten."""
    import os

    from spatialevo.evaluation.samples import HEADER_KEY

    if path.is_file():
        with path.open("rb") as fh:
            if HEADER_KEY.encode() in fh.readline():
                raise SpatialEvoError(f"--log '{path}' is the log of a model run (resumable): give another file for the listing")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text("".join(json.dumps(x, ensure_ascii=True) + "\n" for x in entries), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _answer_vsibench(args: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Answer ``rows`` with the endpoint or the local checkpoint, logging every sample."""
    import os
    import re

    from spatialevo.evaluation import ChatEndpoint, SampleLog, SceneFrames, checkpoint_digest, evaluate_vsibench, table_digest

    if args.endpoint:
        client = ChatEndpoint(args.endpoint, args.model_name or "", api_key=os.environ.get(args.api_key_env) or None,
                              max_tokens=args.max_new_tokens, timeout_s=args.timeout, retries=args.retries, concurrency=args.concurrency,
                              backoff_s=args.retry_wait)
        answer, model_id, chunk, workers = client.answer, f"{client.url}#{client.model_name}", 2 * client.concurrency, client.concurrency
    else:
        answer, chunk, workers = _local_answerer(args), args.batch, 1
        path = Path(args.model).expanduser().resolve()
        model_id = f"{path}@{checkpoint_digest(path)}"  # a checkpoint retrained in the same folder is another model
    data = Path(args.data)
    media = Path(args.media) if args.media else (data if data.is_dir() else data.parent)
    digest = table_digest(rows)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", args.model_name or Path(args.model or "model").name)[:60]
    log_path = Path(args.log) if args.log else Path("out") / "eval" / f"vsibench-{slug}-{digest}.jsonl"
    run = {"benchmark": "vsibench", "test": digest, "model": model_id, "media": str(media.resolve()), "frames": args.frames,
           "max_pixels": args.max_pixels, "max_new_tokens": args.max_new_tokens}
    with SampleLog(log_path, run) as log:
        if log.done:
            print(f"resuming {log_path}: {len(log.done)} of {len(rows)} samples already scored")
        rep, _ = evaluate_vsibench(rows, answer, SceneFrames(media, args.frames), log, max_pixels=args.max_pixels,
                                   chunk=max(1, chunk), workers=workers, progress=not args.quiet)
    print(f"per-sample log: {log_path}")
    return rep


def checkpoint_folder(model: str) -> Path:
    """The local checkpoint folder ``model``: a full model (``config.json``) or a LoRA run's adapter
    (``adapter_config.json``: transformers loads its base model, named in it, with peft)."""
    path = Path(model).expanduser()
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise SpatialEvoError(f"model checkpoint not found: {path} (a local folder with config.json, or a LoRA adapter's "
                              "adapter_config.json)")
    return path


def _local_answerer(args: Any) -> Any:
    """``answer(items)`` of a local transformers checkpoint (greedy, ``--batch`` at a time)."""
    from transformers import AutoModelForImageTextToText

    from spatialevo.train.processor import load_processor
    from spatialevo.train.solver import answer

    path = checkpoint_folder(args.model)
    model, processor = AutoModelForImageTextToText.from_pretrained(str(path)), load_processor(str(path))
    model.eval()

    def run(items: list[tuple[str, list[Any]]]) -> list[str]:
        return [a[0] for a in answer(model, processor, [p for p, _ in items], [ims for _, ims in items], max_new_tokens=args.max_new_tokens)]

    return run


def _run(args: Any) -> int:
    """Load the checkpoint, answer the questions (``--data`` or a held-out set drawn here), print
    the per-task table and write it with ``--json``; ``--benchmark vsibench``: :func:`_run_vsibench`."""
    if args.benchmark == "vsibench":
        return _run_vsibench(args)
    if not args.model:
        raise SpatialEvoError("--model is required: a local checkpoint folder (e.g. <output_dir>/final)")
    from transformers import AutoModelForImageTextToText

    from spatialevo.train.processor import load_processor

    path = checkpoint_folder(args.model)
    if args.data:
        records = read_records(args.data)
    else:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        records = held_out_records(args.scenes, tasks, args.per_task, args.seed,
                                   RoundConfig(clip_frames=args.clip_frames, max_pixels=args.max_pixels,
                                               labels=args.labels, label_map=args.label_map))
    model = AutoModelForImageTextToText.from_pretrained(str(path))
    res = evaluate_policy(model, load_processor(str(path)), records, args.scenes,
                          round_config=RoundConfig(clip_frames=args.clip_frames, max_pixels=args.max_pixels,
                                                   labels=args.labels, label_map=args.label_map),
                          max_new_tokens=args.max_new_tokens, batch=args.batch, progress=not args.quiet)
    print(f"{'task':34s} {'n':>5s} {'score':>7s} {'format':>7s}")
    for t, r in res["tasks"].items():
        print(f"{t:34s} {r['n']:5d} {r['score']:7.3f} {r['format']:7.3f}")
    o = res["overall"]
    print(f"{'all':34s} {o['n']:5d} {o['score']:7.3f}   (mean over tasks {o['task_mean']:.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0
