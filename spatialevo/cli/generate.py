"""``spatialevo generate``: the parser and what it runs (the library is :mod:`spatialevo.generate`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatialevo.cli import add_label_options
from spatialevo.dge import TASK_NAMES
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import MAX_SEED, GenerateConfig, generate, merge, parse_shard
from spatialevo.hfdata import FORMATS, write_folder
from spatialevo.hfdata.folder import SHARD_BYTES
from spatialevo.selfplay import RoundConfig
from spatialevo.showpictures import MAX_PICTURES


def add_parser(sub: Any) -> None:
    """Register ``generate`` on the top-level subparsers ``sub``."""
    g = sub.add_parser(
        "generate",
        help="turn scenes into a verified QA dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Turn scenes into a verified QA dataset. For every scene, task and k < --per-task, at most one\n"
            "record: a question the DGE judges valid for the frames shown with it (with --invalid-share, some\n"
            "invalid ones, answered by their reason code), its exact answer, and those frames as images.\n"
            "Writes OUT/data.jsonl, OUT/images/, Parquet shards in OUT/data/ and the dataset card OUT/README.md\n"
            "(the records also stay in part files, OUT/parts/).\n\n"
            "Deterministic per seed, sharded, resumable: rerun the same command after a kill to finish; a rerun\n"
            "with other arguments into the same --out is refused. Runs sharing an --out are safe."
        ),
        epilog=(
            "examples:\n"
            "  spatialevo generate --out out/qa --per-task 100\n"
            "  spatialevo generate --scenes path/to/scans --out out/qa --tasks object_size,room_size\n"
            "  spatialevo generate --out out/qa --workers 8   # 8 processes on this machine (default: one per CPU)\n"
            "  spatialevo generate --out out/qa --shard 0/4   # on machine 0 of 4; then: --merge-only\n"
            "  spatialevo generate --out out/qa --backend ray --ray-address auto   # on a Ray cluster (pip install 'spatialevo[ray]')\n"
            "  spatialevo generate --out out/qa --merge-only --format trl   # rewrite the shards for TRL\n\n"
            "The folder is a Hugging Face dataset: datasets.load_dataset('out/qa') reads data/*.parquet as the README.md card says."
        ),
    )
    g.add_argument("--out", required=True, help="output folder: data.jsonl, images/, data/*.parquet, README.md (required)")
    g.add_argument("--scenes", default="bundled", help="'bundled', 'synthetic' / 'synthetic:N' (N seeded rooms, default 100), or a folder of scenes in any "
                                                      "loader layout (default: bundled)")
    add_label_options(g)
    g.add_argument("--tasks", default=",".join(TASK_NAMES), help=f"comma-separated task names (default: all {len(TASK_NAMES)})")
    g.add_argument("--per-task", type=int, default=50, help="records per task and scene (default 50)")
    g.add_argument("--seed", type=int, default=0, help=f"seed of every draw, 0 to {MAX_SEED} (default 0)")
    g.add_argument("--shard", default="0/1", help="i/n: make only the chunks c with c %% n == i; merge with --merge-only (default 0/1: all)")
    g.add_argument("--chunk", type=int, default=64, help="units (scene, task, k) per atomically written part file (default 64)")
    g.add_argument("--no-images", action="store_true", help="do not write frame images (records still name their frames)")
    g.add_argument("--max-repeat-share", type=float, default=0.0,
                   help="largest share of a scene-task's records that may repeat a question when the scene has fewer distinct "
                        "ones than --per-task (default 0: never repeat; 1: always fill --per-task)")
    g.add_argument("--clip-frames", type=int, default=16, help="frames shown with a scene task's question, uniform over the trajectory (default 16)")
    g.add_argument("--max-pixels", type=int, default=224 * 224, help="pixel budget of each written image, aspect kept (default 50176 = 224x224)")
    g.add_argument("--counting-min", type=int, default=2, help="count only labels with at least this many instances (default 2, as VSI-Bench)")
    g.add_argument("--answer-format", default="direct", choices=("direct", "reasoning"),
                   help="what the solver prompt asks for: direct (<answer>...</answer>) or reasoning (<think>...</think> "
                        "then <answer>...</answer>) (default direct)")
    g.add_argument("--merge-only", action="store_true", help="make no records: verify the finished parts, merge them into data.jsonl and write the Parquet shards "
                        "and card (after sharded runs, or to change --format)")
    g.add_argument("--format", default="spatialevo", choices=FORMATS,
                   help="columns of the Parquet shards in <out>/data: spatialevo (every record field, typed), trl (prompt, images, "
                        "solution, completion: GRPO / SFT), sft (chat messages), vsibench (VSI-Bench columns and wording) "
                        "(default spatialevo)")
    g.add_argument("--invalid-share", type=float, default=0.0,
                   help="share of each scene-task's records that are invalid questions, answered by their reason code (default 0)")
    g.add_argument("--shard-mb", type=int, default=SHARD_BYTES >> 20, help=f"size at which a Parquet shard is closed, MB (default {SHARD_BYTES >> 20})")
    g.add_argument("--hf", action="store_true", help=argparse.SUPPRESS)  # before 0.2: the Hugging Face copy (now always written)
    g.add_argument("--pictures", type=int, default=0, metavar="N",
                   help="also draw N records, spread evenly over the dataset, as OUT/pictures/<k>-<task>.png: the frames "
                        "with the named objects outlined, a top-down view with the task's geometry, question and answer "
                        "(what spatialevo show draws) (default 0: none)")
    g.add_argument("--workers", type=int, default=None,
                   help="processes making records on this machine, at most one per CPU (this one writes them; the records "
                        "are the same bytes for any number; --backend local only) (default: one per CPU, as 0; 1: this "
                        "process alone)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    r = g.add_argument_group("Ray (--backend ray; the records are the same bytes as --backend local)")
    r.add_argument("--backend", default="local", choices=("local", "ray"),
                   help="local: chunks made by --workers processes on this machine; ray: made by Ray workers, written here "
                        "(default local)")
    r.add_argument("--ray-address", default=None,
                   help="the Ray cluster: auto, host:6379 or ray://host:10001 (default: RAY_ADDRESS, a running local cluster, "
                        "else a local instance started for the run)")
    r.add_argument("--ray-workers", type=int, default=0, help="Ray workers, one CPU each (default 0: one per CPU of the cluster)")
    r.add_argument("--ray-scenes", default="shared", choices=("shared", "object-store"),
                   help="shared: every worker opens --scenes at the same path; object-store: this process loads each scene "
                        "and sends it, with its frame images, through Ray's object store (default shared)")
    g.set_defaults(func=_run)


def _run(args: Any) -> int:
    """Generate this shard's parts (unless ``--merge-only``), then, for an unsharded run or
    ``--merge-only``, verify and merge them into ``data.jsonl`` and write the Parquet shards and card."""
    if not args.out.strip():
        raise SpatialEvoError("--out is empty")
    if not 0 <= args.pictures <= MAX_PICTURES:
        raise SpatialEvoError(f"--pictures must be between 0 and {MAX_PICTURES}, got {args.pictures}")
    if not 1 <= args.shard_mb <= 1 << 20:
        raise SpatialEvoError(f"--shard-mb must be between 1 and {1 << 20}, got {args.shard_mb}")
    out = Path(args.out)
    shard = parse_shard(args.shard)
    if not args.merge_only:
        cfg = GenerateConfig(
            out=out, scenes=args.scenes, tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
            per_task=args.per_task, seed=args.seed, shard=shard, chunk=args.chunk, images=not args.no_images,
            max_repeat_share=args.max_repeat_share, invalid_share=args.invalid_share,
            round=RoundConfig(clip_frames=args.clip_frames, max_pixels=args.max_pixels, counting_min=args.counting_min,
                              labels=args.labels, label_map=args.label_map, answer_format=args.answer_format),
        )
        ray = None
        if args.backend == "ray":
            from spatialevo.raygen import RayOptions

            if args.workers is not None:
                raise SpatialEvoError("--workers is for --backend local; the Ray backend's are --ray-workers")
            ray = RayOptions(address=args.ray_address, workers=args.ray_workers, scenes=args.ray_scenes)
        res = generate(cfg, progress=not args.quiet, ray=ray, workers=1 if ray is not None else 0 if args.workers is None else args.workers)
        print(f"wrote {res['written']} records ({res['records']} in this shard's parts; {res['invalid']} invalid questions; "
              f"{res['repeated']} reuse a question: "
              f"the scene had fewer distinct ones); {res['no_question']} units without a valid question; "
              f"{len(res['scenes_skipped'])} scene(s) skipped; {len(res['parts_regenerated'])} damaged part(s) regenerated")
        for path, reason in res["scenes_skipped"]:
            print(f"  skipped {path}: {reason}")
        short = {t: n for t, n in res["short_scenes"].items() if n}
        print("distinct questions per task: " + ", ".join(f"{t} {n}" for t, n in res["distinct"].items()))
        if short:
            print(f"  fewer distinct questions than --per-task {cfg.per_task} in: "
                  + ", ".join(f"{t} ({n} scene(s))" for t, n in short.items())
                  + f"; {res['capped']} record(s) not written rather than repeated (--max-repeat-share {cfg.max_repeat_share:g})")
        if shard[1] > 1:
            return 0
    path = merge(out)
    print(f"merged {path}")
    if args.hf:
        print("note: --hf is no longer needed: the folder itself is a Hugging Face dataset (README.md and data/*.parquet)")
    res = write_folder(out, args.format, shard_bytes=args.shard_mb << 20)
    print(f"wrote {res['rows']} {args.format} rows in {len(res['shards'])} shard(s) to {out / 'data'} "
          f"and the card {out / 'README.md'}: datasets.load_dataset({str(out)!r}) reads them")
    if args.pictures:
        from spatialevo.showpictures import write_pictures

        paths = write_pictures(out, out / "pictures", args.pictures, scenes=args.scenes, labels=args.labels, label_map=args.label_map)
        print(f"drew {len(paths)} record(s) in {out / 'pictures'}")
    return 0
