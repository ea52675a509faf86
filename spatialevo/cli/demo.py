"""``spatialevo demo``: the parser and what it runs (the library is :mod:`spatialevo.demo`)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``demo`` on the top-level subparsers ``sub``."""
    d = sub.add_parser(
        "demo",
        help="run the main job on the bundled scenes",
        description="Load the bundled scenes (building them from their recipes if missing), render their frames, "
        "compute object visibility and draw top-down pictures.",
    )
    d.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    d.add_argument("--every", type=int, default=1, help="render every k-th frame")
    d.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    """Run the demo into ``--out``."""
    from spatialevo.demo import run_demo

    return run_demo(args.out, every=args.every)
