"""``spatialevo demo``: the parser and what it runs (the library is :mod:`spatialevo.demo`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``demo`` on the top-level subparsers ``sub``."""
    d = sub.add_parser(
        "demo",
        help="render the bundled scenes, run a scripted self-play loop, write a small verified QA dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "The main job on the bundled scenes (built from their recipes if missing), in three parts:\n\n"
            "1. scenes: render every scene's frames as spatialevo scene render writes them, compute the visible\n"
            "   fraction of every object in every frame and draw a top-down picture, into OUT/<scene>/\n"
            "   (a summary table in OUT/summary.json);\n"
            "2. self-play: 400 episodes of SpatialEvo-v0 with scripted agents, an oracle questioner and a\n"
            "   noisy-oracle solver that improves with practice, tasks chosen by the adaptive curriculum;\n"
            "   prints the solver's per-task accuracy in the first and second half (OUT/selfplay.json);\n"
            "3. dataset: spatialevo generate on the bundled scenes, up to 2 questions per task and scene, into\n"
            "   OUT/qa/: verified QA records (data.jsonl), their frame images, Parquet shards and a dataset\n"
            "   card, so datasets.load_dataset('OUT/qa') reads it.\n\n"
            "Needs no model and no network."
        ),
    )
    d.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    d.add_argument("--every", type=int, default=1,
                   help="render every k-th frame of each scene (default 1: all); the self-play and the dataset are not affected")
    d.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    """Run the demo into ``--out``."""
    from spatialevo.demo import run_demo

    return run_demo(args.out, every=args.every)
