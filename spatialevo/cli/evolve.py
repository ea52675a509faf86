"""``spatialevo evolve``: the parser and what it runs (library code in :mod:`spatialevo.train`; the
'train' extra is imported only when the command runs)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from spatialevo.cli import add_label_options

EPILOG = """examples:
  spatialevo evolve --config configs/cpu-smoke.yaml
  spatialevo evolve --config configs/1gpu-3b.yaml --model /models/Qwen2.5-VL-3B-Instruct
  accelerate launch --config_file configs/accelerate/zero3-8gpu.yaml -m spatialevo.train --config configs/8gpu-7b-zero3.yaml

Rerunning the same command after an interruption resumes from the last checkpoint in output_dir
(model, optimizer, LR schedule, curriculum and stream position). Rerunning a finished run trains
nothing (it writes final/ if missing). A larger --max-steps extends the run, and the LR schedule
continues as if planned for the new max_steps. Resuming with another seed, scenes, roles or
model is refused.
"""


def add_parser(sub: Any) -> None:
    """Register ``evolve`` on the top-level subparsers ``sub``."""
    p = sub.add_parser("evolve", help="self-evolution training of a VLM (questioner + solver, GRPO)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train one VLM as questioner and solver against the DGE with TRL's GRPOTrainer (see\n"
                                   "docs/training.md): the questioner's valid questions are posed to the solver in the next step,\n"
                                   "and both roles' rewards come from the DGE only (no learned reward model). Needs the 'train'\n"
                                   "extra (pip install 'spatialevo[train]').")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``evolve`` (a run config plus overrides)."""
    p.add_argument("--config", required=True, help="YAML run config: a path, or the name of a shipped one such as cpu-smoke (see configs/) (required)")
    p.add_argument("--model", default=None, help="override the config's model: a local checkpoint path, or 'tiny' (a tiny random Qwen2.5-VL built offline) "
                                            "(default: the config's)")
    p.add_argument("--output-dir", default=None, help="override the config's output folder (default: the config's)")
    p.add_argument("--max-steps", type=int, default=None, help="override the config's optimiser steps (default: the config's)")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if output_dir has checkpoints (default: resume from the last one)")
    add_label_options(p)  # override: round.labels / round.label_map


def run(args: Any) -> int:
    """Load the run config with the overrides and train (resuming when the output folder has checkpoints)."""
    from spatialevo.train.config import load_config
    from spatialevo.train.launcher import evolve

    over = {"model": args.model, "output_dir": args.output_dir, "max_steps": args.max_steps}
    if args.no_resume:
        over["resume"] = False
    cfg = load_config(args.config, **over)
    labels = {k: v for k, v in (("labels", args.labels), ("label_map", args.label_map)) if v is not None}
    if labels:
        cfg = dataclasses.replace(cfg, round={**cfg.round, **labels})
    res = evolve(cfg)
    print(json.dumps({k: v for k, v in res.items() if k not in ("scheduler", "log_history")}))
    return 0
